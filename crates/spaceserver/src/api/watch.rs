//! Watches: compact JSON lines, one event each; the initial state as ADDED when asked;
//! resume after a resourceVersion; an in-stream 410 ERROR when history is gone; bookmarks
//! when allowed; ADDED/DELETED as objects start or stop matching the selectors.

use super::crud::present;
use super::list::{prefix, tag_space};
use super::params::RvMatch;
use super::presenting::Presenter;
use super::selection::Selection;
use super::status::ApiError;
use super::{ApiServer, Ctx, Result, table};
use crate::store::{Event, ListRequest, Presented, Revision, Store, StoreError, WatchStream};
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures::{FutureExt, Stream, StreamExt};
use rand::Rng;
use serde::Serialize;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

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
    let allowed = p.allow_watch_bookmarks;
    let end_initial = p.send_initial_events == Some(true);
    let now = Instant::now();
    let watcher = Watcher {
        ctx: Arc::new(ctx),
        store: server.store.clone(),
        selection,
        wildcard,
        last_revision: start,
        initial: initial_items.into_iter(),
        end_initial,
        stream: Some(stream),
        pending: None,
        alarm: Box::pin(tokio::time::sleep_until(first_alarm(now, timeout, allowed))),
        deadline: now + timeout,
        bookmarks: tokio::time::interval_at(now + BOOKMARK_EVERY, BOOKMARK_EVERY),
        allowed,
    };
    // Pulled by the connection as it has room to send: no task and no channel of its own,
    // which 60,000 watches (10,000 syncers) paid a kilobyte or two each for.
    let lines = futures::stream::unfold(watcher, |mut w| async move {
        let line = w.next_line().await?;
        Some((line, w))
    });
    let body = Body::from_stream(batched(Box::pin(lines)).map(Ok::<_, Infallible>));
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The most a watch sends in one piece.
const BATCH: usize = 64 * 1024;

/// `lines`, with those ready at once joined into one piece (up to [`BATCH`] bytes): a
/// burst of events (a wildcard watch while a fleet reports) goes out as one HTTP/2 data
/// frame and one TLS record, and is read by the client in one piece, instead of one each.
fn batched(lines: impl Stream<Item = Bytes> + Unpin) -> impl Stream<Item = Bytes> {
    // Fused: the end may be found while joining, and is then asked for once more.
    futures::stream::unfold(lines.fuse(), |mut lines| async move {
        let first = lines.next().await?;
        let Some(second) = lines.next().now_or_never().flatten() else { return Some((first, lines)) };
        let mut joined = BytesMut::with_capacity(BATCH.min(2 * (first.len() + second.len())));
        joined.extend_from_slice(&first);
        joined.extend_from_slice(&second);
        while joined.len() < BATCH {
            match lines.next().now_or_never().flatten() {
                Some(line) => joined.extend_from_slice(&line),
                None => break,
            }
        }
        Some((joined.freeze(), lines))
    })
}

/// When a watch's alarm first goes off: for the last bookmark just before its deadline,
/// when it gets bookmarks and has that long; else at the deadline.
fn first_alarm(now: Instant, timeout: Duration, bookmarks: bool) -> Instant {
    if bookmarks && timeout > BOOKMARK_BEFORE_DEADLINE {
        now + (timeout - BOOKMARK_BEFORE_DEADLINE)
    } else {
        now + timeout
    }
}

/// One watch, producing its lines as its response body asks for them.
struct Watcher {
    ctx: Arc<Ctx>,
    store: Arc<dyn Store>,
    selection: Selection,
    wildcard: bool,
    last_revision: Revision,
    /// The initial state still to send as ADDED.
    initial: std::vec::IntoIter<(crate::store::Key, crate::store::Stored)>,
    /// Whether the initial state ends with a bookmark (`sendInitialEvents`).
    end_initial: bool,
    /// The store's stream: taken out while a line is awaited, and not put back once the
    /// watch is over.
    stream: Option<std::result::Result<WatchStream, StoreError>>,
    /// A line made ahead of the one just returned (an event found while bookmarking).
    pending: Option<Bytes>,
    /// Goes off for the last bookmark ([`first_alarm`]), then at the deadline.
    alarm: std::pin::Pin<Box<tokio::time::Sleep>>,
    /// The watch ends here (`timeoutSeconds`, or a random half hour to an hour).
    deadline: Instant,
    bookmarks: tokio::time::Interval,
    /// Whether the client takes bookmarks.
    allowed: bool,
}

