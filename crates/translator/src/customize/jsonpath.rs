//! The JSONPath subset of Customizer `replacements[].path`, and replacing what it selects.
//!
//! Semantics follow KubeStellar v0.14.2 `pkg/jsonpath` (`Apply` with `definite=true`, as
//! `pkg/customize` calls it), so a Customizer written for KubeStellar edits the same places:
//!
//! - `.name` / `['name']` selects a member of an object; on anything else it selects nothing.
//! - `.3` / `[3]` selects an array element; an index past the end selects nothing (arrays
//!   are never grown), and on a non-array it selects nothing.
//! - `[a:b:s]` selects elements `a, a+s, …` below `min(b, len)` (`b` absent = to the end).
//! - `[i,j]` / `['x','y']` select each item in turn.
//! - `.*` / `[*]` selects every element or member.
//! - `..` selects the current value and every value under it, a parent before its children,
//!   then applies the rest of the path to each.
//!
//! **Creating members.** While every selector so far is *definite* — a name, an index, a
//! list of those, or a slice of exactly one element (`[i:i+1]` or `[i:i+1:1]`), as in
//! KubeStellar — a missing object member is created. After `*`, `..` or a wider slice
//! nothing is created: only existing places are replaced. orrery creates the whole missing
//! chain of objects for a path like `$.spec.selector.matchLabels.tier` (KubeStellar creates
//! only a missing *last* member; for a missing middle one it stores `null` there, which
//! nobody wants). A member that is `null` counts as missing when more names follow, since
//! Kubernetes treats a null member as unset. Arrays are never created or extended.
//!
//! **What gets replaced.** Matches are found in the object as it was before this
//! replacement, parents before children; a match that an earlier match of the same path
//! already replaced away (`$..a` matching both `a` and `a.b.a`) is skipped. Replacement
//! values are never searched again — KubeStellar does search them, which for a value that
//! contains its own match (`$..a` := `{"a": 1}`) recurses forever.

mod parse;
#[cfg(test)]
mod tests;

use serde_json::{Map, Value};
use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

/// One step of a [`Path`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// `.name` or `['name']`: an object member.
    Name(String),
    /// `.3` or `[3]`: an array element.
    Index(usize),
    /// `[start:end:stride]`: array elements `start, start+stride, …` below `end`.
    Slice { start: usize, end: Option<usize>, stride: usize },
    /// `[i,j,…]` or `['x','y',…]`: each item (only `Name`s or only `Index`es).
    List(Vec<Selector>),
    /// `.*` or `[*]`: every element or member.
    EveryChild,
    /// `..`: the current value and everything under it.
    Descend,
}

impl Selector {
    /// Whether this selector picks at most one known place, so that missing members under
    /// it may be created (KubeStellar's "definite" selectors).
    pub fn is_definite(&self) -> bool {
        match self {
            Selector::Name(_) | Selector::Index(_) | Selector::List(_) => true,
            Selector::Slice { start, end, stride } => *end == start.checked_add(1) && *stride == 1,
            Selector::EveryChild | Selector::Descend => false,
        }
    }
}

/// A parsed Customizer path such as `$.spec.template.spec.containers.0.env.0.value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path {
    text: String,
    selectors: Vec<Selector>,
}

impl Path {
    /// Parses a path (grammar in the `parse` module doc).
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        Ok(Self { text: text.to_owned(), selectors: parse::parse(text)? })
    }

    /// The selectors after the leading `$`.
    pub fn selectors(&self) -> &[Selector] {
        &self.selectors
    }

    /// `$` alone: the whole value.
    pub fn is_root(&self) -> bool {
        self.selectors.is_empty()
    }

    /// Whether every selector is definite, so that setting creates what is missing.
    pub fn is_definite(&self) -> bool {
        self.selectors.iter().all(Selector::is_definite)
    }
}

impl FromStr for Path {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A path that does not parse: where, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSONPath {path:?} at character {position}: {kind}")]
pub struct ParseError {
    /// The whole path as written.
    pub path: String,
    /// 0-based character offset of the problem.
    pub position: usize,
    pub kind: ParseErrorKind,
}

/// Why a path does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    #[error("a path must start with `$` (e.g. `$.spec.replicas`)")]
    NoDollar,
    #[error("expected {expected}, found {found}")]
    Expected { expected: &'static str, found: String },
    #[error("`..` must be followed by what to look for (e.g. `$..image`)")]
    TrailingDescent,
    #[error("a slice stride must be at least 1")]
    ZeroStride,
    #[error("index {0} is too large")]
    NumberTooLarge(String),
    #[error("string is not closed; end it with the quote it starts with")]
    UnterminatedString,
    #[error("invalid escape sequence in quoted name")]
    BadEscape,
}

/// One step into a concrete value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Step {
    Key(String),
    Index(usize),
}

/// A place `set` writes: the steps from the root, and from which step on missing members
/// are to be created (`None`: everything existed when the place was found).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Place {
    steps: Vec<Step>,
    create_from: Option<usize>,
}

