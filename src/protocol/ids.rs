//! Client-minted identifiers: `msg-<ULID>` message ids and trace ids.

use ulid::Ulid;

/// Prefix of every client-minted message id.
pub const MESSAGE_ID_PREFIX: &str = "msg-";

/// Mints `msg-` + a 26-character Crockford base32 ULID from a time and 80 random bits.
///
/// Pure: the caller supplies the clock and the randomness (see [`random_u128`]).
pub fn message_id(now_ms: u64, random: u128) -> String {
    format!("{MESSAGE_ID_PREFIX}{}", Ulid::from_parts(now_ms, random))
}

/// Mints a trace id (a bare ULID) for correlating a request with its response.
pub fn trace_id(now_ms: u64, random: u128) -> String {
    Ulid::from_parts(now_ms, random).to_string()
}

/// True when `id` is `msg-` followed by a valid 26-character ULID.
pub fn is_message_id(id: &str) -> bool {
    id.strip_prefix(MESSAGE_ID_PREFIX)
        .is_some_and(|ulid| ulid.len() == 26 && Ulid::from_string(ulid).is_ok())
}

/// How many 128-bit values one read of the platform's source yields: each read crosses
/// into JS, and a send takes two (its message id and trace id).
const POOL: usize = 16;

/// 128 bits from the platform's secure random source (Web Crypto in browsers), or
/// `None` when the platform has none (then no id can be minted safely). Read
/// [`POOL`] values at a time; each is handed out once.
pub fn random_u128() -> Option<u128> {
    thread_local! {
        static UNUSED: std::cell::RefCell<Vec<u128>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    UNUSED.with_borrow_mut(|unused| {
        if unused.is_empty() {
            let mut bytes = [0u8; 16 * POOL];
            getrandom::fill(&mut bytes).ok()?;
            unused.extend(
                bytes
                    .chunks_exact(16)
                    .filter_map(|chunk| chunk.try_into().ok())
                    .map(u128::from_le_bytes),
            );
        }
        unused.pop()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CROCKFORD: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

    #[test]
    fn message_ids_are_prefixed_crockford_ulids() {
        let id = message_id(1_700_000_000_000, random_u128().unwrap());
        assert!(id.starts_with("msg-"));
        let ulid = &id[4..];
        assert_eq!(ulid.len(), 26);
        assert!(ulid.chars().all(|c| CROCKFORD.contains(c)), "{ulid}");
        assert!(is_message_id(&id));
    }

    #[test]
    fn the_time_part_sorts_by_time() {
        let earlier = message_id(1_000, u128::MAX);
        let later = message_id(1_001, 0);
        assert!(earlier < later);
        assert_eq!(&message_id(0, 0)[4..14], "0000000000");
    }

    #[test]
    fn two_mints_differ() {
        assert_ne!(
            message_id(5, random_u128().unwrap()),
            message_id(5, random_u128().unwrap())
        );
    }

    #[test]
    fn pooled_random_values_are_never_handed_out_twice() {
        let drawn: std::collections::HashSet<u128> =
            (0..5 * POOL).filter_map(|_| random_u128()).collect();
        assert_eq!(drawn.len(), 5 * POOL, "across several refills");
    }

    #[test]
    fn malformed_ids_are_rejected() {
        for id in [
            "",
            "msg-",
            "msg-123",
            "ulid-01ARZ3NDEKTSV4RRFFQ69G5FAV",
            "msg-01ARZ3NDEKTSV4RRFFQ69G5FA!",
        ] {
            assert!(!is_message_id(id), "{id}");
        }
        assert!(is_message_id("msg-01ARZ3NDEKTSV4RRFFQ69G5FAV"));
    }

    #[test]
    fn trace_ids_are_bare_ulids() {
        assert_eq!(trace_id(0, 1).len(), 26);
    }
}
