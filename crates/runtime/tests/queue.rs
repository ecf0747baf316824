//! WorkQueue semantics: dedupe, per-key exclusivity, requeue while processing, backoff,
//! delayed adds and shutdown. Time is Tokio's paused clock, so delays are exact and instant.

use std::time::Duration;

use futures::FutureExt;
use orrery_runtime::{QueueConfig, RateLimit, WorkQueue};
use tokio::time::Instant;

const MS: Duration = Duration::from_millis(1);

fn queue() -> WorkQueue<&'static str> {
    WorkQueue::new(QueueConfig::named("test"))
}

/// The next key, which must be ready now.
async fn take(q: &WorkQueue<&'static str>) -> orrery_runtime::Guard<&'static str> {
    q.next().now_or_never().flatten().expect("a key should be ready")
}

fn nothing_ready(q: &WorkQueue<&'static str>) -> bool {
    q.next().now_or_never().is_none()
}

#[tokio::test]
async fn a_key_added_many_times_is_processed_once() {
    let q = queue();
    for k in ["a", "a", "b", "a", "b"] {
        q.add(k);
    }
    assert_eq!(q.len(), 2);
    let a = take(&q).await;
    let b = take(&q).await;
    assert_eq!((*a.key(), *b.key()), ("a", "b"), "first-come order");
    a.done();
    b.done();
    assert!(q.is_empty());
    assert!(nothing_ready(&q));
}

#[tokio::test]
async fn a_key_in_progress_is_not_handed_out_again() {
    let q = queue();
    q.add("a");
    q.add("b");
    let a = take(&q).await;
    q.add("a");
    // "a" is claimed: the only other key on offer is "b", and then nothing.
    assert_eq!(q.len(), 1);
    let b = take(&q).await;
    assert_eq!(*b.key(), "b");
    assert!(nothing_ready(&q), "a second worker must not get \"a\" while it is processed");
    b.done();
    // Finishing "a" releases the re-added key to run once more.
    a.done();
    let again = take(&q).await;
    assert_eq!(*again.key(), "a");
    again.done();
    assert!(nothing_ready(&q));
}

#[tokio::test]
async fn adds_while_processing_make_exactly_one_more_run() {
    let q = queue();
    q.add("a");
    let first = take(&q).await;
    for _ in 0..5 {
        q.add("a");
    }
    assert_eq!(q.len(), 0, "queued only when the current run finishes");
    first.done();
    assert_eq!(q.len(), 1);
    take(&q).await.done();
    assert!(nothing_ready(&q), "five adds during one run are one rerun");
}

#[tokio::test]
async fn a_dropped_guard_releases_its_key() {
    let q = queue();
    q.add("a");
    let g = take(&q).await;
    q.add("a");
    drop(g);
    take(&q).await.done();
}

#[tokio::test(start_paused = true)]
async fn failures_back_off_exponentially_per_key_and_success_resets() {
    let q = queue();
    q.add("a");
    let mut g = take(&q).await;
    for want in [5 * MS, 10 * MS, 20 * MS, 40 * MS, 80 * MS] {
        assert_eq!(g.retry(), want);
        let asked = Instant::now();
        g = q.next().await.expect("retried key");
        assert_eq!(asked.elapsed(), want, "the key comes back after exactly its backoff");
    }
    assert_eq!(q.retries(&"a"), 5);
    // Another key's failures start from the base delay.
    q.add("b");
    assert_eq!(take(&q).await.retry(), 5 * MS);
    g.done();
    assert_eq!(q.retries(&"a"), 0);
    q.add("a");
    assert_eq!(take(&q).await.retry(), 5 * MS, "success forgets the failures");
}

#[tokio::test(start_paused = true)]
async fn backoff_stops_growing_at_the_cap() {
    let q = queue();
    q.add("a");
    let mut delays = Vec::new();
    for _ in 0..22 {
        let g = q.next().await.expect("key");
        delays.push(g.retry());
    }
    assert_eq!(delays[17], Duration::from_millis(655_360));
    assert!(delays[18..].iter().all(|d| *d == Duration::from_secs(1000)), "{delays:?}");
}

#[tokio::test(start_paused = true)]
async fn the_token_bucket_limits_retries_across_keys() {
    let limit = RateLimit { bucket: Some(orrery_runtime::TokenBucket { qps: 10.0, burst: 1 }), ..RateLimit::default() };
    let q: WorkQueue<&str> = WorkQueue::new(QueueConfig::named("bucket").rate_limit(limit));
    q.add("a");
    q.add("b");
    let (a, b) = (take(&q).await, take(&q).await);
    assert_eq!(a.retry(), 5 * MS);
    assert_eq!(b.retry(), 100 * MS, "the second retry waits for a token");
}

#[tokio::test(start_paused = true)]
async fn add_after_waits_and_the_earliest_request_wins() {
    let q = queue();
    let start = Instant::now();
    q.add_after("a", 100 * MS);
    q.add_after("a", 50 * MS);
    q.add_after("a", 70 * MS);
    assert!(nothing_ready(&q));
    let g = q.next().await.expect("due key");
    assert_eq!(start.elapsed(), 50 * MS);
    g.done();
    // The superseded 70 ms and 100 ms timers add nothing.
    let late = tokio::time::timeout(Duration::from_secs(10), q.next()).await;
    assert!(late.is_err(), "a key delayed three times runs once");
}

#[tokio::test(start_paused = true)]
async fn an_expedited_key_runs_now_and_not_again_when_due() {
    let q = queue();
    q.add_after("a", 100 * MS);
    assert!(!q.expedite(&"b"), "not waiting: nothing to expedite");
    assert!(nothing_ready(&q), "b was not added");
    assert!(q.expedite(&"a"));
    take(&q).await.done();
    assert!(!q.expedite(&"a"), "no longer waiting");
    let again = tokio::time::timeout(Duration::from_secs(10), q.next()).await;
    assert!(again.is_err(), "the cancelled timer adds nothing");
}

#[tokio::test(start_paused = true)]
async fn requeue_after_is_a_success_that_comes_back() {
    let q = queue();
    q.add("a");
    let g = take(&q).await;
    let _ = g.retry();
    let g = q.next().await.expect("retried");
    let start = Instant::now();
    g.requeue_after(Duration::from_secs(30));
    assert_eq!(q.retries(&"a"), 0);
    q.next().await.expect("requeued").done();
    assert_eq!(start.elapsed(), Duration::from_secs(30));
}

#[tokio::test(start_paused = true)]
async fn shutdown_hands_out_what_is_queued_then_ends() {
    let q = queue();
    for k in ["a", "b", "c"] {
        q.add(k);
    }
    q.add_after("late", 10 * MS);
    let a = take(&q).await;
    q.shutdown();
    assert!(q.is_shutdown());
    q.add("d");
    assert_eq!(q.len(), 2, "no new keys after shutdown");
    assert_eq!(*take(&q).await.key(), "b");
    assert_eq!(*take(&q).await.key(), "c");
    assert!(q.next().await.is_none(), "drained: no more keys, delayed ones included");
    // `drained` also waits for the key still being processed.
    assert!(q.drained().now_or_never().is_none());
    a.done();
    q.drained().await;
}

#[tokio::test]
async fn shutdown_wakes_idle_workers() {
    let q = queue();
    let waiting: Vec<_> = (0..3)
        .map(|_| {
            let q = q.clone();
            tokio::spawn(async move { q.next().await.map(|g| *g.key()) })
        })
        .collect();
    tokio::task::yield_now().await;
    q.shutdown();
    for w in waiting {
        assert_eq!(w.await.expect("worker"), None);
    }
}

#[tokio::test]
async fn retries_are_dropped_after_shutdown() {
    let q = queue();
    q.add("a");
    let g = take(&q).await;
    q.shutdown();
    let _ = g.retry();
    assert!(q.next().await.is_none());
}

#[tokio::test]
async fn a_waiting_worker_is_woken_by_add() {
    let q = queue();
    let worker = {
        let q = q.clone();
        tokio::spawn(async move {
            let g = q.next().await.expect("key");
            let k = *g.key();
            g.done();
            k
        })
    };
    tokio::task::yield_now().await;
    q.add("x");
    assert_eq!(worker.await.expect("worker"), "x");
}
