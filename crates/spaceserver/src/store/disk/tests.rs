use super::frame::{self, FrameBuilder, MAGIC};
use super::*;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn key(name: &str) -> Key {
    Key::new("core/configmaps", "s1", "default", name)
}

fn log(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("store.log")
}

fn open(path: &Path) -> (Disk, Loaded) {
    Disk::open(path, 1 << 20).expect("log opens")
}

/// What a load found, by key name.
fn state(loaded: &Loaded) -> BTreeMap<String, (Revision, String)> {
    loaded
        .objects
        .iter()
        .map(|(k, rev, json)| (k.name().to_owned(), (*rev, String::from_utf8(json.to_vec()).expect("utf-8"))))
        .collect()
}

fn put<'a>(k: &'a Key, revision: Revision, json: &'a str) -> Change<'a> {
    Change::Put { key: k, revision, json: json.as_bytes() }
}

/// A directory whose log holds one commit: `a` at revision 1, as `"a1"`.
fn log_with_a1() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut disk, _) = open(&log(&dir));
    disk.commit(&[put(&key("a"), 1, "a1")], 1).expect("commit");
    dir
}

#[test]
fn commits_are_read_back_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b, c) = (key("a"), key("b"), key("c"));
    {
        let (mut disk, loaded) = open(&log(&dir));
        assert_eq!((loaded.revision, loaded.objects.len()), (0, 0), "a new log is empty");
        disk.commit(&[put(&a, 1, "a1"), put(&b, 2, "b1")], 2).expect("commit");
        disk.commit(&[put(&a, 3, "a2"), put(&c, 4, "c1")], 4).expect("commit");
        disk.commit(&[Change::Delete { key: &c }], 5).expect("commit");
    }
    let (_disk, loaded) = open(&log(&dir));
    assert_eq!(loaded.revision, 5, "the revision of the last commit, a delete, is kept");
    let want = BTreeMap::from([("a".to_owned(), (3, "a2".to_owned())), ("b".to_owned(), (2, "b1".to_owned()))]);
    assert_eq!(state(&loaded), want);
}

#[test]
fn an_incomplete_last_commit_is_cut_off() {
    let dir = log_with_a1();
    let a = key("a");
    let whole = std::fs::metadata(log(&dir)).expect("stat").len();
    // What a crash in the middle of the next commit leaves: its head and part of it, or a
    // whole frame whose bytes did not all reach the disk.
    let mut next = Vec::new();
    let mut f = FrameBuilder::new(&mut next, 2);
    f.put(a.encode(), 2, b"a2");
    f.finish();
    let mut flipped = next.clone();
    if let Some(last) = flipped.last_mut() {
        *last ^= 1;
    }
    for (what, tail) in
        [("cut short", &next[..next.len() - 3]), ("a bad checksum", &flipped[..]), ("a head only", &next[..6])]
    {
        let mut bytes = std::fs::read(log(&dir)).expect("read");
        bytes.truncate(whole as usize);
        bytes.extend_from_slice(tail);
        std::fs::write(log(&dir), &bytes).expect("write");
        let (mut disk, loaded) = open(&log(&dir));
        assert_eq!(loaded.revision, 1, "{what}");
        assert_eq!(state(&loaded)["a"], (1, "a1".to_owned()), "{what}");
        assert_eq!(std::fs::metadata(log(&dir)).expect("stat").len(), whole, "{what}: truncated");
        // The log goes on from the last whole commit.
        disk.commit(&[put(&a, 2, "a2")], 2).expect("commit");
        drop(disk);
        let (_disk, loaded) = open(&log(&dir));
        assert_eq!(state(&loaded)["a"], (2, "a2".to_owned()), "{what}");
        // Back to one commit for the next case.
        let mut bytes = std::fs::read(log(&dir)).expect("read");
        bytes.truncate(whole as usize);
        std::fs::write(log(&dir), &bytes).expect("write");
    }
}

#[test]
fn a_commit_that_passes_its_checksum_but_does_not_parse_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(open(&log(&dir)));
    let mut bytes = std::fs::read(log(&dir)).expect("read");
    // A frame claiming one record and holding none.
    let mut payload = Vec::new();
    payload.extend_from_slice(&7u64.to_le_bytes());
    payload.extend_from_slice(&1u32.to_le_bytes());
    bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    bytes.extend_from_slice(&payload);
    std::fs::write(log(&dir), &bytes).expect("write");
    let err = Disk::open(&log(&dir), 1 << 20).err().expect("corrupt").to_string();
    assert!(err.contains("corrupt commit"), "{err}");
    assert_eq!(std::fs::read(log(&dir)).expect("read"), bytes, "nothing was truncated");
}

#[test]
fn a_file_that_is_not_a_log_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(log(&dir), b"{\"some\": \"json\"}").expect("write");
    let err = Disk::open(&log(&dir), 1 << 20).err().expect("refused").to_string();
    assert!(err.contains("not an orrery store log"), "{err}");
    assert_eq!(std::fs::read(log(&dir)).expect("read"), b"{\"some\": \"json\"}");
}

#[test]
fn a_log_in_use_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_held, _) = open(&log(&dir));
    let err = Disk::open(&log(&dir), 1 << 20).err().expect("refused").to_string();
    assert!(err.contains("in use by another process"), "{err}");
}

