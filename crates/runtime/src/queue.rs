//! The work queue between watches and reconcilers, with client-go's workqueue semantics.
//!
//! Watches say *which* object changed, reconcilers recompute it from scratch, so the queue
//! holds keys, not events: ten changes to one object before a worker gets to it are one
//! reconcile (dedupe), and one key is never reconciled by two workers at once (a change that
//! arrives while its key is being reconciled makes the key run once more afterwards, so the
//! later change is never lost and never raced).

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use crate::backoff::{RateLimit, RateLimiter};
use crate::metrics::{ControllerMetrics, Metrics};
use crate::shutdown::Shutdown;

/// How to build a [`WorkQueue`].
#[derive(Clone, Debug, Default)]
pub struct QueueConfig {
    /// The controller's name: the `controller` label of its metrics and a field in its logs.
    pub name: String,
    pub rate_limit: RateLimit,
    /// Where the queue reports its depth and retries (and [`crate::run_workers`] its
    /// reconciles); `None` records nothing.
    pub metrics: Option<Metrics>,
}

impl QueueConfig {
    pub fn named(name: impl Into<String>) -> Self {
        Self { name: name.into(), ..Self::default() }
    }

    pub fn rate_limit(mut self, rate_limit: RateLimit) -> Self {
        self.rate_limit = rate_limit;
        self
    }

    pub fn metrics(mut self, metrics: &Metrics) -> Self {
        self.metrics = Some(metrics.clone());
        self
    }
}

/// A deduplicating, per-key exclusive, rate-limited queue of keys. Cheap to clone: clones
/// share one queue.
pub struct WorkQueue<K> {
    inner: Arc<Inner<K>>,
}

impl<K> Clone for WorkQueue<K> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone() }
    }
}

struct Inner<K> {
    name: String,
    state: Mutex<State<K>>,
    /// Wakes a worker waiting in `next` (one per ready key; all of them on shutdown).
    ready: Notify,
    /// Wakes `drained` callers whenever a key finishes.
    finished: Notify,
    /// `true` once shut down; pending `add_after` timers watch it so they end at once.
    stopped: watch::Sender<bool>,
    metrics: Option<ControllerMetrics>,
}

struct State<K> {
    /// Ready keys in arrival order; each appears at most once.
    queue: VecDeque<K>,
    /// Keys that need a run: those in `queue` plus those re-added while processing.
    dirty: HashSet<K>,
    /// Keys handed to a worker and not yet finished.
    processing: HashSet<K>,
    /// Keys waiting for `add_after`, with the earliest time they are due.
    waiting: HashMap<K, Instant>,
    limiter: RateLimiter<K>,
    shutting_down: bool,
}