/// What handling one of the store's events gives.
enum Step {
    Send(Bytes),
    /// Nothing for this watch.
    Skip,
    /// The watch ends, after its last line (an ERROR) if it has one.
    End(Option<Bytes>),
}

impl Watcher {
    /// The next line to send; `None` ends the watch.
    async fn next_line(&mut self) -> Option<Bytes> {
        if let Some(line) = self.pending.take() {
            return Some(line);
        }
        while let Some((key, stored)) = self.initial.next() {
            let Ok(obj) = super::crud::parse_stored(&stored) else { continue };
            if self.selection.matches(&obj) {
                return Some(self.send("ADDED", obj, key.space()));
            }
        }
        if std::mem::take(&mut self.end_initial) {
            return Some(self.bookmark(self.last_revision, true));
        }
        let mut stream = match self.stream.take()? {
            Ok(s) => s,
            Err(e) => return Some(self.error(e)),
        };
        match self.live(&mut stream).await {
            ControlFlow::Continue(line) => {
                self.stream = Some(Ok(stream));
                Some(line)
            }
            ControlFlow::Break(last) => last,
        }
    }

    /// The next line of the live phase, an event or a bookmark when one is due; or the
    /// end of the watch, after its last line if it has one.
    async fn live(&mut self, stream: &mut WatchStream) -> ControlFlow<Option<Bytes>, Bytes> {
        loop {
            tokio::select! {
                event = stream.next() => match self.next(event) {
                    Step::Send(line) => return ControlFlow::Continue(line),
                    Step::Skip => continue,
                    Step::End(last) => return ControlFlow::Break(last),
                },
                _ = self.bookmarks.tick(), if self.allowed => {}
                _ = self.alarm.as_mut() => {
                    if self.alarm.deadline() >= self.deadline {
                        return ControlFlow::Break(None);
                    }
                    let deadline = self.deadline;
                    self.alarm.as_mut().reset(deadline);
                }
            }
            return self.bookmark_progress(stream);
        }
    }

    /// Handles what the store's stream gave.
    fn next(&mut self, event: Option<std::result::Result<Arc<Event>, StoreError>>) -> Step {
        match event {
            Some(Ok(e)) => self.event(&e).map_or(Step::Skip, Step::Send),
            Some(Err(e)) => Step::End(Some(self.error(e))),
            None => Step::End(None),
        }
    }

    /// A bookmark at the newest revision this watch is known to have seen everything up
    /// to: the store's delivered revision, when the stream has nothing waiting (a watch of
    /// a quiet resource would otherwise carry its last event's revision, which a busy
    /// store's history soon drops, and the client would relist when it resumes); else the
    /// revision of what was waiting, once handled (that event's line goes first).
    fn bookmark_progress(&mut self, stream: &mut WatchStream) -> ControlFlow<Option<Bytes>, Bytes> {
        // Read before looking at the stream: whatever it was handed up to here is waiting.
        let delivered = self.store.delivered();
        let first = match stream.next().now_or_never() {
            None => {
                self.last_revision = self.last_revision.max(delivered);
                None
            }
            Some(event) => match self.next(event) {
                Step::Send(line) => Some(line),
                Step::Skip => None,
                Step::End(last) => return ControlFlow::Break(last),
            },
        };
        let bookmark = self.bookmark(self.last_revision, false);
        match first {
            Some(line) => {
                self.pending = Some(bookmark);
                ControlFlow::Continue(line)
            }
            None => ControlFlow::Continue(bookmark),
        }
    }

