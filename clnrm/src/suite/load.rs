//! Entry points that combine parsing and validation: `check_suite` (all diagnostics, never
//! fails) and `load_suite` (I/O; fails unless the suite is free of errors).

use std::path::Path;

use super::diagnostic::{self, Diagnostic, DiagnosticKind, Severity, SuiteSource};
use super::error::SuiteError;
use super::parse::{SuiteFormat, parse_suite};
use super::spec::SuiteSpec;
use super::template::{self, TemplateVars};
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
        Ok(mut parsed) => {
            let mut diagnostics = std::mem::take(&mut parsed.diagnostics);
            if parsed.format == SuiteFormat::Legacy {
                diagnostics.extend(map_image_named_plugins(
                    &mut parsed.spec,
                    source,
                    known_plugins,
                ));
            }
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

/// The older clnrm named some plugins after their image (`plugin = "alpine"` with
/// `image = "alpine:latest"`): an old-format service whose plugin clnrm does not know but which
/// names an image runs as `generic` with that image, with a warning naming the mapping.
fn map_image_named_plugins(
    spec: &mut SuiteSpec,
    source: &SuiteSource,
    known_plugins: &[&str],
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for service in &mut spec.services {
        let plugin = service.plugin.get_ref().clone();
        if known_plugins.contains(&plugin.as_str()) {
            continue;
        }
        let Some(image) = &service.image else {
            continue;
        };
        let mut d = source.diagnostic(
            Severity::Warning,
            service.plugin.span(),
            format!(
                "service \"{}\": the older plugin \"{plugin}\" names an image; runs as \"generic\" with image \"{}\"",
                service.name.get_ref(),
                image.get_ref()
            ),
        );
        d.kind = DiagnosticKind::Mapped;
        out.push(d);
        service.plugin = crate::suite::Spanned::new(service.plugin.span(), "generic".to_owned());
    }
    out
}

/// [`check_suite`] for the `text` of the file at `path`: a `*.clnrm.toml.tera` template is
/// rendered first (its problems, and those of the rendered TOML, point into the template), and
/// the older clnrm's project config (`cleanroom.toml`) is read for old-format defaults.
pub fn check_suite_file(path: &Path, text: &str, known_plugins: &[&str]) -> CheckedSuite {
    let source = SuiteSource::for_file(path, text);
    if !template::is_template(path) {
        return check_suite(&source, known_plugins);
    }
    match template::render(&source, &TemplateVars::new()) {
        Err(diagnostics) => CheckedSuite {
            spec: None,
            format: None,
            diagnostics,
        },
        Ok(rendered) => {
            let rendered_source =
                SuiteSource::for_file(path, rendered.text.clone()).rendered_template();
            let mut checked = check_suite(&rendered_source, known_plugins);
            checked.diagnostics = checked
                .diagnostics
                .into_iter()
                .map(|d| rendered.map_back(d, &source))
                .collect();
            diagnostic::sort(&mut checked.diagnostics);
            checked
        }
    }
}

/// Reads the suite at `path`, parses and validates it.
///
/// A `*.clnrm.toml.tera` template is rendered first ([`check_suite_file`]).
///
/// Errors: [`SuiteError::Io`], [`SuiteError::Parse`] (not TOML), [`SuiteError::Invalid`]
/// (carrying every diagnostic, warnings included).
pub fn load_suite(path: &Path, known_plugins: &[&str]) -> Result<LoadedSuite, SuiteError> {
    let text = std::fs::read_to_string(path).map_err(|source| SuiteError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if template::is_template(path) {
        let checked = check_suite_file(path, &text, known_plugins);
        return match (checked.spec, checked.format) {
            (Some(spec), Some(format)) if !checked.diagnostics.iter().any(Diagnostic::is_error) => {
                Ok(LoadedSuite {
                    spec,
                    format,
                    warnings: checked.diagnostics,
                })
            }
            _ => Err(SuiteError::Invalid {
                path: path.to_path_buf(),
                diagnostics: checked.diagnostics,
            }),
        };
    }
    let source = SuiteSource::for_file(path, text);
    load_source(source, known_plugins)
}

/// [`load_suite`] for text already in memory; `path` is used in messages only.
pub fn load_suite_str(
    path: &Path,
    text: &str,
    known_plugins: &[&str],
) -> Result<LoadedSuite, SuiteError> {
    load_source(SuiteSource::new(path, text), known_plugins)
}

fn load_source(source: SuiteSource, known_plugins: &[&str]) -> Result<LoadedSuite, SuiteError> {
    let path = source.path();
    let mut parsed = parse_suite(&source)?;
    let mut diagnostics = std::mem::take(&mut parsed.diagnostics);
    if parsed.format == SuiteFormat::Legacy {
        diagnostics.extend(map_image_named_plugins(
            &mut parsed.spec,
            &source,
            known_plugins,
        ));
    }
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
