//! `GET /v1/chats/{id}/messages?before=<message_id>&limit=<n>`: a chat's stored
//! messages for its members, a page at a time going back from the newest, so a new
//! device can fill its cache. Each item is the frame as it was delivered (`event`,
//! `chat_id`, `chat_type`, `sender`, `emitted_at`, `payload`, ...) plus `accepted_at`.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::rest::{bad_request, fail, internal, ok, Caller, CODE_NOT_FOUND};
use crate::state::AppState;

/// Page size when `limit` is absent.
pub const DEFAULT_LIMIT: usize = 50;
/// Largest page.
pub const MAX_LIMIT: usize = 200;

/// The query string. Both are optional; anything unparsable is a 400 envelope.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    before: Option<String>,
    limit: Option<String>,
}

fn limit(raw: Option<&str>) -> Result<usize, &'static str> {
    match raw {
        None => Ok(DEFAULT_LIMIT),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err("limit must be 1-200"),
        },
    }
}

/// One stored envelope as a history item.
fn item(envelope: &str, accepted_at: i64) -> Value {
    let mut frame: Value = serde_json::from_str(envelope).unwrap_or(Value::Null);
    if let Some(fields) = frame.as_object_mut() {
        fields.remove("trace_id");
        fields.insert("accepted_at".into(), json!(accepted_at));
    }
    frame
}

/// The handler: `{items: [...oldest first], has_more}`.
pub async fn page(
    caller: Caller,
    State(state): State<Arc<AppState>>,
    Path(chat_id): Path<String>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return bad_request("invalid query");
    };
    let limit = match limit(query.limit.as_deref()) {
        Ok(limit) => limit,
        Err(reason) => return bad_request(reason),
    };
    match state.db.chat(&chat_id) {
        Ok(Some(chat)) if chat.member_ids.contains(&caller.user_id) => {}
        Ok(_) => return fail(StatusCode::NOT_FOUND, CODE_NOT_FOUND, "no such chat"),
        Err(err) => return internal(err),
    }
    let before = query.before.as_deref().filter(|b| !b.is_empty());
    match state.db.history(&chat_id, before, limit) {
        Ok(Some(page)) => ok(json!({
            "items": page.items.iter().map(|(e, at)| item(e, *at)).collect::<Vec<_>>(),
            "has_more": page.has_more,
        })),
        Ok(None) => bad_request("`before` names no message of this chat"),
        Err(err) => internal(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_default_and_are_bounded() {
        assert_eq!(limit(None), Ok(50));
        assert_eq!(limit(Some("200")), Ok(200));
        for bad in ["0", "201", "-1", "x", ""] {
            assert!(limit(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_item_is_the_delivered_frame_plus_its_acceptance_time() {
        let item = item(r#"{"event":"message.send","trace_id":"t","payload":{}}"#, 7);
        assert_eq!(
            item,
            json!({"event": "message.send", "payload": {}, "accepted_at": 7})
        );
    }
}
