//! How the IndexedDB message cache keeps a chat: in pages, rows of many messages, since
//! IndexedDB costs the page's main thread per request (50–110 µs in Chromium), not per
//! byte. A write adds one page a chat with the round's messages; past twice the chat's
//! capacity the chat is compacted: read whole, each message once (the later copy wins),
//! the newest `capacity` kept and written back as pages. This module
//! is the pure part: what a write does to a chat, what compaction keeps, how messages
//! split into pages and which chats an account forgets. The store moves the rows.

use super::message_cache::{latest_oldest_first, sort_oldest_first};

/// The most a page holds, in UTF-16 units of frames (about 2 MB): past it the next page
/// starts, so that no row nears IndexedDB's limit on a value, whatever the messages.
pub const PAGE_UNITS: usize = 1 << 20;
/// The most messages a page holds: past it the next page starts. Every build since pages
/// reads at most this many from a row, so it must never grow.
pub const PAGE_ITEMS: usize = 1_250;
/// The most rows a chat holds before it is compacted, whatever they hold: where messages
/// come one a round (a quiet chat, a hidden page), each is a page of its own, and every
/// write reads the chat's keys and every `history()` its rows.
pub const MAX_CHAT_ROWS: usize = 64;
/// The most a chat holds in UTF-16 units of frames (about 8 MB; a chat of 200 ordinary
/// messages is well under 1 MB): past it the chat is compacted to its newest messages
/// within it, so that a server sending the largest frames cannot make a compaction
/// read more than about this much.
pub const CHAT_UNITS: usize = 4 << 20;

/// A page's number past which a chat is compacted (numbered from 0 again) rather than
/// given the next one: numbers stay exact as JS numbers.
const MAX_SEQ: f64 = 9_007_199_254_740_000.0;

/// One cached message as a page holds it: its id, server time (ms) and frame (`F`: the
/// frame's text, or the JS string of it), with the frame's size.
#[derive(Debug, Clone, PartialEq)]
pub struct Item<F> {
    /// The message id.
    pub id: String,
    /// Server time (ms): compaction keeps the newest.
    pub sent_at: i64,
    /// The message as the downlink frame that delivered it.
    pub frame: F,
    /// The frame's UTF-16 units (0 where it is not text).
    pub units: usize,
}

impl<F> Item<F> {
    /// Where it sorts: server time, then id.
    pub fn position(&self) -> (i64, &str) {
        (self.sent_at, &self.id)
    }
}

/// A stored row of a chat, as its key tells: a row of an older build (one message), or
/// a page.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stored {
    /// A row of one message, keyed by its id (builds before pages).
    Single,
    /// A page: its number, how many messages it holds, the newest one's time and the
    /// size of its frames.
    Page {
        /// Its number in the chat: a new page takes the next.
        seq: f64,
        /// Its messages.
        count: usize,
        /// The server time (ms) of its newest message.
        newest: i64,
        /// The UTF-16 units of its frames.
        units: usize,
    },
}

/// What a write does to one chat.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Plan {
    /// Add the new messages as pages numbered from `seq`.
    Add {
        /// The first new page's number.
        seq: f64,
    },
    /// Read the chat whole and write back its newest messages.
    Compact,
}

/// How many messages a chat's pages hold before it is compacted back to `capacity`:
/// twice it. A compaction reads and rewrites the whole chat, so it is paid once every
/// `capacity` new messages, not every quarter of it (where each frame comes in a task of
/// its own, as from a socket, the rewrites were most of the cache's cost;
/// `docs/benchmarks.md`, the tenth session). Reads hold to `capacity` (`history()`),
/// whatever the disk holds.
pub const fn compaction_threshold(capacity: usize) -> usize {
    capacity.saturating_mul(2)
}

/// What a write of `adding` messages of `adding_units` (and the removal of some, when
/// `removing`) does to a chat that holds `stored`: compaction when messages are
/// removed, when the chat would hold more than [`compaction_threshold`] messages (a row
/// counts at least one) or more than [`CHAT_UNITS`], when it has [`MAX_CHAT_ROWS`] rows,
/// or when page numbers run out; else new pages.
pub fn plan(
    stored: &[Stored],
    (adding, adding_units): (usize, usize),
    removing: bool,
    capacity: usize,
) -> Plan {
    let (held, held_units) = stored
        .iter()
        .map(|row| match row {
            Stored::Single => (1, 0),
            Stored::Page { count, units, .. } => ((*count).max(1), *units),
        })
        .fold((adding, adding_units), |(n, u), (count, units)| {
            (n.saturating_add(count), u.saturating_add(units))
        });
    let last = stored
        .iter()
        .filter_map(|row| match row {
            Stored::Page { seq, .. } => Some(*seq),
            Stored::Single => None,
        })
        .fold(-1.0, f64::max);
    let seq = (last + 1.0).floor();
    let full = held > compaction_threshold(capacity)
        || held_units > CHAT_UNITS
        || stored.len() >= MAX_CHAT_ROWS;
    match removing || full || !(0.0..MAX_SEQ).contains(&seq) {
        true => Plan::Compact,
        false => Plan::Add { seq },
    }
}

