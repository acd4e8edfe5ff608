//! The page `history()` returns from a chat's stored messages, decoding only what it
//! returns: a chat in IndexedDB holds up to twice `cacheSize` frames, and a page is at
//! most 100 of them. Pure: the stores hand over what they hold (rows to decode, or
//! messages already decoded), the driver answers with the page and repairs what did not
//! decode.

use std::collections::HashMap;

use crate::protocol::ChatType;

use super::message_cache::{latest_oldest_first, latest_order, Entry, EntryError};

/// A page of a chat's cached messages, and what did not decode on the way.
pub struct Page {
    /// The page, oldest first.
    pub entries: Vec<Entry>,
    /// The indexes of the stored copies that did not decode, and why (to be dropped).
    pub corrupt: Vec<(usize, EntryError)>,
    /// For each id of which a copy did not decode, the copy that did (to be stored again:
    /// the bad ones go by id).
    pub good_copies: Vec<Entry>,
}

/// What a page asks for: the newest `limit` of the chat's newest `capacity` messages
/// older than the message `before` (the newest of all without it).
#[derive(Clone, Copy)]
pub struct PageQuery<'a> {
    /// The message the page ends before.
    pub before: Option<&'a str>,
    /// The most messages on the page.
    pub limit: usize,
    /// The most messages of the chat a read sees (`cacheSize`).
    pub capacity: usize,
}

/// The page for `query` from a chat's stored copies, given each copy's server time and
/// message id (`positions`, read without decoding it) and a way to decode the copy at an
/// index. Each id counts once, where its last stored copy sorts (also when an earlier
/// copy is read because that one does not decode, or when none does: such an id takes a
/// place within `capacity` without a message on the page). Empty when the chat holds
/// nothing older than `before`, or does not hold `before`: then the server is asked.
/// Our acked sends are stored as "direct" (an uplink has no chat type): the page takes
/// the chat's type from a message the server stamped, on the page or the newest stored
/// one.
pub fn read_page(
    positions: &[(i64, &str)],
    decode: &dyn Fn(usize) -> Result<Entry, EntryError>,
    own_user_id: &str,
    query: PageQuery<'_>,
) -> Page {
    let order = latest_order(positions);
    let mut reader = Reader::new(positions, decode);
    let kept = order
        .get(order.len().saturating_sub(query.capacity)..)
        .unwrap_or_default();
    let end = match query.before {
        None => Some(kept.len()),
        Some(id) => kept.iter().position(|&i| reader.id(i) == id),
    };
    let mut entries = Vec::new();
    for &i in kept
        .get(..end.unwrap_or(0))
        .unwrap_or_default()
        .iter()
        .rev()
    {
        if entries.len() >= query.limit {
            break;
        }
        entries.extend(reader.read(i));
    }
    // By the messages' own times: an earlier copy read in a later one's place sorts as
    // itself (through the cache's one sort; the ids are distinct).
    let mut entries = latest_oldest_first(entries, Entry::position);
    let group = match entries.iter().find(|e| stamped(e, own_user_id)) {
        Some(entry) => entry.0.origin.chat_type == ChatType::Group,
        // Only our own sends on the page: the newest message the server stamped.
        None if !entries.is_empty() => {
            let mut group = false;
            for &i in order.iter().rev() {
                if reader.was_read(i) {
                    continue;
                }
                if let Some(entry) = reader.read(i).filter(|e| stamped(e, own_user_id)) {
                    group = entry.0.origin.chat_type == ChatType::Group;
                    break;
                }
            }
            group
        }
        None => false,
    };
    if group {
        for entry in &mut entries {
            entry.0.origin.chat_type = ChatType::Group;
        }
    }
    Page {
        entries,
        corrupt: reader.bad,
        good_copies: reader.good_copies,
    }
}

/// A message whose chat type the server set: any but our own stored sends (a "group"
/// one of ours came back from the server too).
fn stamped(entry: &Entry, own_user_id: &str) -> bool {
    entry.0.origin.sender_id != own_user_id || entry.0.origin.chat_type == ChatType::Group
}

