//! Watches: compact JSON lines, one event each; the initial state as ADDED when asked;
//! resume after a resourceVersion; an in-stream 410 ERROR when history is gone; bookmarks
//! when allowed; ADDED/DELETED as objects start or stop matching the selectors.

use super::crud::present;
use super::list::{prefix, tag_space};
use super::params::RvMatch;
use super::presenting::{self, Presenter};
use super::selection::Selection;
use super::status::ApiError;
use super::{ApiServer, Ctx, Result, table};
use crate::store::{Event, ListRequest, Presented, Revision, Store, StoreError, WatchStream};
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use rand::Rng;
use serde::Serialize;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How often a watch that allows bookmarks gets one.
const BOOKMARK_EVERY: Duration = Duration::from_secs(60);

/// How long before its deadline a watch that allows bookmarks gets its last one, as
/// kube-apiserver's watch cache does: the client resumes from there.
const BOOKMARK_BEFORE_DEADLINE: Duration = Duration::from_secs(2);

pub(super) async fn watch(server: &Arc<ApiServer>, ctx: Ctx, wildcard: bool) -> Result<Response> {
    if ctx.path.subresource.is_some() {
        return Err(ApiError::no_route());
    }
    let selection = Selection::new(&ctx)?;
    let p = &ctx.params;
    if p.send_initial_events == Some(true) {
        if p.resource_version_match != RvMatch::NotOlderThan {
            return Err(ApiError::invalid_message(
                "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            ));
        }
        if !p.allow_watch_bookmarks {
            return Err(ApiError::invalid_message(
                "allowWatchBookmarks: Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true",
            ));
        }
    }
    let legacy_initial = matches!(p.resource_version.as_deref(), None | Some("0"));
    let initial = p.send_initial_events.unwrap_or(legacy_initial);
    let requested: Option<Revision> = match p.resource_version.as_deref() {
        None | Some("0") => None,
        Some(rv) => Some(rv.parse().map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv:?}")))?),
    };
    let current = server.store.revision();
    if let Some(rv) = requested
        && rv > current
    {
        return Err(ApiError::timeout(format!("Too large resource version: {rv}, current: {current}")));
    }
    // The state to send first (if any), and the revision after which live events follow.
    let (initial_items, start) = if initial {
        let page = server
            .store
            .list(&prefix(&ctx, wildcard), ListRequest::latest())
            .await
            .map_err(|e| super::crud::store_error(&ctx, "", e))?;
        (page.items, page.revision)
    } else {
        (Vec::new(), requested.unwrap_or(current))
    };
    let stream = server.store.watch(&prefix(&ctx, wildcard), start);
    let timeout = match p.timeout_seconds {
        Some(t) => Duration::from_secs(t),
        None => Duration::from_secs(rand::rng().random_range(1800..3600)),
    };
    let (tx, rx) = mpsc::channel::<std::result::Result<Bytes, Infallible>>(64);
    let store = server.store.clone();
    let watcher = Watcher { ctx: Arc::new(ctx), store, selection, wildcard, tx, last_revision: start };
    tokio::spawn(watcher.run(initial_items, start, stream, timeout));
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response())
}

struct Watcher {
    ctx: Arc<Ctx>,
    store: Arc<dyn Store>,
    selection: Selection,
    wildcard: bool,
    tx: mpsc::Sender<std::result::Result<Bytes, Infallible>>,
    last_revision: Revision,
}

impl Watcher {
    async fn run(
        mut self,
        initial: Vec<(crate::store::Key, crate::store::Stored)>,
        start: Revision,
        stream: std::result::Result<crate::store::WatchStream, StoreError>,
        timeout: Duration,
    ) {
        for (key, stored) in initial {
            let Ok(obj) = super::crud::parse_stored(&stored) else { continue };
            if self.selection.matches(&obj) && !self.send("ADDED", obj, key.space()).await {
                return;
            }
        }
        if self.ctx.params.send_initial_events == Some(true) && !self.bookmark(start, true).await {
            return;
        }
        let mut stream = match stream {
            Ok(s) => s,
            Err(e) => {
                self.error(e).await;
                return;
            }
        };
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut bookmarks = tokio::time::interval_at(tokio::time::Instant::now() + BOOKMARK_EVERY, BOOKMARK_EVERY);
        let last_call = tokio::time::sleep(timeout.saturating_sub(BOOKMARK_BEFORE_DEADLINE));
        tokio::pin!(last_call);
        let mut called = timeout <= BOOKMARK_BEFORE_DEADLINE;
        let allowed = self.ctx.params.allow_watch_bookmarks;
        loop {
            tokio::select! {
                event = stream.next() => {
                    if self.next(event).await {
                        continue;
                    }
                    return;
                }
                _ = bookmarks.tick(), if allowed => {}
                _ = &mut last_call, if allowed && !called => called = true,
                _ = &mut deadline => return,
                _ = self.tx.closed() => return,
            }
            if !self.bookmark_progress(&mut stream).await {
                return;
            }
        }
    }

    /// Handles what the store's stream gave; `false` ends the watch.
    async fn next(&mut self, event: Option<Result<Arc<Event>, StoreError>>) -> bool {
        match event {
            Some(Ok(e)) => self.event(&e).await,
            Some(Err(e)) => {
                self.error(e).await;
                false
            }
            None => false,
        }
    }

    /// A bookmark at the newest revision this watch is known to have seen everything up
    /// to: the store's delivered revision, when the stream has nothing waiting (a watch of
    /// a quiet resource would otherwise carry its last event's revision, which a busy
    /// store's history soon drops, and the client would relist when it resumes); else the
    /// revision of what was waiting, once handled.
    async fn bookmark_progress(&mut self, stream: &mut WatchStream) -> bool {
        // Read before looking at the stream: whatever it was handed up to here is waiting.
        let delivered = self.store.delivered();
        match stream.next().now_or_never() {
            None => self.last_revision = self.last_revision.max(delivered),
            Some(event) => {
                if !self.next(event).await {
                    return false;
                }
            }
        }
        self.bookmark(self.last_revision, false).await
    }

    async fn event(&mut self, e: &Event) -> bool {
        self.last_revision = e.revision;
        if !table::wants_table(&self.ctx) {
            match self.selection.by_key(e.key.namespace(), e.key.name()) {
                Some(true) => return self.plain(e).await,
                Some(false) => return true,
                None => {}
            }
        }
        let parse = |b: &Bytes| serde_json::from_slice::<Value>(b).ok();
        let Some(mut now) = parse(&e.object) else { return true };
        super::object::set_revision(&mut now, e.revision);
        let before = e.previous.as_ref().and_then(parse).map(|p| self.selection.matches(&p)).unwrap_or(false);
        let after = !e.deleted && self.selection.matches(&now);
        let kind = match (e.previous.is_some(), e.deleted, before, after) {
            (_, true, true, _) => "DELETED",
            (_, true, false, _) => return true,
            (false, false, _, true) => "ADDED",
            (true, false, true, true) => "MODIFIED",
            (true, false, false, true) => "ADDED",
            (true, false, true, false) => "DELETED",
            _ => return true,
        };
        self.send(kind, now, e.key.space()).await
    }

    /// Without tables, and with selectors the key decides, every watcher of a resource
    /// version that gets an event sends the same line for it (the watches of every space,
    /// the same space-tagged line): encode it once, for all of them. A syncer's watch of its
    /// `the-one` is one of these: its heartbeats no longer cost a decode and an encode each.
    async fn plain(&self, e: &Event) -> bool {
        let space = self.wildcard.then_some(e.key.space());
        let slot = &e.presented[usize::from(self.wildcard)];
        let object = || Presenter::new(&self.ctx).present(&e.object, e.revision, space).map(presenting::into_bytes);
        let Some(line) = shared_line(&self.ctx, slot, event_kind(e), object) else {
            return true;
        };
        self.tx.send(Ok(line)).await.is_ok()
    }

    async fn send(&self, kind: &str, obj: Value, space: &str) -> bool {
        let mut obj = present(&self.ctx, obj);
        if self.wildcard {
            tag_space(&mut obj, space);
        }
        let obj = if table::wants_table(&self.ctx) { table::row_table(&self.ctx, &obj) } else { obj };
        self.line(kind, &obj).await
    }

    async fn bookmark(&self, revision: Revision, initial_end: bool) -> bool {
        let mut metadata = json!({"resourceVersion": revision.to_string()});
        if initial_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object =
            json!({"kind": self.ctx.info.kind, "apiVersion": self.ctx.info.api_version(), "metadata": metadata});
        self.line("BOOKMARK", &object).await
    }

    async fn error(&self, e: StoreError) {
        let status = match e {
            StoreError::Expired { .. } => ApiError::gone(e.to_string()),
            other => ApiError::internal(other.to_string()),
        };
        self.line("ERROR", &status.to_status()).await;
    }

    async fn line<T: Serialize>(&self, kind: &str, object: &T) -> bool {
        self.tx.send(Ok(Line { kind, object }.encode())).await.is_ok()
    }
}

/// The type of a watch line for `e`, for watchers it matches before and after.
pub(super) fn event_kind(e: &Event) -> &'static str {
    if e.deleted {
        "DELETED"
    } else if e.previous.is_none() {
        "ADDED"
    } else {
        "MODIFIED"
    }
}

