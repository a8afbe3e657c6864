//! `*.clnrm.toml.tera`: the older clnrm's suite templates, rendered with Tera before parsing.
//!
//! What a template sees, later sources winning over earlier ones:
//!
//! 1. `[vars]` of the template itself (`key = value` lines of that table, read before rendering),
//! 2. the environment: `CLNRM_VAR_<NAME>` sets variable `name` (lower-cased),
//! 3. the command line: `clnrm --var name=value` ([`set_template_vars`], once per process),
//! 4. the caller's own ([`TemplateVars`] passed to the renderer).
//!
//! Each variable is both `{{ name }}` and `{{ vars.name }}`. `env(name="HOME")` reads any
//! environment variable; `env(name="X", default="y")` falls back to `y`, and without a default
//! an unset variable is an error. `{% import "macros.tera" as m %}` (and `include`) load files
//! relative to the template's directory.
//!
//! Errors point at the template: Tera's syntax errors at their line and column (in the
//! template, or in the imported file), an undefined variable at its first use; problems of the
//! rendered TOML are mapped back to the template line they came from (lines the template
//! produced itself keep their column; lines a tag or expression produced point at its line).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::diagnostic::{Diagnostic, Severity, SuiteSource};

/// The file name ending of a suite template.
pub const TEMPLATE_EXTENSION: &str = ".clnrm.toml.tera";

/// Variables given by the caller; they win over `[vars]` and `CLNRM_VAR_*`.
pub type TemplateVars = BTreeMap<String, String>;

static PROCESS_VARS: std::sync::OnceLock<TemplateVars> = std::sync::OnceLock::new();

/// Sets the variables every template of this process sees over `[vars]` and `CLNRM_VAR_*`
/// (the `clnrm` binary's `--var NAME=VALUE`). Only the first call counts: it returns whether
/// this one did.
pub fn set_template_vars(vars: TemplateVars) -> bool {
    PROCESS_VARS.set(vars).is_ok()
}

/// Whether `path` names a suite template (`*.clnrm.toml.tera`).
pub fn is_template(path: &Path) -> bool {
    path.to_string_lossy().ends_with(TEMPLATE_EXTENSION)
}

/// A rendered template: the TOML text and where each of its lines came from.
#[derive(Debug, Clone)]
pub(crate) struct Rendered {
    pub(crate) text: String,
    /// For each rendered line (0-based): the template line (1-based) and whether the line is
    /// the template's own text unchanged.
    origin: Vec<(usize, bool)>,
}

impl Rendered {
    /// `d` (positioned in the rendered text) re-positioned in `template`.
    pub(crate) fn map_back(&self, mut d: Diagnostic, template: &SuiteSource) -> Diagnostic {
        let Some(&(line, same)) = self.origin.get(d.line.saturating_sub(1)) else {
            return d;
        };
        if !same {
            d.column = 1;
            d.message.push_str(" (in the rendered template)");
        }
        d.line = line;
        let start = template
            .text()
            .split_inclusive('\n')
            .take(line - 1)
            .map(str::len)
            .sum::<usize>();
        d.span = start..start;
        d
    }
}

/// Renders `source` (a template's text and path) into TOML.
///
/// Errors: every problem as a diagnostic of the template (or of an imported file).
pub(crate) fn render(
    source: &SuiteSource,
    vars: &TemplateVars,
) -> Result<Rendered, Vec<Diagnostic>> {
    let path = source.path();
    let dir = path.parent().unwrap_or(Path::new(""));
    let name = path.file_name().map_or_else(
        || "suite.clnrm.toml.tera".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut files: Vec<(String, PathBuf, String)> =
        vec![(name.clone(), path.to_path_buf(), source.text().to_owned())];
    let mut problems = Vec::new();
    let mut i = 0;
    while i < files.len() {
        for (offset, referenced) in references(&files[i].2) {
            if files.iter().any(|(n, ..)| *n == referenced) {
                continue;
            }
            let file = dir.join(&referenced);
            match std::fs::read_to_string(&file) {
                Ok(text) => files.push((referenced, file, text)),
                Err(e) => problems.push(at(
                    &files[i].1,
                    &files[i].2,
                    offset,
                    format!(
                        "cannot read `{}` (imported by this template): {e}",
                        file.display()
                    ),
                )),
            }
        }
        i += 1;
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    let mut tera = tera::Tera::default();
    tera.autoescape_on(vec![]);
    tera.register_function("env", env_function);
    let raw: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, _, t)| (n.as_str(), t.as_str()))
        .collect();
    if let Err(e) = tera.add_raw_templates(raw) {
        return Err(vec![tera_error(&e, &files)]);
    }
    let mut context = tera::Context::new();
    let mut all: BTreeMap<String, serde_json::Value> = template_vars(source.text());
    for (key, value) in std::env::vars() {
        if let Some(name) = key.strip_prefix("CLNRM_VAR_") {
            all.insert(name.to_ascii_lowercase(), serde_json::Value::String(value));
        }
    }
    for (key, value) in PROCESS_VARS.get().into_iter().flatten().chain(vars) {
        all.insert(key.clone(), serde_json::Value::String(value.clone()));
    }
    for (key, value) in &all {
        context.insert(key.as_str(), value);
    }
    context.insert("vars", &all);
    match tera.render(&name, &context) {
        Ok(text) => {
            let origin = line_origin(source.text(), &text);
            Ok(Rendered { text, origin })
        }
        Err(e) => Err(vec![tera_error(&e, &files)]),
    }
}