/// A chat's messages after compaction: `items` as stored and added, in the order they
/// were written, each id once (the later copy wins: a fill from the server replaces
/// what this device stored), the newest `capacity` by server time (then id) within
/// [`CHAT_UNITS`], oldest first.
pub fn compact<F>(items: Vec<Item<F>>, capacity: usize) -> Vec<Item<F>> {
    let mut kept = latest_oldest_first(items, Item::position);
    let mut total = 0usize;
    let newest = kept
        .iter()
        .rev()
        .take(capacity)
        .take_while(|item| {
            total = total.saturating_add(item.units);
            total <= CHAT_UNITS
        })
        .count();
    kept.drain(..kept.len().saturating_sub(newest));
    kept
}

/// `items` in pages of at most [`PAGE_UNITS`] (a larger frame gets a page of its own)
/// and [`PAGE_ITEMS`], in order.
pub fn pack<F>(items: Vec<Item<F>>) -> Vec<Vec<Item<F>>> {
    let mut pages: Vec<Vec<Item<F>>> = Vec::new();
    let mut filled = 0usize;
    for item in items {
        let size = item.units;
        match pages.last_mut() {
            Some(page) if filled.saturating_add(size) <= PAGE_UNITS && page.len() < PAGE_ITEMS => {
                filled += size;
                page.push(item);
            }
            _ => {
                filled = size;
                pages.push(vec![item]);
            }
        }
    }
    pages
}

