//! Validation: the apimachinery name grammars, field-path errors, and the checks of
//! orrery's own kinds.

mod edge_placement;
mod field;
pub mod names;

pub use edge_placement::validate_edge_placement;
pub use field::{FieldError, FieldErrorKind, FieldErrors, FieldPath};
