//! Live watchers, indexed by what they watch, so a commit touches only the watchers its
//! events concern.
//!
//! Waking every watcher on every commit costs `watchers × commits`: with 10,000 syncers
//! each watching its own mailbox, one copy written into one mailbox would wake tens of
//! thousands of tasks that each find nothing for them. Instead the log hands each event to
//! the [`Inbox`]es of the watchers of that resource in that space (and to those of that
//! resource in every space), and only those wake.
//!
//! An inbox is bounded. A watcher that lets it fill up is marked overflowed and stops
//! receiving: it catches up by reading the log from the last event it took, as a new
//! watcher does, and subscribes again once it is level. A slow watcher therefore costs
//! memory only up to the bound, and never loses or repeats an event.

use super::{Event, Key, Prefix};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// The events of one live watcher, pushed by the committer and taken by the watcher.
pub(super) struct Inbox {
    prefix: Prefix,
    capacity: usize,
    queue: Mutex<Queue>,
    ready: Notify,
}

#[derive(Default)]
struct Queue {
    events: VecDeque<Arc<Event>>,
    /// The queue filled up and events were left out after its last one.
    overflowed: bool,
}

/// What a watcher takes from its inbox.
pub(super) struct Taken {
    pub events: VecDeque<Arc<Event>>,
    /// Events after the last of `events` were left out: read them from the log.
    pub overflowed: bool,
}

impl Inbox {
    pub(super) fn new(prefix: Prefix, capacity: usize) -> Arc<Self> {
        Arc::new(Self { prefix, capacity: capacity.max(1), queue: Mutex::default(), ready: Notify::new() })
    }

    pub(super) fn prefix(&self) -> &Prefix {
        &self.prefix
    }

    /// Queues `event` if this watcher wants it and has room; a full inbox overflows.
    fn offer(&self, event: &Arc<Event>) {
        if !self.prefix.contains(&event.key) {
            return;
        }
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if queue.overflowed {
            return;
        }
        if queue.events.len() >= self.capacity {
            queue.overflowed = true;
        } else {
            queue.events.push_back(event.clone());
        }
        drop(queue);
        // A stored permit if the watcher is not waiting yet: no wake-up is lost.
        self.ready.notify_one();
    }

    /// Everything queued so far.
    pub(super) fn take(&self) -> Taken {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        Taken { events: std::mem::take(&mut queue.events), overflowed: queue.overflowed }
    }

    /// Starts receiving again after catching up from the log; `caught_up` are the events
    /// the catch-up read last, queued first.
    pub(super) fn resume(&self, caught_up: impl IntoIterator<Item = Arc<Event>>) {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        queue.events = caught_up.into_iter().collect();
        queue.overflowed = false;
    }

    /// Waits until something was queued (or the inbox overflowed) since the last wait.
    pub(super) async fn ready(&self) {
        self.ready.notified().await
    }
}

/// The live watchers of every resource.
#[derive(Default)]
pub(super) struct Subscribers {
    next_id: u64,
    resources: HashMap<String, Watchers>,
}

/// The live watchers of one resource.
#[derive(Default)]
struct Watchers {
    every_space: Vec<(u64, Arc<Inbox>)>,
    by_space: HashMap<String, Vec<(u64, Arc<Inbox>)>>,
}

