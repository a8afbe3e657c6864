//! The history store: every run's per-test outcomes and durations, kept for planning.
//!
//! An embedded SQLite database (default `target/clnrm/history.db`, see
//! [`default_history_path`]) that several processes append to at once: nextest runs one process
//! per test and the CLI runs suites in parallel. The store uses WAL mode (readers never block
//! the writer), a busy timeout, `BEGIN IMMEDIATE` transactions (a writer takes the lock up
//! front instead of failing on upgrade) and retries on `SQLITE_BUSY`.
//!
//! The schema is versioned with `PRAGMA user_version` and migrated forward on open; a database
//! written by a newer clnrm is refused rather than guessed at.

mod error;
mod path;
mod schema;
mod store;

pub use error::HistoryError;
pub use path::{HISTORY_ENV, default_history_path};
pub use schema::SCHEMA_VERSION;
pub use store::{HistoryRow, HistoryStore, PLAN_RUNS, SUITES_TARGET, TestStats};

#[cfg(test)]
mod tests;
