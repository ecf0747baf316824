//! Rewriting the log from the live state, on a thread of its own, while commits go on.

use super::frame::{FrameBuilder, MAGIC};
use super::{Key, Objects, Revision, StoreError, backend};
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

/// Snapshot frames are cut at about this size: a frame is checked whole at start-up, and
/// its buffer is held while it is built.
const SNAPSHOT_FRAME: usize = 4 << 20;

/// When the log is rewritten: once it is twice the live state, and at least `min_bytes`
/// (Redis rewrites its append-only file by the same rule).
pub fn threshold(live: u64, min_bytes: u64) -> u64 {
    live.saturating_mul(2).max(min_bytes)
}

/// Where a rewrite of the log at `log` is written before it is renamed into place.
pub fn path_of(log: &Path) -> PathBuf {
    let mut name = OsString::from(log.as_os_str());
    name.push(".compacting");
    PathBuf::from(name)
}

/// Removes a rewrite a crash interrupted: the log itself is whole.
pub fn remove_leftover(log: &Path) -> Result<(), StoreError> {
    let leftover = path_of(log);
    match std::fs::remove_file(&leftover) {
        Ok(()) => {
            tracing::info!(path = %leftover.display(), "removed an unfinished compaction of the store log");
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(backend("removing", &leftover, e)),
    }
}

/// Removes a failed rewrite.
pub fn discard(log: &Path) {
    let _ = std::fs::remove_file(path_of(log));
}

/// Writes a log holding `objects` at `revision` to `path`, fsynced and locked. Returns the
/// file and its length.
pub fn write_snapshot<'a>(
    path: &Path,
    revision: Revision,
    objects: impl Iterator<Item = (&'a Key, Revision, &'a [u8])>,
) -> io::Result<(File, u64)> {
    let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(path)?;
    // Held from here on: once renamed, this is the log, and no other process may open it.
    file.try_lock().map_err(io::Error::other)?;
    file.write_all(MAGIC)?;
    let mut len = MAGIC.len() as u64;
    let mut buf = Vec::new();
    let mut frame = FrameBuilder::new(&mut buf, revision);
    for (key, rev, json) in objects {
        frame.put(key.encode(), rev, json);
        if frame.payload_len() >= SNAPSHOT_FRAME {
            frame.finish();
            file.write_all(&buf)?;
            len += buf.len() as u64;
            frame = FrameBuilder::new(&mut buf, revision);
        }
    }
    // The last frame, even an empty one: it records the revision.
    if !frame.is_empty() || len == MAGIC.len() as u64 {
        frame.finish();
        file.write_all(&buf)?;
        len += buf.len() as u64;
    }
    file.sync_all()?;
    Ok((file, len))
}

/// A rewrite under way.
pub struct Running {
    /// Where the old log ended when the snapshot was taken: the commits after it are
    /// copied to the snapshot once it is durable. Read back from the old log rather than
    /// kept in memory: at 10,000 WECs a snapshot takes seconds, and the center commits
    /// megabytes a second meanwhile.
    from: u64,
    done: mpsc::Receiver<io::Result<(File, u64)>>,
}

impl Running {
    /// Starts writing `objects`, the state at `revision`, beside the log at `log`, which
    /// ends at `from`.
    pub fn start(log: &Path, objects: Objects, revision: Revision, from: u64) -> io::Result<Self> {
        let (tx, done) = mpsc::channel();
        let path = path_of(log);
        std::thread::Builder::new().name("store-compactor".into()).spawn(move || {
            let started = std::time::Instant::now();
            let written = write_snapshot(&path, revision, objects.iter().map(|(k, s)| (k, s.revision, &s.json[..])));
            tracing::debug!(
                objects = objects.len(),
                millis = started.elapsed().as_millis() as u64,
                "store log snapshot written"
            );
            let _ = tx.send(written);
        })?;
        Ok(Self { from, done })
    }

    /// The snapshot, once it is durable (or the error that stopped it); `None` before.
    pub fn finished(&mut self) -> Option<io::Result<(File, u64)>> {
        match self.done.try_recv() {
            Ok(result) => Some(result),
            Err(mpsc::TryRecvError::Empty) => None,
            Err(mpsc::TryRecvError::Disconnected) => Some(Err(io::Error::other("the compaction thread stopped"))),
        }
    }

    /// Where the commits made since the snapshot start in the old log.
    pub fn from(&self) -> u64 {
        self.from
    }
}

/// Copies `len` bytes at `from` in `source` to `at` in `target`, a piece at a time.
pub fn copy_range(source: &File, from: u64, len: u64, target: &File, at: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0; (1 << 20).min(len as usize)];
    let mut done = 0;
    while done < len {
        let n = buf.len().min((len - done) as usize);
        source.read_exact_at(&mut buf[..n], from + done)?;
        target.write_all_at(&buf[..n], at + done)?;
        done += n as u64;
    }
    Ok(())
}
