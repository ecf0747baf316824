//! The event log: the most recent committed events, in revision order, for watches to
//! replay and follow. Every revision is exactly one event, so the log is a contiguous run
//! of revisions and finding where a watch resumes is arithmetic.
//!
//! A watch first reads the log from where it resumes; once level with it, it subscribes
//! and the committer hands it just the events under its prefix ([`super::inbox`]), so a
//! commit wakes only the watchers it concerns. Reading the log to catch up and subscribing
//! happen under the log's lock, so nothing is missed or repeated in between.

use super::by_space::BySpace;
use super::inbox::{Inbox, Subscribers};
use super::{Event, Prefix, Revision, StoreError, WatchStream};
use futures::StreamExt;
use std::collections::VecDeque;
use std::sync::{Arc, RwLock, RwLockWriteGuard};

pub(super) struct EventLog {
    inner: RwLock<Inner>,
    /// How many events a live watcher may have waiting before it falls back to the log:
    /// a watch of one space, of every space.
    inbox_capacity: (usize, usize),
}

struct Inner {
    /// `events[i].revision == oldest + 1 + i`.
    events: VecDeque<Arc<Event>>,
    /// A watch can resume after any revision from here on.
    oldest: Revision,
    capacity: usize,
    /// The most bytes of replaced object versions the kept events may hold ([`weight`]).
    max_bytes: usize,
    bytes: usize,
    /// Where each space's events are in `events`.
    by_space: BySpace,
    subscribers: Subscribers,
}

/// How many events a watcher takes from the log at once, so one slow consumer holds the
/// lock only briefly.
const BATCH: usize = 256;

/// The event history's bound in bytes: live watches are fed from their inboxes, so the
/// history only serves watches that resume or catch up, and ten thousand mailboxes' writes
/// must not pin hundreds of megabytes of old object versions for them.
const HISTORY_BYTES: usize = 128 << 20;

/// What an event holds on to beyond the current state: the version it replaced (or, for a
/// deletion, the deleted object, which is the same bytes). Its new version is shared with
/// the state until a later event replaces it, and that event counts it.
fn weight(e: &Event) -> usize {
    e.previous.as_ref().map_or(0, |p| p.len())
}

/// A live watcher's inbox bound (in events; the inbox holds pointers to the log's events):
/// enough for a burst of writes to one space, small enough that ten thousand idle watchers
/// cost little.
const INBOX_CAPACITY: usize = 1024;

/// The inbox bound of a watch of every space: the few controllers that follow a resource in
/// all 10,000 mailboxes get bursts of tens of thousands of events, and one that fell back
/// to the log and found it trimmed would have to relist every space.
const EVERY_SPACE_INBOX_CAPACITY: usize = 64 * 1024;

impl EventLog {
    /// An empty log whose history starts at `revision`, keeping at most `capacity` events.
    pub(super) fn new(revision: Revision, capacity: usize) -> Self {
        Self::with_limits(revision, capacity, HISTORY_BYTES, (INBOX_CAPACITY, EVERY_SPACE_INBOX_CAPACITY))
    }

    fn with_limits(revision: Revision, capacity: usize, max_bytes: usize, inbox_capacity: (usize, usize)) -> Self {
        let inner = Inner {
            events: VecDeque::new(),
            oldest: revision,
            capacity: capacity.max(1),
            max_bytes,
            bytes: 0,
            by_space: BySpace::default(),
            subscribers: Subscribers::default(),
        };
        Self { inner: RwLock::new(inner), inbox_capacity }
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn oldest(&self) -> Revision {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).oldest
    }

