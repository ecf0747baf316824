use super::*;
use crate::store::ListFilter;
use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use serde_json::json;

fn open(dir: &tempfile::TempDir) -> EmbeddedStore {
    EmbeddedStore::open(EmbeddedStoreConfig::new(dir.path().join("store.log"))).expect("store opens")
}

fn cm(name: &str, data: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}, "data": {"k": data}})
}

fn key(space: &str, name: &str) -> Key {
    Key::new("core/configmaps", space, "default", name)
}

fn put(space: &str, name: &str, data: &str, precondition: Precondition) -> Write {
    Write {
        key: key(space, name),
        value: Some(Bytes::from(serde_json::to_vec(&cm(name, data)).expect("json"))),
        precondition,
    }
}

fn json_of(s: &Stored) -> serde_json::Value {
    serde_json::from_slice(&s.json).expect("stored JSON")
}

fn prefix(space: Option<&str>) -> Prefix {
    Prefix { resource: "core/configmaps".into(), space: space.map(str::to_owned), namespace: None }
}

fn list_all(space: Option<&str>) -> ListRequest {
    let _ = space;
    ListRequest { at: ReadAt::Latest, after: None, limit: None, filter: None }
}

#[tokio::test]
async fn writes_get_increasing_revisions_that_become_resource_versions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    assert_eq!(store.revision(), 0);
    let a = store.write(put("s1", "a", "1", Precondition::Absent)).await.expect("create");
    let b = store.write(put("s1", "b", "1", Precondition::Absent)).await.expect("create");
    assert_eq!((a.revision, b.revision), (1, 2));
    assert_eq!(json_of(&a)["metadata"]["name"], "a");
    let got = store.get(&key("s1", "a")).await.expect("get").expect("present");
    assert_eq!(got, a);
    assert_eq!(store.revision(), 2);
}

#[tokio::test]
async fn preconditions_decide_and_a_failed_one_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    store.write(put("s1", "a", "1", Precondition::Absent)).await.expect("create");
    let table = [
        (put("s1", "a", "2", Precondition::Absent), Err(StoreError::AlreadyExists)),
        (put("s1", "zz", "2", Precondition::Present), Err(StoreError::NotFound)),
        (put("s1", "zz", "2", Precondition::Revision(1)), Err(StoreError::NotFound)),
        (put("s1", "a", "2", Precondition::Revision(7)), Err(StoreError::Conflict { expected: 7, actual: 1 })),
        (Write { key: key("s1", "zz"), value: None, precondition: Precondition::None }, Err(StoreError::NotFound)),
    ];
    for (w, want) in table {
        let got = store.write(w.clone()).await.map(|s| s.revision);
        assert_eq!(got, want, "{w:?}");
    }
    assert_eq!(store.revision(), 1, "failed writes consume no revision");
    let a = store.get(&key("s1", "a")).await.expect("get").expect("present");
    assert_eq!(json_of(&a)["data"]["k"], "1");
    let updated = store.write(put("s1", "a", "3", Precondition::Revision(1))).await.expect("update at the right rev");
    assert_eq!(updated.revision, 2);
}

#[tokio::test]
async fn deletes_carry_the_last_state_with_the_deletion_revision() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    store.write(put("s1", "a", "1", Precondition::Absent)).await.expect("create");
    let gone = store.write(Write { key: key("s1", "a"), value: None, precondition: Precondition::Revision(1) }).await;
    let gone = gone.expect("delete");
    assert_eq!(gone.revision, 2, "a deletion has its own revision");
    assert_eq!(json_of(&gone)["data"]["k"], "1", "and carries the last state");
    assert_eq!(store.get(&key("s1", "a")).await.expect("get"), None);
}

#[tokio::test]
async fn lists_are_per_space_or_across_spaces() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    for (space, name) in [("s1", "a"), ("s2", "a"), ("s1", "b")] {
        store.write(put(space, name, "1", Precondition::Absent)).await.expect("create");
    }
    store
        .write(Write {
            key: Key::new("core/secrets", "s1", "default", "x"),
            value: Some(Bytes::from(serde_json::to_vec(&cm("x", "1")).expect("json"))),
            precondition: Precondition::Absent,
        })
        .await
        .expect("create");
    let names =
        |page: &ListPage| page.items.iter().map(|(k, _)| format!("{}/{}", k.space(), k.name())).collect::<Vec<_>>();
    let s1 = store.list(&prefix(Some("s1")), list_all(None)).await.expect("list");
    assert_eq!(names(&s1), ["s1/a", "s1/b"]);
    assert_eq!(s1.revision, 4);
    let all = store.list(&prefix(None), list_all(None)).await.expect("list");
    assert_eq!(names(&all), ["s1/a", "s1/b", "s2/a"]);
    let other_ns =
        Prefix { resource: "core/configmaps".into(), space: Some("s1".into()), namespace: Some("kube-system".into()) };
    assert!(store.list(&other_ns, list_all(None)).await.expect("list").items.is_empty());
}

