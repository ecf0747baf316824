//! Field-scoped validation errors, shaped like apimachinery's `field.ErrorList`.
//!
//! Every validator in orrery reports *all* problems it finds, each with the path of the
//! offending field, so a user fixes an object in one round trip instead of one per error.

use std::fmt;

/// A path to a field inside an object, rendered the way Kubernetes renders it
/// (`spec.downsync[0].namespaceSelectors[1].matchLabels[app]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldPath(String);

impl FieldPath {
    /// The path of a top-level field.
    pub fn new(root: &str) -> Self {
        Self(root.to_owned())
    }

    /// The path of a named child field.
    pub fn child(&self, name: &str) -> Self {
        if self.0.is_empty() { Self(name.to_owned()) } else { Self(format!("{}.{name}", self.0)) }
    }

    /// The path of a list element.
    pub fn index(&self, i: usize) -> Self {
        Self(format!("{}[{i}]", self.0))
    }

    /// The path of a map entry.
    pub fn key(&self, key: &str) -> Self {
        Self(format!("{}[{key}]", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What is wrong with a field. The names follow apimachinery's `field.ErrorType`, so the
/// space server can turn these into Status causes (`FieldValueInvalid`, …) unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldErrorKind {
    /// A required value is missing.
    Required,
    /// The value is malformed or out of range.
    Invalid(String),
    /// The value is not one of the supported ones.
    NotSupported(String),
    /// The value duplicates another one that must be unique.
    Duplicate(String),
}

impl FieldErrorKind {
    /// The `reason` of a `StatusCause` for this kind of error.
    pub fn cause_type(&self) -> &'static str {
        match self {
            Self::Required => "FieldValueRequired",
            Self::Invalid(_) => "FieldValueInvalid",
            Self::NotSupported(_) => "FieldValueNotSupported",
            Self::Duplicate(_) => "FieldValueDuplicate",
        }
    }
}

/// One problem with one field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct FieldError {
    pub path: FieldPath,
    pub kind: FieldErrorKind,
    /// Why the value is wrong and, where it helps, what would be right.
    pub detail: String,
}

impl FieldError {
    pub fn required(path: FieldPath, detail: impl Into<String>) -> Self {
        Self { path, kind: FieldErrorKind::Required, detail: detail.into() }
    }

    pub fn invalid(path: FieldPath, value: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { path, kind: FieldErrorKind::Invalid(value.into()), detail: detail.into() }
    }

    pub fn not_supported(path: FieldPath, value: impl Into<String>, supported: &[&str]) -> Self {
        let quoted: Vec<String> = supported.iter().map(|s| format!("\"{s}\"")).collect();
        Self {
            path,
            kind: FieldErrorKind::NotSupported(value.into()),
            detail: format!("supported values: {}", quoted.join(", ")),
        }
    }

    pub fn duplicate(path: FieldPath, value: impl Into<String>) -> Self {
        Self { path, kind: FieldErrorKind::Duplicate(value.into()), detail: String::new() }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            FieldErrorKind::Required => write!(f, "{}: Required value", self.path)?,
            FieldErrorKind::Invalid(v) => write!(f, "{}: Invalid value: {v:?}", self.path)?,
            FieldErrorKind::NotSupported(v) => write!(f, "{}: Unsupported value: {v:?}", self.path)?,
            FieldErrorKind::Duplicate(v) => write!(f, "{}: Duplicate value: {v:?}", self.path)?,
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// Every problem found in one object. Empty means valid.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    pub fn push(&mut self, e: FieldError) {
        self.0.push(e);
    }

    pub fn extend(&mut self, other: FieldErrors) {
        self.0.extend(other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &FieldError> {
        self.0.iter()
    }

    /// `Ok(())` when nothing was found.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl From<FieldError> for FieldErrors {
    fn from(e: FieldError) -> Self {
        Self(vec![e])
    }
}

impl fmt::Display for FieldErrors {
    /// Joined like apimachinery's aggregate: `[a: …, b: …]` for several, bare for one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "{one}"),
            many => {
                let parts: Vec<String> = many.iter().map(ToString::to_string).collect();
                write!(f, "[{}]", parts.join(", "))
            }
        }
    }
}

impl std::error::Error for FieldErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_render_like_kubernetes() {
        let p = FieldPath::new("spec").child("downsync").index(2).child("namespaceSelectors").index(0);
        assert_eq!(p.as_str(), "spec.downsync[2].namespaceSelectors[0]");
        assert_eq!(
            p.child("matchLabels").key("app").as_str(),
            "spec.downsync[2].namespaceSelectors[0].matchLabels[app]"
        );
        assert_eq!(FieldPath::default().child("metadata").as_str(), "metadata");
    }

    #[test]
    fn errors_render_like_kubernetes() {
        let cases = [
            (FieldError::required(FieldPath::new("spec"), ""), "spec: Required value"),
            (
                FieldError::invalid(FieldPath::new("name"), "A_b", "must be lowercase"),
                "name: Invalid value: \"A_b\": must be lowercase",
            ),
            (
                FieldError::not_supported(FieldPath::new("op"), "Has", &["In", "NotIn"]),
                "op: Unsupported value: \"Has\": supported values: \"In\", \"NotIn\"",
            ),
            (FieldError::duplicate(FieldPath::new("x").index(1), "a"), "x[1]: Duplicate value: \"a\""),
        ];
        for (err, want) in cases {
            assert_eq!(err.to_string(), want);
        }
    }

    #[test]
    fn aggregate_lists_every_error() {
        let mut errs = FieldErrors::default();
        assert!(errs.clone().into_result().is_ok());
        errs.push(FieldError::required(FieldPath::new("a"), ""));
        assert_eq!(errs.to_string(), "a: Required value");
        errs.push(FieldError::required(FieldPath::new("b"), ""));
        assert_eq!(errs.to_string(), "[a: Required value, b: Required value]");
        assert_eq!(errs.into_result().map_err(|e| e.0.len()), Err(2));
    }
}
