//! Reconciling one object between the mailbox and the WEC.

use super::watches::api_resource;
use super::{MANAGER, SyncError, Syncer, lock};
use crate::downstream::Downstream;
use crate::plan::{Action, create_only_patch, decide, to_delete};
use crate::status::status_to_return;
use crate::upsync::{UpsyncAction, decide_upsync, is_upsync_copy, upsync_copy, upsyncs};
use crate::wanted::{ObjectKey, ResourceRef};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::ObjectRef;
use orrery_spaces::decode::{JsonObject, Unmanaged};
use serde_json::{Value, json};

/// Annotation the syncer puts on a mailbox copy it will not apply because an object of the
/// same name, not created by the syncer, is in the WEC (the conflict policy: never take over).
pub const CONFLICT: &str = "edge.kubestellar.io/syncer-conflict";

/// A merge patch of `status` alone, written with the status as the WEC's text.
#[derive(Debug, serde::Serialize)]
struct StatusPatch<'a> {
    status: &'a serde_json::value::RawValue,
}

fn is_status(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

/// Sends a write whose answer is not read: what was written comes back through the
/// watches, and decoding every answer as well cost the syncers a tenth of their CPU.
pub(super) async fn send_unread(
    client: &kube::Client,
    request: Result<http::Request<Vec<u8>>, kube::core::request::Error>,
) -> Result<(), kube::Error> {
    client.request_text(request.map_err(kube::Error::BuildRequest)?).await.map(drop)
}

/// Requests to the collection `api` addresses.
fn requests(api: &Api<Unmanaged>) -> kube::core::Request {
    kube::core::Request::new(api.resource_url())
}

fn api(client: &kube::Client, ar: &kube::api::ApiResource, namespace: Option<&str>) -> Api<Unmanaged> {
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, ar),
        None => Api::all_with(client.clone(), ar),
    }
}

