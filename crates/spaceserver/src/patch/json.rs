//! RFC 6902 JSON patch (`application/json-patch+json`) with the semantics of the apiserver.
//!
//! Operations are decoded and applied with the `json_patch` crate, except where the library the
//! apiserver links (`gopkg.in/evanphx/json-patch.v4`) reads the document differently from the RFC,
//! because clients are written against the apiserver: in that library an absent member of an
//! *existing object* reads as `null` instead of failing. So
//!
//! * `test` with `"value": null` passes when the member is absent (kube-runtime's `finalizer()`
//!   opens its patch with `{"op":"test","path":"/metadata/finalizers","value":null}` on objects that
//!   have no finalizers yet, and would loop forever if that failed);
//! * `replace` of an absent member adds it;
//! * `copy` from an absent member copies `null`.
//!
//! An absent *parent*, a parent that is not an object, or an array index out of range still fails.

use json_patch::jsonptr::Pointer;
use json_patch::{AddOperation, PatchErrorKind, PatchOperation, TestOperation};
use serde::Deserialize;
use serde_json::Value;

use super::error::{MAX_JSON_PATCH_OPERATIONS, PatchError};

/// Applies an RFC 6902 JSON patch to `target` and returns the patched document. Operations apply in
/// order on a copy, so on error `target` is untouched and nothing of the patch takes effect.
///
/// # Errors
///
/// [`PatchError::BadRequest`] when the patch is not a list of well-formed operations,
/// [`PatchError::TooManyOperations`] past [`MAX_JSON_PATCH_OPERATIONS`], [`PatchError::TestFailed`]
/// when a `test` finds another value, [`PatchError::MissingPath`] when an operation addresses a
/// location that does not exist, and [`PatchError::Invalid`] for a `move` into its own child.
pub fn json_patch(mut doc: Value, patch: &Value) -> Result<Value, PatchError> {
    let operations = decode(patch)?;
    for (index, operation) in operations.into_iter().enumerate() {
        apply(&mut doc, index, operation)?;
    }
    Ok(doc)
}

/// Decodes the whole patch before applying anything, so a malformed operation anywhere is a 400 and
/// never a partial application.
fn decode(patch: &Value) -> Result<Vec<PatchOperation>, PatchError> {
    let Value::Array(items) = patch else {
        return Err(PatchError::BadRequest(format!(
            "json patch must be a JSON array of operations, got {}",
            kind_of(patch)
        )));
    };
    if items.len() > MAX_JSON_PATCH_OPERATIONS {
        return Err(PatchError::TooManyOperations { count: items.len() });
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            operation(item)
                .map_err(|err| PatchError::BadRequest(format!("invalid json patch operation {index}: {err}")))
        })
        .collect()
}

/// One operation, decoded as the struct its `op` names. `PatchOperation` is an internally
/// tagged enum, which serde decodes by first copying the whole operation into a buffer of
/// its own: the value of an `add` (a simulated cluster's whole status) was copied twice.
/// Anything else (no `op`, an unknown one) is left to the enum, for its errors.
fn operation(item: &Value) -> Result<PatchOperation, serde_json::Error> {
    use json_patch::{CopyOperation, MoveOperation, RemoveOperation, ReplaceOperation};
    Ok(match item.get("op").and_then(Value::as_str) {
        Some("add") => PatchOperation::Add(AddOperation::deserialize(item)?),
        Some("remove") => PatchOperation::Remove(RemoveOperation::deserialize(item)?),
        Some("replace") => PatchOperation::Replace(ReplaceOperation::deserialize(item)?),
        Some("move") => PatchOperation::Move(MoveOperation::deserialize(item)?),
        Some("copy") => PatchOperation::Copy(CopyOperation::deserialize(item)?),
        Some("test") => PatchOperation::Test(TestOperation::deserialize(item)?),
        _ => PatchOperation::deserialize(item)?,
    })
}

