//! The suite module's error type.

use std::path::PathBuf;

use super::diagnostic::Diagnostic;

/// Why a suite file could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SuiteError {
    /// The file could not be read.
    #[error("failed to read suite {}", path.display())]
    Io {
        /// The suite file.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("failed to parse suite {}: {}", path.display(), first_line(diagnostics))]
    Parse {
        /// The suite file.
        path: PathBuf,
        /// Every syntax error, with its position.
        diagnostics: Vec<Diagnostic>,
        /// The first syntax error as reported by the TOML parser.
        #[source]
        source: Box<toml::de::Error>,
    },
    /// The file is valid TOML but not a valid suite.
    #[error("invalid suite {}: {} error(s), first: {}", path.display(), diagnostics.iter().filter(|d| d.is_error()).count(), first_line(diagnostics))]
    Invalid {
        /// The suite file.
        path: PathBuf,
        /// Every problem found (errors and warnings), sorted by position.
        diagnostics: Vec<Diagnostic>,
    },
}

impl SuiteError {
    /// Every diagnostic carried by this error (empty for I/O errors).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            Self::Io { .. } => &[],
            Self::Parse { diagnostics, .. } | Self::Invalid { diagnostics, .. } => diagnostics,
        }
    }
}

fn first_line(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .find(|d| d.is_error())
        .map(|d| format!("{}:{}: {}", d.line, d.column, d.message))
        .unwrap_or_default()
}
