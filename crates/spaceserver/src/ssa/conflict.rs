//! Apply errors, worded exactly as kube-apiserver words them: kubectl prints the message as is,
//! and tools (Helm, Argo CD, Flux) match on its text and on the Status causes.

use serde_json::{Value, json};

use super::fieldset::go_quote;
use super::managers::{ManagedFieldsError, Operation};

/// One field an apply would change that another manager owns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The other manager's name.
    pub manager: String,
    pub operation: Operation,
    /// The API version of the other manager's entry (printed for `Update` managers).
    pub api_version: String,
    pub subresource: Option<String>,
    /// The field, rendered as Kubernetes renders paths (`.spec.replicas`).
    pub field: String,
}

impl Conflict {
    /// The manager as kube-apiserver prints it: `"name"`, plus `with subresource "status"`, plus
    /// `using apps/v1` for `Update` managers (an applier is the same manager in every version).
    pub fn manager_display(&self) -> String {
        let mut out = go_quote(&self.manager);
        if let Some(sub) = &self.subresource {
            out.push_str(&format!(" with subresource {}", go_quote(sub)));
        }
        if self.operation == Operation::Update {
            out.push_str(&format!(" using {}", self.api_version));
        }
        out
    }

    /// The Status cause for this conflict.
    pub fn cause(&self) -> Value {
        json!({
            "type": "FieldManagerConflict",
            "message": format!("conflict with {}", self.manager_display()),
            "field": self.field,
        })
    }
}

/// Why an apply failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The configuration changes fields other managers own and `force` was not set (HTTP 409).
    #[error("{}", conflicts_message(.0))]
    Conflicts(Vec<Conflict>),
    /// The configuration (or the live object it merges into) is not valid for its schema: a
    /// list-map element without its key, a duplicate key, a configuration that is not an
    /// object. kube-apiserver reports these as errors creating the typed patch object.
    #[error("{0}")]
    Invalid(String),
    /// The live object's `managedFields` cannot be read.
    #[error("failed to decode managed fields: {0}")]
    ManagedFields(#[from] ManagedFieldsError),
}

impl ApplyError {
    /// The Status message (the `Display` text).
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// The Status `details.causes`: one `FieldManagerConflict` per conflict.
    pub fn causes(&self) -> Vec<Value> {
        match self {
            Self::Conflicts(conflicts) => conflicts.iter().map(Conflict::cause).collect(),
            _ => Vec::new(),
        }
    }

    /// The HTTP status code kube-apiserver answers with. Only conflicts are a Status error
    /// there; the other errors are plain Go errors, which it turns into a 500 with no reason.
    pub fn code(&self) -> u16 {
        match self {
            Self::Conflicts(_) => 409,
            Self::Invalid(_) | Self::ManagedFields(_) => 500,
        }
    }

    /// The whole `metav1.Status` body.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message(),
            "code": self.code(),
        });
        if let Self::Conflicts(_) = self
            && let Some(map) = status.as_object_mut()
        {
            map.insert("reason".into(), Value::String("Conflict".into()));
            map.insert("details".into(), json!({ "causes": self.causes() }));
        }
        status
    }
}

/// `Apply failed with 1 conflict: conflict with "m": .spec.replicas`, or for several, grouped
/// by manager (sorted), one `- <path>` line each.
fn conflicts_message(conflicts: &[Conflict]) -> String {
    if let [only] = conflicts {
        return format!("Apply failed with 1 conflict: conflict with {}: {}", only.manager_display(), only.field);
    }
    let mut managers: Vec<String> = conflicts.iter().map(Conflict::manager_display).collect();
    managers.sort();
    managers.dedup();
    let mut lines = Vec::new();
    for manager in &managers {
        lines.push(format!("conflicts with {manager}:"));
        lines.extend(conflicts.iter().filter(|c| &c.manager_display() == manager).map(|c| format!("- {}", c.field)));
    }
    format!("Apply failed with {} conflicts: {}", conflicts.len(), lines.join("\n"))
}