    /// The line for one event, if this watch sends one.
    fn event(&mut self, e: &Event) -> Option<Bytes> {
        self.last_revision = e.revision;
        if !table::wants_table(&self.ctx) {
            match self.selection.by_key(e.key.namespace(), e.key.name()) {
                Some(true) => return self.plain(e),
                Some(false) => return None,
                None => {}
            }
        }
        let parse = |b: &Bytes| serde_json::from_slice::<Value>(b).ok();
        let mut now = parse(&e.object)?;
        super::object::set_revision(&mut now, e.revision);
        let before = e.previous.as_ref().and_then(parse).map(|p| self.selection.matches(&p)).unwrap_or(false);
        let after = !e.deleted && self.selection.matches(&now);
        let kind = match (e.previous.is_some(), e.deleted, before, after) {
            (_, true, true, _) => "DELETED",
            (_, true, false, _) => return None,
            (false, false, _, true) => "ADDED",
            (true, false, true, true) => "MODIFIED",
            (true, false, false, true) => "ADDED",
            (true, false, true, false) => "DELETED",
            _ => return None,
        };
        Some(self.send(kind, now, e.key.space()))
    }

    /// Without tables, and with selectors the key decides, every watcher of a resource
    /// version that gets an event sends the same line for it (the watches of every space,
    /// the same space-tagged line): encode it once, for all of them. A syncer's watch of its
    /// `the-one` is one of these: its heartbeats no longer cost a decode and an encode each.
    fn plain(&self, e: &Event) -> Option<Bytes> {
        let space = self.wildcard.then_some(e.key.space());
        let slot = &e.presented[usize::from(self.wildcard)];
        let object = || Presenter::new(&self.ctx).present_bytes(&e.object, e.revision, space);
        shared_line(&self.ctx, slot, event_kind(e), object)
    }

    fn send(&self, kind: &str, obj: Value, space: &str) -> Bytes {
        let mut obj = present(&self.ctx, obj);
        if self.wildcard {
            tag_space(&mut obj, space);
        }
        let obj = if table::wants_table(&self.ctx) { table::row_table(&self.ctx, &obj) } else { obj };
        Line { kind, object: &obj }.encode()
    }

    fn bookmark(&self, revision: Revision, initial_end: bool) -> Bytes {
        let mut metadata = json!({"resourceVersion": revision.to_string()});
        if initial_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object =
            json!({"kind": self.ctx.info.kind, "apiVersion": self.ctx.info.api_version(), "metadata": metadata});
        Line { kind: "BOOKMARK", object: &object }.encode()
    }

    fn error(&self, e: StoreError) -> Bytes {
        let status = match e {
            StoreError::Expired { .. } => ApiError::gone(e.to_string()),
            other => ApiError::internal(other.to_string()),
        };
        Line { kind: "ERROR", object: &status.to_status() }.encode()
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

    /// Lines ready together go out as one piece, up to the batch size; a line that comes
    /// later is a piece of its own; the end of the lines ends the pieces.
    #[tokio::test]
    async fn lines_ready_together_go_out_together() {
        let (tx, rx) = futures::channel::mpsc::unbounded::<Bytes>();
        let mut pieces = Box::pin(batched(rx));
        for line in ["a\n", "b\n", "c\n"] {
            tx.unbounded_send(Bytes::from(line)).expect("send");
        }
        assert_eq!(pieces.next().await.as_deref(), Some(&b"a\nb\nc\n"[..]));
        assert!(pieces.next().now_or_never().is_none(), "nothing more is ready");
        tx.unbounded_send(Bytes::from_static(b"d\n")).expect("send");
        assert_eq!(pieces.next().await.as_deref(), Some(&b"d\n"[..]));
        let big = Bytes::from(vec![b'x'; BATCH / 2 + 1]);
        for _ in 0..3 {
            tx.unbounded_send(big.clone()).expect("send");
        }
        tx.unbounded_send(Bytes::from_static(b"last\n")).expect("send");
        drop(tx);
        let sizes: Vec<usize> = pieces.map(|p| p.len()).collect().await;
        assert_eq!(sizes, [2 * big.len(), big.len() + 5], "a piece stops growing past the batch size");
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
