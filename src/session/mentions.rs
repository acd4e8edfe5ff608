//! Who a message mentions (PROTOCOL.md §4): `mention` fragments and `context.mentions`
//! entries (a user id string, or an object with `user_id`); `user_id: "all"` means
//! everyone in the chat.

use std::borrow::Cow;

use crate::json::RawJson;
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

/// The user id of a `context.mentions` entry: the entry itself when it is a string, else
/// its `user_id` string.
fn entry_id(entry: &RawJson) -> Option<Cow<'_, str>> {
    entry.as_str().or_else(|| entry.str_field("user_id"))
}

/// Reads the mentions of a message for the user `own_user_id` ("" matches only "all").
pub fn mentioned(fragments: &[Fragment], context: &[RawJson], own_user_id: &str) -> Mentioned {
    let ids = fragments
        .iter()
        .filter_map(|f| match f {
            Fragment::Mention { user_id, .. } => user_id.as_deref().map(Cow::Borrowed),
            _ => None,
        })
        .chain(context.iter().filter_map(entry_id));
    let mut result = Mentioned::default();
    for id in ids {
        let id = id.trim();
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
    use crate::json;

    /// A `context.mentions` entry as read from `text`.
    fn entry(text: &str) -> RawJson {
        json::from_str(text).unwrap()
    }

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
        assert_eq!(
            mentioned(&[], &[entry(r#"{"user_id": "all"}"#)], "me"),
            everyone
        );
        assert_eq!(mentioned(&[], &[entry(r#""all""#)], ""), everyone);
    }

    #[test]
    fn our_id_mentions_us_and_others_do_not() {
        let me = Mentioned {
            me: true,
            everyone: false,
        };
        assert_eq!(mentioned(&[mention("me")], &[], "me"), me);
        assert_eq!(mentioned(&[], &[entry(r#""me""#)], "me"), me);
        let none = Mentioned::default();
        assert_eq!(
            mentioned(&[mention("bo")], &[entry("3"), entry("{}")], "me"),
            none
        );
        assert_eq!(mentioned(&[mention("")], &[entry(r#""""#)], ""), none);
        assert_eq!(mentioned(&[Fragment::text("@all")], &[], "me"), none);
        // An object's `user_id`, unescaped and trimmed; the last of a repeated key counts.
        let escaped = entry(r#"{"nick_name":"Me","user_\u0069d":" m\u0065 "}"#);
        assert_eq!(mentioned(&[], &[escaped], "me"), me);
        let repeated = entry(r#"{"user_id":"me","user_id":null}"#);
        assert_eq!(mentioned(&[], &[repeated], "me"), none);
    }
}
