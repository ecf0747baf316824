//! CEL expressions over one edge cluster's report, as StatusCollectors write them.
//!
//! An expression sees four variables, exactly as KubeStellar's:
//!
//! | variable | value |
//! |---|---|
//! | `inventory.name` | the SyncTarget's name |
//! | `obj` | the workload object in the WDS as [`object_seen`] gives it: without `status` |
//! | `returned.status` | the `.status` the WEC reported (through the mailbox copy) |
//! | `propagation.lastReturnedUpdateTimestamp` | when that status was last written, RFC 3339 |
//!
//! JSON integers become CEL `int` (as Kubernetes' CEL does), so `returned.status.replicas + 1`
//! works. Objects are untyped maps: a missing field is an evaluation error (use `has()`),
//! not a type-check error, because orrery does not type-check against OpenAPI schemas.

use cel::objects::Key;
use cel::{Context, Env, Program};
use orrery_api::keys::{EXECUTING_COUNT, SINGLETON_STATUS};
use orrery_api::{Value as Cell, ValueType};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

/// The standard CEL environment, shared by every expression.
static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| Arc::new(Env::stdlib()));

/// A parsed expression.
pub struct Expr {
    program: Program,
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Expr")
    }
}

impl Expr {
    /// Parses `source`; the error is the parser's message, with where it went wrong.
    pub fn parse(source: &str) -> Result<Self, String> {
        if source.trim().is_empty() {
            return Err("empty expression".into());
        }
        ENV.compile(source).map(|program| Self { program }).map_err(|e| e.to_string().trim_end().to_owned())
    }

    /// Evaluates in a report's scope ([`Report::scope`]).
    pub fn eval(&self, scope: &Context<'_, '_>) -> Result<cel::Value, String> {
        self.program.execute(scope).map_err(|e| e.to_string())
    }
}

/// The workload object as collector expressions see it (`obj`): as its author wrote it and
/// as it is identified, without what the object's writes and the summary itself change,
/// that is `status`, `metadata.managedFields`, `metadata.resourceVersion` and the
/// summarizer's own annotations ([`EXECUTING_COUNT`], [`SINGLETON_STATUS`]). A row is
/// computed again only when this changes or its WEC's report does; with those fields in,
/// each summary's own write changed the object, and every pass computed every row again
/// (at 10,000 WECs, the four workers' passes at once held a few hundred MB).
pub fn object_seen(object: &Value) -> Value {
    let mut seen = orrery_api::object::without_status(object);
    if let Some(Value::Object(meta)) = seen.get_mut("metadata") {
        meta.remove("managedFields");
        meta.remove("resourceVersion");
        if let Some(Value::Object(annotations)) = meta.get_mut("annotations") {
            annotations.remove(EXECUTING_COUNT);
            annotations.remove(SINGLETON_STATUS);
            if annotations.is_empty() {
                meta.remove("annotations");
            }
        }
    }
    seen
}

/// The scope shared by every row about one object: `obj`. Converting the object into
/// CEL's own representation once, not once per row, is what keeps a summary over 1,000
/// WECs cheap.
pub fn root(obj: &cel::Value) -> Context<'static, 'static> {
    let mut ctx = Context::with_env(ENV.clone());
    ctx.add_variable_from_value("obj", obj.clone());
    ctx
}

/// What one edge cluster reported about one workload object, as CEL values.
#[derive(Clone, Debug)]
pub struct Report {
    pub wec: String,
    inventory: cel::Value,
    returned: cel::Value,
    propagation: cel::Value,
}

impl Report {
    /// `wec` is the SyncTarget's name.
    pub fn new(wec: &str, status: Option<&Value>, returned_at: Option<&str>) -> Self {
        let map = |k: &str, v: cel::Value| cel::Value::from(HashMap::from([(k.to_owned(), v)]));
        Self {
            wec: wec.to_owned(),
            inventory: map("name", wec.into()),
            returned: map("status", status.map_or(cel::Value::Null, to_cel)),
            propagation: map("lastReturnedUpdateTimestamp", returned_at.map_or(cel::Value::Null, cel::Value::from)),
        }
    }

