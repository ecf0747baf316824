//! Storage for every space: one keyspace, one global revision counter.
//!
//! The model is etcd's, as the Kubernetes API server uses it: every write gets the next
//! revision, which becomes the object's `metadata.resourceVersion`; a list reports the
//! revision it was read at; a watch resumes after any revision still in the event log and
//! gets [`StoreError::Expired`] (HTTP 410) once that revision has been compacted away.
//!
//! [`Store`] is the interface the API layer uses. [`EmbeddedStore`] is the default
//! backend: the current state in memory (persistent maps, so a snapshot for a paged list
//! costs nothing), made durable in one append-only log with group commit.

mod by_space;
mod disk;
mod embedded;
mod inbox;
mod key;
mod log;
mod presented;

pub use embedded::{EmbeddedStore, EmbeddedStoreConfig};
pub use key::{Key, Prefix};
pub use presented::{Presentations, Presented};

use bytes::Bytes;
use futures::stream::BoxStream;
use std::sync::Arc;

/// A position in the global history: the revision of a write, or of a read.
pub type Revision = u64;

/// An object as stored: its JSON, and the revision of the write that produced it, which
/// readers present as `metadata.resourceVersion` (the JSON does not carry it, so the
/// writer never re-serializes an object to stamp it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub revision: Revision,
    pub json: Bytes,
}

/// What must hold for a write to go ahead. A failed precondition changes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// Write whatever is there.
    None,
    /// Create: the key must not exist.
    Absent,
    /// The key must exist.
    Present,
    /// The key must exist at exactly this revision (optimistic concurrency).
    Revision(Revision),
}

/// One write: store `value` under `key`, or delete `key` when `value` is `None`.
#[derive(Clone, Debug)]
pub struct Write {
    pub key: Key,
    /// The object's JSON, serialized by the caller (off the writer's path).
    pub value: Option<Bytes>,
    pub precondition: Precondition,
}

/// A committed change, as watches see it.
#[derive(Clone, Debug)]
pub struct Event {
    pub revision: Revision,
    pub key: Key,
    /// The object after the change; for a deletion, its last state. Either way it is
    /// presented with `revision` as its resourceVersion (what a DELETED event carries).
    pub object: Bytes,
    /// The object before the change, when there was one.
    pub previous: Option<Bytes>,
    pub deleted: bool,
    /// A cache for readers that all present this event the same way (the API layer keeps
    /// the encoded watch line here, keyed by the API version it presents; one slot for
    /// watches of one space, one for watches of every space, whose lines name the space):
    /// with a thousand watchers, the object is decoded and encoded once, not a thousand times.
    /// It holds the line only while a reader does, so the history does not pin it. Shared
    /// with the write that made the event ([`Store::write_presented`]).
    pub presented: Presentations,
}

/// Which state a read sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadAt {
    /// The newest committed state.
    Latest,
    /// The state at exactly this revision (only recent revisions are kept for this).
    Exact(Revision),
}

/// One page of a list.
#[derive(Clone, Debug)]
pub struct ListPage {
    /// The revision the list was read at.
    pub revision: Revision,
    pub items: Vec<(Key, Stored)>,
    /// More matching items follow the last one.
    pub more: bool,
}

/// A filter applied while listing, so `limit` counts matching items only.
pub type ListFilter = Box<dyn Fn(&Key, &Stored) -> bool + Send + Sync>;

/// What a list asks for.
pub struct ListRequest {
    pub at: ReadAt,
    /// Resume after this key (from a continue token).
    pub after: Option<Key>,
    pub limit: Option<usize>,
    pub filter: Option<ListFilter>,
}

impl ListRequest {
    /// Everything under a prefix, at the newest revision.
    pub fn latest() -> Self {
        Self { at: ReadAt::Latest, after: None, limit: None, filter: None }
    }

    /// What `filter` accepts under a prefix, at the newest revision.
    pub fn latest_filtered(filter: ListFilter) -> Self {
        Self { filter: Some(filter), ..Self::latest() }
    }
}

pub type WatchStream = BoxStream<'static, Result<Arc<Event>, StoreError>>;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("the key already exists")]
    AlreadyExists,
    #[error("the key does not exist")]
    NotFound,
    /// The object changed since the revision the write was based on.
    #[error("the object is at revision {actual}, not {expected}")]
    Conflict { expected: Revision, actual: Revision },
    /// The revision asked for is older than the oldest one kept.
    #[error("too old resource version: {requested} ({oldest})")]
    Expired { requested: Revision, oldest: Revision },
    /// The revision asked for has not been reached yet.
    #[error("too large resource version: {requested}, current: {current}")]
    TooLarge { requested: Revision, current: Revision },
    #[error("storage failed: {0}")]
    Backend(String),
    #[error("the store is shut down")]
    Closed,
}

/// The storage interface of the space server.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// The newest committed revision.
    fn revision(&self) -> Revision;

    /// The oldest revision a watch can still resume after.
    fn oldest_resumable(&self) -> Revision;

    /// The newest revision whose event, and every one before it, has been handed to the
    /// live watches it concerns. A live watch that, after this is read, has nothing left
    /// to yield has seen everything under its prefix up to it: the revision its bookmark
    /// can carry, however long ago its own last event was.
    fn delivered(&self) -> Revision;

    async fn get(&self, key: &Key) -> Result<Option<Stored>, StoreError>;

    /// Lists the keys under `prefix` in key order.
    async fn list(&self, prefix: &Prefix, req: ListRequest) -> Result<ListPage, StoreError>;

    /// Commits one write durably and returns the stored result (for a delete, the last
    /// state with the deletion revision).
    async fn write(&self, write: Write) -> Result<Stored, StoreError> {
        self.write_presented(write, Presentations::default()).await
    }

    /// [`Store::write`], its event presented through `presented`: a writer that answers
    /// with the object it wrote makes its answer the object of the line its watchers send
    /// (or takes it from theirs), so the object is encoded once for both, not twice.
    async fn write_presented(&self, write: Write, presented: Presentations) -> Result<Stored, StoreError>;

    /// Every change under `prefix` with a revision greater than `after`, first those
    /// already committed, then live ones. Ends with `Expired` if the watcher falls so far
    /// behind that the events it needs are compacted away.
    fn watch(&self, prefix: &Prefix, after: Revision) -> Result<WatchStream, StoreError>;
}