    /// The revision of the last event appended. That event and every one before it are in
    /// the inboxes of the live watchers they concern: the committer delivers them under the
    /// same lock.
    pub(super) fn newest(&self) -> Revision {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).newest()
    }

    /// Appends committed events (in revision order) and hands them to the live watchers
    /// they concern.
    pub(super) fn append(&self, events: Vec<Arc<Event>>) {
        let mut inner = self.write();
        for e in events {
            inner.subscribers.deliver(&e);
            inner.bytes += weight(&e);
            inner.by_space.push(&e.key, e.revision);
            inner.events.push_back(e);
        }
        // The newest event stays, whatever it weighs: a watch must be able to resume after
        // the last revision it saw.
        while inner.events.len() > inner.capacity || (inner.bytes > inner.max_bytes && inner.events.len() > 1) {
            inner.pop_oldest();
        }
    }

    /// Drops history up to and including `revision`: watches can no longer resume before it.
    pub(super) fn compact(&self, revision: Revision) {
        let mut inner = self.write();
        while inner.oldest < revision && !inner.events.is_empty() {
            inner.pop_oldest();
        }
    }

    /// Up to `BATCH` events after `after` under `prefix`; the second value is the revision
    /// the read got to (so a watcher skips events of other prefixes only once).
    fn read_after(&self, prefix: &Prefix, after: Revision) -> Result<(Vec<Arc<Event>>, Revision), StoreError> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner.read_after(prefix, after, BATCH)
    }

    /// Subscribes `inbox` (again), with whatever under its prefix committed after `after`
    /// queued first: from here on the committer delivers to it.
    fn subscribe(&self, inbox: &Arc<Inbox>, after: Revision, id: Option<u64>) -> Result<u64, StoreError> {
        let mut inner = self.write();
        let (missed, _) = inner.read_after(inbox.prefix(), after, usize::MAX)?;
        inbox.resume(missed);
        Ok(match id {
            Some(id) => id,
            None => inner.subscribers.add(inbox.clone()),
        })
    }

    pub(super) fn watch(self: &Arc<Self>, prefix: Prefix, after: Revision) -> Result<WatchStream, StoreError> {
        let oldest = self.oldest();
        if after < oldest {
            return Err(StoreError::Expired { requested: after, oldest });
        }
        let capacity = if prefix.space.is_some() { self.inbox_capacity.0 } else { self.inbox_capacity.1 };
        let state = Follower {
            log: self.clone(),
            inbox: Inbox::new(prefix, capacity),
            subscription: None,
            live: false,
            cursor: after,
            pending: VecDeque::new(),
            done: false,
        };
        let stream = futures::stream::unfold(state, |mut st| async move {
            let next = st.next().await?;
            Some((next, st))
        });
        Ok(stream.boxed())
    }
}

impl Inner {
    /// The revision of the last event appended.
    fn newest(&self) -> Revision {
        self.oldest + self.events.len() as Revision
    }

    fn pop_oldest(&mut self) {
        if let Some(e) = self.events.pop_front() {
            self.bytes -= weight(&e);
            self.by_space.pop(&e.key, e.revision);
            self.oldest += 1;
        }
    }

    fn read_after(
        &self,
        prefix: &Prefix,
        after: Revision,
        max: usize,
    ) -> Result<(Vec<Arc<Event>>, Revision), StoreError> {
        if after < self.oldest {
            return Err(StoreError::Expired { requested: after, oldest: self.oldest });
        }
        if let Some(space) = &prefix.space {
            return Ok(self.read_space_after(prefix, space, after, max));
        }
        let start = usize::try_from(after - self.oldest).unwrap_or(usize::MAX);
        let mut out = Vec::new();
        let mut reached = after;
        for e in self.events.iter().skip(start).take(max.saturating_mul(16)) {
            reached = e.revision;
            if prefix.contains(&e.key) {
                out.push(e.clone());
                if out.len() == max {
                    break;
                }
            }
        }
        Ok((out, reached))
    }

    /// [`Inner::read_after`] for a prefix within one `space`: its events only, through
    /// the index.
    fn read_space_after(
        &self,
        prefix: &Prefix,
        space: &str,
        after: Revision,
        max: usize,
    ) -> (Vec<Arc<Event>>, Revision) {
        let mut out = Vec::new();
        for revision in self.by_space.after(&prefix.resource, space, after) {
            let Some(e) = usize::try_from(revision - self.oldest - 1).ok().and_then(|i| self.events.get(i)) else {
                continue;
            };
            if prefix.contains(&e.key) {
                out.push(e.clone());
                if out.len() == max {
                    return (out, revision);
                }
            }
        }
        (out, self.newest())
    }
}

/// One watch's position: reading the log to catch up, or live on its inbox.
struct Follower {
    log: Arc<EventLog>,
    inbox: Arc<Inbox>,
    /// The id the inbox is subscribed under, once it first caught up.
    subscription: Option<u64>,
    /// Receiving through the inbox (otherwise reading the log).
    live: bool,
    /// The newest revision read from the log or taken from the inbox.
    cursor: Revision,
    pending: VecDeque<Arc<Event>>,
    done: bool,
}

impl Follower {
    async fn next(&mut self) -> Option<Result<Arc<Event>, StoreError>> {
        loop {
            if self.done {
                return None;
            }
            if let Some(e) = self.pending.pop_front() {
                return Some(Ok(e));
            }
            if self.live {
                self.receive().await;
            } else if let Err(e) = self.catch_up() {
                self.done = true;
                return Some(Err(e));
            }
        }
    }