fn apply(doc: &mut Value, index: usize, operation: PatchOperation) -> Result<(), PatchError> {
    match operation {
        PatchOperation::Test(test) => apply_test(doc, index, &test),
        PatchOperation::Add(add) => add_value(doc, index, add.path, add.value),
        PatchOperation::Replace(replace) => {
            if let Some(slot) = doc.pointer_mut(replace.path.as_str()) {
                *slot = replace.value;
                return Ok(());
            }
            match locate(doc, &replace.path) {
                Slot::AbsentMember => add_value(doc, index, replace.path, replace.value),
                Slot::Present | Slot::Unreachable => delegate(doc, index, &PatchOperation::Replace(replace)),
            }
        }
        PatchOperation::Copy(copy) => match locate(doc, &copy.from) {
            Slot::AbsentMember => add_value(doc, index, copy.path, Value::Null),
            Slot::Present | Slot::Unreachable => delegate(doc, index, &PatchOperation::Copy(copy)),
        },
        operation => delegate(doc, index, &operation),
    }
}

/// An `add`. A member of an object, the usual case, takes the value as it is (the
/// library clones each operation's value to apply it); the rest is the library's.
fn add_value(
    doc: &mut Value,
    index: usize,
    path: json_patch::jsonptr::PointerBuf,
    value: Value,
) -> Result<(), PatchError> {
    if let Some((parent, last)) = path.split_back()
        && let Some(Value::Object(members)) = doc.pointer_mut(parent.as_str())
    {
        members.insert(last.decoded().into_owned(), value);
        return Ok(());
    }
    delegate(doc, index, &PatchOperation::Add(AddOperation { path, value }))
}

fn apply_test(doc: &Value, index: usize, test: &TestOperation) -> Result<(), PatchError> {
    let passed = match doc.pointer(test.path.as_str()) {
        Some(found) => json_equal(found, &test.value),
        None => match locate(doc, &test.path) {
            Slot::AbsentMember => test.value.is_null(),
            Slot::Present | Slot::Unreachable => {
                return Err(PatchError::MissingPath { index, op: "test", path: test.path.to_string() });
            }
        },
    };
    if passed { Ok(()) } else { Err(PatchError::TestFailed { index, path: test.path.to_string() }) }
}

/// Applies one operation with the `json_patch` crate. The document is a private copy that is
/// dropped on error, so the crate's own undo is not needed.
fn delegate(doc: &mut Value, index: usize, operation: &PatchOperation) -> Result<(), PatchError> {
    json_patch::patch_unsafe(doc, std::slice::from_ref(operation)).map_err(|err| {
        let op = op_name(operation);
        match err.kind {
            PatchErrorKind::TestFailed => PatchError::TestFailed { index, path: operation.path().to_string() },
            PatchErrorKind::InvalidPointer => PatchError::MissingPath { index, op, path: operation.path().to_string() },
            PatchErrorKind::InvalidFromPointer => {
                let from = match operation {
                    PatchOperation::Move(op) => op.from.to_string(),
                    PatchOperation::Copy(op) => op.from.to_string(),
                    other => other.path().to_string(),
                };
                PatchError::MissingPath { index, op, path: from }
            }
            other => {
                PatchError::Invalid(format!("{op} operation {index} failed at path {}: {other}", operation.path()))
            }
        }
    })
}

/// Where a pointer leads in the document, in the terms the Go library distinguishes.
enum Slot {
    /// The pointer resolves.
    Present,
    /// The parent is an object that lacks the last token: reads as `null` in Go.
    AbsentMember,
    /// The parent is absent, is not an object, or the index is out of range.
    Unreachable,
}

fn locate(doc: &Value, path: &Pointer) -> Slot {
    if doc.pointer(path.as_str()).is_some() {
        return Slot::Present;
    }
    match path.split_back() {
        Some((parent, _)) if doc.pointer(parent.as_str()).is_some_and(Value::is_object) => Slot::AbsentMember,
        _ => Slot::Unreachable,
    }
}

/// Equality as the Go library computes it: it decodes both sides into Go values, where every JSON
/// number is a float64, so `1` and `1.0` are equal.
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y || matches!((x.as_f64(), y.as_f64()), (Some(x), Some(y)) if x == y)
        }
        (Value::Array(xs), Value::Array(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| json_equal(x, y))
        }
        (Value::Object(xs), Value::Object(ys)) => {
            xs.len() == ys.len() && xs.iter().all(|(key, x)| ys.get(key).is_some_and(|y| json_equal(x, y)))
        }
        _ => a == b,
    }
}

