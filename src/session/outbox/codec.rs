//! The JSON of the outbox's values: stored rows (IndexedDB, memory), the `sent`,
//! `failed` and `unconfirmed` events, the `pending()` list and the outcomes relayed
//! between tabs. Byte for byte what their serde derives wrote, so rows and tab messages
//! of older builds read here and ours read there.

use crate::json::{self, FromJson, JsonError, Reader, ToJson, Writer};

use super::{Accepted, OutboxRow, PendingSend, RowStatus, SendError, SendErrorKind, Unconfirmed};

impl RowStatus {
    const ALL: [RowStatus; 2] = [RowStatus::Queued, RowStatus::Unconfirmed];

    /// Its stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RowStatus::Queued => "queued",
            RowStatus::Unconfirmed => "unconfirmed",
        }
    }
}

impl SendErrorKind {
    const ALL: [SendErrorKind; 9] = [
        SendErrorKind::Rejected,
        SendErrorKind::ChatClosed,
        SendErrorKind::AckMismatch,
        SendErrorKind::Expired,
        SendErrorKind::QueueFull,
        SendErrorKind::Closed,
        SendErrorKind::Invalid,
        SendErrorKind::Relay,
        SendErrorKind::Freed,
    ];

    /// Its name, as `SendError.kind` shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            SendErrorKind::Rejected => "rejected",
            SendErrorKind::ChatClosed => "chat_closed",
            SendErrorKind::AckMismatch => "ack_mismatch",
            SendErrorKind::Expired => "expired",
            SendErrorKind::QueueFull => "queue_full",
            SendErrorKind::Closed => "closed",
            SendErrorKind::Invalid => "invalid",
            SendErrorKind::Relay => "relay",
            SendErrorKind::Freed => "freed",
        }
    }
}

/// The one of `all` whose name (`name_of`) is the string read, else
/// [`JsonError::Variant`] naming `field`: the reader of the outbox's name-spelled enums.
fn by_name<T: Copy>(
    r: &mut Reader<'_>,
    all: &[T],
    name_of: fn(T) -> &'static str,
    field: &'static str,
) -> Result<T, JsonError> {
    let name = r.string()?;
    all.iter()
        .copied()
        .find(|value| name_of(*value) == name)
        .ok_or(JsonError::Variant { field })
}

impl FromJson<'_> for RowStatus {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        by_name(r, &RowStatus::ALL, RowStatus::as_str, "status")
    }
}

impl ToJson for RowStatus {
    fn write(&self, w: &mut Writer) {
        w.string(self.as_str());
    }
}

impl FromJson<'_> for SendErrorKind {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        by_name(r, &SendErrorKind::ALL, SendErrorKind::as_str, "kind")
    }
}

impl ToJson for SendErrorKind {
    fn write(&self, w: &mut Writer) {
        w.string(self.as_str());
    }
}

impl FromJson<'_> for OutboxRow {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        let (mut message_id, mut chat_id, mut trace_id, mut frame) = (None, None, None, None);
        let (mut created_at, mut status) = (None, None);
        r.object(|r, key| {
            match key {
                "messageId" => message_id = Some(r.read()?),
                "chatId" => chat_id = Some(r.read()?),
                "traceId" => trace_id = Some(r.read()?),
                "frame" => frame = Some(r.read()?),
                "createdAt" => created_at = Some(r.read()?),
                "status" => status = Some(r.read()?),
                _ => r.skip()?,
            }
            Ok(())
        })?;
        Ok(OutboxRow {
            message_id: json::required(message_id, "messageId")?,
            chat_id: json::required(chat_id, "chatId")?,
            trace_id: json::required(trace_id, "traceId")?,
            frame: json::required(frame, "frame")?,
            created_at: json::required(created_at, "createdAt")?,
            status: json::required(status, "status")?,
        })
    }
}

impl ToJson for OutboxRow {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        o.field("messageId", &self.message_id)
            .field("chatId", &self.chat_id)
            .field("traceId", &self.trace_id)
            .field("frame", &self.frame)
            .field("createdAt", &self.created_at)
            .field("status", &self.status);
        o.end();
    }
}

impl ToJson for PendingSend {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        o.field("messageId", &self.message_id)
            .field("chatId", &self.chat_id)
            .field("text", &self.text)
            .field("fragments", &self.fragments)
            .field("replyTo", &self.reply_to)
            .field("createdAt", &self.created_at)
            .field("status", &self.status);
        o.end();
    }
}