/// What [`frame::parse`] makes of a log: revision, entries, whole bytes, torn bytes; or
/// part of its error.
type Outcome = Result<(Revision, usize, usize, usize), &'static str>;

#[test]
fn parse_table() {
    let mut one = MAGIC.to_vec();
    let mut f = FrameBuilder::append(&mut one, 3);
    f.put("k", 3, b"{}");
    f.finish();
    let whole = one.len();
    let cases: Vec<(&str, Vec<u8>, Outcome)> = vec![
        ("empty file", Vec::new(), Err("header")),
        ("header only", MAGIC.to_vec(), Ok((0, 0, MAGIC.len(), 0))),
        ("one commit", one.clone(), Ok((3, 1, whole, 0))),
        ("trailing zeros", [one.clone(), vec![0; 5]].concat(), Ok((3, 1, whole, 5))),
        ("another header", [b"orrery-store-v2\n".to_vec()].concat(), Err("header")),
    ];
    for (what, bytes, want) in cases {
        let got = frame::parse(&bytes).map(|p| (p.revision, p.entries.len(), p.valid, p.torn));
        match (got, want) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{what}"),
            (Err(e), Err(want)) => assert!(e.contains(want), "{what}: {e}"),
            (got, want) => panic!("{what}: {got:?}, want {want:?}"),
        }
    }
}

/// Calls `finish_compaction` until the rewrite is in place.
fn finish(disk: &mut Disk) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while disk.compaction.is_some() {
        assert!(Instant::now() < deadline, "the compaction did not finish");
        disk.finish_compaction();
        std::thread::yield_now();
    }
}

#[test]
fn compaction_rewrites_the_live_state_and_keeps_commits_made_meanwhile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys: Vec<Key> = (0..10).map(|i| key(&format!("k{i}"))).collect();
    let json = "x".repeat(10_000);
    let (mut disk, _) = Disk::open(&log(&dir), 500_000).expect("opens");
    let mut live = Objects::new();
    let mut revision = 0;
    // Every key written over and over: the log grows, the live state does not.
    while !disk.wants_compaction() {
        for k in &keys {
            revision += 1;
            disk.commit(&[put(k, revision, &json)], revision).expect("commit");
            live.insert(k.clone(), Stored { revision, json: Bytes::from(json.clone()) });
        }
        assert!(revision < 1_000, "the log should have grown past its threshold");
    }
    let before = disk.len;
    disk.start_compaction(live.clone(), revision);
    assert!(!disk.wants_compaction(), "one rewrite at a time");
    // Commits made while the snapshot is written go to both.
    let (late, gone) = (key("late"), keys[0].clone());
    disk.commit(&[put(&late, revision + 1, "late")], revision + 1).expect("commit");
    disk.commit(&[Change::Delete { key: &gone }], revision + 2).expect("commit");
    finish(&mut disk);
    assert!(disk.len < before / 3, "the log shrank: {} → {}", before, disk.len);
    assert_eq!(disk.len, std::fs::metadata(log(&dir)).expect("stat").len());
    assert!(!compaction::path_of(&log(&dir)).exists(), "renamed into place");
    // Commits after the switch go to the new log.
    disk.commit(&[put(&late, revision + 3, "later")], revision + 3).expect("commit");
    drop(disk);

    let (_disk, loaded) = open(&log(&dir));
    assert_eq!(loaded.revision, revision + 3);
    let got = state(&loaded);
    assert_eq!(got.len(), keys.len());
    assert!(!got.contains_key("k0"), "deleted while the snapshot was written");
    assert_eq!(got["late"], (revision + 3, "later".to_owned()));
    assert_eq!(got["k9"], (revision, json.clone()));
}

#[test]
fn a_leftover_rewrite_is_removed_and_the_log_kept() {
    let dir = log_with_a1();
    std::fs::write(compaction::path_of(&log(&dir)), b"half a snapshot").expect("write");
    let (_disk, loaded) = open(&log(&dir));
    assert_eq!(state(&loaded)["a"], (1, "a1".to_owned()));
    assert!(!compaction::path_of(&log(&dir)).exists());
}

#[test]
fn an_earlier_versions_redb_file_is_imported_once() {
    use redb::{Database, TableDefinition};
    let dir = tempfile::tempdir().expect("tempdir");
    let old = dir.path().join("store.redb");
    {
        let db = Database::create(&old).expect("redb");
        let tx = db.begin_write().expect("tx");
        {
            let mut objects = tx.open_table(TableDefinition::<&str, &[u8]>::new("objects")).expect("table");
            let mut value = 7u64.to_be_bytes().to_vec();
            value.extend_from_slice(b"{\"a\":1}");
            objects.insert(key("a").encode(), value.as_slice()).expect("insert");
            let mut meta = tx.open_table(TableDefinition::<&str, u64>::new("meta")).expect("table");
            meta.insert("revision", 9).expect("insert");
        }
        tx.commit().expect("commit");
    }
    let (_disk, loaded) = open(&log(&dir));
    assert_eq!(loaded.revision, 9);
    assert_eq!(state(&loaded)["a"], (7, "{\"a\":1}".to_owned()));
    assert!(!old.exists(), "renamed out of the way");
    assert!(dir.path().join("store.redb.imported").exists());
}