#[tokio::test]
async fn paged_lists_read_one_snapshot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    for name in ["a", "b", "c", "d", "e"] {
        store.write(put("s1", name, "1", Precondition::Absent)).await.expect("create");
    }
    let only_odd: ListFilter = Box::new(|k, _| k.name() != "b" && k.name() != "d");
    let page1 = store
        .list(
            &prefix(Some("s1")),
            ListRequest { at: ReadAt::Latest, after: None, limit: Some(1), filter: Some(only_odd) },
        )
        .await
        .expect("page 1");
    assert_eq!(page1.items.len(), 1);
    assert!(page1.more);
    // Writes after the first page are not seen by the following pages.
    store.write(put("s1", "c", "changed", Precondition::Present)).await.expect("update");
    store.write(put("s1", "bb", "1", Precondition::Absent)).await.expect("create");
    let page2 = store
        .list(
            &prefix(Some("s1")),
            ListRequest {
                at: ReadAt::Exact(page1.revision),
                after: Some(page1.items[0].0.clone()),
                limit: Some(10),
                filter: None,
            },
        )
        .await
        .expect("page 2");
    let names: Vec<_> =
        page2.items.iter().map(|(k, s)| (k.name().to_owned(), json_of(s)["data"]["k"].clone())).collect();
    assert_eq!(
        names,
        [("b".into(), json!("1")), ("c".into(), json!("1")), ("d".into(), json!("1")), ("e".into(), json!("1"))]
    );
    assert_eq!(page2.revision, 5);
    assert!(!page2.more);
    // A revision no snapshot was kept for is expired; one not reached yet is too large.
    let at = |r| ListRequest { at: ReadAt::Exact(r), after: None, limit: None, filter: None };
    assert!(matches!(store.list(&prefix(None), at(3)).await, Err(StoreError::Expired { requested: 3, .. })));
    assert!(matches!(store.list(&prefix(None), at(99)).await, Err(StoreError::TooLarge { requested: 99, current: 7 })));
}

#[tokio::test]
async fn watches_replay_then_follow_and_see_deletions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    store.write(put("s1", "a", "1", Precondition::Absent)).await.expect("create");
    store.write(put("s2", "a", "1", Precondition::Absent)).await.expect("create");
    let mut s1 = store.watch(&prefix(Some("s1")), 0).expect("watch");
    let mut everywhere = store.watch(&prefix(None), 1).expect("watch");
    let first = s1.next().await.expect("event").expect("ok");
    assert_eq!((first.revision, first.deleted, first.previous.is_none()), (1, false, true));
    store.write(Write { key: key("s1", "a"), value: None, precondition: Precondition::None }).await.expect("delete");
    let del = s1.next().await.expect("event").expect("ok");
    assert_eq!((del.revision, del.deleted), (3, true));
    assert!(del.previous.is_some());
    let revs: Vec<_> = [everywhere.next().await, everywhere.next().await]
        .into_iter()
        .map(|e| e.expect("event").expect("ok").revision)
        .collect();
    assert_eq!(revs, [2, 3]);
}

#[tokio::test]
async fn a_write_is_delivered_to_watches_before_it_returns_and_progress_covers_other_spaces() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    assert_eq!(store.delivered(), 0);
    let mut quiet = store.watch(&prefix(Some("s1")), 0).expect("watch");
    assert!(quiet.next().now_or_never().is_none(), "nothing under s1: it waits");
    let written = store.write(put("s2", "a", "1", Precondition::Absent)).await.expect("create");
    // The watch of s1 has nothing waiting, so it has seen everything under s1 up to here.
    assert_eq!(store.delivered(), written.revision);
    assert!(quiet.next().now_or_never().is_none());
    let mine = store.write(put("s1", "a", "1", Precondition::Absent)).await.expect("create");
    assert_eq!(store.delivered(), mine.revision);
    let got = quiet.next().now_or_never().flatten().expect("waiting once delivered").expect("ok");
    assert_eq!(got.revision, mine.revision);
}

#[tokio::test]
async fn state_and_revision_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = open(&dir);
        store.write(put("s1", "a", "1", Precondition::Absent)).await.expect("create");
        store.write(put("s1", "b", "1", Precondition::Absent)).await.expect("create");
        store
            .write(Write { key: key("s1", "b"), value: None, precondition: Precondition::None })
            .await
            .expect("delete");
    }
    // The writer thread releases the file when its channel closes; reopen until it has.
    let deadline = Instant::now() + Duration::from_secs(10);
    let store = loop {
        match EmbeddedStore::open(EmbeddedStoreConfig::new(dir.path().join("store.log"))) {
            Ok(s) => break s,
            Err(e) if Instant::now() < deadline => {
                tracing::debug!(%e, "store still held by the old writer");
                tokio::task::yield_now().await;
            }
            Err(e) => panic!("reopen: {e}"),
        }
    };
    assert_eq!(store.revision(), 3, "the revision counter never goes back, even after a delete");
    assert_eq!(store.len(), 1);
    let a = store.get(&key("s1", "a")).await.expect("get").expect("present");
    assert_eq!(a.revision, 1);
    let next = store.write(put("s1", "c", "1", Precondition::Absent)).await.expect("create");
    assert_eq!(next.revision, 4);
    // History before the restart is gone: resuming there is expired.
    assert!(matches!(store.watch(&prefix(None), 2), Err(StoreError::Expired { requested: 2, oldest: 3 })));
}

