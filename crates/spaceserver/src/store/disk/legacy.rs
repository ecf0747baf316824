//! Data directories of earlier versions, which kept the state in a redb file
//! (`store.redb`): imported once into a new log, after which the old file is renamed
//! `store.redb.imported` and never read again.

use super::{Key, Loaded, StoreError, backend};
use bytes::Bytes;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::{Path, PathBuf};

/// Current objects: encoded key → 8-byte big-endian revision followed by the JSON.
const OBJECTS: TableDefinition<&str, &[u8]> = TableDefinition::new("objects");
/// Counters: `revision` → the newest committed revision.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const REVISION: &str = "revision";

/// The redb file an earlier version kept beside the log at `log`, if there is one.
pub fn find(log: &Path) -> Option<PathBuf> {
    Some(log.with_file_name("store.redb")).filter(|p| p.is_file())
}

/// Everything the redb file at `path` holds.
pub fn read(path: &Path) -> Result<Loaded, StoreError> {
    let fail = |e: &dyn std::fmt::Display| backend("importing", path, e);
    let db = Database::open(path).map_err(|e| fail(&e))?;
    let tx = db.begin_read().map_err(|e| fail(&e))?;
    let revision =
        tx.open_table(META).map_err(|e| fail(&e))?.get(REVISION).map_err(|e| fail(&e))?.map_or(0, |v| v.value());
    let table = tx.open_table(OBJECTS).map_err(|e| fail(&e))?;
    let mut objects = Vec::new();
    for entry in table.iter().map_err(|e| fail(&e))? {
        let (k, v) = entry.map_err(|e| fail(&e))?;
        let key = Key::decode(k.value()).ok_or_else(|| fail(&format!("corrupt key {:?}", k.value())))?;
        let v = v.value();
        let (rev, json) = v.split_at_checked(8).ok_or_else(|| fail(&format!("corrupt value at {key}")))?;
        let mut rev_bytes = [0u8; 8];
        rev_bytes.copy_from_slice(rev);
        objects.push((key, u64::from_be_bytes(rev_bytes), Bytes::copy_from_slice(json)));
    }
    Ok(Loaded { revision, objects })
}

/// Renames the imported file out of the way.
pub fn retire(path: &Path, objects: usize) {
    let retired = path.with_file_name("store.redb.imported");
    match std::fs::rename(path, &retired) {
        Ok(()) => {
            tracing::info!(from = %path.display(), to = %retired.display(), objects, "imported the store of an earlier version")
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "imported the store of an earlier version, but could not rename it")
        }
    }
}