impl FromJson<'_> for SendError {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        let (mut kind, mut code, mut reason) = (None, None, None);
        let (mut message_id, mut chat_id, mut trace_id) = (None, None, None);
        r.object(|r, key| {
            match key {
                "kind" => kind = Some(r.read()?),
                "code" => code = r.read()?,
                "reason" => reason = Some(r.read()?),
                "messageId" => message_id = Some(r.read()?),
                "chatId" => chat_id = Some(r.read()?),
                "traceId" => trace_id = Some(r.read()?),
                _ => r.skip()?,
            }
            Ok(())
        })?;
        Ok(SendError {
            kind: json::required(kind, "kind")?,
            code,
            reason: json::required(reason, "reason")?,
            message_id: json::required(message_id, "messageId")?,
            chat_id: json::required(chat_id, "chatId")?,
            trace_id: json::required(trace_id, "traceId")?,
        })
    }
}

impl ToJson for SendError {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        o.field("kind", &self.kind)
            .field("code", &self.code)
            .field("reason", &self.reason)
            .field("messageId", &self.message_id)
            .field("chatId", &self.chat_id)
            .field("traceId", &self.trace_id);
        o.end();
    }
}

impl FromJson<'_> for Accepted {
    fn read(r: &mut Reader<'_>) -> Result<Self, JsonError> {
        let (mut message_id, mut accepted_at) = (None, None);
        r.object(|r, key| {
            match key {
                "messageId" => message_id = Some(r.read()?),
                "acceptedAt" => accepted_at = Some(r.read()?),
                _ => r.skip()?,
            }
            Ok(())
        })?;
        Ok(Accepted {
            message_id: json::required(message_id, "messageId")?,
            accepted_at: json::required(accepted_at, "acceptedAt")?,
        })
    }
}

impl ToJson for Accepted {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        o.field("messageId", &self.message_id)
            .field("acceptedAt", &self.accepted_at);
        o.end();
    }
}

impl ToJson for Unconfirmed {
    fn write(&self, w: &mut Writer) {
        let mut o = w.object();
        o.field("messageId", &self.message_id)
            .field("chatId", &self.chat_id)
            .field("traceId", &self.trace_id)
            .field("reason", &self.reason);
        o.end();
    }
}

/// A row as stored with its account (IndexedDB's key is both ids): the keys sorted, as
/// the JSON map older builds built it in kept them.
#[derive(Debug)]
pub struct StoredRow<'a> {
    /// The account.
    pub account_key: &'a str,
    /// The row.
    pub row: &'a OutboxRow,
}

impl ToJson for StoredRow<'_> {
    fn write(&self, w: &mut Writer) {
        let row = self.row;
        let mut o = w.object();
        o.field("accountKey", self.account_key)
            .field("chatId", &row.chat_id)
            .field("createdAt", &row.created_at)
            .field("frame", &row.frame)
            .field("messageId", &row.message_id)
            .field("status", &row.status)
            .field("traceId", &row.trace_id);
        o.end();
    }
}

