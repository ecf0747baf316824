//! The event log's index by resource and space: the revisions of each space's events, so a
//! watch of one space catches up by reading its own events, not every event since.
//!
//! A watch starts by reading the log after the revision it listed at. Read in full, that is
//! every event the server committed since, for each watch: at 10,000 WECs, ten thousand
//! syncers start their watches while the WEC server commits thousands of writes a second,
//! and checking each event against each new watch's prefix was a sixth of that server's
//! CPU.

use super::{Key, Revision};
use std::collections::{HashMap, VecDeque};

#[derive(Default)]
pub(super) struct BySpace {
    /// `resource\0space` → the revisions of its events in the log, oldest first.
    revisions: HashMap<Box<str>, VecDeque<Revision>>,
}

/// `key`'s resource and space, as they lead its joined form.
fn head(key: &Key) -> &str {
    let joined = key.encode();
    let end = memchr::memchr_iter(0, joined.as_bytes()).nth(1).unwrap_or(joined.len());
    &joined[..end]
}

impl BySpace {
    /// Records the newest event, `key`'s at `revision`.
    pub(super) fn push(&mut self, key: &Key, revision: Revision) {
        let head = head(key);
        match self.revisions.get_mut(head) {
            Some(revisions) => revisions.push_back(revision),
            None => {
                self.revisions.insert(head.into(), VecDeque::from([revision]));
            }
        }
    }

    /// Forgets the oldest event, `key`'s at `revision`.
    pub(super) fn pop(&mut self, key: &Key, revision: Revision) {
        let head = head(key);
        let Some(revisions) = self.revisions.get_mut(head) else { return };
        if revisions.front() == Some(&revision) {
            revisions.pop_front();
        }
        if revisions.is_empty() {
            self.revisions.remove(head);
        }
    }

    /// The revisions after `after` of the events of `resource` in `space`, oldest first.
    pub(super) fn after(&self, resource: &str, space: &str, after: Revision) -> impl Iterator<Item = Revision> + '_ {
        let revisions = self.revisions.get(format!("{resource}\0{space}").as_str());
        let from = revisions.map_or(0, |r| r.partition_point(|&rev| rev <= after));
        revisions.into_iter().flat_map(move |r| r.range(from..).copied())
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.revisions.values().map(VecDeque::len).sum()
    }
}
