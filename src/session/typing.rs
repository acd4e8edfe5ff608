//! Typing indicators (PROTOCOL.md §4): the sender re-sends `is_typing: true` every
//! 3–4 s while the user types; the receiver expires an indicator 6 s after its last
//! refresh. Both sides are bounded lists (at most [`MAX_TYPING_ENTRIES`], searched
//! linearly: smaller code than a hash map, and their order is the order of arrival)
//! driven by `now` (monotonic ms).

use super::inbound::{Origin, TypingUpdate};

/// Typing timings (monotonic ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypingTimings {
    /// Re-send `true` this often while typing (checked by the ~1 s tick: 3–4 s).
    pub refresh_ms: i64,
    /// No input for this long ends our typing with `false` (**ours**).
    pub idle_ms: i64,
    /// A peer's indicator not refreshed for this long ends.
    pub expiry_ms: i64,
}

impl Default for TypingTimings {
    fn default() -> Self {
        TypingTimings {
            refresh_ms: 3_000,
            idle_ms: 5_000,
            expiry_ms: 6_000,
        }
    }
}

/// Most chats we track our own typing in, and most peers' indicators kept (**ours**).
pub const MAX_TYPING_ENTRIES: usize = 256;

#[derive(Debug, Clone)]
struct Typist {
    chat: String,
    last_input: i64,
    last_sent: i64,
}

/// Our own typing, per chat: decides when `typing.update` goes out.
#[derive(Debug, Default)]
pub struct TypingSender {
    timings: TypingTimings,
    chats: Vec<Typist>,
}

impl TypingSender {
    /// A sender with these timings.
    pub fn new(timings: TypingTimings) -> Self {
        TypingSender {
            timings,
            chats: Vec::new(),
        }
    }

    /// The user typed (`true`) or stopped (`false`) in `chat`; returns what to send now.
    pub fn input(&mut self, chat: &str, typing: bool, now: i64) -> Option<bool> {
        let at = self.chats.iter().position(|t| t.chat == chat);
        if !typing {
            return at.map(|at| self.chats.remove(at)).map(|_| false);
        }
        let refresh = self.timings.refresh_ms;
        if let Some(t) = at.and_then(|at| self.chats.get_mut(at)) {
            t.last_input = now;
            return (now - t.last_sent >= refresh).then(|| {
                t.last_sent = now;
                true
            });
        }
        if self.chats.len() >= MAX_TYPING_ENTRIES {
            return None;
        }
        self.chats.push(Typist {
            chat: chat.to_owned(),
            last_input: now,
            last_sent: now,
        });
        Some(true)
    }

    /// The tick: refreshes (`true`) for chats still typed in, `false` for idle ones.
    pub fn on_tick(&mut self, now: i64) -> Vec<(String, bool)> {
        let t = self.timings;
        let mut out = Vec::new();
        self.chats.retain_mut(|typist| {
            if now - typist.last_input >= t.idle_ms {
                out.push((typist.chat.clone(), false));
                return false;
            }
            if now - typist.last_sent >= t.refresh_ms {
                typist.last_sent = now;
                out.push((typist.chat.clone(), true));
            }
            true
        });
        out
    }

    /// The socket went away: peers expire our indicator on their own.
    pub fn clear(&mut self) {
        self.chats.clear();
    }
}

/// Peers' typing indicators, expired when not refreshed.
#[derive(Debug, Default)]
pub struct TypingBoard {
    timings: TypingTimings,
    /// Each shown indicator (unique by chat and sender) and when it expires.
    typing: Vec<(Origin, i64)>,
}

impl TypingBoard {
    /// A board with these timings.
    pub fn new(timings: TypingTimings) -> Self {
        TypingBoard {
            timings,
            typing: Vec::new(),
        }
    }

