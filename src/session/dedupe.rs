//! Bounded memory of recently seen keys: the dedupe window for message ids, and any other
//! map the server can grow (closed chats).

#![cfg_attr(
    not(test),
    deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)
)]

use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

/// The last `capacity` keys inserted, each with a value; the oldest is forgotten first.
/// Keys are stored once (shared by the map and the order).
#[derive(Debug, Clone)]
pub struct Recent<V> {
    order: VecDeque<Rc<str>>,
    map: HashMap<Rc<str>, V>,
    capacity: usize,
}

/// Remembers the last `capacity` message ids.
pub type DedupeWindow = Recent<()>;

impl<V> Recent<V> {
    /// Room for `capacity` keys (at least 1).
    pub fn new(capacity: usize) -> Self {
        Recent {
            order: VecDeque::new(),
            map: HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// True when `key` is remembered.
    pub fn contains(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// The value remembered for `key`.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.map.get(key)
    }

    /// How many keys are remembered.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Remembers `key` with `value`; false (and the value replaced) when it was already
    /// remembered. Forgets the oldest key when full.
    pub fn insert(&mut self, key: &str, value: V) -> bool {
        if let Some(slot) = self.map.get_mut(key) {
            *slot = value;
            return false;
        }
        if self.order.len() >= self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.map.remove(&oldest);
            }
        }
        let key: Rc<str> = Rc::from(key);
        self.order.push_back(Rc::clone(&key));
        self.map.insert(key, value);
        true
    }
}

impl DedupeWindow {
    /// Records `id`; false when it was already in the window.
    pub fn first_sighting(&mut self, id: &str) -> bool {
        self.insert(id, ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_inside_the_window_are_caught_and_old_ids_expire() {
        let mut w = DedupeWindow::new(2);
        assert!(w.first_sighting("a"));
        assert!(!w.first_sighting("a"));
        assert!(w.first_sighting("b"));
        assert!(w.first_sighting("c")); // evicts a
        assert!(!w.first_sighting("b"));
        assert!(w.first_sighting("a"));
        assert_eq!(w.len(), 2);
    }

    #[test]
    fn a_map_of_values_never_grows_past_its_capacity() {
        let mut m = Recent::new(3);
        for i in 0..1000 {
            m.insert(&format!("chat-{i}"), i);
        }
        assert_eq!(m.len(), 3);
        assert_eq!(m.get("chat-999"), Some(&999));
        assert!(!m.contains("chat-996"));
    }
}
