//! The scheduler's behaviour through its public API, as tables of events and answers.

mod events;
mod fixtures;
mod model;
mod scale;
mod semantics;