    /// The scope of this report's expressions: `root` (with `obj`) plus `inventory`,
    /// `returned` and `propagation`.
    pub fn scope<'p>(&self, root: &'p Context<'p, 'static>) -> Context<'p, 'static> {
        let mut ctx = root.new_inner_scope();
        ctx.add_variable_from_value("inventory", self.inventory.clone());
        ctx.add_variable_from_value("returned", self.returned.clone());
        ctx.add_variable_from_value("propagation", self.propagation.clone());
        ctx
    }
}

/// JSON as CEL sees it: integers are `int` (or `uint` beyond `i64`), other numbers
/// `double`.
pub fn to_cel(v: &Value) -> cel::Value {
    match v {
        Value::Null => cel::Value::Null,
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => cel::Value::Int(i),
            (None, Some(u)) => cel::Value::UInt(u),
            _ => cel::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => cel::Value::from(s.as_str()),
        Value::Array(a) => cel::Value::List(Arc::new(a.iter().map(to_cel).collect())),
        Value::Object(o) => {
            cel::Value::from(o.iter().map(|(k, v)| (k.clone(), to_cel(v))).collect::<HashMap<String, cel::Value>>())
        }
    }
}

/// A CEL value as JSON, for object and array cells. NaN and the infinities have no JSON
/// form, and functions or opaque values are not data.
pub fn to_json(v: &cel::Value) -> Result<Value, String> {
    Ok(match v {
        cel::Value::Null => Value::Null,
        cel::Value::Bool(b) => Value::Bool(*b),
        cel::Value::Int(i) => Value::from(*i),
        cel::Value::UInt(u) => Value::from(*u),
        cel::Value::Float(f) => {
            serde_json::Number::from_f64(*f).map(Value::Number).ok_or_else(|| format!("{f} has no JSON form"))?
        }
        cel::Value::String(s) => Value::String(s.to_string()),
        cel::Value::List(l) => Value::Array(l.iter().map(to_json).collect::<Result<_, _>>()?),
        cel::Value::Map(m) => {
            let mut out = serde_json::Map::new();
            for (k, v) in m.map.iter() {
                let key = match k {
                    Key::String(s) => s.to_string(),
                    Key::Int(i) => i.to_string(),
                    Key::Uint(u) => u.to_string(),
                    Key::Bool(b) => b.to_string(),
                };
                out.insert(key, to_json(v)?);
            }
            Value::Object(out)
        }
        other => return Err(format!("a {} is not data", other.type_of())),
    })
}

/// A CEL value as a CombinedStatus cell.
pub fn to_cell(v: &cel::Value) -> Result<Cell, String> {
    Ok(match v {
        cel::Value::Null => Cell { type_: ValueType::Null, ..Cell::default() },
        cel::Value::Bool(b) => Cell { type_: ValueType::Bool, bool: Some(*b), ..Cell::default() },
        cel::Value::Int(i) => number_cell(*i as f64),
        cel::Value::UInt(u) => number_cell(*u as f64),
        cel::Value::Float(f) => number_cell(*f),
        cel::Value::String(s) => Cell { type_: ValueType::String, string: Some(s.to_string()), ..Cell::default() },
        cel::Value::List(_) => Cell { type_: ValueType::Array, array: Some(to_json(v)?), ..Cell::default() },
        cel::Value::Map(_) => Cell { type_: ValueType::Object, object: Some(to_json(v)?), ..Cell::default() },
        other => return Err(format!("a {} is not a column value", other.type_of())),
    })
}

pub fn number_cell(f: f64) -> Cell {
    Cell { type_: ValueType::Number, number: Some(format_number(f)), ..Cell::default() }
}

/// A number as decimal text, as Go's `strconv.FormatFloat(f, 'g', -1, 64)` spells the
/// common cases: integers without a fraction, `NaN`, `+Inf`, `-Inf`.
pub fn format_number(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        // Rust's shortest round-trip form: `3` for 3.0, `2.5`, `1e21`.
        format!("{f}")
    }
}