/// The line every watcher of one space (or every watcher of every space, whose lines name
/// the space: the other slot) sends for an event of `kind` at `ctx`'s API version, around
/// the presented `object`, made by whichever reader of `slot` comes first: a watcher, or
/// the write that made the event ([`object_of_line`]).
pub(super) fn shared_line(
    ctx: &Ctx,
    slot: &Presented,
    kind: &str,
    object: impl FnOnce() -> Option<Vec<u8>>,
) -> Option<Bytes> {
    slot.get_or_make(&ctx.info.api_version(), || {
        let object = object()?;
        Some([LINE_HEAD, kind.as_bytes(), LINE_MIDDLE, &object, LINE_END].concat())
    })
}

/// The object a watch line carries, sharing the line's bytes: `{"type":"…","object":` is
/// before it and `}` and a newline after.
pub(super) fn object_of_line(line: &Bytes) -> Option<Bytes> {
    let kind = line.strip_prefix(LINE_HEAD)?.iter().position(|&b| b == b'"')?;
    let start = LINE_HEAD.len() + kind + LINE_MIDDLE.len();
    let end = line.len().checked_sub(LINE_END.len())?;
    let fits = line.get(LINE_HEAD.len() + kind..)?.starts_with(LINE_MIDDLE) && line.ends_with(LINE_END) && start < end;
    fits.then(|| line.slice(start..end))
}

