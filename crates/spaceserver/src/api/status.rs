//! Errors as Kubernetes `Status` objects: the exact `reason`s and codes clients test for
//! (kube-rs checks `reason` alone for AlreadyExists; kubectl prints
//! `Error from server (<Reason>): <message>`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use orrery_api::validation::FieldErrors;
use serde_json::{Value, json};

/// What identifies the object an error is about, for `details`.
#[derive(Clone, Debug, Default)]
pub struct Subject {
    pub group: String,
    /// The resource plural (Kubernetes puts it in `details.kind`).
    pub resource: String,
    pub name: String,
}

#[derive(Clone, Debug, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self { code, reason, message: message.into(), details: None }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    fn subject_details(s: &Subject) -> Value {
        json!({"name": s.name, "group": s.group, "kind": s.resource})
    }

    fn qualified(s: &Subject) -> String {
        if s.group.is_empty() { s.resource.clone() } else { format!("{}.{}", s.resource, s.group) }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }

    pub fn not_found(s: &Subject) -> Self {
        Self::new(404, "NotFound", format!("{} \"{}\" not found", Self::qualified(s), s.name))
            .with_details(Self::subject_details(s))
    }

    /// A path the server does not serve at all.
    pub fn no_route() -> Self {
        Self::new(404, "NotFound", "the server could not find the requested resource")
            .with_details(json!({"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]}))
    }

    pub fn method_not_allowed(verb: &str, what: &str) -> Self {
        Self::new(405, "MethodNotAllowed", format!("{verb} is not supported on {what}"))
    }

    pub fn already_exists(s: &Subject) -> Self {
        Self::new(409, "AlreadyExists", format!("{} \"{}\" already exists", Self::qualified(s), s.name))
            .with_details(Self::subject_details(s))
    }

    pub fn conflict(s: &Subject, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {} \"{}\": {why}", Self::qualified(s), s.name),
        )
        .with_details(Self::subject_details(s))
    }

    /// The optimistic-concurrency conflict, in the apiserver's words.
    pub fn modified(s: &Subject) -> Self {
        Self::conflict(s, "the object has been modified; please apply your changes to the latest version and try again")
    }

    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(413, "RequestEntityTooLarge", message)
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(415, "UnsupportedMediaType", message)
    }

    pub fn not_acceptable(message: impl Into<String>) -> Self {
        Self::new(406, "NotAcceptable", message)
    }

    /// 422 with one cause per field problem.
    pub fn invalid(kind: &str, s: &Subject, errors: &FieldErrors) -> Self {
        let causes: Vec<Value> = errors
            .iter()
            .map(|e| json!({"reason": e.kind.cause_type(), "message": e.to_string(), "field": e.path.as_str()}))
            .collect();
        let qualified_kind = if s.group.is_empty() { kind.to_owned() } else { format!("{kind}.{}", s.group) };
        Self::new(422, "Invalid", format!("{qualified_kind} \"{}\" is invalid: {errors}", s.name))
            .with_details(json!({"name": s.name, "group": s.group, "kind": kind, "causes": causes}))
    }

    pub fn invalid_message(message: impl Into<String>) -> Self {
        Self::new(422, "Invalid", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(504, "Timeout", message)
    }

    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            status["details"] = d.clone();
        }
        status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self.to_status()).unwrap_or_default();
        (code, [(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

/// The `Status` a successful delete without a returned object answers with.
pub fn success_status(s: &Subject) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": s.name, "group": s.group, "kind": s.resource},
    })
}
