//! The durable half of the embedded store: one append-only log of commits, rewritten from
//! the live state once it has grown to twice that.
//!
//! **Why a log.** Reads are served from memory (the store keeps the whole current state as
//! a persistent map), so the disk has two jobs only: make each commit durable before it is
//! acknowledged, and give the state back at start-up. A B-tree file (redb, before) rewrote
//! and fsynced tens of pages per commit, and the writer thread's page writes, B-tree work
//! and fsyncs were a fifth of the WEC server's CPU at 10,000 WECs; appending a commit is one
//! write and one `fdatasync`.
//!
//! **Format** ([`frame`]): a 16-byte header, then one frame per commit. A frame is
//! `len: u32 LE, crc32: u32 LE` and `len` bytes of payload: `revision: u64 LE` (the newest
//! revision once the frame applies), `records: u32 LE`, then per record `tag: u8` (put or
//! delete), `key_len: u32 LE`, the key, and for a put `revision: u64 LE`, `json_len: u32 LE`
//! and the JSON.
//!
//! **Crashes.** A commit is acknowledged once its frame is written and fdatasynced. A crash
//! can leave only the frame being written incomplete, so at start-up a frame that is cut
//! short or fails its checksum ends the log, and the file is truncated there: it was never
//! acknowledged. A frame whose checksum holds but which does not parse is corruption, and
//! the store does not open. A commit that fails to write is rejected, and the next one is
//! written over it.
//!
//! **Compaction** ([`compaction`]): once the log is more than twice the live state (and at
//! least [`EmbeddedStoreConfig::compact_min_bytes`](super::EmbeddedStoreConfig)), the writer
//! hands a snapshot of the live map (an O(1) clone of a persistent map) to a thread that
//! writes it to `<log>.compacting` and fsyncs it. Commits go on into the old log meanwhile;
//! once the snapshot is durable they are copied from the old log to its end, and it is
//! fsynced and renamed over the log. A crash at any point leaves the old log or the new one
//! whole; a leftover `.compacting` file is removed at start-up.
//!
//! **One process.** The log is locked (`flock`) while open: a second server on the same data
//! directory is refused instead of interleaving its commits.
//!
//! Event history is not kept here: after a restart, watches resume from the restart
//! revision on, and older resource versions get 410 Expired, which clients answer with a
//! relist (as they do after an API server's watch cache restarts).

mod compaction;
mod frame;
mod legacy;
#[cfg(test)]
mod tests;

use super::{Key, Revision, StoreError, Stored};
use bytes::Bytes;
use frame::{FrameBuilder, MAGIC, Parsed};
use imbl::OrdMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The live state: what a snapshot is written from.
pub(super) type Objects = OrdMap<Key, Stored>;

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

fn backend(what: impl std::fmt::Display, path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("{what} {}: {e}", path.display()))
}

pub(super) struct Disk {
    path: PathBuf,
    file: File,
    /// Where the next frame goes: the end of the last whole frame.
    len: u64,
    /// The log is rewritten once `len` passes this.
    compact_at: u64,
    compact_min_bytes: u64,
    /// The frame being written, kept to reuse its allocation.
    frame: Vec<u8>,
    compaction: Option<compaction::Running>,
}

impl Disk {
    /// Opens the log at `path` (creating it, or importing a redb file of an earlier version
    /// next to it) and reads the state back.
    pub(super) fn open(path: &Path, compact_min_bytes: u64) -> Result<(Self, Loaded), StoreError> {
        if !path.exists() {
            create(path)?;
        }
        let mut file = OpenOptions::new().read(true).write(true).open(path).map_err(|e| backend("opening", path, e))?;
        lock(&file, path)?;
        // Only once the log is ours: another server's rewrite in progress is not leftover.
        compaction::remove_leftover(path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|e| backend("reading", path, e))?;
        let parsed = frame::parse(&bytes).map_err(|e| backend("reading", path, e))?;
        let Parsed { revision, entries, valid, torn } = parsed;
        if torn > 0 {
            tracing::warn!(path = %path.display(), bytes = torn, "the log ends in an incomplete commit (never acknowledged): truncated");
            file.set_len(valid as u64).and_then(|()| file.sync_all()).map_err(|e| backend("truncating", path, e))?;
        }
        let mut objects = Vec::with_capacity(entries.len());
        let mut live = MAGIC.len() as u64;
        for (encoded, (rev, json)) in entries {
            let key =
                Key::decode(encoded).ok_or_else(|| backend("reading", path, format!("corrupt key {encoded:?}")))?;
            live += frame::put_size(encoded, json);
            objects.push((key, rev, Bytes::copy_from_slice(json)));
        }
        let disk = Self {
            path: path.to_owned(),
            file,
            len: valid as u64,
            compact_at: compaction::threshold(live, compact_min_bytes),
            compact_min_bytes,
            frame: Vec::new(),
            compaction: None,
        };
        Ok((disk, Loaded { revision, objects }))
    }

