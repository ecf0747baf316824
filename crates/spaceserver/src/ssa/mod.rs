//! Placeholder: ssa lands in a following commit.