/// Whether a value can be a `groupBy` key.
pub fn is_atomic(v: &cel::Value) -> bool {
    matches!(
        v,
        cel::Value::Null
            | cel::Value::Bool(_)
            | cel::Value::Int(_)
            | cel::Value::UInt(_)
            | cel::Value::Float(_)
            | cel::Value::String(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(src: &str, status: Option<Value>) -> Result<cel::Value, String> {
        let obj = to_cel(&json!({"metadata": {"name": "web", "labels": {"app": "web"}}, "spec": {"replicas": 3}}));
        let report = Report::new("c1", status.as_ref(), Some("2026-11-22T10:00:00Z"));
        let root = root(&obj);
        Expr::parse(src)?.eval(&report.scope(&root))
    }

    #[test]
    fn variables_and_types() {
        let status =
            Some(json!({"readyReplicas": 2, "ratio": 0.5, "conditions": [{"type": "Available", "status": "True"}]}));
        let table: &[(&str, cel::Value)] = &[
            ("inventory.name", "c1".into()),
            ("obj.spec.replicas", cel::Value::Int(3)),
            ("returned.status.readyReplicas + 1", cel::Value::Int(3)),
            ("returned.status.readyReplicas < obj.spec.replicas", true.into()),
            ("returned.status.ratio * 2.0", cel::Value::Float(1.0)),
            ("returned.status.conditions.exists(c, c.type == 'Available' && c.status == 'True')", true.into()),
            ("has(returned.status.missing)", false.into()),
            ("obj.metadata.labels.app", "web".into()),
            ("propagation.lastReturnedUpdateTimestamp", "2026-11-22T10:00:00Z".into()),
        ];
        for (src, want) in table {
            assert_eq!(eval(src, status.clone()).as_ref(), Ok(want), "{src}");
        }
    }

    #[test]
    fn the_object_is_seen_without_what_writes_and_summaries_change() {
        let seen = |o: Value| object_seen(&o);
        let table: Vec<(Value, Value)> = vec![
            (
                json!({"metadata": {"name": "web", "resourceVersion": "7", "generation": 2,
                                    "managedFields": [{"manager": "m"}],
                                    "annotations": {EXECUTING_COUNT: "3", SINGLETON_STATUS: "x", "team": "a"}},
                       "spec": {"replicas": 3}, "status": {"readyReplicas": 3}}),
                json!({"metadata": {"name": "web", "generation": 2, "annotations": {"team": "a"}},
                       "spec": {"replicas": 3}}),
            ),
            (
                json!({"metadata": {"name": "web", "annotations": {EXECUTING_COUNT: "3"}}, "spec": {}}),
                json!({"metadata": {"name": "web"}, "spec": {}}),
            ),
            (json!({"metadata": "odd", "status": 1}), json!({"metadata": "odd"})),
            (json!("not an object"), json!("not an object")),
        ];
        for (object, want) in table {
            assert_eq!(seen(object.clone()), want, "{object}");
        }
    }

    #[test]
    fn errors_are_messages() {
        assert!(Expr::parse("1 +").unwrap_err().contains("Syntax error"));
        assert_eq!(Expr::parse("  ").unwrap_err(), "empty expression");
        assert!(eval("returned.status.missing", Some(json!({}))).unwrap_err().contains("missing"));
        // Nothing returned: `returned.status` is null.
        assert_eq!(eval("returned.status == null", None), Ok(true.into()));
        assert!(eval("returned.status.readyReplicas", None).is_err());
    }

    #[test]
    fn cells() {
        let table: &[(cel::Value, Cell)] = &[
            (cel::Value::Int(3), number_cell(3.0)),
            (cel::Value::Float(2.5), number_cell(2.5)),
            ("x".into(), Cell { type_: ValueType::String, string: Some("x".into()), ..Cell::default() }),
            (true.into(), Cell { type_: ValueType::Bool, bool: Some(true), ..Cell::default() }),
            (cel::Value::Null, Cell::default()),
            (
                to_cel(&json!([1, "a"])),
                Cell { type_: ValueType::Array, array: Some(json!([1, "a"])), ..Cell::default() },
            ),
            (
                to_cel(&json!({"a": {"b": 1}})),
                Cell { type_: ValueType::Object, object: Some(json!({"a": {"b": 1}})), ..Cell::default() },
            ),
        ];
        for (v, want) in table {
            assert_eq!(to_cell(v).as_ref(), Ok(want), "{v:?}");
        }
        assert_eq!(number_cell(3.0).number.as_deref(), Some("3"));
        let formats =
            [(f64::NAN, "NaN"), (f64::INFINITY, "+Inf"), (f64::NEG_INFINITY, "-Inf"), (0.1, "0.1"), (-2.0, "-2")];
        for (f, want) in formats {
            assert_eq!(format_number(f), want);
        }
    }
}