impl<K: Clone + Eq + Hash + Send + 'static> WorkQueue<K> {
    pub fn new(config: QueueConfig) -> Self {
        let metrics = config.metrics.as_ref().map(|m| m.controller(&config.name));
        let state = State {
            queue: VecDeque::new(),
            dirty: HashSet::new(),
            processing: HashSet::new(),
            waiting: HashMap::new(),
            limiter: RateLimiter::new(config.rate_limit, Instant::now()),
            shutting_down: false,
        };
        let inner = Inner {
            name: config.name,
            state: Mutex::new(state),
            ready: Notify::new(),
            finished: Notify::new(),
            stopped: watch::Sender::new(false),
            metrics,
        };
        Self { inner: Arc::new(inner) }
    }

    /// The controller name given in [`QueueConfig::name`].
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub(crate) fn metrics(&self) -> Option<&ControllerMetrics> {
        self.inner.metrics.as_ref()
    }

    /// Marks `key` as needing a run. A key already queued stays queued once; a key being
    /// processed runs once more after its current run. Ignored after shutdown.
    pub fn add(&self, key: K) {
        let mut state = self.lock();
        if self.push(&mut state, key) {
            drop(state);
            self.inner.ready.notify_one();
        }
    }

    /// Adds `key` once `delay` has passed (at once for a zero delay). If the key is already
    /// waiting, the earlier of the two times wins. Needs a Tokio runtime.
    pub fn add_after(&self, key: K, delay: Duration) {
        if delay.is_zero() {
            return self.add(key);
        }
        let due = Instant::now() + delay;
        {
            let mut state = self.lock();
            if state.shutting_down {
                return;
            }
            match state.waiting.get_mut(&key) {
                Some(existing) if *existing <= due => return,
                Some(existing) => *existing = due,
                None => {
                    state.waiting.insert(key.clone(), due);
                }
            }
        }
        let queue = Arc::downgrade(&self.inner);
        let mut stopped = self.inner.stopped.subscribe();
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep_until(due) => {}
                // Shut down, or the queue was dropped (the sender with it): nothing to add to.
                _ = stopped.wait_for(|s| *s) => return,
            }
            if let Some(inner) = Weak::upgrade(&queue) {
                WorkQueue { inner }.fire(key, due);
            }
        });
    }

    /// Makes `key` ready now if it is waiting for an [`add_after`](Self::add_after), and
    /// cancels that wait, so it runs once, not again when its time comes. True if it was
    /// waiting.
    pub fn expedite(&self, key: &K) -> bool {
        let mut state = self.lock();
        if state.waiting.remove(key).is_none() {
            return false;
        }
        if self.push(&mut state, key.clone()) {
            drop(state);
            self.inner.ready.notify_one();
        }
        true
    }

    /// Adds `key` after its backoff: the per-key exponential delay (one more failure) or the
    /// token bucket's, whichever is longer. Returns the delay chosen.
    pub fn add_rate_limited(&self, key: K) -> Duration {
        let delay = self.lock().limiter.when(&key, Instant::now());
        if let Some(m) = self.metrics() {
            m.retried();
        }
        self.add_after(key, delay);
        delay
    }

    /// Forgets `key`'s failures: its next failure backs off from the base delay again.
    pub fn forget(&self, key: &K) {
        self.lock().limiter.forget(key);
    }

    /// How many times `key` has been retried since it last succeeded.
    pub fn retries(&self, key: &K) -> u32 {
        self.lock().limiter.retries(key)
    }

    /// Waits for the next ready key and hands it out exclusively until the [`Guard`] is
    /// finished. After [`WorkQueue::shutdown`] the keys already queued are still handed out;
    /// then `None`.
    pub async fn next(&self) -> Option<Guard<K>> {
        loop {
            // Register for a wake-up before looking, so an `add` between the look and the
            // wait is not missed.
            let notified = self.inner.ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = self.lock();
                if let Some(key) = state.queue.pop_front() {
                    state.dirty.remove(&key);
                    state.processing.insert(key.clone());
                    self.report_depth(&state);
                    let more = !state.queue.is_empty();
                    drop(state);
                    if more {
                        // Pass the baton: a single notify may have stood for several keys.
                        self.inner.ready.notify_one();
                    }
                    return Some(Guard { queue: self.clone(), key, finished: false });
                }
                if state.shutting_down {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Number of keys ready and waiting for a worker (not those being processed or waiting
    /// for a delay): the queue depth.
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops taking keys: `add` is ignored, delayed adds and retries are dropped, and `next`
    /// returns `None` once the keys already queued have been handed out. Keys in progress
    /// finish normally; [`WorkQueue::drained`] waits for them.
    pub fn shutdown(&self) {
        {
            let mut state = self.lock();
            state.shutting_down = true;
            state.waiting.clear();
        }
        self.inner.stopped.send_replace(true);
        self.inner.ready.notify_waiters();
        self.inner.finished.notify_waiters();
    }

    /// Shuts the queue down when `signal` fires. Needs a Tokio runtime.
    pub fn shutdown_on(&self, signal: &Shutdown) {
        let queue = Arc::downgrade(&self.inner);
        let signal = signal.clone();
        let mut stopped = self.inner.stopped.subscribe();
        tokio::spawn(async move {
            tokio::select! {
                () = signal.wait() => {}
                _ = stopped.wait_for(|s| *s) => return,
            }
            if let Some(inner) = Weak::upgrade(&queue) {
                WorkQueue { inner }.shutdown();
            }
        });
    }

    pub fn is_shutdown(&self) -> bool {
        self.lock().shutting_down
    }

    /// Resolves once the queue is shut down, empty, and no key is being processed.
    pub async fn drained(&self) {
        loop {
            let notified = self.inner.finished.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let state = self.lock();
                if state.shutting_down && state.queue.is_empty() && state.processing.is_empty() {
                    return;
                }
            }
            notified.await;
        }
    }

    /// Queues `key` unless it is already queued or processing; true if a worker should wake.
    fn push(&self, state: &mut State<K>, key: K) -> bool {
        if state.shutting_down || !state.dirty.insert(key.clone()) {
            return false;
        }
        if state.processing.contains(&key) {
            // `finish` queues it when the current run ends.
            return false;
        }
        state.queue.push_back(key);
        self.report_depth(state);
        true
    }

    /// A delayed add is due: queue it if this timer is still the one that counts.
    fn fire(&self, key: K, due: Instant) {
        let mut state = self.lock();
        if state.waiting.get(&key) != Some(&due) {
            // Superseded by an earlier timer that already fired, or cleared by shutdown.
            return;
        }
        state.waiting.remove(&key);
        if self.push(&mut state, key) {
            drop(state);
            self.inner.ready.notify_one();
        }
    }

    /// The worker is finished with `key`: requeue it if it was added meanwhile.
    fn finish(&self, key: K) {
        let mut state = self.lock();
        state.processing.remove(&key);
        let requeue = state.dirty.contains(&key);
        if requeue {
            state.queue.push_back(key);
            self.report_depth(&state);
        }
        drop(state);
        if requeue {
            self.inner.ready.notify_one();
        }
        self.inner.finished.notify_waiters();
    }

    fn report_depth(&self, state: &State<K>) {
        if let Some(m) = &self.inner.metrics {
            m.set_depth(state.queue.len());
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<K>> {
        // The state is consistent after every statement that can panic (none do), so a
        // poisoned lock still guards valid data.
        self.inner.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A key handed to one worker. Finish it with [`Guard::done`] or [`Guard::retry`]; dropping it
/// (a cancelled or panicking reconcile) releases the key without forgetting its failures.
#[must_use = "the key stays claimed until the guard is finished or dropped"]
pub struct Guard<K: Clone + Eq + Hash + Send + 'static> {
    queue: WorkQueue<K>,
    key: K,
    /// Set once the key is released, so `Drop` does not release it twice.
    finished: bool,
}

impl<K: Clone + Eq + Hash + Send + 'static> Guard<K> {
    pub fn key(&self) -> &K {
        &self.key
    }

    /// Success: forgets the key's failures and releases it.
    pub fn done(mut self) {
        self.queue.forget(&self.key);
        self.release();
    }

    /// Failure: releases the key and adds it back after its backoff (see
    /// [`WorkQueue::add_rate_limited`]). Returns that delay.
    pub fn retry(mut self) -> Duration {
        self.release();
        self.queue.add_rate_limited(self.key.clone())
    }

    /// Success, but look again after `delay` (e.g. to notice a time-based condition).
    pub fn requeue_after(mut self, delay: Duration) {
        self.queue.forget(&self.key);
        self.release();
        self.queue.add_after(self.key.clone(), delay);
    }

    fn release(&mut self) {
        if !std::mem::replace(&mut self.finished, true) {
            self.queue.finish(self.key.clone());
        }
    }
}

impl<K: Clone + Eq + Hash + Send + 'static> Drop for Guard<K> {
    fn drop(&mut self) {
        self.release();
    }
}

impl<K: Clone + Eq + Hash + Send + std::fmt::Debug + 'static> std::fmt::Debug for Guard<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard").field("queue", &self.queue.inner.name).field("key", &self.key).finish()
    }
}

impl<K> std::fmt::Debug for WorkQueue<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkQueue").field("name", &self.inner.name).finish_non_exhaustive()
    }
}