/// The writer rewrites the log once it has outgrown the live state, while writes go on,
/// and what it wrote is what a restart reads.
#[tokio::test]
async fn the_log_is_compacted_under_writes_and_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.log");
    let mut config = EmbeddedStoreConfig::new(&path);
    config.compact_min_bytes = 64 << 10;
    let store = EmbeddedStore::open(config.clone()).expect("store opens");
    let data = "x".repeat(2_000);
    let size = || std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let (mut largest, mut writes) = (0, 0u64);
    let deadline = Instant::now() + Duration::from_secs(30);
    // Ten keys written over and over: 20 KB live. Stop once the log has shrunk.
    while largest == 0 || size() > largest / 2 {
        assert!(Instant::now() < deadline, "no compaction after {writes} writes (largest log {largest} bytes)");
        let name = format!("k{}", writes % 10);
        store.write(put("s1", &name, &format!("{data}{writes}"), Precondition::None)).await.expect("write");
        writes += 1;
        largest = largest.max(size());
    }
    let last = store.revision();
    drop(store);
    let deadline = Instant::now() + Duration::from_secs(10);
    let store = loop {
        match EmbeddedStore::open(config.clone()) {
            Ok(s) => break s,
            Err(e) if Instant::now() < deadline => {
                tracing::debug!(%e, "store still held by the old writer");
                tokio::task::yield_now().await;
            }
            Err(e) => panic!("reopen: {e}"),
        }
    };
    assert_eq!(store.revision(), last);
    assert_eq!(store.len(), 10);
    for i in 0..10u64 {
        let newest = (0..writes).rev().find(|w| w % 10 == i).expect("written");
        let got = store.get(&key("s1", &format!("k{i}"))).await.expect("get").expect("present");
        assert_eq!(json_of(&got)["data"]["k"], json!(format!("{data}{newest}")), "k{i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_are_group_committed_with_unique_revisions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(open(&dir));
    let mut tasks = Vec::new();
    for w in 0..64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut revs = Vec::new();
            for i in 0..20 {
                let s = store.write(put("s1", &format!("w{w}-{i}"), "1", Precondition::Absent)).await.expect("create");
                revs.push(s.revision);
            }
            revs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    all.sort_unstable();
    assert_eq!(all, (1..=1280).collect::<Vec<_>>());
    assert_eq!(store.len(), 1280);
}

/// Writes to one key that share a batch see each other: of many creates one wins, and
/// updates conditioned on a revision succeed only in a chain, whatever the batching.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_in_one_batch_see_the_batch_before_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(open(&dir));
    let creates: Vec<_> = (0..32)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.write(put("s1", "one", &i.to_string(), Precondition::Absent)).await })
        })
        .collect();
    let mut won = Vec::new();
    for c in creates {
        match c.await.expect("task") {
            Ok(s) => won.push(s),
            Err(e) => assert!(matches!(e, StoreError::AlreadyExists), "{e:?}"),
        }
    }
    assert_eq!(won.len(), 1, "one create wins");
    let base = won[0].revision;
    let updates: Vec<_> = (0..32)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(
                async move { store.write(put("s1", "one", &format!("u{i}"), Precondition::Revision(base))).await },
            )
        })
        .collect();
    let mut applied = 0;
    for u in updates {
        match u.await.expect("task") {
            Ok(_) => applied += 1,
            Err(e) => assert!(matches!(e, StoreError::Conflict { expected, .. } if expected == base), "{e:?}"),
        }
    }
    assert_eq!(applied, 1, "one update of revision {base} applies");
    let stored = store.get(&key("s1", "one")).await.expect("get").expect("stored");
    assert_eq!(stored.revision, base + 1);
    assert!(json_of(&stored)["data"]["k"].as_str().is_some_and(|k| k.starts_with('u')));
    assert_eq!(store.len(), 1);
}

#[test]
fn the_writer_lingers_only_over_small_batches_under_load() {
    let ms = Duration::from_millis;
    let us = Duration::from_micros;
    // (writes in the batch, since the previous commit, linger) → wait?
    let cases: &[(usize, Option<Duration>, Duration, bool)] = &[
        (1, Some(us(100)), ms(1), true), // back to back: wait for company
        (31, Some(Duration::ZERO), ms(1), true),
        (32, Some(Duration::ZERO), ms(1), false),         // big enough already
        (1, Some(ms(5)), ms(1), false),                   // the writer was idle: commit at once
        (1, None, ms(1), false),                          // the first commit ever
        (1, Some(Duration::ZERO), Duration::ZERO, false), // lingering turned off
    ];
    for (batch, since, commit_linger, want) in cases {
        assert_eq!(super::linger(*batch, *since, *commit_linger), *want, "{batch} {since:?} {commit_linger:?}");
    }
}
