//! What a socket that threw on a write means: workerd's guard against using a socket
//! opened by another request (a client kept across requests of a plain Worker), or any
//! other refusal. Either way the socket is unusable and a new one is opened.

use super::ClientError;

/// The start of workerd's message when an I/O object of one request is used by another.
const WORKERD_CROSS_REQUEST: &str = "Cannot perform I/O on behalf of a different request";

/// The most characters of the runtime's message kept in the error.
const MAX_DETAIL_CHARS: usize = 200;

/// The `error` event for a write that threw `thrown` (the runtime's message).
pub fn send_failure(thrown: &str) -> ClientError {
    if thrown.contains(WORKERD_CROSS_REQUEST) {
        ClientError {
            kind: "cross_request_io",
            message: "the socket belongs to an earlier request (a Worker may not use one \
                      request's I/O in another): reconnecting in this request; keep the \
                      client in a Durable Object, or create one per request"
                .into(),
        }
    } else {
        let detail: String = thrown.chars().take(MAX_DETAIL_CHARS).collect();
        ClientError {
            kind: "socket_send",
            message: format!("the socket refused a frame ({detail}): reconnecting"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workerds_cross_request_message_is_named() {
        let thrown = "Cannot perform I/O on behalf of a different request. I/O objects (such \
                      as streams, request/response bodies, and others) created in the context \
                      of one request handler cannot be accessed from a different request's \
                      handler.";
        let err = send_failure(thrown);
        assert_eq!(err.kind, "cross_request_io");
        assert!(err.message.contains("Durable Object"));
    }

    #[test]
    fn any_other_throw_is_a_socket_send_failure_with_a_bounded_detail() {
        let err = send_failure("InvalidStateError: still in CONNECTING state");
        assert_eq!(err.kind, "socket_send");
        assert!(err.message.contains("still in CONNECTING state"));
        let long = send_failure(&"é".repeat(10_000));
        assert!(long.message.chars().count() < MAX_DETAIL_CHARS + 50);
    }
}
