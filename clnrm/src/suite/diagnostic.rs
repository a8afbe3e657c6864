//! Diagnostics: a problem found in a suite file, with its position.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// The text of one suite file with its path; turns byte spans into 1-based line:column.
#[derive(Debug, Clone)]
pub struct SuiteSource {
    path: PathBuf,
    text: String,
    line_starts: Vec<usize>,
}

impl SuiteSource {
    /// Wraps the `text` read from `path` (the path is only used in messages).
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        let text = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self {
            path: path.into(),
            text,
            line_starts,
        }
    }

    /// The file path diagnostics are reported against.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The 1-based line and column (counted in characters) of byte offset `offset`.
    ///
    /// Offsets past the end or inside a multi-byte character are clamped, never a panic.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let start = self.line_starts[line - 1];
        let column = self.text[start..offset].chars().count() + 1;
        (line, column)
    }

    /// A diagnostic of `severity` at `span` in this file.
    pub fn diagnostic(
        &self,
        severity: Severity,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Diagnostic {
        let (line, column) = self.line_col(span.start);
        Diagnostic {
            file: self.path.clone(),
            line,
            column,
            severity,
            message: message.into(),
            span,
        }
    }
}

/// How bad a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The suite cannot run.
    Error,
    /// The suite runs, but something in it is ignored or suspicious.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Error => "error",
            Self::Warning => "warning",
        })
    }
}

/// One problem in a suite file.
///
/// Renders as `suite.clnrm.toml:12:9: error: step "migrate" uses unknown service "pg"; known: db, cache`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file the problem is in.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong and what was expected (lowercase, no final period).
    pub message: String,
    /// Byte range in the file the problem points at.
    pub span: Range<usize>,
}

impl Diagnostic {
    /// Whether this diagnostic stops the suite from running.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.severity,
            self.message
        )
    }
}

/// Collects diagnostics for one source.
pub(super) struct Sink<'s> {
    pub(super) source: &'s SuiteSource,
    pub(super) out: Vec<Diagnostic>,
}

impl<'s> Sink<'s> {
    pub(super) fn new(source: &'s SuiteSource) -> Self {
        Self {
            source,
            out: Vec::new(),
        }
    }

    pub(super) fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        let d = self.source.diagnostic(Severity::Error, span, message);
        self.out.push(d);
    }

    pub(super) fn warning(&mut self, span: Range<usize>, message: impl Into<String>) {
        let d = self.source.diagnostic(Severity::Warning, span, message);
        self.out.push(d);
    }
}

/// Sorts diagnostics by position (then severity), keeping the order of equal ones.
pub(super) fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by_key(|d| (d.line, d.column, d.severity));
}