/// Replaces every place `path` selects in `target` with `new` and returns how many places
/// were set (0 when the path selects nothing, e.g. an index past the end).
///
/// Missing members are created as the module doc describes. `$` alone replaces the whole
/// value. Nothing here can fail: a parsed path selects a set of places, possibly empty.
pub fn set(target: &mut Value, path: &Path, new: Value) -> usize {
    let mut places = Vec::new();
    let mut prefix = Vec::new();
    locate(Some(target), &path.selectors, true, &mut prefix, None, &mut places);
    let mut seen = HashSet::new();
    let mut count = 0;
    for place in places {
        if !seen.insert(place.clone()) {
            continue;
        }
        if let Some(slot) = resolve(target, &place) {
            *slot = new.clone();
            count += 1;
        }
    }
    count
}

/// Collects the places `selectors` picks under `node`. `node` is `None` under a member
/// that does not exist yet (reached only while `definite`).
fn locate(
    node: Option<&Value>,
    selectors: &[Selector],
    definite: bool,
    prefix: &mut Vec<Step>,
    create_from: Option<usize>,
    out: &mut Vec<Place>,
) {
    let Some((first, rest)) = selectors.split_first() else {
        out.push(Place { steps: prefix.clone(), create_from });
        return;
    };
    locate_one(node, first, rest, definite, prefix, create_from, out);
}

/// Applies one selector at `node`, then the `rest` at each thing it picks.
fn locate_one(
    node: Option<&Value>,
    selector: &Selector,
    rest: &[Selector],
    definite: bool,
    prefix: &mut Vec<Step>,
    create_from: Option<usize>,
    out: &mut Vec<Place>,
) {
    let mut descend = |child: Option<&Value>, step: Step, definite: bool, create_from, prefix: &mut Vec<Step>| {
        prefix.push(step);
        locate(child, rest, definite, prefix, create_from, out);
        prefix.pop();
    };
    match selector {
        Selector::Name(name) => {
            let member = match node {
                Some(Value::Object(members)) => members.get(name),
                // A member under a missing member is itself missing.
                None => None,
                Some(_) => return,
            };
            match member {
                // A null member with more to come counts as missing (Kubernetes reads null as unset).
                Some(v) if !v.is_null() || rest.is_empty() => {
                    descend(Some(v), Step::Key(name.clone()), definite, create_from, prefix);
                }
                _ if definite => {
                    let from = create_from.or(Some(prefix.len()));
                    descend(None, Step::Key(name.clone()), definite, from, prefix);
                }
                _ => {}
            }
        }
        Selector::Index(i) => {
            if let Some(Value::Array(items)) = node
                && let Some(item) = items.get(*i)
            {
                descend(Some(item), Step::Index(*i), definite, create_from, prefix);
            }
        }
        Selector::Slice { start, end, stride } => {
            let definite = definite && selector.is_definite();
            if let Some(Value::Array(items)) = node {
                let limit = end.map_or(items.len(), |e| e.min(items.len()));
                for i in (*start..limit).step_by((*stride).max(1)) {
                    descend(items.get(i), Step::Index(i), definite, create_from, prefix);
                }
            }
        }
        Selector::List(items) => {
            for item in items {
                locate_one(node, item, rest, definite, prefix, create_from, out);
            }
        }
        Selector::EveryChild => match node {
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    descend(Some(item), Step::Index(i), false, create_from, prefix);
                }
            }
            Some(Value::Object(members)) => {
                for (key, member) in members {
                    descend(Some(member), Step::Key(key.clone()), false, create_from, prefix);
                }
            }
            _ => {}
        },
        Selector::Descend => {
            let Some(value) = node else { return };
            locate(Some(value), rest, false, prefix, create_from, out);
            // Everything under `value` gets the whole `..rest` again.
            let children: Box<dyn Iterator<Item = (Step, &Value)>> = match value {
                Value::Array(items) => Box::new(items.iter().enumerate().map(|(i, v)| (Step::Index(i), v))),
                Value::Object(members) => Box::new(members.iter().map(|(k, v)| (Step::Key(k.clone()), v))),
                _ => Box::new(std::iter::empty()),
            };
            for (step, child) in children {
                prefix.push(step);
                locate_one(Some(child), selector, rest, false, prefix, create_from, out);
                prefix.pop();
            }
        }
    }
}

/// The slot at `place` in `target`, creating missing members from `place.create_from` on;
/// `None` when an earlier replacement removed the way there.
fn resolve<'a>(target: &'a mut Value, place: &Place) -> Option<&'a mut Value> {
    let mut current = target;
    for (i, step) in place.steps.iter().enumerate() {
        let creating = place.create_from.is_some_and(|from| i >= from);
        current = match step {
            Step::Index(n) => current.as_array_mut()?.get_mut(*n)?,
            Step::Key(key) => {
                // A member created (or null) above becomes an object to hold this one.
                if creating && current.is_null() {
                    *current = Value::Object(Map::new());
                }
                let members = current.as_object_mut()?;
                if creating { members.entry(key.clone()).or_insert(Value::Null) } else { members.get_mut(key)? }
            }
        };
    }
    Some(current)
}