/// The chats past the `max_chats` whose newest message is newest, from `rows`: each
/// stored row's chat and newest message time (0 where its key does not tell: the rows of
/// builds before pages), a chat's rows one after the other (as in key order).
pub fn forgotten_chats(rows: Vec<(String, i64)>, max_chats: usize) -> Vec<String> {
    let mut chats: Vec<(i64, String)> = Vec::new();
    for (chat, at) in rows {
        match chats.last_mut() {
            Some((newest, last)) if *last == chat => *newest = (*newest).max(at),
            _ => chats.push((at, chat)),
        }
    }
    let past = chats.len().saturating_sub(max_chats);
    let mut order: Vec<(i64, &str)> = chats.iter().map(|(at, c)| (*at, c.as_str())).collect();
    sort_oldest_first(&mut order);
    order
        .into_iter()
        .take(past)
        .map(|(_, chat)| chat.to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, at: i64, frame: &str) -> Item<String> {
        Item {
            id: id.into(),
            sent_at: at,
            frame: frame.into(),
            units: frame.len(),
        }
    }

    fn page(seq: f64, count: usize) -> Stored {
        Stored::Page {
            seq,
            count,
            newest: 0,
            units: count,
        }
    }

    #[test]
    fn a_write_adds_the_next_page_until_the_chat_passes_twice_its_capacity() {
        assert_eq!(plan(&[], (3, 3), false, 4), Plan::Add { seq: 0.0 });
        assert_eq!(
            plan(&[page(0.0, 2), page(7.0, 1)], (2, 2), false, 4),
            Plan::Add { seq: 8.0 }
        );
        // Four rows of an older build and new messages: up to 8, within twice four.
        let singles = [Stored::Single; 4];
        assert_eq!(plan(&singles, (4, 4), false, 4), Plan::Add { seq: 0.0 });
        assert_eq!(plan(&singles, (5, 5), false, 4), Plan::Compact);
        assert_eq!(
            plan(&[page(0.0, 200)], (200, 200), false, 200),
            Plan::Add { seq: 1.0 }
        );
        assert_eq!(
            plan(&[page(0.0, 200)], (201, 201), false, 200),
            Plan::Compact
        );
    }

    #[test]
    fn a_chat_of_many_small_pages_compacts_at_its_row_bound() {
        let pages = |n: usize| -> Vec<Stored> { (0..n).map(|i| page(i as f64, 1)).collect() };
        let seq = (MAX_CHAT_ROWS - 1) as f64;
        assert_eq!(
            plan(&pages(MAX_CHAT_ROWS - 1), (1, 1), false, 200),
            Plan::Add { seq }
        );
        assert_eq!(
            plan(&pages(MAX_CHAT_ROWS), (1, 1), false, 200),
            Plan::Compact
        );
    }

    #[test]
    fn removals_empty_pages_and_spent_numbers_compact() {
        assert_eq!(plan(&[page(0.0, 1)], (0, 0), true, 200), Plan::Compact);
        // A page that says it holds nothing still counts one: rows stay bounded.
        let empty = vec![page(0.0, 0); 401];
        assert_eq!(plan(&empty, (0, 0), false, 200), Plan::Compact);
        assert_eq!(plan(&[page(MAX_SEQ, 1)], (1, 1), false, 200), Plan::Compact);
        assert_eq!(
            plan(&[page(f64::NAN, 1)], (1, 1), false, 200),
            Plan::Add { seq: 0.0 }
        );
        assert_eq!(
            plan(&[page(-5.0, 1)], (1, 1), false, 200),
            Plan::Add { seq: 0.0 }
        );
        assert_eq!(
            plan(&[page(f64::INFINITY, 1)], (1, 1), false, 200),
            Plan::Compact
        );
    }

    #[test]
    fn compaction_keeps_each_id_once_the_later_copy_and_the_newest_capacity_in_order() {
        let items = vec![
            item("b", 20, "old b"),
            item("a", 10, "a"),
            item("c", 30, "c"),
            item("b", 20, "new b"),
            item("z", 0, "timeless"),
        ];
        let kept = compact(items.clone(), 3);
        assert_eq!(
            kept,
            [
                item("a", 10, "a"),
                item("b", 20, "new b"),
                item("c", 30, "c")
            ]
        );
        let all = compact(items.clone(), 10);
        let ids: Vec<&str> = all.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["z", "a", "b", "c"]);
        assert!(compact(items, 0).is_empty());
        // Ties in time go by id.
        let tied = compact(vec![item("y", 5, ""), item("x", 5, "")], 1);
        assert_eq!(tied, [item("y", 5, "")]);
    }

    #[test]
    fn a_chat_past_its_size_compacts_to_its_newest_within_it() {
        let big = Stored::Page {
            seq: 0.0,
            count: 3,
            newest: 0,
            units: CHAT_UNITS - 10,
        };
        assert_eq!(plan(&[big], (1, 10), false, 200), Plan::Add { seq: 1.0 });
        assert_eq!(plan(&[big], (1, 11), false, 200), Plan::Compact);
        let third = "x".repeat(CHAT_UNITS / 3);
        let items = vec![
            item("a", 1, &third),
            item("b", 2, &third),
            item("c", 3, &third),
            item("d", 4, "small"),
        ];
        let kept = compact(items, 200);
        let ids: Vec<&str> = kept.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["b", "c", "d"], "the oldest goes past the size");
        let huge = vec![item("a", 1, &"x".repeat(CHAT_UNITS + 1))];
        assert!(compact(huge, 200).is_empty());
    }

    #[test]
    fn pages_split_at_their_size_and_count_and_a_large_frame_gets_its_own() {
        let half = "x".repeat(PAGE_UNITS / 2);
        let items = vec![
            item("a", 1, &half),
            item("b", 2, &half),
            item("c", 3, "small"),
            item("d", 4, &"y".repeat(PAGE_UNITS + 1)),
            item("e", 5, "small"),
        ];
        let pages = pack(items);
        let ids: Vec<Vec<&str>> = pages
            .iter()
            .map(|p| p.iter().map(|i| i.id.as_str()).collect())
            .collect();
        assert_eq!(ids, [vec!["a", "b"], vec!["c"], vec!["d"], vec!["e"]]);
        assert!(pack(Vec::<Item<String>>::new()).is_empty());
        let many = (0..=PAGE_ITEMS)
            .map(|i| item(&i.to_string(), 1, "m"))
            .collect();
        let sizes: Vec<usize> = pack(many).iter().map(Vec::len).collect();
        assert_eq!(
            sizes,
            [PAGE_ITEMS, 1],
            "no page holds more than a read takes"
        );
    }

    #[test]
    fn past_the_chat_cap_the_chats_with_the_oldest_newest_message_go() {
        let row = |chat: &str, at: i64| (chat.to_owned(), at);
        let rows = vec![
            row("busy", 0),
            row("busy", 9),
            row("mid", 5),
            row("old", 1),
            row("old", 2),
        ];
        assert_eq!(forgotten_chats(rows.clone(), 2), ["old"]);
        let mut two = forgotten_chats(rows.clone(), 1);
        two.sort();
        assert_eq!(two, ["mid", "old"]);
        assert!(forgotten_chats(rows, 3).is_empty());
    }
}