/// The `messageId` of a stored row's text, if it has one (to delete a row that does not
/// parse).
pub fn stored_message_id(text: &str) -> Option<String> {
    let mut id = None;
    Reader::new(text)
        .object(|r, key| {
            match key {
                "messageId" => id = r.read()?,
                _ => r.skip()?,
            }
            Ok(())
        })
        .ok()?;
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Fragment;

    fn row() -> OutboxRow {
        OutboxRow {
            message_id: "msg-1".into(),
            chat_id: "c".into(),
            trace_id: "t".into(),
            frame: r#"{"x":1}"#.into(),
            created_at: 9,
            status: RowStatus::Unconfirmed,
        }
    }

    fn failure() -> SendError {
        SendError {
            kind: SendErrorKind::ChatClosed,
            code: None,
            reason: "r".into(),
            message_id: "m".into(),
            chat_id: "c".into(),
            trace_id: "t".into(),
        }
    }

    // The literals are what the serde derives wrote for the same values.

    #[test]
    fn rows_are_written_as_before_and_rows_of_older_builds_read_back() {
        let text = r#"{"messageId":"msg-1","chatId":"c","traceId":"t","frame":"{\"x\":1}","createdAt":9,"status":"unconfirmed"}"#;
        assert_eq!(json::to_string(&row()), text);
        assert_eq!(json::from_str::<OutboxRow>(text), Ok(row()));
        // As stored with its account (older builds: a JSON map, keys sorted).
        let stored = r#"{"accountKey":"ann","chatId":"c","createdAt":9,"frame":"{\"x\":1}","messageId":"msg-1","status":"unconfirmed","traceId":"t"}"#;
        let written = json::to_string(&StoredRow {
            account_key: "ann",
            row: &row(),
        });
        assert_eq!(written, stored);
        assert_eq!(json::from_str::<OutboxRow>(stored), Ok(row()));
        assert_eq!(stored_message_id(stored).as_deref(), Some("msg-1"));
    }

    #[test]
    fn a_row_without_a_field_or_with_an_unknown_status_is_a_typed_error() {
        assert_eq!(
            json::from_str::<OutboxRow>(r#"{"messageId":"m","chatId":"c"}"#),
            Err(JsonError::Missing { field: "traceId" })
        );
        let lost = json::to_string(&row()).replace("unconfirmed", "lost");
        assert_eq!(
            json::from_str::<OutboxRow>(&lost),
            Err(JsonError::Variant { field: "status" })
        );
        for text in ["null", "[]", r#"{"messageId":7}"#, "{"] {
            assert_eq!(stored_message_id(text), None, "{text}");
        }
    }

    #[test]
    fn send_outcomes_are_written_as_before() {
        let kinds = [
            "rejected",
            "chat_closed",
            "ack_mismatch",
            "expired",
            "queue_full",
            "closed",
            "invalid",
            "relay",
            "freed",
        ];
        for (kind, name) in SendErrorKind::ALL.into_iter().zip(kinds) {
            assert_eq!(json::to_string(&kind), format!("\"{name}\""));
            assert_eq!(json::from_str(&format!("\"{name}\"")), Ok(kind));
        }
        let text = r#"{"kind":"chat_closed","code":null,"reason":"r","messageId":"m","chatId":"c","traceId":"t"}"#;
        assert_eq!(json::to_string(&failure()), text);
        assert_eq!(json::from_str(text), Ok(failure()));
        // serde took a missing `Option` as `None`.
        let without_code = text.replace(r#""code":null,"#, "");
        assert_eq!(json::from_str(&without_code), Ok(failure()));
        let coded = SendError {
            code: Some("forbidden".into()),
            ..failure()
        };
        assert_eq!(
            json::from_str(&text.replace("null", r#""forbidden""#)),
            Ok(coded)
        );

        let accepted = Accepted {
            message_id: "m".into(),
            accepted_at: 7,
        };
        let text = r#"{"messageId":"m","acceptedAt":7}"#;
        assert_eq!(json::to_string(&accepted), text);
        assert_eq!(json::from_str(text), Ok(accepted));
        assert_eq!(
            json::from_str::<Accepted>(r#"{"messageId":"m"}"#),
            Err(JsonError::Missing {
                field: "acceptedAt"
            })
        );

        let note = Unconfirmed {
            message_id: "m".into(),
            chat_id: "c".into(),
            trace_id: "t".into(),
            reason: "why".into(),
        };
        assert_eq!(
            json::to_string(&note),
            r#"{"messageId":"m","chatId":"c","traceId":"t","reason":"why"}"#
        );
    }

    #[test]
    fn the_pending_list_is_written_as_before_with_camel_case_fragments() {
        let pending = PendingSend {
            message_id: "m".into(),
            chat_id: "c".into(),
            text: "hi".into(),
            fragments: vec![
                Fragment::text("hi"),
                Fragment::Mention {
                    user_id: Some("u".into()),
                    display: None,
                },
            ],
            reply_to: None,
            created_at: 3,
            status: RowStatus::Queued,
        };
        let text = r#"{"messageId":"m","chatId":"c","text":"hi","fragments":[{"kind":"text","text":"hi"},{"kind":"mention","user_id":"u"}],"replyTo":null,"createdAt":3,"status":"queued"}"#;
        assert_eq!(json::to_string(&pending), text);
        assert_eq!(
            json::to_string_camel(&vec![pending]),
            format!("[{}]", text.replace("user_id", "userId"))
        );
    }
}
