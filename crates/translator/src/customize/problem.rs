//! What can go wrong while customizing an object for one destination.
//!
//! KubeStellar logs these and carries on (`pkg/customize`: "Failed to parse replacement
//! path", a TODO for unknown parameters). orrery carries on the same way — the rest of the
//! object and the other replacements are still applied — but hands every problem back so
//! the controller can raise it as an Event on the object or Customizer: a user whose
//! `%(zone)` silently stayed `%(zone)` in production deserves to be told.

use super::jsonpath::ParseError;
use std::fmt;

/// One replacement of one Customizer: `namespace/name` and its index in `replacements`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplacementRef {
    pub customizer: String,
    pub index: usize,
}

impl fmt::Display for ReplacementRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Customizer {} replacements[{}]", self.customizer, self.index)
    }
}

/// Where a `%(name)` reference was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamSite {
    /// In the workload object itself (annotated `expand-parameters: "true"`).
    Object,
    /// In a replacement's `path` (the Customizer is annotated `expand-parameters: "true"`).
    Path(ReplacementRef),
    /// In a replacement's `value`.
    Value(ReplacementRef),
}

impl fmt::Display for ParamSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamSite::Object => f.write_str("the object"),
            ParamSite::Path(r) => write!(f, "the path of {r}"),
            ParamSite::Value(r) => write!(f, "the value of {r}"),
        }
    }
}

/// A problem found while customizing; the work around it was still done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// `%(name)` where the destination Location has no label or annotation `name`; the
    /// text was left as `%(name)`.
    UnknownParameter { name: String, site: ParamSite },
    /// A replacement whose (expanded) path does not parse; it was not applied.
    BadPath { replacement: ReplacementRef, error: ParseError },
    /// A replacement whose (expanded) value is not JSON; it was not applied.
    BadValue { replacement: ReplacementRef, value: String, error: String },
    /// A replacement of the whole object (`$`) by something that is not an object; it
    /// was not applied.
    RootNotObject { replacement: ReplacementRef },
    /// A replacement whose path selects nothing in this object (e.g. an index past the
    /// end, or a member under `*` that no element has); the object was left as it was.
    NothingSelected { replacement: ReplacementRef, path: String },
    /// The `edge.kubestellar.io/customizer` annotation cannot name a Customizer.
    BadCustomizerRef { value: String, reason: String },
    /// The Customizer the annotation names does not exist.
    CustomizerNotFound { namespace: String, name: String },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::UnknownParameter { name, site } => write!(
                f,
                "parameter %({name}) in {site} is neither a label nor an annotation of the destination Location; \
                 it was left as %({name}) (add it to the Location, or fix the name)"
            ),
            Problem::BadPath { replacement, error } => write!(f, "{replacement} was not applied: {error}"),
            Problem::BadValue { replacement, value, error } => write!(
                f,
                "{replacement} was not applied: its value {value:?} is not JSON ({error}); \
                 a string value needs its own quotes, e.g. '\"text\"'"
            ),
            Problem::RootNotObject { replacement } => {
                write!(
                    f,
                    "{replacement} was not applied: path `$` replaces the whole object, so the value must be a JSON object"
                )
            }
            Problem::NothingSelected { replacement, path } => {
                write!(f, "{replacement} changed nothing: path {path:?} selects no place in this object")
            }
            Problem::BadCustomizerRef { value, reason } => {
                write!(f, "annotation {} value {value:?} names no Customizer: {reason}", orrery_api::keys::CUSTOMIZER)
            }
            Problem::CustomizerNotFound { namespace, name } => write!(
                f,
                "Customizer {namespace}/{name}, named by annotation {}, does not exist",
                orrery_api::keys::CUSTOMIZER
            ),
        }
    }
}

impl std::error::Error for Problem {}
