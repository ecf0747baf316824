//! Lists: selectors, paging with continue tokens that read one snapshot, resourceVersion
//! semantics, and lists across all spaces.

use super::crud::{parse_stored, present, store_error};
use super::params::RvMatch;
use super::presenting::Presenter;
use super::selection::Selection;
use super::status::ApiError;
use super::{ApiServer, Ctx, Result, SPACE_ANNOTATION, table};
use crate::store::{Key, ListRequest, Prefix, ReadAt, Revision, Stored};
use axum::response::Response;
use base64::Engine;
use serde_json::{Value, json};
use std::sync::Arc;

pub(super) fn prefix(ctx: &Ctx, wildcard: bool) -> Prefix {
    Prefix {
        resource: ctx.info.storage.clone(),
        space: (!wildcard).then(|| ctx.space.clone()),
        namespace: ctx.path.namespace.clone(),
    }
}

/// The continue token: the revision of the first page and the last key returned.
#[derive(serde::Serialize, serde::Deserialize)]
struct Continue {
    rv: Revision,
    #[serde(rename = "r")]
    resource: String,
    #[serde(rename = "s")]
    space: String,
    #[serde(rename = "n")]
    namespace: String,
    #[serde(rename = "k")]
    name: String,
}

fn encode_continue(rv: Revision, key: &Key) -> String {
    let c = Continue {
        rv,
        resource: key.resource().to_owned(),
        space: key.space().to_owned(),
        namespace: key.namespace().to_owned(),
        name: key.name().to_owned(),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap_or_default())
}

fn decode_continue(token: &str) -> Result<(Revision, Key)> {
    let bad = || ApiError::bad_request(format!("invalid continue token {token:?}"));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let c: Continue = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if [&c.resource, &c.space, &c.namespace, &c.name].iter().any(|p| p.contains('\0')) {
        return Err(bad());
    }
    Ok((c.rv, Key::new(&c.resource, &c.space, &c.namespace, &c.name)))
}

/// Where a read starts, from `resourceVersion`, `resourceVersionMatch` and `continue`.
pub(super) fn read_at(server: &Arc<ApiServer>, ctx: &Ctx) -> Result<ReadAt> {
    let rv = match ctx.params.resource_version.as_deref() {
        None | Some("0") => return Ok(ReadAt::Latest),
        Some(rv) => {
            rv.parse::<Revision>().map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv:?}")))?
        }
    };
    let current = server.store.revision();
    if rv > current {
        return Err(ApiError::timeout(format!("Too large resource version: {rv}, current: {current}")));
    }
    Ok(match ctx.params.resource_version_match {
        RvMatch::Exact => ReadAt::Exact(rv),
        RvMatch::NotOlderThan | RvMatch::Unset => ReadAt::Latest,
    })
}

/// Adds the space annotation to objects of a wildcard list or watch.
pub(super) fn tag_space(obj: &mut Value, space: &str) {
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        let annotations = m.entry("annotations").or_insert_with(|| json!({}));
        if let Some(a) = annotations.as_object_mut() {
            a.insert(SPACE_ANNOTATION.into(), Value::String(space.to_owned()));
        }
    }
}

pub(super) async fn list(server: &Arc<ApiServer>, ctx: Ctx, wildcard: bool) -> Result<Response> {
    if ctx.path.subresource.is_some() {
        return Err(ApiError::no_route());
    }
    let selection = Selection::new(&ctx)?;
    let (at, after) = match &ctx.params.continue_token {
        Some(token) => {
            let (rv, key) = decode_continue(token)?;
            (ReadAt::Exact(rv), Some(key))
        }
        None => (read_at(server, &ctx)?, None),
    };
    let filter = selection.filter();
    let page = server
        .store
        .list(&prefix(&ctx, wildcard), ListRequest { at, after, limit: ctx.params.limit, filter })
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Expired { .. } if ctx.params.continue_token.is_some() => ApiError::gone(
                "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
            ),
            e => store_error(&ctx, "", e),
        })?;
    let continue_token =
        if page.more { page.items.last().map(|(k, _)| encode_continue(page.revision, k)) } else { None };
    let mut metadata = json!({"resourceVersion": page.revision.to_string()});
    if let Some(c) = continue_token {
        metadata["continue"] = Value::String(c);
    }
    if table::wants_table(&ctx) {
        let mut items = Vec::with_capacity(page.items.len());
        for (key, stored) in &page.items {
            items.push(presented(&ctx, key, stored, wildcard)?);
        }
        return Ok(super::json_response(200, &table::list_table(&ctx, metadata, &items)));
    }
    let list = ListBody {
        api_version: ctx.info.api_version(),
        kind: ctx.info.list_kind(),
        metadata,
        items: Items { ctx: &ctx, page: &page.items, wildcard },
    };
    let body = serde_json::to_vec(&list).map_err(|e| ApiError::internal(format!("encoding the list: {e}")))?;
    Ok(super::bytes_response(200, body))
}

/// One listed object as the request sees it.
fn presented(ctx: &Ctx, key: &Key, stored: &Stored, wildcard: bool) -> Result<Value> {
    let mut obj = present(ctx, parse_stored(stored)?);
    if wildcard {
        tag_space(&mut obj, key.space());
    }
    Ok(obj)
}

/// A list response, its fields in the order the Kubernetes API server writes them.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ListBody<'a> {
    api_version: String,
    kind: String,
    metadata: Value,
    items: Items<'a>,
}

/// A page's objects, each presented and encoded in turn, straight from its stored JSON
/// when it can be ([`Presenter`]): a list of ten thousand copies across mailboxes never
/// holds more than one of them decoded.
struct Items<'a> {
    ctx: &'a Ctx,
    page: &'a [(Key, Stored)],
    wildcard: bool,
}

impl serde::Serialize for Items<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let mut seq = serializer.serialize_seq(Some(self.page.len()))?;
        let presenter = Presenter::new(self.ctx);
        for (key, stored) in self.page {
            let space = self.wildcard.then_some(key.space());
            let object = presenter
                .present(&stored.json, stored.revision, space)
                .ok_or_else(|| S::Error::custom(format!("stored object {} unreadable", key.name())))?;
            seq.serialize_element(&object)?;
        }
        seq.end()
    }
}

/// Every object the request's selectors match, at the newest revision.
pub(super) async fn matching(server: &Arc<ApiServer>, ctx: &Ctx, wildcard: bool) -> Result<Vec<(Key, Stored)>> {
    let filter = Selection::new(ctx)?.filter();
    let page = server
        .store
        .list(&prefix(ctx, wildcard), ListRequest { at: ReadAt::Latest, after: None, limit: None, filter })
        .await
        .map_err(|e| store_error(ctx, "", e))?;
    Ok(page.items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let key = Key::new("core/configmaps", "s1", "default", "c7");
        let token = encode_continue(42, &key);
        let (rv, back) = decode_continue(&token).expect("decodes");
        assert_eq!((rv, back), (42, key));
        for bad in ["", "!!!", "e30"] {
            assert_eq!(decode_continue(bad).map(|_| ()).expect_err(bad).code, 400, "{bad:?}");
        }
    }
}