    /// Reads the log after the cursor; once level with it, subscribes.
    fn catch_up(&mut self) -> Result<(), StoreError> {
        let (events, reached) = self.log.read_after(self.inbox.prefix(), self.cursor)?;
        if reached > self.cursor {
            self.cursor = reached;
            self.pending.extend(events);
            return Ok(());
        }
        self.subscription = Some(self.log.subscribe(&self.inbox, self.cursor, self.subscription)?);
        self.live = true;
        Ok(())
    }

    /// Takes what the inbox holds, waiting for it when empty; an overflowed inbox sends
    /// the watch back to the log.
    async fn receive(&mut self) {
        let taken = self.inbox.take();
        if let Some(last) = taken.events.back() {
            self.cursor = last.revision;
        }
        let got = !taken.events.is_empty();
        self.pending.extend(taken.events);
        if taken.overflowed {
            self.live = false;
        } else if !got {
            self.inbox.ready().await;
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        if let Some(id) = self.subscription {
            self.log.write().subscribers.remove(self.inbox.prefix(), id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Key;
    use bytes::Bytes;

    fn event(revision: Revision, resource: &str) -> Arc<Event> {
        Arc::new(Event {
            revision,
            key: Key::new(resource, "s", "", &format!("o{revision}")),
            object: Bytes::from_static(b"{}"),
            previous: None,
            deleted: false,
            presented: Default::default(),
        })
    }

    fn prefix(resource: &str) -> Prefix {
        Prefix { resource: resource.into(), space: None, namespace: None }
    }

    #[tokio::test]
    async fn replays_then_follows_only_its_prefix() {
        let log = Arc::new(EventLog::new(10, 100));
        log.append(vec![event(11, "a"), event(12, "b"), event(13, "a")]);
        let mut w = log.watch(prefix("a"), 11).expect("resumable");
        assert_eq!(w.next().await.map(|e| e.map(|e| e.revision)), Some(Ok(13)));
        log.append(vec![event(14, "b"), event(15, "a")]);
        assert_eq!(w.next().await.map(|e| e.map(|e| e.revision)), Some(Ok(15)));
    }

    #[tokio::test]
    async fn resuming_before_the_window_is_expired() {
        let log = Arc::new(EventLog::new(0, 2));
        log.append(vec![event(1, "a"), event(2, "a"), event(3, "a")]);
        assert_eq!(log.oldest(), 1);
        assert!(matches!(log.watch(prefix("a"), 0), Err(StoreError::Expired { requested: 0, oldest: 1 })));
        let mut w = log.watch(prefix("a"), 1).expect("resumable");
        log.compact(3);
        // The watcher's cursor (1) fell behind the compacted history: it ends with Expired.
        assert_eq!(
            w.next().await.map(|e| e.map(|e| e.revision)),
            Some(Err(StoreError::Expired { requested: 1, oldest: 3 }))
        );
        assert!(w.next().await.is_none());
    }

    fn subscribed(log: &EventLog) -> usize {
        log.inner.read().map(|i| i.subscribers.len()).unwrap_or_default()
    }

    async fn next_revision(w: &mut WatchStream) -> Option<Revision> {
        let next = tokio::time::timeout(std::time::Duration::from_secs(10), w.next()).await.expect("an event in time");
        next.map(|e| e.expect("no error").revision)
    }

    #[tokio::test]
    async fn a_live_watcher_gets_every_event_once_in_order_even_when_its_inbox_overflows() {
        // Inboxes of 3 events: bursts of 10 overflow them, and the watcher must catch up
        // from the log and subscribe again without losing or repeating anything.
        let log = Arc::new(EventLog::with_limits(0, 10_000, usize::MAX, (3, 3)));
        let mut w = log.watch(prefix("a"), 0).expect("resumable");
        let mut want = Vec::new();
        let mut revision = 0;
        for burst in 0..5 {
            let mut events = Vec::new();
            for i in 0..10 {
                revision += 1;
                let resource = if (burst + i) % 3 == 0 { "b" } else { "a" };
                if resource == "a" {
                    want.push(revision);
                }
                events.push(event(revision, resource));
            }
            log.append(events);
            // Take part of the burst, so later bursts land in a half-drained inbox.
            for _ in 0..2 {
                let got = next_revision(&mut w).await;
                assert_eq!(got, Some(want[0]));
                want.remove(0);
            }
        }
        while let Some(&expected) = want.first() {
            assert_eq!(next_revision(&mut w).await, Some(expected));
            want.remove(0);
        }
        // Level again, it waits subscribed, and the next commit reaches it live.
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), w.next()).await;
        assert!(waiting.is_err(), "nothing more was committed");
        assert_eq!(subscribed(&log), 1);
        log.append(vec![event(revision + 1, "a")]);
        assert_eq!(next_revision(&mut w).await, Some(revision + 1));
    }

    #[tokio::test]
    async fn a_dropped_watch_unsubscribes() {
        let log = Arc::new(EventLog::new(0, 100));
        let mut w = log.watch(prefix("a"), 0).expect("resumable");
        log.append(vec![event(1, "a")]);
        assert_eq!(next_revision(&mut w).await, Some(1));
        // Waiting for the next event subscribes it.
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), w.next()).await;
        assert!(waiting.is_err(), "nothing more was committed");
        assert_eq!(subscribed(&log), 1);
        drop(w);
        assert_eq!(subscribed(&log), 0);
    }

