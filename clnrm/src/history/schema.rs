//! The versioned schema: `PRAGMA user_version` counts the migrations applied.

use rusqlite::{Connection, TransactionBehavior};

use super::error::HistoryError;
use super::store::retry_busy;
use std::path::Path;

/// Migrations in order; migration `i` takes the schema from version `i` to `i + 1`. Append
/// only: never edit one that has shipped.
const MIGRATIONS: &[&str] = &[
    // 1: runs and their tests.
    "CREATE TABLE runs (
         seq INTEGER PRIMARY KEY AUTOINCREMENT,
         run_id TEXT NOT NULL,
         target TEXT NOT NULL,
         started_at_ms INTEGER NOT NULL,
         duration_secs REAL NOT NULL
     );
     CREATE INDEX runs_by_target ON runs (target, seq);
     CREATE TABLE tests (
         id INTEGER PRIMARY KEY,
         run_seq INTEGER NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
         name TEXT NOT NULL,
         outcome TEXT NOT NULL,
         duration_secs REAL NOT NULL,
         attempts INTEGER NOT NULL,
         message TEXT,
         started_at_ms INTEGER NOT NULL,
         file TEXT,
         line INTEGER
     );
     CREATE INDEX tests_by_run ON tests (run_seq);
     CREATE INDEX tests_by_name ON tests (name, run_seq);",
    // 2: runs cut short by Ctrl-C / SIGTERM, which the planner ignores.
    "ALTER TABLE runs ADD COLUMN interrupted INTEGER NOT NULL DEFAULT 0;",
];

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the schema of `conn` (the database at `path`) up to [`SCHEMA_VERSION`] in one
/// immediate transaction, so that processes opening a fresh file at once migrate it once.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), HistoryError> {
    let sqlite = |e| HistoryError::sqlite("migrate", path.to_path_buf(), e);
    let found = retry_busy(|| {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        if found < SCHEMA_VERSION {
            for migration in &MIGRATIONS[usize::try_from(found).unwrap_or(0)..] {
                tx.execute_batch(migration)?;
            }
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            tx.commit()?;
        }
        Ok(found)
    })
    .map_err(sqlite)?;
    if found > SCHEMA_VERSION {
        return Err(HistoryError::NewerSchema {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}
