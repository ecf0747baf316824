//! The default store: the current state in memory as a persistent ordered map, made
//! durable in an append-only log ([`super::disk`]) by a single writer thread that
//! group-commits.
//!
//! Concurrent writes queue up while the writer is busy with an fsync; the next transaction
//! takes all of them at once. That is what lets many clients write far faster than one
//! fsync per write would allow, while every acknowledged write is on disk. Under steady
//! load the writer also lingers a moment before a small transaction ([`linger`]).

use super::disk::{Change, Disk, Objects};
use super::log::EventLog;
use super::{
    Event, Key, ListPage, ListRequest, Precondition, Prefix, Presentations, ReadAt, Revision, Store, StoreError,
    Stored, WatchStream, Write,
};
use std::collections::{HashMap, VecDeque};
use std::ops::Bound;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

#[derive(Clone, Debug)]
pub struct EmbeddedStoreConfig {
    /// The log file.
    pub path: PathBuf,
    /// How many recent events watches can resume from.
    pub event_history: usize,
    /// The most writes one transaction takes.
    pub max_batch: usize,
    /// How long a paged list's snapshot stays readable through its continue token.
    pub snapshot_ttl: Duration,
    /// How many such snapshots are kept at most.
    pub max_snapshots: usize,
    /// The log is rewritten from the live state once it is twice that size and at least
    /// this large.
    pub compact_min_bytes: u64,
    /// How long the writer waits for more writes before committing a small batch while
    /// writes keep coming ([`linger`]); zero never waits.
    pub commit_linger: Duration,
}

impl EmbeddedStoreConfig {
    /// The smallest log that is rewritten: below it, a rewrite would cost more than the
    /// space it saves.
    pub const DEFAULT_COMPACT_MIN_BYTES: u64 = 64 << 20;

    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            event_history: 200_000,
            max_batch: 4096,
            snapshot_ttl: Duration::from_secs(300),
            max_snapshots: 64,
            compact_min_bytes: Self::DEFAULT_COMPACT_MIN_BYTES,
            commit_linger: Duration::from_millis(1),
        }
    }
}

#[derive(Clone)]
struct State {
    revision: Revision,
    objects: Objects,
}

struct Snapshot {
    taken: Instant,
    state: State,
}

struct Shared {
    state: RwLock<State>,
    log: Arc<EventLog>,
    snapshots: Mutex<VecDeque<Snapshot>>,
    config: EmbeddedStoreConfig,
}

struct Request {
    write: Write,
    presented: Presentations,
    reply: oneshot::Sender<Result<Stored, StoreError>>,
}

pub struct EmbeddedStore {
    shared: Arc<Shared>,
    writes: mpsc::Sender<Request>,
}

impl EmbeddedStore {
    /// Opens (or creates) the store file and loads the current state.
    pub fn open(config: EmbeddedStoreConfig) -> Result<Self, StoreError> {
        let (disk, loaded) = Disk::open(&config.path, config.compact_min_bytes)?;
        let objects: Objects =
            loaded.objects.into_iter().map(|(key, revision, json)| (key, Stored { revision, json })).collect();
        let shared = Arc::new(Shared {
            state: RwLock::new(State { revision: loaded.revision, objects }),
            log: Arc::new(EventLog::new(loaded.revision, config.event_history)),
            snapshots: Mutex::new(VecDeque::new()),
            config,
        });
        let (writes, rx) = mpsc::channel(shared.config.max_batch * 4);
        let writer_shared = shared.clone();
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer(writer_shared, disk, rx))
            .map_err(|e| StoreError::Backend(format!("starting the writer thread: {e}")))?;
        Ok(Self { shared, writes })
    }

    /// How many objects are stored, in all spaces.
    pub fn len(&self) -> usize {
        self.shared.state.read().unwrap_or_else(|e| e.into_inner()).objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops event history up to `revision`.
    pub fn compact(&self, revision: Revision) {
        self.shared.log.compact(revision);
    }
}