/// `env(name="X", default="y")`.
fn env_function(args: &HashMap<String, tera::Value>) -> tera::Result<tera::Value> {
    let Some(name) = args.get("name").and_then(tera::Value::as_str) else {
        return Err("env() needs `name`, like env(name=\"HOME\")".into());
    };
    match (std::env::var(name), args.get("default")) {
        (Ok(value), _) => Ok(tera::Value::String(value)),
        (Err(_), Some(default)) => Ok(default.clone()),
        (Err(_), None) => Err(format!(
            "environment variable `{name}` is not set and env() has no `default`"
        )
        .into()),
    }
}

/// Files a template imports or includes: (offset of the tag, file name).
fn references(text: &str) -> Vec<(usize, String)> {
    let re = regex::Regex::new(r#"\{%-?\s*(?:import|include|extends)\s+"([^"]+)""#)
        .expect("valid regex");
    re.captures_iter(text)
        .filter_map(|c| Some((c.get(0)?.start(), c.get(1)?.as_str().to_owned())))
        .collect()
}

/// The `[vars]` table of a template, read line by line before rendering (the rest of the file
/// is not TOML yet): `key = value` lines whose value is a TOML value and holds no template
/// syntax.
fn template_vars(text: &str) -> BTreeMap<String, serde_json::Value> {
    let mut out = BTreeMap::new();
    let mut in_vars = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            in_vars = trimmed == "[vars]";
            continue;
        }
        if !in_vars || trimmed.contains("{{") || trimmed.contains("{%") {
            continue;
        }
        if let Ok(table) = toml::from_str::<toml::Table>(trimmed) {
            for (key, value) in table {
                if let Ok(json) = serde_json::to_value(&value) {
                    out.insert(key, json);
                }
            }
        }
    }
    out
}

/// A diagnostic at byte `offset` of `file`.
fn at(file: &Path, text: &str, offset: usize, message: String) -> Diagnostic {
    SuiteSource::new(file, text).diagnostic(Severity::Error, offset..offset, message)
}

/// A Tera error as a diagnostic of the file it is about, at its position when Tera gives one.
fn tera_error(e: &tera::Error, files: &[(String, PathBuf, String)]) -> Diagnostic {
    let mut chain = vec![e.to_string()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        chain.push(s.to_string());
        source = s.source();
    }
    // Which file: the last template name quoted in the chain (`Failed to parse 'm.tera'`).
    let named = chain
        .iter()
        .rev()
        .flat_map(|m| {
            files
                .iter()
                .filter(move |(n, ..)| m.contains(&format!("'{n}'")))
        })
        .next()
        .unwrap_or(&files[0]);
    let (_, file, text) = named;
    let source = SuiteSource::new(file, text.as_str());
    let joined = chain.join(": ");
    // A syntax error: pest's ` --> LINE:COL`.
    let position = regex::Regex::new(r"--> (\d+):(\d+)")
        .expect("valid regex")
        .captures(&joined)
        .and_then(|c| Some((c[1].parse::<usize>().ok()?, c[2].parse::<usize>().ok()?)));
    // The first link is Tera's generic "Failed to render 'x'" when there is a cause.
    let reason = chain
        .iter()
        .skip(usize::from(chain.len() > 1))
        .map(|m| {
            m.lines()
                .filter(|l| l.trim_start().starts_with("= "))
                .map(|l| l.trim_start().trim_start_matches("= ").to_owned())
                .next()
                .unwrap_or_else(|| m.lines().next().unwrap_or_default().to_owned())
        })
        .collect::<Vec<_>>()
        .join(": ");
    let offset = match position {
        Some((line, column)) => offset_of(text, line, column),
        None => first_use(text, &joined).unwrap_or(0),
    };
    source.diagnostic(
        Severity::Error,
        offset..offset,
        format!("template: {reason}"),
    )
}

/// The byte offset of 1-based `line`:`column` in `text` (clamped).
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let rest = &text[start.min(text.len())..];
    start
        + rest
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(rest.len(), |(i, _)| i)
}

