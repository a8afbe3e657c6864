//! What can go wrong with the history store.

use std::path::PathBuf;

/// The history database could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// The file exists but is not an SQLite database, or is damaged.
    #[error(
        "`{}` is not a clnrm history database (not SQLite, or corrupt); delete it or set \
         CLNRM_HISTORY to another path",
        path.display()
    )]
    NotADatabase {
        /// The file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// The database was written by a newer clnrm with a schema this one does not know.
    #[error(
        "history database `{}` has schema version {found}, newer than version {supported} \
         understood by this clnrm; upgrade clnrm or set CLNRM_HISTORY to another path",
        path.display()
    )]
    NewerSchema {
        /// The file.
        path: PathBuf,
        /// The `user_version` found.
        found: i64,
        /// The newest version this build understands.
        supported: i64,
    },
    /// An SQLite operation failed.
    #[error("failed to {action} history database `{}`", path.display())]
    Sqlite {
        /// What was being done ("append a run to").
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// A stored value makes no sense (an unknown outcome name).
    #[error("history database `{}` holds an invalid value: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What was found and what was expected.
        message: String,
    },
}

impl HistoryError {
    /// Classifies an SQLite error met while doing `action` on the database at `path`.
    pub(crate) fn sqlite(action: &'static str, path: PathBuf, error: rusqlite::Error) -> Self {
        match error.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) => {
                HistoryError::NotADatabase {
                    path,
                    source: Box::new(error),
                }
            }
            _ => HistoryError::Sqlite {
                action,
                path,
                source: Box::new(error),
            },
        }
    }
}