impl Syncer {
    pub(super) async fn reconcile(&self, key: &ObjectKey) -> Result<(), SyncError> {
        let Some(wanted) = self.wanted.read().unwrap_or_else(|e| e.into_inner()).clone() else { return Ok(()) };
        let found = {
            let watched = lock(&self.watched);
            watched_for(&watched, key).map(|(r, w)| {
                let ar = api_resource(r);
                let at = object_ref(key, ar.clone());
                let synced = |s: &std::sync::atomic::AtomicBool| s.load(std::sync::atomic::Ordering::Acquire);
                let both = synced(&w.mailbox_synced) && synced(&w.wec_synced);
                (r.clone(), ar, w.mailbox.get(&at), w.wec.get(&at), both, w.kind.clone())
            })
        };
        // Nothing is decided on half a picture: the first list of each side requeues
        // every object it holds.
        let Some((r, ar, copy, current, true, kind)) = found else { return Ok(()) };
        // Decisions read the heads (type and metadata); writes and comparisons, the
        // bodies' text.
        let (copy, current) = (copy.as_deref(), current.as_deref());
        let named = copy.or(current).and_then(JsonObject::kind);
        let kind = self.kind_of(&r, &kind, named).await?;
        let ns = key.namespace.as_deref();
        // Made only for a write: most reconciles write nothing.
        let wec = || api(&self.wec, &ar, ns);

        // Upsync: WEC objects the upsync sets select, and the copies made of them. An
        // upsynced copy is never downsynced, and a downsynced object never upsynced.
        let matchers = self.upsync.read().unwrap_or_else(|e| e.into_inner()).clone();
        let upsync_copy_here = copy.is_some_and(|c| is_upsync_copy(c, &kind));
        if upsync_copy_here || upsyncs(&matchers, key) {
            // Upsync reads and writes whole objects; it is rare, and decodes their bodies.
            let (wec_whole, copy_whole) =
                (current.map(JsonObject::to_value).transpose()?, copy.map(JsonObject::to_value).transpose()?);
            self.upsync(&ar, key, &kind, wec_whole.as_ref(), copy_whole.as_ref(), &matchers).await?;
            if upsync_copy_here || !wanted.wants(key) {
                return Ok(());
            }
        }

        let Some(copy) = copy.filter(|_| wanted.wants(key)) else {
            // Not (or no longer) placed here: delete it if the syncer made it — but only on
            // the word of a mailbox cache that has been listed, never of an empty one.
            if let Some(current) = current {
                let doomed = to_delete(&key.group, &key.resource, &kind, std::iter::once(current), &wanted, |_| false);
                if doomed.iter().any(|k| k == key) {
                    self.applied.forget(key);
                    match wec().delete(&key.name, &DeleteParams::default()).await {
                        Ok(_) => tracing::info!(?key, "deleted from the WEC: no longer placed here"),
                        Err(e) if is_status(&e, 404) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            return Ok(());
        };

        if let Some(ns) = ns {
            self.ensure_namespace(ns).await?;
        }
        let merge = |v: Value| Patch::Merge(v);
        match decide(copy, &kind, current) {
            Action::Create => self.create(&wec(), key, copy, &kind).await?,
            Action::Apply { clear_create_only: false } => self.apply(wec, key, copy, &kind, current).await?,
            Action::Apply { clear_create_only: true } => {
                self.apply(wec, key, copy, &kind, None).await?;
                wec().patch(&key.name, &PatchParams::default(), &merge(create_only_patch(false))).await?;
            }
            Action::MarkCreateOnly => {
                wec().patch(&key.name, &PatchParams::default(), &merge(create_only_patch(true))).await?;
            }
            Action::Skip(_) => {}
            Action::Conflict(reason) => {
                self.applied.forget(key);
                tracing::warn!(?key, %reason, "left alone");
                self.mark_conflict(&ar, key, copy, Some(&reason.to_string())).await?;
                return Ok(());
            }
        }
        self.mark_conflict(&ar, key, copy, None).await?;

        // Status return, only from an object the syncer owns, only when it changed.
        if let Some(current) = current
            && let Some(status) = status_to_return(&key.group, &key.resource, &kind, current, copy)
        {
            let mailbox = api(&self.mailbox, &ar, ns);
            self.telemetry.synced.inc();
            let patch = Patch::Merge(StatusPatch { status });
            let request = requests(&mailbox).patch_subresource("status", &key.name, &PatchParams::default(), &patch);
            match send_unread(&self.mailbox, request).await {
                Ok(()) => {}
                // No status subresource: the status is part of the object.
                Err(e) if is_status(&e, 404) => {
                    mailbox.patch(&key.name, &PatchParams::default(), &patch).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Counts a write to the WEC.
    fn count(&self, ok: bool) {
        if ok {
            self.telemetry.synced.inc()
        } else {
            self.telemetry.apply_errors.inc()
        };
    }

    /// Creates the WEC object (a create, not an apply: if an object of that name appeared
    /// meanwhile, it is not the syncer's to take over).
    async fn create(
        &self,
        wec: &Api<Unmanaged>,
        key: &ObjectKey,
        copy: &JsonObject,
        kind: &str,
    ) -> Result<(), SyncError> {
        let wanted = Downstream::of(copy, kind);
        let params = PostParams { field_manager: Some(MANAGER.to_owned()), ..Default::default() };
        // A placed Namespace is created under the same lock as the implicit ones, and
        // counts as known once made: the reconciles of the objects in it do not try again.
        let namespace = (key.group.is_empty() && key.resource == "namespaces").then_some(&key.name);
        let _one = match namespace {
            Some(_) => Some(self.creating_namespace.lock().await),
            None => None,
        };
        match send_unread(&self.wec, requests(wec).create(&params, serde_json::to_vec(&wanted)?)).await {
            Ok(()) => {
                if let Some(ns) = namespace {
                    lock(&self.namespaces).insert(ns.clone());
                }
                self.applied.record(key, &wanted);
                self.count(true);
                Ok(())
            }
            // Usually the syncer's own create, whose watch event has not reached the cache
            // yet (not a failed write); looked at again shortly, when the cache says whose
            // it is.
            Err(e) if is_status(&e, 409) => {
                tracing::debug!(?key, "exists already; looked at again once the cache has it");
                self.queue.add_after(key.clone(), std::time::Duration::from_millis(200));
                Ok(())
            }
            Err(e) => {
                self.count(false);
                if is_status(&e, 404) {
                    return Err(SyncError::NotEstablished(format!("{}.{}", key.resource, key.group)));
                }
                Err(e.into())
            }
        }
    }

    /// Server-side apply of the WEC object made from the mailbox copy, unless `current`
    /// (the WEC object, when it may be compared) shows it would change nothing.
    async fn apply(
        &self,
        wec: impl FnOnce() -> Api<Unmanaged>,
        key: &ObjectKey,
        copy: &JsonObject,
        kind: &str,
        current: Option<&JsonObject>,
    ) -> Result<(), SyncError> {
        let object = Downstream::of(copy, kind);
        if self.applied.is_current(key, &object, current) {
            return Ok(());
        }
        let params = PatchParams::apply(MANAGER).force();
        let result = send_unread(&self.wec, requests(&wec()).patch(&key.name, &params, &Patch::Apply(&object))).await;
        self.count(result.is_ok());
        match result {
            Ok(()) => {
                self.applied.record(key, &object);
                Ok(())
            }
            // A custom resource whose CRD is not established yet: retried with backoff.
            Err(e) if is_status(&e, 404) => Err(SyncError::NotEstablished(format!("{}.{}", key.resource, key.group))),
            Err(e) => Err(e.into()),
        }
    }

    /// The kind of resource `r`: as an object of it names it (`named`, from a watch event),
    /// or else (list items carry none) by discovery in the mailbox. Remembered, and looked
    /// up once however many reconciles need it at the same time: 1,000 syncers each asking
    /// for themselves sent 3,200 discovery requests where none was needed.
    async fn kind_of(
        &self,
        r: &ResourceRef,
        cache: &tokio::sync::OnceCell<String>,
        named: Option<&str>,
    ) -> Result<String, SyncError> {
        if let Some(kind) = named.filter(|k| !k.is_empty())
            && !cache.initialized()
        {
            // Lost to another reconcile's answer at worst, which is the same.
            let _ = cache.set(kind.to_owned());
        }
        let found = cache.get_or_try_init(|| async {
            let gv = kube::core::GroupVersion::gv(&r.group, &r.version);
            let group = kube::discovery::oneshot::pinned_group(&self.mailbox, &gv).await?;
            group
                .versioned_resources(&r.version)
                .into_iter()
                .find(|(ar, _)| ar.plural == r.resource)
                .map(|(ar, _)| ar.kind)
                .ok_or_else(|| SyncError::UnknownResource(format!("{}/{}", r.api_version(), r.resource)))
        });
        Ok(found.await?.clone())
    }

    /// Keeps the mailbox's copy of an upsynced WEC object: created, updated, deleted.
    async fn upsync(
        &self,
        ar: &kube::api::ApiResource,
        key: &ObjectKey,
        kind: &str,
        wec: Option<&Value>,
        mailbox_obj: Option<&Value>,
        matchers: &[orrery_api::upsync::UpsyncMatcher],
    ) -> Result<(), SyncError> {
        let mailbox = api(&self.mailbox, ar, key.namespace.as_deref());
        match decide_upsync(key, kind, wec, mailbox_obj, matchers) {
            UpsyncAction::Create | UpsyncAction::Update => {
                let Some(wec) = wec else { return Ok(()) };
                if let Some(ns) = &key.namespace {
                    self.ensure_mailbox_namespace(ns).await?;
                }
                let copy = upsync_copy(wec, kind);
                let params = PatchParams::apply(MANAGER).force();
                mailbox.patch(&key.name, &params, &Patch::Apply(&copy)).await?;
                if let Some(status) = copy.get("status").filter(|s| !s.is_null()) {
                    let patch = Patch::Merge(json!({"status": status}));
                    match mailbox.patch_status(&key.name, &PatchParams::default(), &patch).await {
                        Ok(_) => {}
                        Err(e) if is_status(&e, 404) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                self.telemetry.synced.inc();
                tracing::debug!(?key, "upsynced");
            }
            UpsyncAction::Delete => match mailbox.delete(&key.name, &DeleteParams::default()).await {
                Ok(_) => tracing::debug!(?key, "upsynced copy deleted"),
                Err(e) if is_status(&e, 404) => {}
                Err(e) => return Err(e.into()),
            },
            UpsyncAction::Nothing => {}
            UpsyncAction::Conflict(c) => tracing::warn!(?key, %c, "not upsynced"),
        }
        Ok(())
    }

    async fn ensure_mailbox_namespace(&self, ns: &str) -> Result<(), SyncError> {
        let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.mailbox.clone());
        // Marked as the syncer's own: when `the-one` also lists this Namespace, applying
        // it over this one is not a conflict.
        let object = serde_json::from_value(crate::downstream::implicit_namespace(ns))?;
        match api.create(&PostParams::default(), &object).await {
            Ok(_) => Ok(()),
            Err(e) if is_status(&e, 409) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Records (or clears) a conflict on the mailbox copy, where the center can see it.
    async fn mark_conflict(
        &self,
        ar: &kube::api::ApiResource,
        key: &ObjectKey,
        copy: &JsonObject,
        conflict: Option<&str>,
    ) -> Result<(), SyncError> {
        let has = copy.annotation(CONFLICT);
        if has == conflict {
            return Ok(());
        }
        let message = conflict
            .map(|c| format!("{c}: an object of this name exists in the WEC and was not created by the syncer"));
        let patch = json!({"metadata": {"annotations": {CONFLICT: message}}});
        api(&self.mailbox, ar, key.namespace.as_deref())
            .patch(&key.name, &PatchParams::default(), &Patch::Merge(patch))
            .await?;
        Ok(())
    }

    /// Makes namespace `ns` exist in the WEC before an object is created in it. When
    /// `the-one` places the Namespace itself here, it is created as placed (and recorded as
    /// applied), so its own reconcile finds it current; otherwise it is the implicit one.
    /// (Created implicitly and then applied over, a placed Namespace cost the WEC a second
    /// write four times in ten at 10,000 WECs.)
    async fn ensure_namespace(&self, ns: &str) -> Result<(), SyncError> {
        if lock(&self.namespaces).contains(ns) {
            return Ok(());
        }
        let _one = self.creating_namespace.lock().await;
        if lock(&self.namespaces).contains(ns) {
            return Ok(());
        }
        let key =
            ObjectKey { group: String::new(), resource: "namespaces".into(), namespace: None, name: ns.to_owned() };
        let placed = match self.placed_copy(&key) {
            Placed::Unread => return Err(SyncError::NotReadYet(format!("the placed Namespace {ns}"))),
            Placed::Copy(copy) => Some(copy),
            Placed::No => None,
        };
        let placed = placed.as_deref().map(|copy| Downstream::of(copy, "Namespace"));
        let resource = kube::api::ApiResource::erase::<k8s_openapi::api::core::v1::Namespace>(&());
        let (params, body) = match &placed {
            Some(object) => (
                PostParams { field_manager: Some(MANAGER.to_owned()), ..Default::default() },
                serde_json::to_vec(object)?,
            ),
            // Marked as the syncer's own: when `the-one` also lists this Namespace, applying
            // it over this one is not a conflict.
            None => (PostParams::default(), serde_json::to_vec(&crate::downstream::implicit_namespace(ns))?),
        };
        match send_unread(&self.wec, requests(&api(&self.wec, &resource, None)).create(&params, body)).await {
            Ok(()) => {
                if let Some(object) = &placed {
                    self.applied.record(&key, object);
                    self.count(true);
                }
            }
            Err(e) if is_status(&e, 409) => {}
            Err(e) => return Err(e.into()),
        }
        lock(&self.namespaces).insert(ns.to_owned());
        Ok(())
    }

    /// Whether `the-one` places the object `key` names here, and its mailbox copy.
    fn placed_copy(&self, key: &ObjectKey) -> Placed {
        let wanted = self.wanted.read().unwrap_or_else(|e| e.into_inner()).clone();
        if !wanted.is_some_and(|w| w.wants(key)) {
            return Placed::No;
        }
        let watched = lock(&self.watched);
        let Some((r, w)) = watched_for(&watched, key) else { return Placed::Unread };
        if !w.mailbox_synced.load(std::sync::atomic::Ordering::Acquire) {
            return Placed::Unread;
        }
        // Placed, but not in the mailbox (yet): as if it were not placed.
        w.mailbox.get(&object_ref(key, api_resource(r))).map_or(Placed::No, Placed::Copy)
    }
}

/// The watches of the resource `key` belongs to.
fn watched_for<'w>(
    watched: &'w std::collections::BTreeMap<ResourceRef, super::Watched>,
    key: &ObjectKey,
) -> Option<(&'w ResourceRef, &'w super::Watched)> {
    watched.iter().find(|(r, _)| r.group == key.group && r.resource == key.resource)
}

/// Where the caches keep the object `key` names.
fn object_ref(key: &ObjectKey, resource: kube::api::ApiResource) -> ObjectRef<JsonObject> {
    let at = ObjectRef::new_with(&key.name, resource);
    match &key.namespace {
        Some(ns) => at.within(ns),
        None => at,
    }
}

/// What [`Syncer::placed_copy`] found.
enum Placed {
    /// Not placed here, or placed without a copy in the mailbox.
    No,
    /// Placed, and the mailbox has not been read for it yet.
    Unread,
    Copy(std::sync::Arc<JsonObject>),
}