/// Where the variable or function a render error names is first used.
fn first_use(text: &str, error: &str) -> Option<usize> {
    let re = regex::Regex::new(r"Variable `([^`]+)` not found|environment variable `([^`]+)`")
        .expect("valid regex");
    let c = re.captures(error)?;
    let name = c.get(1).or_else(|| c.get(2))?.as_str();
    let mut from = 0;
    while let Some(found) = text[from..].find(name) {
        let offset = from + found;
        let before = &text[..offset];
        // Inside an expression or a tag, not in plain text.
        let open = before.rfind("{{").max(before.rfind("{%"));
        let close = before.rfind("}}").max(before.rfind("%}"));
        if open.is_some() && open > close {
            return Some(offset);
        }
        from = offset + name.len();
    }
    None
}

/// For each line of `rendered`: the template line it comes from (1-based) and whether it is
/// that line unchanged. Lines common to both are matched by a longest common subsequence; a
/// rendered line the template does not have verbatim comes from the template line between the
/// surrounding matched ones that shares the longest prefix with it (`item {{ i }}` for
/// `item 2`), else the first of them.
fn line_origin(template: &str, rendered: &str) -> Vec<(usize, bool)> {
    let a: Vec<&str> = template.lines().collect();
    let b: Vec<&str> = rendered.lines().collect();
    let (n, m) = (a.len(), b.len());
    // lcs[i][j]: LCS length of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    // matched[j] = Some(i) when rendered line j is template line i verbatim.
    let mut matched = vec![None; m];
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if a[i] == b[j] {
            matched[j] = Some(i);
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    let prefix = |x: &str, y: &str| x.chars().zip(y.chars()).take_while(|(p, q)| p == q).count();
    let mut out = Vec::with_capacity(m);
    for j in 0..m {
        if let Some(i) = matched[j] {
            out.push((i + 1, true));
            continue;
        }
        let low = matched[..j]
            .iter()
            .rev()
            .find_map(|x| *x)
            .map_or(0, |i| i + 1);
        let high = matched[j..].iter().find_map(|x| *x).unwrap_or(n);
        let best = (low..high.max(low))
            .max_by_key(|&i| (prefix(a[i], b[j]), std::cmp::Reverse(i)))
            .unwrap_or(low.saturating_sub(1));
        out.push((best.min(n.saturating_sub(1)) + 1, false));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str) -> SuiteSource {
        SuiteSource::new("/nonexistent/t.clnrm.toml.tera", text)
    }

    #[test]
    fn vars_env_and_caller_variables_render_in_their_precedence() {
        let text = "[vars]\nimage = \"debian:bookworm\"\nname = \"from-vars\"\n# {{ image }} {{ vars.name }} {{ env(name=\"CLNRM_TEMPLATE_TEST_UNSET\", default=\"dflt\") }}\n";
        let mut caller = TemplateVars::new();
        caller.insert("name".into(), "from-caller".into());
        let rendered = render(&source(text), &caller).expect("renders");
        assert!(
            rendered.text.contains("# debian:bookworm from-caller dflt"),
            "{}",
            rendered.text
        );
    }

    #[test]
    fn syntax_errors_point_at_the_template_line_and_column() {
        let text = "[vars]\nx = 1\n\n{% if x %}\nname = \"a\"\n";
        let errors = render(&source(text), &TemplateVars::new()).unwrap_err();
        let d = &errors[0];
        assert_eq!(d.line, 6, "{d}");
        assert!(d.message.starts_with("template: "), "{d}");
    }

    #[test]
    fn an_undefined_variable_points_at_its_first_use() {
        let text = "[test.metadata]\nname = \"{{ missing_name }}\"\n";
        let errors = render(&source(text), &TemplateVars::new()).unwrap_err();
        let d = &errors[0];
        assert_eq!((d.line, d.column), (2, 12), "{d}");
        assert!(d.message.contains("missing_name"), "{d}");
    }

    #[test]
    fn an_unset_environment_variable_without_default_is_an_error() {
        let text = "x = \"{{ env(name=\"CLNRM_TEMPLATE_TEST_UNSET\") }}\"\n";
        let errors = render(&source(text), &TemplateVars::new()).unwrap_err();
        assert!(
            errors[0].message.contains("CLNRM_TEMPLATE_TEST_UNSET"),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn rendered_lines_map_back_to_their_template_lines() {
        let template = "a\n{% for i in [1, 2] %}\nitem {{ i }}\n{% endfor %}\nz\n";
        let rendered = "a\n\nitem 1\n\nitem 2\n\nz\n";
        let origin = line_origin(template, rendered);
        assert_eq!(origin[0], (1, true));
        assert_eq!(origin[6], (5, true));
        // `item 1` was produced by line 3.
        assert_eq!(origin[2].0, 3, "{origin:?}");
    }
}