/// A watch line as [`Line`] writes it: these, with the type between the first two and the
/// object between the last two.
const LINE_HEAD: &[u8] = br#"{"type":""#;
const LINE_MIDDLE: &[u8] = br#"","object":"#;
const LINE_END: &[u8] = b"}\n";

/// One watch line. `type` is written before `object`, as the Kubernetes API server writes
/// it: a client that decodes the event as a tagged enum (kube-rs's `WatchEvent`, serde's
/// adjacently tagged representation) then reads the object straight into its type, where
/// `object` first makes it buffer the whole object and decode it a second time.
#[derive(Serialize)]
struct Line<'a, T> {
    #[serde(rename = "type")]
    kind: &'a str,
    object: &'a T,
}

impl<T: Serialize> Line<'_, T> {
    fn encode(&self) -> Bytes {
        Bytes::from(self.to_vec())
    }

    fn to_vec(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_leads_with_its_type_and_ends_with_a_newline() {
        let object = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}});
        let line = Line { kind: "ADDED", object: &object }.encode();
        let want = r#"{"type":"ADDED","object":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}}"#;
        assert_eq!(line, format!("{want}\n").as_bytes());
        let inner = object_of_line(&line).expect("an object");
        assert_eq!(serde_json::from_slice::<Value>(&inner).expect("JSON"), object);
    }

    #[test]
    fn the_object_of_a_line_is_found_or_nothing_is() {
        let cases: [(&[u8], Option<&[u8]>); 6] = [
            (b"{\"type\":\"MODIFIED\",\"object\":{\"a\":1}}\n", Some(b"{\"a\":1}")),
            (b"{\"type\":\"DELETED\",\"object\":{}}\n", Some(b"{}")),
            (b"{\"type\":\"ADDED\",\"object\":{\"a\":1}}", None),
            (b"{\"type\":\"ADDED\",\"other\":{\"a\":1}}\n", None),
            (b"{\"object\":{\"a\":1}}\n", None),
            (b"{\"type\":\"ADDED\",\"object\":}\n", None),
        ];
        for (line, want) in cases {
            let got = object_of_line(&Bytes::from_static(line));
            assert_eq!(got.as_deref(), want, "{}", String::from_utf8_lossy(line));
        }
    }
}
