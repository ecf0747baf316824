//! run_workers: concurrency without sharing a key, no lost updates, retries with backoff,
//! panics contained, metrics recorded, and a clean end on shutdown.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use orrery_runtime::{Metrics, QueueConfig, WorkQueue, run_workers};
use tokio::sync::mpsc;

#[derive(Default)]
struct Seen {
    in_flight: HashMap<u32, u32>,
    max_in_flight: u32,
    /// The generation of the key each run started with; the last one must be the newest.
    last_generation: HashMap<u32, u32>,
    runs: u32,
}

#[tokio::test(start_paused = true)]
async fn workers_never_share_a_key_and_always_see_the_last_change() {
    let queue = WorkQueue::<u32>::new(QueueConfig::named("exclusive"));
    let generation: Arc<Mutex<HashMap<u32, u32>>> = Arc::default();
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let workers = {
        let (generation, seen) = (generation.clone(), seen.clone());
        tokio::spawn(run_workers(queue.clone(), 8, move |key: u32| {
            let (generation, seen) = (generation.clone(), seen.clone());
            async move {
                let current = generation.lock().expect("lock")[&key];
                {
                    let mut s = seen.lock().expect("lock");
                    let n = s.in_flight.entry(key).or_insert(0);
                    *n += 1;
                    let n = *n;
                    s.max_in_flight = s.max_in_flight.max(n);
                    s.runs += 1;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
                let mut s = seen.lock().expect("lock");
                *s.in_flight.entry(key).or_insert(1) -= 1;
                s.last_generation.insert(key, current);
                Ok::<(), String>(())
            }
        }))
    };
    for round in 0..50 {
        for key in 0..4 {
            generation.lock().expect("lock").insert(key, round);
            // Three adds in a row: one run, or one more after the current one, never three.
            for _ in 0..3 {
                queue.add(key);
            }
        }
        tokio::time::sleep(Duration::from_micros(300)).await;
    }
    queue.shutdown();
    workers.await.expect("workers end after shutdown and drain");
    let s = seen.lock().expect("lock");
    assert_eq!(s.max_in_flight, 1, "a key was reconciled by two workers at once");
    for key in 0..4 {
        assert_eq!(s.last_generation.get(&key), Some(&49), "key {key}: the last change was never reconciled");
    }
    assert!(s.runs <= 400, "{} runs for 200 rounds of three adds: adds were not deduplicated", s.runs);
}

#[tokio::test(start_paused = true)]
async fn failures_and_panics_are_retried_with_backoff_and_counted() {
    let metrics = Metrics::new();
    let queue = WorkQueue::<&'static str>::new(QueueConfig::named("retrying").metrics(&metrics));
    let attempts: Arc<Mutex<HashMap<&'static str, u32>>> = Arc::default();
    let (succeeded, mut successes) = mpsc::unbounded_channel();
    let workers = {
        let attempts = attempts.clone();
        tokio::spawn(run_workers(queue.clone(), 2, move |key: &'static str| {
            let (attempts, succeeded) = (attempts.clone(), succeeded.clone());
            async move {
                let n = {
                    let mut a = attempts.lock().expect("lock");
                    let n = a.entry(key).or_insert(0);
                    *n += 1;
                    *n
                };
                match (key, n) {
                    ("flaky", 1 | 2) => return Err(format!("attempt {n} failed")),
                    ("panicky", 1) => panic!("reconcile bug"),
                    _ => {}
                }
                let _ = succeeded.send((key, tokio::time::Instant::now()));
                Ok(())
            }
        }))
    };
    let start = tokio::time::Instant::now();
    queue.add("flaky");
    queue.add("panicky");
    let mut done = HashMap::new();
    while done.len() < 2 {
        let (key, at) = tokio::time::timeout(Duration::from_secs(60), successes.recv())
            .await
            .expect("both keys succeed eventually")
            .expect("channel open");
        done.insert(key, at - start);
    }
    // Backoff: 5 ms after the first failure, 10 ms after the second.
    assert!(done["flaky"] >= Duration::from_millis(15), "{done:?}");
    assert!(done["panicky"] >= Duration::from_millis(5), "{done:?}");
    assert_eq!(queue.retries(&"flaky"), 0, "success forgets the failures");

    let text = metrics.encode();
    for line in [
        r#"orrery_reconcile_total{controller="retrying",result="success"} 2"#,
        r#"orrery_reconcile_total{controller="retrying",result="error"} 3"#,
        r#"orrery_reconcile_errors_total{controller="retrying"} 3"#,
        r#"orrery_reconcile_duration_seconds_count{controller="retrying"} 5"#,
        r#"orrery_workqueue_retries_total{controller="retrying"} 3"#,
        r#"orrery_workqueue_depth{controller="retrying"} 0"#,
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in:\n{text}");
    }
    queue.shutdown();
    workers.await.expect("workers end");
}
