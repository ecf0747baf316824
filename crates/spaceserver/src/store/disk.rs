//! The durable half of the embedded store: one redb file holding the current state and the
//! revision counter. Every commit is one redb write transaction with immediate durability
//! (fsync), so a write acknowledged to a client survives `kill -9` and power loss.
//!
//! Event history is not kept here: after a restart, watches resume from the restart
//! revision on, and older resource versions get 410 Expired, which clients answer with a
//! relist (as they do after an API server's watch cache restarts).

use super::{Key, Revision, StoreError};
use bytes::Bytes;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::Path;

/// Current objects: encoded key → 8-byte big-endian revision followed by the JSON.
const OBJECTS: TableDefinition<&str, &[u8]> = TableDefinition::new("objects");
/// Counters: `revision` → the newest committed revision.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const REVISION: &str = "revision";

pub(super) struct Disk {
    db: Database,
}

/// What a commit changes on disk.
pub(super) enum Change<'a> {
    Put { key: &'a Key, revision: Revision, json: &'a [u8] },
    Delete { key: &'a Key },
}

/// What was on disk at start-up.
pub(super) struct Loaded {
    pub revision: Revision,
    pub objects: Vec<(Key, Revision, Bytes)>,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl Disk {
    pub(super) fn open(path: &Path, cache_bytes: usize) -> Result<Self, StoreError> {
        let db = redb::Builder::new().set_cache_size(cache_bytes).create(path).map_err(backend)?;
        let tx = db.begin_write().map_err(backend)?;
        tx.open_table(OBJECTS).map_err(backend)?;
        tx.open_table(META).map_err(backend)?;
        tx.commit().map_err(backend)?;
        Ok(Self { db })
    }

    pub(super) fn load(&self) -> Result<Loaded, StoreError> {
        let tx = self.db.begin_read().map_err(backend)?;
        let revision = tx.open_table(META).map_err(backend)?.get(REVISION).map_err(backend)?.map_or(0, |v| v.value());
        let table = tx.open_table(OBJECTS).map_err(backend)?;
        let mut objects = Vec::new();
        for entry in table.iter().map_err(backend)? {
            let (k, v) = entry.map_err(backend)?;
            let key = Key::decode(k.value()).ok_or_else(|| backend(format!("corrupt key {:?}", k.value())))?;
            let v = v.value();
            let (rev, json) = v.split_at_checked(8).ok_or_else(|| backend(format!("corrupt value at {key}")))?;
            let mut rev_bytes = [0u8; 8];
            rev_bytes.copy_from_slice(rev);
            objects.push((key, u64::from_be_bytes(rev_bytes), Bytes::copy_from_slice(json)));
        }
        Ok(Loaded { revision, objects })
    }

    /// Makes a batch of changes durable in one transaction, and records `revision` as the
    /// newest revision, so the counter never goes back even if the last writes were deletes.
    pub(super) fn commit(&self, changes: &[Change<'_>], revision: Revision) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(backend)?;
        {
            let mut objects = tx.open_table(OBJECTS).map_err(backend)?;
            let mut buf = Vec::new();
            for change in changes {
                match change {
                    Change::Put { key, revision, json } => {
                        buf.clear();
                        buf.extend_from_slice(&revision.to_be_bytes());
                        buf.extend_from_slice(json);
                        objects.insert(key.encode(), buf.as_slice()).map_err(backend)?;
                    }
                    Change::Delete { key } => {
                        objects.remove(key.encode()).map_err(backend)?;
                    }
                }
            }
            tx.open_table(META).map_err(backend)?.insert(REVISION, revision).map_err(backend)?;
        }
        tx.commit().map_err(backend)
    }
}