impl Shared {
    fn current(&self) -> State {
        self.state.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn current_revision(&self) -> Revision {
        self.state.read().unwrap_or_else(|e| e.into_inner()).revision
    }

    fn state_at(&self, at: ReadAt) -> Result<State, StoreError> {
        let current = self.current();
        let wanted = match at {
            ReadAt::Latest => return Ok(current),
            ReadAt::Exact(r) if r == current.revision => return Ok(current),
            ReadAt::Exact(r) if r > current.revision => {
                return Err(StoreError::TooLarge { requested: r, current: current.revision });
            }
            ReadAt::Exact(r) => r,
        };
        let mut snaps = self.snapshots.lock().unwrap_or_else(|e| e.into_inner());
        let ttl = self.config.snapshot_ttl;
        snaps.retain(|s| s.taken.elapsed() < ttl);
        snaps
            .iter()
            .find(|s| s.state.revision == wanted)
            .map(|s| s.state.clone())
            .ok_or(StoreError::Expired { requested: wanted, oldest: current.revision })
    }

    fn keep_snapshot(&self, state: &State) {
        let mut snaps = self.snapshots.lock().unwrap_or_else(|e| e.into_inner());
        if snaps.iter().any(|s| s.state.revision == state.revision) {
            return;
        }
        snaps.push_back(Snapshot { taken: Instant::now(), state: state.clone() });
        while snaps.len() > self.config.max_snapshots {
            snaps.pop_front();
        }
    }
}

/// Checks a write against the state it would apply to and builds its result and event.
fn prepare(
    existing: Option<&Stored>,
    revision: Revision,
    write: Write,
    presented: Presentations,
) -> Result<(Stored, Event), StoreError> {
    match (write.precondition, existing) {
        (Precondition::Absent, Some(_)) => return Err(StoreError::AlreadyExists),
        (Precondition::Present | Precondition::Revision(_), None) => return Err(StoreError::NotFound),
        (Precondition::Revision(expected), Some(s)) if s.revision != expected => {
            return Err(StoreError::Conflict { expected, actual: s.revision });
        }
        _ => {}
    }
    let previous = existing.map(|s| s.json.clone());
    let (object, deleted) = match write.value {
        Some(v) => (v, false),
        None => match &previous {
            Some(prev) => (prev.clone(), true),
            None => return Err(StoreError::NotFound),
        },
    };
    let stored = Stored { revision, json: object.clone() };
    Ok((stored, Event { revision, key: write.key, object, previous, deleted, presented }))
}

/// Below this many writes a batch is small enough to wait for more ([`linger`]).
const SMALL_BATCH: usize = 32;

/// Whether the writer should wait `commit_linger` for more writes before committing a
/// batch of `batch` writes, its previous commit having ended `since_commit` before this
/// batch's first write arrived (`None`: no commit yet).
///
/// Each transaction costs about the same whatever it holds: measured at 1,000 WECs, two
/// thirds of the center's commits held one write, at a fixed cost in page writes (the store
/// was a redb file then) and an fsync each. Waiting a moment lets them share one. Only under
/// load, though: a write that arrives at an idle writer (nothing committed within the
/// linger) goes at once, so a lone client never waits for writes that are not coming.
pub(super) fn linger(batch: usize, since_commit: Option<Duration>, commit_linger: Duration) -> bool {
    !commit_linger.is_zero() && batch < SMALL_BATCH && since_commit.is_some_and(|d| d < commit_linger)
}

fn drain(rx: &mut mpsc::Receiver<Request>, batch: &mut Vec<Request>, max_batch: usize) {
    while batch.len() < max_batch {
        match rx.try_recv() {
            Ok(r) => batch.push(r),
            Err(_) => break,
        }
    }
}

fn writer(shared: Arc<Shared>, mut disk: Disk, mut rx: mpsc::Receiver<Request>) {
    let max_batch = shared.config.max_batch;
    let commit_linger = shared.config.commit_linger;
    let mut last_commit: Option<Instant> = None;
    while let Some(first) = rx.blocking_recv() {
        let since_commit = last_commit.map(|t| t.elapsed());
        let mut batch = vec![first];
        drain(&mut rx, &mut batch, max_batch);
        if linger(batch.len(), since_commit, commit_linger) {
            std::thread::sleep(commit_linger);
            drain(&mut rx, &mut batch, max_batch);
        }
        // Checked against the live map plus this batch's own earlier writes; the live map
        // changes only once the batch is on disk.
        let mut revision = shared.current_revision();
        let mut pending: HashMap<Key, Option<Stored>> = HashMap::with_capacity(batch.len());
        let mut accepted = Vec::with_capacity(batch.len());
        {
            let state = shared.state.read().unwrap_or_else(|e| e.into_inner());
            for Request { write, presented, reply } in batch {
                let existing = match pending.get(&write.key) {
                    Some(p) => p.as_ref(),
                    None => state.objects.get(&write.key),
                };
                match prepare(existing, revision + 1, write, presented) {
                    Ok((stored, event)) => {
                        revision += 1;
                        pending.insert(event.key.clone(), (!event.deleted).then(|| stored.clone()));
                        accepted.push((reply, stored, event));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                }
            }
        }
        if accepted.is_empty() {
            continue;
        }
        disk.finish_compaction();
        let changes: Vec<Change<'_>> = accepted
            .iter()
            .map(|(_, stored, event)| {
                if event.deleted {
                    Change::Delete { key: &event.key }
                } else {
                    Change::Put { key: &event.key, revision: stored.revision, json: &stored.json }
                }
            })
            .collect();
        let started = Instant::now();
        let committed = disk.commit(&changes, revision);
        last_commit = Some(Instant::now());
        tracing::trace!(writes = changes.len(), micros = started.elapsed().as_micros() as u64, "commit");
        if let Err(e) = committed {
            tracing::error!(error = %e, "store commit failed; the batch is rejected");
            for (reply, _, _) in accepted {
                let _ = reply.send(Err(e.clone()));
            }
            continue;
        }
        {
            // In place: the map's nodes are shared only with a reader that holds a snapshot
            // (a list in progress, a paged list's continue token), so a write copies the
            // nodes on its path only then. Building the next map from a clone of the live
            // one copied them on every write: a leaf of keys, four strings each.
            let mut state = shared.state.write().unwrap_or_else(|e| e.into_inner());
            for (key, stored) in pending {
                match stored {
                    Some(stored) => {
                        state.objects.insert(key, stored);
                    }
                    None => {
                        state.objects.remove(&key);
                    }
                }
            }
            state.revision = revision;
            if disk.wants_compaction() {
                // The live state at `revision`, shared with the map, not copied.
                disk.start_compaction(state.objects.clone(), revision);
            }
        }
        // The events are in the log before any writer hears back: a client that watches from
        // the revision its write returned must not then receive that write's own event.
        let (replies, events): (Vec<_>, Vec<_>) =
            accepted.into_iter().map(|(reply, stored, event)| ((reply, stored), Arc::new(event))).unzip();
        shared.log.append(events);
        for (reply, stored) in replies {
            let _ = reply.send(Ok(stored));
        }
    }
}

#[async_trait::async_trait]
impl Store for EmbeddedStore {
    fn revision(&self) -> Revision {
        self.shared.current_revision()
    }

    fn oldest_resumable(&self) -> Revision {
        self.shared.log.oldest()
    }

    fn delivered(&self) -> Revision {
        self.shared.log.newest()
    }

    async fn get(&self, key: &Key) -> Result<Option<Stored>, StoreError> {
        Ok(self.shared.state.read().unwrap_or_else(|e| e.into_inner()).objects.get(key).cloned())
    }

    async fn list(&self, prefix: &Prefix, req: ListRequest) -> Result<ListPage, StoreError> {
        let state = self.shared.state_at(req.at)?;
        let start = prefix.start();
        let lower = match &req.after {
            Some(after) if *after >= start => Bound::Excluded(after.clone()),
            _ => Bound::Included(start),
        };
        let limit = req.limit.filter(|&l| l > 0).unwrap_or(usize::MAX);
        let mut items = Vec::new();
        let mut more = false;
        for (key, stored) in state.objects.range((lower, Bound::Unbounded)) {
            if prefix.is_past(key) {
                break;
            }
            if !prefix.contains(key) || req.filter.as_ref().is_some_and(|f| !f(key, stored)) {
                continue;
            }
            if items.len() == limit {
                more = true;
                break;
            }
            items.push((key.clone(), stored.clone()));
        }
        if more {
            self.shared.keep_snapshot(&state);
        }
        Ok(ListPage { revision: state.revision, items, more })
    }

    async fn write_presented(&self, write: Write, presented: Presentations) -> Result<Stored, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.writes.send(Request { write, presented, reply }).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    fn watch(&self, prefix: &Prefix, after: Revision) -> Result<WatchStream, StoreError> {
        self.shared.log.watch(prefix.clone(), after)
    }
}

#[cfg(test)]
mod tests;
