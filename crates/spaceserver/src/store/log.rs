//! The event log: the most recent committed events, in revision order, for watches to
//! replay and follow. Every revision is exactly one event, so the log is a contiguous run
//! of revisions and finding where a watch resumes is arithmetic.

use super::{Event, Prefix, Revision, StoreError, WatchStream};
use futures::StreamExt;
use std::collections::VecDeque;
use std::sync::{Arc, RwLock};
use tokio::sync::watch;

pub(super) struct EventLog {
    inner: RwLock<Inner>,
    newest: watch::Sender<Revision>,
}

struct Inner {
    /// `events[i].revision == oldest + 1 + i`.
    events: VecDeque<Arc<Event>>,
    /// A watch can resume after any revision from here on.
    oldest: Revision,
    capacity: usize,
}

/// How many events a watcher takes from the log at once, so one slow consumer holds the
/// lock only briefly.
const BATCH: usize = 256;

impl EventLog {
    /// An empty log whose history starts at `revision`, keeping at most `capacity` events.
    pub(super) fn new(revision: Revision, capacity: usize) -> Self {
        let (newest, _) = watch::channel(revision);
        Self {
            inner: RwLock::new(Inner { events: VecDeque::new(), oldest: revision, capacity: capacity.max(1) }),
            newest,
        }
    }

    pub(super) fn oldest(&self) -> Revision {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).oldest
    }

    /// Appends committed events (in revision order) and wakes the watchers.
    pub(super) fn append(&self, events: Vec<Arc<Event>>) {
        let Some(last) = events.last().map(|e| e.revision) else { return };
        {
            let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
            for e in events {
                inner.events.push_back(e);
            }
            while inner.events.len() > inner.capacity {
                inner.events.pop_front();
                inner.oldest += 1;
            }
        }
        self.newest.send_replace(last);
    }

    /// Drops history up to and including `revision`: watches can no longer resume before it.
    pub(super) fn compact(&self, revision: Revision) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        while inner.oldest < revision && inner.events.pop_front().is_some() {
            inner.oldest += 1;
        }
    }

    /// Up to `BATCH` events after `after` under `prefix`; the second value is the revision
    /// the read got to (so a watcher skips events of other prefixes only once).
    fn read_after(&self, prefix: &Prefix, after: Revision) -> Result<(Vec<Arc<Event>>, Revision), StoreError> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        if after < inner.oldest {
            return Err(StoreError::Expired { requested: after, oldest: inner.oldest });
        }
        let start = usize::try_from(after - inner.oldest).unwrap_or(usize::MAX);
        let mut out = Vec::new();
        let mut reached = after;
        for e in inner.events.iter().skip(start).take(BATCH * 16) {
            reached = e.revision;
            if prefix.contains(&e.key) {
                out.push(e.clone());
                if out.len() == BATCH {
                    break;
                }
            }
        }
        Ok((out, reached))
    }

    pub(super) fn watch(self: &Arc<Self>, prefix: Prefix, after: Revision) -> Result<WatchStream, StoreError> {
        let oldest = self.oldest();
        if after < oldest {
            return Err(StoreError::Expired { requested: after, oldest });
        }
        struct State {
            log: Arc<EventLog>,
            prefix: Prefix,
            cursor: Revision,
            newest: watch::Receiver<Revision>,
            pending: VecDeque<Arc<Event>>,
            done: bool,
        }
        let state = State {
            log: self.clone(),
            prefix,
            cursor: after,
            newest: self.newest.subscribe(),
            pending: VecDeque::new(),
            done: false,
        };
        let stream = futures::stream::unfold(state, |mut st| async move {
            loop {
                if st.done {
                    return None;
                }
                if let Some(e) = st.pending.pop_front() {
                    return Some((Ok(e), st));
                }
                match st.log.read_after(&st.prefix, st.cursor) {
                    Err(e) => {
                        st.done = true;
                        return Some((Err(e), st));
                    }
                    Ok((events, reached)) if reached > st.cursor => {
                        st.cursor = reached;
                        st.pending.extend(events);
                    }
                    Ok(_) => {
                        // Caught up: sleep until something newer than the cursor commits.
                        let cursor = st.cursor;
                        if st.newest.wait_for(|&newest| newest > cursor).await.is_err() {
                            return None;
                        }
                    }
                }
            }
        });
        Ok(stream.boxed())
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
}
