//! A map kept as a vector of pairs, for a client's maps of a few entries (requests in
//! flight, sends waiting for their outcome, live streams): a linear scan over a handful
//! of keys costs less time than hashing them, and far less wasm than a hash map instance
//! (about 1.7 KB each). Maps that can grow with the number of users (the memory stores,
//! shared by every client of a realm, which may be a server's) stay hash maps.

use std::borrow::Borrow;

/// A map of few entries, in insertion order, searched linearly.
#[derive(Debug, Clone)]
pub struct SmallMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for SmallMap<K, V> {
    fn default() -> Self {
        SmallMap {
            entries: Vec::new(),
        }
    }
}

impl<K: PartialEq, V> SmallMap<K, V> {
    /// The value of `key`.
    pub fn get<Q: PartialEq + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.entries
            .iter()
            .find(|(k, _)| k.borrow() == key)
            .map(|(_, v)| v)
    }

    /// The value of `key`, to change.
    pub fn get_mut<Q: PartialEq + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        self.entries
            .iter_mut()
            .find(|(k, _)| k.borrow() == key)
            .map(|(_, v)| v)
    }

    /// Whether `key` has a value.
    pub fn contains_key<Q: PartialEq + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.get(key).is_some()
    }

    /// Sets the value of `key`; returns the value it replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        if let Some(slot) = self.get_mut(&key) {
            return Some(std::mem::replace(slot, value));
        }
        self.entries.push((key, value));
        None
    }

    /// The value of `key`, first set from `value` if it has none.
    pub fn get_or_insert_with(&mut self, key: K, value: impl FnOnce() -> V) -> &mut V {
        let at = match self.entries.iter().position(|(k, _)| *k == key) {
            Some(at) => at,
            None => {
                self.entries.push((key, value()));
                self.entries.len() - 1
            }
        };
        &mut self.entries[at].1
    }

    /// Takes the value of `key` out of the map (the others keep their order).
    pub fn remove<Q: PartialEq + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let at = self.entries.iter().position(|(k, _)| k.borrow() == key)?;
        Some(self.entries.remove(at).1)
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// Takes every entry out, in insertion order.
    pub fn drain(&mut self) -> impl Iterator<Item = (K, V)> + '_ {
        self.entries.drain(..)
    }
}

#[cfg(test)]
mod tests {
    use super::SmallMap;

    #[test]
    fn a_key_has_one_value_and_removal_keeps_the_order_of_the_rest() {
        let mut map = SmallMap::default();
        assert_eq!(map.insert("a".to_owned(), 1), None);
        assert_eq!(map.insert("b".to_owned(), 2), None);
        assert_eq!(map.insert("c".to_owned(), 3), None);
        assert_eq!(map.insert("a".to_owned(), 4), Some(1), "replaced in place");
        assert_eq!(
            (map.len(), map.get("a"), map.contains_key("z")),
            (3, Some(&4), false)
        );
        if let Some(c) = map.get_mut("c") {
            *c = 30;
        }
        *map.get_or_insert_with("c".to_owned(), || 0) += 1;
        assert_eq!(*map.get_or_insert_with("d".to_owned(), || 5), 5);
        assert_eq!(map.remove("b"), Some(2));
        assert_eq!(map.remove("b"), None);
        let entries: Vec<_> = map.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(entries, [("a", 4), ("c", 31), ("d", 5)]);
        assert!(!map.is_empty());
    }
}
