//! Placeholder: patch lands in a following commit.