/// Decodes stored copies on demand, noting those that do not decode.
struct Reader<'a> {
    positions: &'a [(i64, &'a str)],
    decode: &'a dyn Fn(usize) -> Result<Entry, EntryError>,
    /// The indexes of the copies that did not decode, and why.
    bad: Vec<(usize, EntryError)>,
    /// Which indexes did not decode (`bad` by index).
    failed: Vec<bool>,
    /// Which indexes were read (the page's, for the type's search).
    read: Vec<bool>,
    /// Each index's previous copy of its id, made at the first copy that does not decode.
    previous: Option<Vec<Option<usize>>>,
    good_copies: Vec<Entry>,
}

impl<'a> Reader<'a> {
    fn new(
        positions: &'a [(i64, &'a str)],
        decode: &'a dyn Fn(usize) -> Result<Entry, EntryError>,
    ) -> Self {
        Reader {
            positions,
            decode,
            bad: Vec::new(),
            failed: vec![false; positions.len()],
            read: vec![false; positions.len()],
            previous: None,
            good_copies: Vec::new(),
        }
    }

    fn id(&self, i: usize) -> &'a str {
        self.positions.get(i).map_or("", |(_, id)| id)
    }

    fn was_read(&self, i: usize) -> bool {
        self.read.get(i).copied().unwrap_or(true)
    }

    /// The message of the copy at `i`, else of the latest earlier copy of its id that
    /// decodes.
    fn read(&mut self, i: usize) -> Option<Entry> {
        if let Some(flag) = self.read.get_mut(i) {
            *flag = true;
        }
        let mut at = Some(i);
        let mut failed = false;
        while let Some(j) = at {
            if !self.failed.get(j).copied().unwrap_or(true) {
                match (self.decode)(j) {
                    Ok(entry) => {
                        if failed {
                            self.good_copies.push(entry.clone());
                        }
                        return Some(entry);
                    }
                    Err(err) => {
                        self.bad.push((j, err));
                        if let Some(flag) = self.failed.get_mut(j) {
                            *flag = true;
                        }
                    }
                }
            }
            failed = true;
            at = self.previous_copy(j);
        }
        None
    }

    fn previous_copy(&mut self, j: usize) -> Option<usize> {
        let positions = self.positions;
        let previous = self.previous.get_or_insert_with(|| {
            // String keys: the map type the cache's order already uses (one instance).
            let mut last: HashMap<String, usize> = HashMap::new();
            positions
                .iter()
                .enumerate()
                .map(|(i, (_, id))| last.insert((*id).to_owned(), i))
                .collect()
        });
        previous.get(j).copied().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::message_cache::text_entry;

    /// A stored item: a message, or a copy that does not decode.
    #[derive(Debug, Clone, PartialEq)]
    enum Item {
        Good(Box<Entry>),
        Bad(i64, String),
    }

    fn position(item: &Item) -> (i64, &str) {
        match item {
            Item::Good(e) => (e.0.sent_at, &e.0.message_id),
            Item::Bad(at, id) => (*at, id),
        }
    }

    fn decode(item: &Item) -> Result<Entry, EntryError> {
        match item {
            Item::Good(e) => Ok((**e).clone()),
            Item::Bad(..) => Err(EntryError("bad".into())),
        }
    }

    fn good(id: &str, at: i64) -> Item {
        Item::Good(Box::new(text_entry("c", id, at)))
    }

    fn query(before: Option<&str>, limit: usize, capacity: usize) -> PageQuery<'_> {
        PageQuery {
            before,
            limit,
            capacity,
        }
    }

    fn ids(page: &Page) -> Vec<&str> {
        page.entries.iter().map(|e| e.message_id()).collect()
    }

    fn read(items: &[Item], q: PageQuery<'_>) -> Page {
        let positions: Vec<(i64, &str)> = items.iter().map(position).collect();
        let decode = |i: usize| items.get(i).map_or(Err(EntryError("none".into())), decode);
        read_page(&positions, &decode, "me", q)
    }

    #[test]
    fn pages_go_back_from_the_newest_and_an_unknown_before_asks_the_server() {
        let all: Vec<Item> = (1..=5).map(|i| good(&format!("m{i}"), i)).collect();
        assert_eq!(ids(&read(&all, query(None, 2, 200))), ["m4", "m5"]);
        assert_eq!(ids(&read(&all, query(Some("m4"), 2, 200))), ["m2", "m3"]);
        assert_eq!(ids(&read(&all, query(Some("m2"), 2, 200))), ["m1"]);
        assert!(read(&all, query(Some("m1"), 2, 200)).entries.is_empty());
        assert!(read(&all, query(Some("elsewhere"), 2, 200))
            .entries
            .is_empty());
        assert!(read(&[], query(None, 2, 200)).entries.is_empty());
        assert_eq!(read(&all, query(None, 100, 200)).entries.len(), 5);
        // A read sees the newest `capacity`: m1 and m2 are past it.
        assert_eq!(ids(&read(&all, query(None, 100, 3))), ["m3", "m4", "m5"]);
        assert!(read(&all, query(Some("m3"), 2, 3)).entries.is_empty());
    }

    #[test]
    fn the_order_is_by_time_then_id_and_a_later_copy_replaces_an_earlier() {
        let mut refreshed = text_entry("c", "m2", 20);
        refreshed.0.text = "from the server".into();
        let items = [
            good("m3", 20),
            good("m2", 20),
            good("m1", 30),
            Item::Good(Box::new(refreshed)),
        ];
        let page = read(&items, query(None, 50, 200));
        assert_eq!(ids(&page), ["m2", "m3", "m1"]);
        assert_eq!(page.entries[0].0.text, "from the server");
    }

    #[test]
    fn a_copy_that_does_not_decode_gives_way_to_an_earlier_one_and_is_reported() {
        let items = [
            good("m1", 1),
            Item::Bad(2, "m2".into()),
            good("m3", 3),
            Item::Bad(1, "m1".into()),
        ];
        let page = read(&items, query(None, 50, 200));
        assert_eq!(ids(&page), ["m1", "m3"]);
        let corrupt: Vec<usize> = page.corrupt.iter().map(|(i, _)| *i).collect();
        assert_eq!(corrupt, [1, 3], "newest first");
        let again: Vec<&str> = page.good_copies.iter().map(|e| e.message_id()).collect();
        assert_eq!(again, ["m1"], "stored again: the bad copies go by id");
    }

    #[test]
    fn an_earlier_copy_read_in_a_later_ones_place_sorts_by_its_own_time() {
        let items = [good("m1", 1), good("m2", 2), Item::Bad(100, "m1".into())];
        let page = read(&items, query(None, 50, 200));
        assert_eq!(ids(&page), ["m1", "m2"]);
    }

    #[test]
    fn only_what_the_page_needs_is_decoded() {
        let mut items: Vec<Item> = (1..=10).map(|i| good(&format!("m{i}"), i)).collect();
        items.insert(0, Item::Bad(0, "old".into()));
        let page = read(&items, query(None, 3, 200));
        assert_eq!(ids(&page), ["m8", "m9", "m10"]);
        assert!(page.corrupt.is_empty(), "the old bad copy is not read");
    }

    #[test]
    fn our_sends_stored_as_direct_take_the_type_the_server_gave_the_chat() {
        let mut ours = text_entry("c", "mine", 5);
        ours.0.origin.sender_id = "me".into();
        ours.0.origin.chat_type = ChatType::Direct;
        let theirs = good("m1", 1);
        let items = [theirs.clone(), Item::Good(Box::new(ours.clone()))];
        // The page holds only ours: the chat's type comes from the newest stamped one.
        let page = read(&items, query(None, 1, 200));
        assert_eq!(ids(&page), ["mine"]);
        assert_eq!(page.entries[0].0.origin.chat_type, ChatType::Group);
        // A bad later copy of ours: read once, its good copy stored again once.
        let bad_ours = Item::Bad(6, "mine".into());
        let items = [theirs.clone(), Item::Good(Box::new(ours.clone())), bad_ours];
        let page = read(&items, query(None, 1, 200));
        assert_eq!(ids(&page), ["mine"]);
        assert_eq!((page.corrupt.len(), page.good_copies.len()), (1, 1));
        let alone = read(&[Item::Good(Box::new(ours.clone()))], query(None, 1, 200));
        assert_eq!(alone.entries[0].0.origin.chat_type, ChatType::Direct);
        let mut direct = text_entry("c", "d1", 1);
        direct.0.origin.chat_type = ChatType::Direct;
        let items = [Item::Good(Box::new(direct)), Item::Good(Box::new(ours))];
        let page = read(&items, query(None, 2, 200));
        assert!(page
            .entries
            .iter()
            .all(|e| e.0.origin.chat_type == ChatType::Direct));
    }
}
