//! A bounded window of recently seen message ids.

use std::collections::{HashSet, VecDeque};

/// Remembers the last `capacity` ids; older ones are forgotten first.
#[derive(Debug, Clone)]
pub struct DedupeWindow {
    order: VecDeque<String>,
    seen: HashSet<String>,
    capacity: usize,
}

impl DedupeWindow {
    /// A window of `capacity` ids (at least 1).
    pub fn new(capacity: usize) -> Self {
        DedupeWindow {
            order: VecDeque::new(),
            seen: HashSet::new(),
            capacity: capacity.max(1),
        }
    }

    /// True when `id` is in the window.
    pub fn contains(&self, id: &str) -> bool {
        self.seen.contains(id)
    }

    /// Records `id`; false when it was already in the window.
    pub fn first_sighting(&mut self, id: &str) -> bool {
        if self.seen.contains(id) {
            return false;
        }
        if self.order.len() == self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.seen.remove(&oldest);
            }
        }
        self.order.push_back(id.to_owned());
        self.seen.insert(id.to_owned());
        true
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
    }
}