    /// An update: it holds on to the 2-byte version it replaced.
    fn update(revision: Revision) -> Arc<Event> {
        let mut e = Arc::unwrap_or_clone(event(revision, "a"));
        e.previous = Some(Bytes::from_static(b"{}"));
        Arc::new(e)
    }

    #[tokio::test]
    async fn history_is_bounded_by_the_bytes_of_replaced_versions_keeping_the_newest_event() {
        // Creations share their object with the current state and weigh nothing.
        let free = EventLog::with_limits(0, 100, 0, (8, 8));
        free.append((1..=4).map(|r| event(r, "a")).collect());
        assert_eq!(free.oldest(), 0, "nothing to bound");
        // Each update weighs 2 bytes: a 5-byte bound keeps two of them.
        let log = Arc::new(EventLog::with_limits(0, 100, 5, (8, 8)));
        log.append((1..=4).map(update).collect());
        assert_eq!(log.oldest(), 2, "events 1 and 2 were dropped for their bytes");
        assert!(matches!(log.watch(prefix("a"), 1), Err(StoreError::Expired { requested: 1, oldest: 2 })));
        let mut w = log.watch(prefix("a"), 2).expect("resumable");
        assert_eq!(next_revision(&mut w).await, Some(3));
        assert_eq!(next_revision(&mut w).await, Some(4));
        let tiny = EventLog::with_limits(0, 100, 0, (8, 8));
        tiny.append(vec![update(1)]);
        assert_eq!(tiny.oldest(), 0, "the newest event stays even when it alone is over the bound");
    }

    /// A read of one space through the index finds what a read of every event filtered by
    /// the prefix finds, as history is trimmed and whatever the batch size.
    #[test]
    fn reading_one_space_through_the_index_matches_a_full_scan() {
        let log = EventLog::new(0, 50);
        let (resources, spaces, namespaces) = (["a", "b"], ["s1", "s2", "s10"], ["", "n1", "n2"]);
        let mut revision = 0;
        for round in 0..40 {
            let mut batch = Vec::new();
            for (i, space) in spaces.iter().enumerate().take(1 + round % 3) {
                revision += 1;
                let ns = namespaces[(round + i) % 3];
                let key = Key::new(resources[(round + i) % 2], space, ns, &format!("o{}", revision % 7));
                let mut e = Arc::unwrap_or_clone(event(revision, "a"));
                e.key = key;
                batch.push(Arc::new(e));
            }
            log.append(batch);
        }
        let inner = log.inner.read().expect("lock");
        assert!(inner.oldest > 0, "history was trimmed");
        assert_eq!(inner.by_space.len(), inner.events.len(), "one index entry per kept event");
        let newest = inner.newest();
        for resource in resources {
            for space in spaces {
                for namespace in [None, Some("n1"), Some("")] {
                    let p = Prefix {
                        resource: resource.into(),
                        space: Some(space.into()),
                        namespace: namespace.map(Into::into),
                    };
                    for after in [inner.oldest, inner.oldest + 17, newest - 5, newest] {
                        let want: Vec<Revision> = inner
                            .events
                            .iter()
                            .filter(|e| e.revision > after && p.contains(&e.key))
                            .map(|e| e.revision)
                            .collect();
                        let (all, reached) = inner.read_after(&p, after, usize::MAX).expect("in history");
                        assert_eq!(all.iter().map(|e| e.revision).collect::<Vec<_>>(), want, "{p:?} after {after}");
                        assert_eq!(reached, newest, "{p:?} after {after}: read to the end");
                        let (two, reached) = inner.read_after(&p, after, 2).expect("in history");
                        assert_eq!(two.iter().map(|e| e.revision).collect::<Vec<_>>(), want[..want.len().min(2)]);
                        if want.len() > 2 {
                            assert_eq!(reached, want[1], "a full batch reaches its last event");
                        }
                    }
                }
            }
        }
    }
}