    /// A peer's `typing.update`; returns the change to deliver, if any (a refresh of an
    /// indicator already shown is not a change).
    pub fn update(&mut self, update: TypingUpdate, now: i64) -> Option<TypingUpdate> {
        let at = self.typing.iter().position(|(shown, _)| {
            shown.chat_id == update.origin.chat_id && shown.sender_id == update.origin.sender_id
        });
        if !update.is_typing {
            return at.map(|at| self.typing.remove(at)).map(|_| update);
        }
        let expires = now.saturating_add(self.timings.expiry_ms);
        if let Some(entry) = at.and_then(|at| self.typing.get_mut(at)) {
            entry.1 = expires;
            return None;
        }
        if self.typing.len() >= MAX_TYPING_ENTRIES {
            return None;
        }
        self.typing.push((update.origin.clone(), expires));
        Some(update)
    }

    /// Indicators whose refresh is overdue, ended.
    pub fn on_tick(&mut self, now: i64) -> Vec<TypingUpdate> {
        let mut ended = Vec::new();
        self.typing.retain(|(origin, expires)| {
            if now >= *expires {
                ended.push(TypingUpdate {
                    origin: origin.clone(),
                    is_typing: false,
                });
                return false;
            }
            true
        });
        ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ChatType;

    fn update(sender: &str, typing: bool) -> TypingUpdate {
        TypingUpdate {
            origin: Origin {
                chat_id: "c".into(),
                chat_type: ChatType::Group,
                sender_id: sender.into(),
                sender_name: sender.into(),
            },
            is_typing: typing,
        }
    }

    #[test]
    fn typing_is_resent_every_three_to_four_seconds_while_input_continues() {
        let mut s = TypingSender::new(TypingTimings::default());
        assert_eq!(s.input("c", true, 0), Some(true));
        let mut sent_at = Vec::new();
        for now in (250..=12_000).step_by(250) {
            if now % 1_000 == 0 {
                sent_at.extend(s.on_tick(now).into_iter().map(|(_, t)| (now, t)));
            }
            if now % 500 == 0 && s.input("c", true, now) == Some(true) {
                sent_at.push((now, true));
            }
        }
        let times: Vec<i64> = sent_at.iter().map(|(t, _)| *t).collect();
        assert_eq!(times, [3_000, 6_000, 9_000, 12_000]);
        assert!(sent_at.iter().all(|(_, typing)| *typing));
    }

    #[test]
    fn idle_input_ends_with_false_and_an_explicit_stop_goes_out_once() {
        let mut s = TypingSender::new(TypingTimings::default());
        assert_eq!(s.input("c", true, 0), Some(true));
        assert_eq!(s.on_tick(3_000), [("c".to_owned(), true)]);
        assert!(s.on_tick(4_000).is_empty());
        assert_eq!(s.on_tick(5_000), [("c".to_owned(), false)]);
        assert!(s.on_tick(9_000).is_empty());
        assert_eq!(s.input("c", true, 10_000), Some(true));
        assert_eq!(s.input("c", false, 10_500), Some(false));
        assert_eq!(s.input("c", false, 10_600), None);
    }

    #[test]
    fn a_peer_indicator_is_shown_once_and_expires_six_seconds_after_its_last_refresh() {
        let mut b = TypingBoard::new(TypingTimings::default());
        assert_eq!(b.update(update("ann", true), 0), Some(update("ann", true)));
        assert_eq!(b.update(update("ann", true), 3_500), None, "a refresh");
        assert!(b.on_tick(9_499).is_empty());
        assert_eq!(b.on_tick(9_500), [update("ann", false)]);
        assert!(b.on_tick(20_000).is_empty());
        assert_eq!(b.update(update("bo", false), 20_000), None, "never shown");
        b.update(update("bo", true), 20_000);
        assert_eq!(
            b.update(update("bo", false), 21_000),
            Some(update("bo", false))
        );
    }

    #[test]
    fn both_maps_are_bounded() {
        let mut s = TypingSender::new(TypingTimings::default());
        let mut b = TypingBoard::new(TypingTimings::default());
        for i in 0..MAX_TYPING_ENTRIES + 10 {
            s.input(&format!("c{i}"), true, 0);
            b.update(update(&format!("u{i}"), true), 0);
        }
        assert_eq!(s.input("one-more", true, 0), None);
        assert_eq!(b.on_tick(6_000).len(), MAX_TYPING_ENTRIES);
    }
}
