//! Per-test namespaces inside shared services: Postgres databases cloned from a template (or
//! schemas), Redis logical databases. A test gets a lease; releasing it drops or flushes what
//! the test made.

pub(crate) mod hooks;
pub(crate) mod postgres;
pub(crate) mod redis;
pub(crate) mod surrealdb;
