//! Entry points that combine parsing and validation: `check_suite` (all diagnostics, never
//! fails) and `load_suite` (I/O; fails unless the suite is free of errors).

use std::path::Path;

use super::diagnostic::{self, Diagnostic, Severity, SuiteSource};
use super::error::SuiteError;
use super::parse::{SuiteFormat, parse_suite};
use super::spec::SuiteSpec;
use super::validate::validate_suite;

/// Everything [`check_suite`] found.
#[derive(Debug, Clone)]
pub struct CheckedSuite {
    /// The spec, `None` when the text is not TOML. Only runnable when `diagnostics` has no error.
    pub spec: Option<SuiteSpec>,
    /// The format the file is written in, `None` when the text is not TOML.
    pub format: Option<SuiteFormat>,
    /// Every problem of the file (syntax, structure, semantics), sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}

impl CheckedSuite {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// A suite that passed every check, ready for the engine.
#[derive(Debug, Clone)]
pub struct LoadedSuite {
    /// The suite.
    pub spec: SuiteSpec,
    /// The format the file is written in.
    pub format: SuiteFormat,
    /// Warnings to show the user (ignored upstream keys, untagged images, ...).
    pub warnings: Vec<Diagnostic>,
}

/// Parses and validates `source`, returning every problem at once. Never fails, never panics.
pub fn check_suite(source: &SuiteSource, known_plugins: &[&str]) -> CheckedSuite {
    match parse_suite(source) {
        Err(e) => CheckedSuite {
            spec: None,
            format: None,
            diagnostics: e.diagnostics().to_vec(),
        },
        Ok(parsed) => {
            let mut diagnostics = parsed.diagnostics;
            diagnostics.extend(validate_suite(&parsed.spec, source, known_plugins));
            diagnostic::sort(&mut diagnostics);
            diagnostics.dedup();
            CheckedSuite {
                spec: Some(parsed.spec),
                format: Some(parsed.format),
                diagnostics,
            }
        }
    }
}

/// Reads the suite at `path`, parses and validates it.
///
/// Errors: [`SuiteError::Io`], [`SuiteError::Parse`] (not TOML), [`SuiteError::Invalid`]
/// (carrying every diagnostic, warnings included).
pub fn load_suite(path: &Path, known_plugins: &[&str]) -> Result<LoadedSuite, SuiteError> {
    let text = std::fs::read_to_string(path).map_err(|source| SuiteError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    load_suite_str(path, &text, known_plugins)
}

/// [`load_suite`] for text already in memory; `path` is used in messages only.
pub fn load_suite_str(
    path: &Path,
    text: &str,
    known_plugins: &[&str],
) -> Result<LoadedSuite, SuiteError> {
    let source = SuiteSource::new(path, text);
    let parsed = parse_suite(&source)?;
    let mut diagnostics = parsed.diagnostics;
    diagnostics.extend(validate_suite(&parsed.spec, &source, known_plugins));
    diagnostic::sort(&mut diagnostics);
    diagnostics.dedup();
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(SuiteError::Invalid {
            path: path.to_path_buf(),
            diagnostics,
        });
    }
    Ok(LoadedSuite {
        spec: parsed.spec,
        format: parsed.format,
        warnings: diagnostics
            .into_iter()
            .filter(|d| d.severity == Severity::Warning)
            .collect(),
    })
}