impl Subscribers {
    /// Adds a watcher; the id removes it again.
    pub(super) fn add(&mut self, inbox: Arc<Inbox>) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        let watchers = self.resources.entry(inbox.prefix.resource.clone()).or_default();
        match &inbox.prefix.space {
            None => watchers.every_space.push((id, inbox)),
            Some(space) => watchers.by_space.entry(space.clone()).or_default().push((id, inbox)),
        }
        id
    }

    pub(super) fn remove(&mut self, prefix: &Prefix, id: u64) {
        let Some(watchers) = self.resources.get_mut(&prefix.resource) else { return };
        match &prefix.space {
            None => watchers.every_space.retain(|(i, _)| *i != id),
            Some(space) => {
                if let Some(list) = watchers.by_space.get_mut(space) {
                    list.retain(|(i, _)| *i != id);
                    if list.is_empty() {
                        watchers.by_space.remove(space);
                    }
                }
            }
        }
        if watchers.every_space.is_empty() && watchers.by_space.is_empty() {
            self.resources.remove(&prefix.resource);
        }
    }

    /// Hands `event` to the watchers it concerns.
    pub(super) fn deliver(&self, event: &Arc<Event>) {
        for inbox in self.concerned(&event.key) {
            inbox.offer(event);
        }
    }

    /// The watchers of the key's resource in its space or in every space (their namespace
    /// is checked by the inbox).
    fn concerned<'a>(&'a self, key: &Key) -> impl Iterator<Item = &'a Arc<Inbox>> + 'a {
        let watchers = self.resources.get(key.resource());
        let every = watchers.map(|w| w.every_space.as_slice()).unwrap_or_default();
        let one = watchers.and_then(|w| w.by_space.get(key.space())).map(Vec::as_slice).unwrap_or_default();
        every.iter().chain(one).map(|(_, inbox)| inbox)
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.resources.values().map(|w| w.every_space.len() + w.by_space.values().map(Vec::len).sum::<usize>()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn event(revision: u64, resource: &str, space: &str, namespace: &str) -> Arc<Event> {
        Arc::new(Event {
            revision,
            key: Key::new(resource, space, namespace, &format!("o{revision}")),
            object: Bytes::from_static(b"{}"),
            previous: None,
            deleted: false,
            presented: Default::default(),
        })
    }

    fn prefix(resource: &str, space: Option<&str>, namespace: Option<&str>) -> Prefix {
        Prefix { resource: resource.into(), space: space.map(Into::into), namespace: namespace.map(Into::into) }
    }

    fn revisions(inbox: &Inbox) -> Vec<u64> {
        inbox.take().events.iter().map(|e| e.revision).collect()
    }

    #[test]
    fn an_event_reaches_exactly_the_watchers_whose_prefix_holds_it() {
        let mut subs = Subscribers::default();
        let table = [
            (prefix("cm", None, None), true),
            (prefix("cm", Some("a"), None), true),
            (prefix("cm", Some("a"), Some("ns")), true),
            (prefix("cm", Some("a"), Some("other")), false),
            (prefix("cm", Some("b"), None), false),
            (prefix("secrets", None, None), false),
            (prefix("secrets", Some("a"), None), false),
        ];
        let inboxes: Vec<_> = table.iter().map(|(p, _)| Inbox::new(p.clone(), 8)).collect();
        for inbox in &inboxes {
            subs.add(inbox.clone());
        }
        subs.deliver(&event(1, "cm", "a", "ns"));
        for ((p, wanted), inbox) in table.iter().zip(&inboxes) {
            assert_eq!(revisions(inbox), if *wanted { vec![1] } else { vec![] }, "{p:?}");
        }
    }

    #[test]
    fn removed_watchers_receive_nothing_and_leave_no_entry() {
        let mut subs = Subscribers::default();
        let one = Inbox::new(prefix("cm", Some("a"), None), 8);
        let every = Inbox::new(prefix("cm", None, None), 8);
        let kept = Inbox::new(prefix("cm", Some("a"), None), 8);
        let one_id = subs.add(one.clone());
        let every_id = subs.add(every.clone());
        subs.add(kept.clone());
        subs.remove(one.prefix(), one_id);
        subs.remove(every.prefix(), every_id);
        subs.deliver(&event(1, "cm", "a", ""));
        assert_eq!((revisions(&one), revisions(&every), revisions(&kept)), (vec![], vec![], vec![1]));
        assert_eq!(subs.len(), 1);
        subs.remove(&prefix("cm", Some("a"), None), 3);
        assert_eq!(subs.len(), 0);
        assert!(subs.resources.is_empty(), "no empty entries are left behind");
    }

    #[test]
    fn a_full_inbox_overflows_keeping_what_it_holds_in_order() {
        let inbox = Inbox::new(prefix("cm", None, None), 2);
        for r in 1..=4 {
            inbox.offer(&event(r, "cm", "a", ""));
        }
        let taken = inbox.take();
        assert_eq!(taken.events.iter().map(|e| e.revision).collect::<Vec<_>>(), vec![1, 2]);
        assert!(taken.overflowed);
        // Overflowed, it takes nothing more until it resumes.
        inbox.offer(&event(5, "cm", "a", ""));
        assert!(inbox.take().events.is_empty());
        inbox.resume([event(6, "cm", "a", "")]);
        inbox.offer(&event(7, "cm", "a", ""));
        let taken = inbox.take();
        assert_eq!(taken.events.iter().map(|e| e.revision).collect::<Vec<_>>(), vec![6, 7]);
        assert!(!taken.overflowed);
    }

    #[tokio::test]
    async fn an_offer_before_the_wait_is_not_lost() {
        let inbox = Inbox::new(prefix("cm", None, None), 2);
        inbox.offer(&event(1, "cm", "a", ""));
        tokio::time::timeout(std::time::Duration::from_secs(10), inbox.ready()).await.expect("the permit was kept");
    }
}
