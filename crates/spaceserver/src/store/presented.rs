//! A cache of the one way many readers present an event (the API layer's encoded watch
//! line), that lives only as long as a reader still holds what it made.
//!
//! The event log keeps up to a hundred thousand events for watches that resume. Had each
//! kept its encoded lines too, the history would have pinned a copy of every line ever
//! sent: at 1,000 mailboxes that was over a quarter of the center's heap. Live watchers
//! present an event within moments of one another, so a cache that forgets a line once the
//! last of them has written it out still encodes it once for all of them.

use bytes::Bytes;
use std::sync::{Arc, Mutex, Weak};

/// The presentations of one event: by readers of one space, and by readers of every space.
pub type Presentations = Arc<[Presented; 2]>;

/// One presentation of an event, shared while any reader still holds its bytes.
#[derive(Debug, Default)]
pub struct Presented(Mutex<Weak<Made>>);

/// What was made, and the variant (an API version) it was made for.
#[derive(Debug)]
struct Made {
    variant: String,
    bytes: Vec<u8>,
}

/// Lets `Bytes` borrow a [`Made`]'s bytes while holding it alive.
struct Owner(Arc<Made>);

impl AsRef<[u8]> for Owner {
    fn as_ref(&self) -> &[u8] {
        &self.0.bytes
    }
}

impl Presented {
    /// The bytes made for `variant` if a reader still holds them, or else what `make`
    /// makes now (`None` when it cannot). Readers of the same event wait for each other
    /// here, so it is made once, not once per reader.
    pub fn get_or_make(&self, variant: &str, make: impl FnOnce() -> Option<Vec<u8>>) -> Option<Bytes> {
        let mut cached = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(made) = cached.upgrade().filter(|m| m.variant == variant) {
            return Some(Bytes::from_owner(Owner(made)));
        }
        let made = Arc::new(Made { variant: variant.to_owned(), bytes: make()? });
        *cached = Arc::downgrade(&made);
        Some(Bytes::from_owner(Owner(made)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn readers_share_what_is_made_while_one_holds_it_and_it_is_freed_after() {
        let cache = Presented::default();
        let made = Cell::new(0);
        let make = || {
            made.set(made.get() + 1);
            Some(b"line".to_vec())
        };
        let first = cache.get_or_make("v1", make).expect("made");
        let second = cache.get_or_make("v1", make).expect("shared");
        assert_eq!((made.get(), &first[..], &second[..]), (1, &b"line"[..], &b"line"[..]));
        assert_eq!(first.as_ptr(), second.as_ptr(), "one buffer for both readers");
        let slice = second.slice(1..);
        drop((first, second));
        cache.get_or_make("v1", make).expect("still held by a slice");
        assert_eq!(made.get(), 1);
        drop(slice);
        cache.get_or_make("v1", make).expect("made again");
        assert_eq!(made.get(), 2, "nothing held it, so nothing kept it");
    }

    #[test]
    fn another_variant_is_made_anew_and_a_failed_make_caches_nothing() {
        let cache = Presented::default();
        let a = cache.get_or_make("v1", || Some(b"one".to_vec())).expect("made");
        let b = cache.get_or_make("v2", || Some(b"two".to_vec())).expect("made");
        assert_eq!((&a[..], &b[..]), (&b"one"[..], &b"two"[..]));
        assert!(cache.get_or_make("v3", || None).is_none());
        let again = cache.get_or_make("v2", || Some(b"new".to_vec())).expect("kept");
        assert_eq!(&again[..], b"two");
    }
}
