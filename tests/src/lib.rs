//! Placeholder library target; the tests live in `e2e/`.