    /// Makes a batch of changes durable as one frame, recording `revision` as the newest
    /// revision, so the counter never goes back even if the last writes were deletes.
    pub(super) fn commit(&mut self, changes: &[Change<'_>], revision: Revision) -> Result<(), StoreError> {
        let mut frame = FrameBuilder::new(&mut self.frame, revision);
        for change in changes {
            match change {
                Change::Put { key, revision, json } => frame.put(key.encode(), *revision, json),
                Change::Delete { key } => frame.delete(key.encode()),
            }
        }
        frame.finish();
        // Written at the end of the last whole frame, not appended: after a failed write
        // the next commit goes over whatever part of this one reached the file.
        self.file
            .write_all_at(&self.frame, self.len)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| backend("appending to", &self.path, e))?;
        self.len += self.frame.len() as u64;
        Ok(())
    }

    /// Whether the log has grown enough to be rewritten, with no rewrite under way.
    pub(super) fn wants_compaction(&self) -> bool {
        self.compaction.is_none() && self.len > self.compact_at
    }

    /// Starts rewriting the log from `objects`, the live state at `revision`: every commit
    /// up to it and none after.
    pub(super) fn start_compaction(&mut self, objects: Objects, revision: Revision) {
        match compaction::Running::start(&self.path, objects, revision, self.len) {
            Ok(running) => self.compaction = Some(running),
            Err(e) => {
                tracing::warn!(error = %e, "could not start compacting the store log; trying again when it has doubled");
                self.compact_at = self.len.saturating_mul(2);
            }
        }
    }

    /// Once a rewrite's snapshot is durable, appends the commits made since, and puts the
    /// new log in place of the old one. Does nothing while the snapshot is being written.
    pub(super) fn finish_compaction(&mut self) {
        let Some(running) = self.compaction.as_mut() else { return };
        let Some(finished) = running.finished() else { return };
        let from = running.from();
        self.compaction = None;
        let before = self.len;
        match finished.and_then(|snapshot| self.switch(snapshot, from)) {
            Ok(snapshot) => {
                tracing::info!(before, after = self.len, snapshot, "store log compacted");
            }
            Err(e) => {
                tracing::warn!(error = %e, "compacting the store log failed; the old log is kept");
                compaction::discard(&self.path);
                self.compact_at = self.len.saturating_mul(2);
            }
        }
    }

    /// Appends the commits made since the snapshot (the old log's from `from`) to it, then
    /// renames it over the log. Returns the snapshot's size.
    fn switch(&mut self, (file, len): (File, u64), from: u64) -> io::Result<u64> {
        let tail = self.len - from;
        compaction::copy_range(&self.file, from, tail, &file, len)?;
        file.sync_data()?;
        std::fs::rename(compaction::path_of(&self.path), &self.path)?;
        // The new log is in place: from here on commits must go to it, whatever happens.
        self.file = file;
        self.len = len + tail;
        self.compact_at = compaction::threshold(len, self.compact_min_bytes);
        if let Err(e) = sync_dir(&self.path) {
            tracing::error!(error = %e, "the store log was compacted but its directory could not be synced");
        }
        Ok(len)
    }
}

/// Creates an empty log at `path`, or one holding an earlier version's redb file next to
/// it, written aside and renamed into place.
fn create(path: &Path) -> Result<(), StoreError> {
    let aside = compaction::path_of(path);
    let written = match legacy::find(path) {
        Some(old) => {
            let loaded = legacy::read(&old)?;
            let count = loaded.objects.len();
            let objects = loaded.objects.iter().map(|(k, rev, json)| (k, *rev, &json[..]));
            compaction::write_snapshot(&aside, loaded.revision, objects)
                .map(|_| Some((old, count)))
                .map_err(|e| backend("importing into", &aside, e))?
        }
        None => compaction::write_snapshot(&aside, 0, std::iter::empty())
            .map(|_| None)
            .map_err(|e| backend("creating", &aside, e))?,
    };
    std::fs::rename(&aside, path).map_err(|e| backend("creating", path, e))?;
    sync_dir(path).map_err(|e| backend("syncing the directory of", path, e))?;
    if let Some((old, objects)) = written {
        legacy::retire(&old, objects);
    }
    Ok(())
}

fn lock(file: &File, path: &Path) -> Result<(), StoreError> {
    file.try_lock().map_err(|e| match e {
        std::fs::TryLockError::WouldBlock => StoreError::Backend(format!(
            "{} is in use by another process (another server on this data directory?)",
            path.display()
        )),
        std::fs::TryLockError::Error(e) => backend("locking", path, e),
    })
}

/// Makes a rename in `path`'s directory durable.
fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()
}
