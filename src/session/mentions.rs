//! Who a message mentions (PROTOCOL.md §4): `mention` fragments and `context.mentions`
//! entries (a user id string, or an object with `user_id`); `user_id: "all"` means
//! everyone in the chat.

use serde_json::Value;

use crate::protocol::Fragment;

/// The user id that mentions everyone in the chat.
pub const EVERYONE: &str = "all";

/// Whether a message mentions us.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mentioned {
    /// We are mentioned, by id or through "all".
    pub me: bool,
    /// Everyone in the chat is mentioned.
    pub everyone: bool,
}

fn entry_id(entry: &Value) -> Option<&str> {
    match entry {
        Value::String(id) => Some(id),
        Value::Object(map) => map.get("user_id").and_then(Value::as_str),
        _ => None,
    }
}

/// Reads the mentions of a message for the user `own_user_id` ("" matches only "all").
pub fn mentioned(fragments: &[Fragment], context: &[Value], own_user_id: &str) -> Mentioned {
    let ids = fragments
        .iter()
        .filter_map(|f| match f {
            Fragment::Mention { user_id, .. } => user_id.as_deref(),
            _ => None,
        })
        .chain(context.iter().filter_map(entry_id))
        .map(str::trim);
    let mut result = Mentioned::default();
    for id in ids {
        if id == EVERYONE {
            result.everyone = true;
            result.me = true;
        } else if !own_user_id.is_empty() && id == own_user_id {
            result.me = true;
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mention(id: &str) -> Fragment {
        Fragment::Mention {
            user_id: Some(id.into()),
            display: None,
        }
    }

    #[test]
    fn all_mentions_everyone_from_fragments_or_context() {
        let everyone = Mentioned {
            me: true,
            everyone: true,
        };
        assert_eq!(mentioned(&[mention("all")], &[], "me"), everyone);
        assert_eq!(mentioned(&[], &[json!({"user_id": "all"})], "me"), everyone);
        assert_eq!(mentioned(&[], &[json!("all")], ""), everyone);
    }

    #[test]
    fn our_id_mentions_us_and_others_do_not() {
        let me = Mentioned {
            me: true,
            everyone: false,
        };
        assert_eq!(mentioned(&[mention("me")], &[], "me"), me);
        assert_eq!(mentioned(&[], &[json!("me")], "me"), me);
        let none = Mentioned::default();
        assert_eq!(
            mentioned(&[mention("bo")], &[json!(3), json!({})], "me"),
            none
        );
        assert_eq!(mentioned(&[mention("")], &[json!("")], ""), none);
        assert_eq!(mentioned(&[Fragment::text("@all")], &[], "me"), none);
    }
}
