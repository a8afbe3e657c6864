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
    /// The older project config's `[containers] default_image` and the file that says it, or
    /// why that file could not be read.
    default_image: Option<Result<(String, PathBuf), String>>,
    /// The text is a rendered `*.clnrm.toml.tera` template (whose `[vars]` were used).
    rendered: bool,
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
            default_image: None,
            rendered: false,
        }
    }

    /// Marks the text as a rendered template.
    pub(crate) fn rendered_template(mut self) -> Self {
        self.rendered = true;
        self
    }

    /// Whether the text is a rendered template.
    pub(crate) fn is_rendered_template(&self) -> bool {
        self.rendered
    }

    /// [`SuiteSource::new`] for a file on disk: also reads the older clnrm's project config
    /// (`cleanroom.toml`, the nearest one from the suite's directory up), whose
    /// `[containers] default_image` is where old-format steps naming no service run.
    pub fn for_file(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        let mut source = Self::new(path, text);
        source.default_image = project_default_image(&source.path);
        source
    }

    /// The older project config's default image and its file (see [`SuiteSource::for_file`]);
    /// `Err` says why the config could not be read.
    pub fn default_image(&self) -> Option<Result<(&str, &Path), &str>> {
        self.default_image.as_ref().map(|d| match d {
            Ok((image, file)) => Ok((image.as_str(), file.as_path())),
            Err(e) => Err(e.as_str()),
        })
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
            kind: DiagnosticKind::Problem,
            message: message.into(),
            span,
        }
    }
}

/// `[containers] default_image` of the nearest `cleanroom.toml` above `suite`, if any.
fn project_default_image(suite: &Path) -> Option<Result<(String, PathBuf), String>> {
    let dir = suite.parent()?;
    let config = dir
        .ancestors()
        .map(|d| d.join("cleanroom.toml"))
        .find(|f| f.is_file())?;
    let read = || -> Result<Option<String>, String> {
        let text = std::fs::read_to_string(&config).map_err(|e| e.to_string())?;
        let table: toml::Table = toml::from_str(&text).map_err(|e| e.to_string())?;
        match table.get("containers").and_then(|c| c.get("default_image")) {
            None => Ok(None),
            Some(toml::Value::String(image)) => Ok(Some(image.clone())),
            Some(_) => Err("`[containers] default_image` is not a string".to_owned()),
        }
    };
    match read() {
        Ok(image) => image.map(|i| Ok((i, config))),
        Err(e) => Some(Err(format!("{}: {}", config.display(), e.trim_end()))),
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

/// What a diagnostic is about, so a summary can count warnings by kind (`clnrm validate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum DiagnosticKind {
    /// Something wrong or suspicious in the file (every error is one).
    Problem,
    /// An older-format name or shape clnrm read as its own equivalent (`generic_container`
    /// -> `generic`, `environment` -> `env`, ...); the message names the mapping.
    Mapped,
    /// An older-format key that only describes (`description`, `version`, `tags`, ...): ignored.
    Descriptive,
}

impl DiagnosticKind {
    /// A short plural label for summaries (`mapped from the older format`).
    pub fn label(self) -> &'static str {
        match self {
            Self::Problem => "other",
            Self::Mapped => "mapped from the older format",
            Self::Descriptive => "descriptive keys ignored",
        }
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
    /// What it is about ([`DiagnosticKind::Problem`] unless it is an older-format note).
    pub kind: DiagnosticKind,
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

    /// A warning of `kind` (an older-format key mapped or ignored).
    pub(super) fn note(
        &mut self,
        kind: DiagnosticKind,
        span: Range<usize>,
        message: impl Into<String>,
    ) {
        let mut d = self.source.diagnostic(Severity::Warning, span, message);
        d.kind = kind;
        self.out.push(d);
    }
}

/// Sorts diagnostics by position (then severity), keeping the order of equal ones.
pub(super) fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by_key(|d| (d.line, d.column, d.severity));
}