fn op_name(operation: &PatchOperation) -> &'static str {
    match operation {
        PatchOperation::Add(_) => "add",
        PatchOperation::Remove(_) => "remove",
        PatchOperation::Replace(_) => "replace",
        PatchOperation::Move(_) => "move",
        PatchOperation::Copy(_) => "copy",
        PatchOperation::Test(_) => "test",
    }
}

pub(super) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::{Value, json};

    use super::json_patch;
    use crate::patch::PatchError;

    /// Each operation decodes as the tagged enum decodes it: the same operation, or the
    /// same error.
    #[test]
    fn operations_decode_as_the_tagged_enum_does() {
        let items = [
            json!({"op": "add", "path": "/a/b", "value": {"c": [1, "d", null]}}),
            json!({"op": "add", "path": "/a", "value": null}),
            json!({"op": "add", "path": "/a"}),
            json!({"op": "add", "value": 1}),
            json!({"op": "add", "path": 3, "value": 1}),
            json!({"op": "add", "path": "a", "value": 1}),
            json!({"op": "remove", "path": "/a/0"}),
            json!({"op": "replace", "path": "/a~1b/~0c", "value": "x"}),
            json!({"op": "move", "from": "/a", "path": "/b"}),
            json!({"op": "move", "path": "/b"}),
            json!({"op": "copy", "from": "/a", "path": "/b", "extra": true}),
            json!({"op": "test", "path": "/a", "value": 1}),
            json!({"op": "frobnicate", "path": "/a"}),
            json!({"op": 1, "path": "/a"}),
            json!({"path": "/a", "value": 1}),
            json!("add"),
            json!(null),
        ];
        for item in items {
            let ours = super::operation(&item).map(|o| serde_json::to_value(o).expect("encodes"));
            let theirs =
                json_patch::PatchOperation::deserialize(&item).map(|o| serde_json::to_value(o).expect("encodes"));
            match (ours, theirs) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{item}"),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{item}"),
                (a, b) => panic!("{item}: {a:?} against {b:?}"),
            }
        }
    }

    /// Adds and replaces, which move their values in, do what the library does wherever
    /// the apiserver's library agrees with the RFC (the parent exists).
    #[test]
    fn adds_and_replaces_match_the_library() {
        let doc = json!({"a": {"b": 1, "c/d": 2, "e~f": 3}, "l": [1, 2], "s": "x"});
        let patches = [
            json!([{"op": "add", "path": "/a/b", "value": {"deep": [1]}}]),
            json!([{"op": "add", "path": "/a/new", "value": [1, {"x": null}]}]),
            json!([{"op": "add", "path": "/a/c~1d", "value": 9}]),
            json!([{"op": "add", "path": "/a/e~0f", "value": 9}]),
            json!([{"op": "add", "path": "/a/-", "value": 9}]),
            json!([{"op": "add", "path": "/a/", "value": 9}]),
            json!([{"op": "add", "path": "/l/-", "value": 3}]),
            json!([{"op": "add", "path": "/l/0", "value": 0}]),
            json!([{"op": "add", "path": "", "value": {"whole": true}}]),
            json!([{"op": "add", "path": "/status", "value": {"ready": 1}}, {"op": "add", "path": "/status/n", "value": 2}]),
            json!([{"op": "replace", "path": "/a/b", "value": [true]}]),
            json!([{"op": "replace", "path": "/l/1", "value": 7}]),
            json!([{"op": "replace", "path": "", "value": [1]}]),
            json!([{"op": "replace", "path": "/s", "value": {"y": "z"}}]),
        ];
        for patch in patches {
            let ours = json_patch(doc.clone(), &patch).expect("applies");
            let mut theirs = doc.clone();
            let ops: json_patch::Patch = serde_json::from_value(patch.clone()).expect("decodes");
            json_patch::patch(&mut theirs, &ops).expect("the library applies it");
            assert_eq!(ours, theirs, "{patch}");
        }
        for patch in
            [json!([{"op": "add", "path": "/s/x", "value": 1}]), json!([{"op": "add", "path": "/l/9", "value": 1}])]
        {
            assert!(
                matches!(json_patch(doc.clone(), &patch), Err(PatchError::MissingPath { op: "add", .. })),
                "{patch}"
            );
        }
    }

    fn pod() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web-0", "namespace": "default", "labels": {"app": "web"}, "resourceVersion": "7"},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}, {"name": "sidecar", "image": "busybox"}]}
        })
    }

    /// Outcome a case expects: the listed pointers hold these values (`None`: absent), or an error
    /// of this HTTP status and this variant.
    enum Expect {
        Ok(Vec<(&'static str, Option<Value>)>),
        Err(u16, fn(&PatchError) -> bool),
    }

    #[test]
    fn operations() {
        let cases: Vec<(&str, Value, Expect)> = vec![
            (
                "add a label",
                json!([{"op": "add", "path": "/metadata/labels/tier", "value": "frontend"}]),
                Expect::Ok(vec![
                    ("/metadata/labels/tier", Some(json!("frontend"))),
                    ("/metadata/labels/app", Some(json!("web"))),
                ]),
            ),
            (
                "add appends to a list with -",
                json!([{"op": "add", "path": "/spec/containers/-", "value": {"name": "metrics", "image": "prom"}}]),
                Expect::Ok(vec![("/spec/containers/2/name", Some(json!("metrics")))]),
            ),
            (
                "remove a label",
                json!([{"op": "remove", "path": "/metadata/labels/app"}]),
                Expect::Ok(vec![("/metadata/labels/app", None)]),
            ),
            (
                "replace an image",
                json!([{"op": "replace", "path": "/spec/containers/0/image", "value": "nginx:1.26"}]),
                Expect::Ok(vec![("/spec/containers/0/image", Some(json!("nginx:1.26")))]),
            ),
            (
                "replace of an absent member adds it, as in evanphx/json-patch v4",
                json!([{"op": "replace", "path": "/metadata/annotations", "value": {"a": "b"}}]),
                Expect::Ok(vec![("/metadata/annotations/a", Some(json!("b")))]),
            ),
            (
                "move a container to the front",
                json!([{"op": "move", "from": "/spec/containers/1", "path": "/spec/containers/0"}]),
                Expect::Ok(vec![
                    ("/spec/containers/0/name", Some(json!("sidecar"))),
                    ("/spec/containers/1/name", Some(json!("app"))),
                ]),
            ),
            (
                "copy a label into an annotation",
                json!([
                    {"op": "add", "path": "/metadata/annotations", "value": {}},
                    {"op": "copy", "from": "/metadata/labels/app", "path": "/metadata/annotations/app"}
                ]),
                Expect::Ok(vec![
                    ("/metadata/annotations/app", Some(json!("web"))),
                    ("/metadata/labels/app", Some(json!("web"))),
                ]),
            ),
            (
                "test passes on an equal value, then the next operation applies",
                json!([
                    {"op": "test", "path": "/metadata/resourceVersion", "value": "7"},
                    {"op": "replace", "path": "/metadata/labels/app", "value": "api"}
                ]),
                Expect::Ok(vec![("/metadata/labels/app", Some(json!("api")))]),
            ),
            (
                "test compares numbers as Go float64s",
                json!([
                    {"op": "add", "path": "/spec/priority", "value": 1},
                    {"op": "test", "path": "/spec/priority", "value": 1.0}
                ]),
                Expect::Ok(vec![("/spec/priority", Some(json!(1)))]),
            ),
            (
                "kube-runtime finalizer(): test null on an absent member passes",
                json!([
                    {"op": "test", "path": "/metadata/finalizers", "value": null},
                    {"op": "add", "path": "/metadata/finalizers", "value": ["orrery.io/cleanup"]}
                ]),
                Expect::Ok(vec![("/metadata/finalizers", Some(json!(["orrery.io/cleanup"])))]),
            ),
            (
                "test of a present member against another value fails",
                json!([{"op": "test", "path": "/metadata/resourceVersion", "value": "6"}]),
                Expect::Err(422, |e| matches!(e, PatchError::TestFailed { index: 0, .. })),
            ),
            (
                "test null against a present member fails",
                json!([{"op": "test", "path": "/metadata/labels", "value": null}]),
                Expect::Err(422, |e| matches!(e, PatchError::TestFailed { .. })),
            ),
            (
                "test non-null on an absent member fails as a test",
                json!([{"op": "test", "path": "/metadata/finalizers", "value": ["x"]}]),
                Expect::Err(422, |e| matches!(e, PatchError::TestFailed { .. })),
            ),
            (
                "test under a missing parent fails as a missing path",
                json!([{"op": "test", "path": "/status/conditions", "value": null}]),
                Expect::Err(422, |e| matches!(e, PatchError::MissingPath { op: "test", .. })),
            ),
            (
                "test past the end of a list fails as a missing path",
                json!([{"op": "test", "path": "/spec/containers/5", "value": null}]),
                Expect::Err(422, |e| matches!(e, PatchError::MissingPath { op: "test", .. })),
            ),
            (
                "the index of the failing operation is reported",
                json!([
                    {"op": "add", "path": "/metadata/labels/x", "value": "y"},
                    {"op": "test", "path": "/metadata/labels/x", "value": "z"}
                ]),
                Expect::Err(422, |e| matches!(e, PatchError::TestFailed { index: 1, .. })),
            ),
            (
                "remove of an absent member",
                json!([{"op": "remove", "path": "/metadata/annotations"}]),
                Expect::Err(422, |e| matches!(e, PatchError::MissingPath { op: "remove", .. })),
            ),
            (
                "add under a missing parent",
                json!([{"op": "add", "path": "/status/phase/x", "value": 1}]),
                Expect::Err(422, |e| matches!(e, PatchError::MissingPath { op: "add", .. })),
            ),
            (
                "move from an absent member",
                json!([{"op": "move", "from": "/metadata/nope", "path": "/metadata/other"}]),
                Expect::Err(
                    422,
                    |e| matches!(e, PatchError::MissingPath { op: "move", path, .. } if path == "/metadata/nope"),
                ),
            ),
            (
                "move into its own child",
                json!([{"op": "move", "from": "/metadata", "path": "/metadata/labels/m"}]),
                Expect::Err(422, |e| matches!(e, PatchError::Invalid(_))),
            ),
            (
                "not an array",
                json!({"op": "add", "path": "/a", "value": 1}),
                Expect::Err(400, |e| matches!(e, PatchError::BadRequest(_))),
            ),
            (
                "unknown op",
                json!([{"op": "frobnicate", "path": "/metadata/name"}]),
                Expect::Err(400, |e| matches!(e, PatchError::BadRequest(_))),
            ),
            (
                "path that is not a JSON pointer",
                json!([{"op": "remove", "path": "metadata/name"}]),
                Expect::Err(400, |e| matches!(e, PatchError::BadRequest(_))),
            ),
            (
                "add without a value",
                json!([{"op": "add", "path": "/metadata/labels/x"}]),
                Expect::Err(400, |e| matches!(e, PatchError::BadRequest(_))),
            ),
            (
                "operation that is not an object",
                json!(["add"]),
                Expect::Err(400, |e| matches!(e, PatchError::BadRequest(_))),
            ),
        ];
        for (name, patch, expect) in cases {
            let target = pod();
            let result = json_patch(target.clone(), &patch);
            assert_eq!(target, pod(), "{name}: the target must not change");
            match (expect, result) {
                (Expect::Ok(checks), Ok(doc)) => {
                    for (pointer, want) in checks {
                        assert_eq!(doc.pointer(pointer), want.as_ref(), "{name}: {pointer}");
                    }
                }
                (Expect::Err(status, is), Err(err)) => {
                    assert_eq!(err.status_code(), status, "{name}: {err:?}");
                    assert!(is(&err), "{name}: unexpected {err:?}");
                }
                (Expect::Ok(_), Err(err)) => panic!("{name}: unexpected error {err:?}"),
                (Expect::Err(..), Ok(doc)) => panic!("{name}: expected an error, got {doc}"),
            }
        }
    }

    #[test]
    fn too_many_operations() {
        let ops: Vec<Value> = (0..=super::MAX_JSON_PATCH_OPERATIONS)
            .map(|_| json!({"op": "test", "path": "/kind", "value": "Pod"}))
            .collect();
        let err = json_patch(pod(), &Value::Array(ops)).unwrap_err();
        assert_eq!((err.status_code(), err.reason()), (413, "RequestEntityTooLarge"));
        assert_eq!(
            err.message(),
            "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001"
        );
    }
}
