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

/// The import name of the older clnrm's embedded macro pack (`span`, `service`, `scenario`).
const OLDER_MACROS_NAME: &str = "_macros.toml.tera";
/// That pack, written for clnrm with the same macros and output.
const OLDER_MACROS: &str = include_str!("older_macros.toml.tera");

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
            if referenced == OLDER_MACROS_NAME && !file.exists() {
                files.push((referenced, file, OLDER_MACROS.to_owned()));
                continue;
            }
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
    register_older_functions(&mut tera);
    let raw: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, _, t)| (n.as_str(), t.as_str()))
        .collect();
    if let Err(e) = tera.add_raw_templates(raw) {
        return Err(vec![tera_error(&e, &files)]);
    }
    let mut context = tera::Context::new();
    let matrix = match template_matrix(source.text()) {
        Ok(matrix) => matrix,
        Err((offset, message)) => return Err(vec![at(path, source.text(), offset, message)]),
    };
    context.insert("matrix", &matrix);
    // The older clnrm's defaults, below everything else: each from its environment variable,
    // else its fixed value.
    let mut all: BTreeMap<String, serde_json::Value> = OLDER_DEFAULTS
        .iter()
        .map(|(name, var, default)| {
            let value = std::env::var(var).unwrap_or_else(|_| (*default).to_owned());
            ((*name).to_owned(), serde_json::Value::String(value))
        })
        .collect();
    all.extend(template_vars(source.text()));
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

/// The older clnrm's template functions whose value depends on the clock or on random numbers
/// (or, seeded, on the exact random generator of its dependencies): a suite must render the
/// same on every run and machine, so a call is an error at its position.
const OLDER_NONDETERMINISTIC: &[&str] = &[
    "now_rfc3339",
    "now_unix",
    "now_ms",
    "now_plus",
    "date_rfc3339",
    "uuid_v4",
    "uuid_v7",
    "ulid",
    "rand_hex",
    "pick",
    "weighted",
    "shuffle",
    "sample",
    "trace_id",
    "span_id",
    "traceparent",
    "baggage",
    "fake",
    "fake_kinds",
    "fake_uuid",
    "fake_uuid_seeded",
    "fake_name",
    "fake_first_name",
    "fake_last_name",
    "fake_title",
    "fake_suffix",
    "fake_email",
    "fake_username",
    "fake_password",
    "fake_domain",
    "fake_url",
    "fake_ipv4",
    "fake_ipv6",
    "fake_user_agent",
    "fake_mac_address",
    "fake_street",
    "fake_city",
    "fake_state",
    "fake_zip",
    "fake_country",
    "fake_latitude",
    "fake_longitude",
    "fake_phone",
    "fake_cell_phone",
    "fake_company",
    "fake_company_suffix",
    "fake_industry",
    "fake_profession",
    "fake_word",
    "fake_words",
    "fake_sentence",
    "fake_paragraph",
    "fake_int",
    "fake_int_range",
    "fake_float",
    "fake_bool",
    "fake_date",
    "fake_time",
    "fake_datetime",
    "fake_timestamp",
    "fake_credit_card",
    "fake_currency_code",
    "fake_currency_name",
    "fake_currency_symbol",
    "fake_filename",
    "fake_extension",
    "fake_mime_type",
    "fake_file_path",
    "fake_color",
    "fake_hex_color",
    "fake_rgb_color",
    "fake_string",
    "fake_port",
    "fake_semver",
];

/// The older clnrm's own template functions: the deterministic ones as it defined them
/// (`sha256(s=)`, `toml_encode(value=)`, `slug(s=)`, `kebab(s=)`, `snake(s=)`, `seq(name=,
/// start=0, step=1)`, `uuid_v5(ns=, name=)`), the others ([`OLDER_NONDETERMINISTIC`]) refused
/// when called.
fn register_older_functions(tera: &mut tera::Tera) {
    tera.register_function("sha256", |args: &HashMap<String, tera::Value>| {
        use sha2::Digest as _;
        let s = string_arg(args, "sha256", "s")?;
        Ok(tera::Value::String(hex(&sha2::Sha256::digest(
            s.as_bytes(),
        ))))
    });
    tera.register_function("toml_encode", |args: &HashMap<String, tera::Value>| {
        let value = args
            .get("value")
            .ok_or("toml_encode() needs `value`, like toml_encode(value=vars.image)")?;
        Ok(tera::Value::String(toml_encode(value)?))
    });
    tera.register_function("slug", |args: &HashMap<String, tera::Value>| {
        let s = string_arg(args, "slug", "s")?.to_lowercase();
        let mapped: String = s
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { '-' })
            .collect();
        let parts: Vec<&str> = mapped.split('-').filter(|p| !p.is_empty()).collect();
        Ok(tera::Value::String(parts.join("-")))
    });
    for (name, sep) in [("kebab", '-'), ("snake", '_')] {
        tera.register_function(name, move |args: &HashMap<String, tera::Value>| {
            let s = string_arg(args, name, "s")?;
            let mut out = String::new();
            for (i, c) in s.chars().enumerate() {
                if c.is_uppercase() && i > 0 {
                    out.push(sep);
                    out.extend(c.to_lowercase());
                } else if sep == '_' && (c == ' ' || c == '-') {
                    out.push('_');
                } else {
                    out.extend(c.to_lowercase());
                }
            }
            Ok(tera::Value::String(out))
        });
    }
    let counters = std::sync::Mutex::new(HashMap::<String, i64>::new());
    tera.register_function("seq", move |args: &HashMap<String, tera::Value>| {
        let name = string_arg(args, "seq", "name")?;
        let start = args.get("start").and_then(tera::Value::as_i64).unwrap_or(0);
        let step = args.get("step").and_then(tera::Value::as_i64).unwrap_or(1);
        let mut counters = counters
            .lock()
            .map_err(|_| tera::Error::msg("seq(): counter poisoned"))?;
        let counter = counters.entry(name.to_owned()).or_insert(start);
        let value = *counter;
        *counter += step;
        Ok(tera::Value::from(value))
    });
    for name in OLDER_NONDETERMINISTIC {
        tera.register_function(name, move |_: &HashMap<String, tera::Value>| {
            Err(format!(
                "older template function `{name}()` is not supported: its value changes with the clock or random numbers, and a suite must render the same every run; write the value or pass it with `--var`"
            )
            .into())
        });
    }
    // As the older clnrm: `ns` a UUID, `name` hashed with it (RFC 9562 version 5, SHA-1).
    tera.register_function("uuid_v5", |args: &HashMap<String, tera::Value>| {
        let ns = string_arg(args, "uuid_v5", "ns")?;
        let name = string_arg(args, "uuid_v5", "name")?;
        let ns = uuid::Uuid::parse_str(ns).map_err(|e| {
            tera::Error::msg(format!("uuid_v5(): `ns` is not a UUID ({e}): \"{ns}\""))
        })?;
        Ok(tera::Value::String(
            uuid::Uuid::new_v5(&ns, name.as_bytes()).to_string(),
        ))
    });
}

fn string_arg<'a>(
    args: &'a HashMap<String, tera::Value>,
    function: &str,
    key: &str,
) -> tera::Result<&'a str> {
    args.get(key).and_then(tera::Value::as_str).ok_or_else(|| {
        tera::Error::msg(format!(
            "{function}() needs `{key}` (a string), like {function}({key}=\"text\")"
        ))
    })
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// A TOML literal for `value` (strings quoted and escaped, arrays and inline tables nested);
/// `null` has no TOML form.
fn toml_encode(value: &tera::Value) -> tera::Result<String> {
    Ok(match value {
        tera::Value::String(s) => toml::Value::String(s.clone()).to_string(),
        tera::Value::Number(n) => n.to_string(),
        tera::Value::Bool(b) => b.to_string(),
        tera::Value::Array(items) => {
            let items: tera::Result<Vec<String>> = items.iter().map(toml_encode).collect();
            format!("[{}]", items?.join(","))
        }
        tera::Value::Object(map) => {
            let mut items = Vec::with_capacity(map.len());
            for (k, v) in map {
                items.push(format!(
                    "{}={}",
                    toml::Value::String(k.clone()),
                    toml_encode(v)?
                ));
            }
            format!("{{{}}}", items.join(","))
        }
        tera::Value::Null => {
            return Err("toml_encode(): `null` has no TOML form (is a variable unset?)".into());
        }
    })
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

/// Variables the older clnrm defined in every template, lowest in precedence: (name, the
/// environment variable it is read from, its value when that is unset).
const OLDER_DEFAULTS: &[(&str, &str, &str)] = &[
    ("svc", "SERVICE_NAME", "clnrm"),
    ("env", "ENV", "ci"),
    ("endpoint", "OTEL_ENDPOINT", "http://localhost:4318"),
    ("exporter", "OTEL_TRACES_EXPORTER", "otlp"),
    ("image", "CLNRM_IMAGE", "registry/clnrm:1.0.0"),
    ("freeze_clock", "FREEZE_CLOCK", "2025-01-01T00:00:00Z"),
    ("token", "OTEL_TOKEN", ""),
];

/// `[template.matrix]` of a template, read before rendering: its text runs to the next table
/// header and must be plain TOML; its keys are `{{ matrix.NAME }}`. Other `[template.*]`
/// tables are an error: the older clnrm read none. Errors: (offset, message).
fn template_matrix(text: &str) -> Result<serde_json::Value, (usize, String)> {
    let mut offset = 0;
    let mut section: Option<(usize, String)> = None;
    let mut found = None;
    for line in text.split_inclusive('\n') {
        let header = line.starts_with('[');
        if header {
            if let Some(done) = section.take() {
                found = Some(done);
            }
            let name = line.trim();
            if name == "[template.matrix]" {
                if found.is_some() {
                    return Err((
                        offset,
                        "`[template.matrix]` is given twice; keep one".to_owned(),
                    ));
                }
                section = Some((offset + line.len(), String::new()));
            } else if name.starts_with("[template.") || name == "[template]" {
                return Err((
                    offset,
                    format!(
                        "`{name}` is not read: the older clnrm's templates take `[template.matrix]` (and `[vars]`) only"
                    ),
                ));
            }
        } else if let Some((_, body)) = &mut section {
            body.push_str(line);
        }
        offset += line.len();
    }
    let Some((start, body)) = section.or(found) else {
        return Ok(serde_json::Value::Object(serde_json::Map::new()));
    };
    if let Some(at) = body.find("{{").or_else(|| body.find("{%")) {
        return Err((
            start + at,
            "`[template.matrix]` is read before rendering: write plain TOML there, without `{{ }}` or `{% %}`".to_owned(),
        ));
    }
    let table: toml::Table = toml::from_str(&body).map_err(|e| {
        let at = start + e.span().map_or(0, |s| s.start);
        (
            at,
            format!("`[template.matrix]`: {}", e.message().trim_end_matches('.')),
        )
    })?;
    serde_json::to_value(table).map_err(|e| (start, format!("`[template.matrix]`: {e}")))
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
    let re = regex::Regex::new(
        r"Variable `([^`]+)` not found|environment variable `([^`]+)`|template function `([^`(]+)\(\)`|Function call '([^']+)' failed",
    )
    .expect("valid regex");
    let c = re.captures(error)?;
    let name = (1..=4).find_map(|i| c.get(i))?.as_str();
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
    fn the_older_deterministic_functions_render_as_the_older_clnrm_defined_them() {
        let text = concat!(
            "# {{ sha256(s=\"hello\") }}\n",
            "a = {{ toml_encode(value=vars.list) }}\n",
            "b = {{ toml_encode(value='say \"hi\"') }}\n",
            "# {{ slug(s=\"Hello, World!\") }} {{ kebab(s=\"myTestName\") }} {{ snake(s=\"myTest-name x\") }}\n",
            "# {{ seq(name=\"n\", start=5) }} {{ seq(name=\"n\", start=5) }} {{ seq(name=\"m\") }}\n",
        );
        let mut caller = TemplateVars::new();
        caller.insert("unused".into(), "x".into());
        let mut text = text.to_owned();
        text.insert_str(0, "[vars]\nlist = [\"a\", 1]\n");
        let rendered = render(&source(&text), &caller).expect("renders");
        let out = &rendered.text;
        assert!(
            out.contains("# 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"),
            "{out}"
        );
        assert!(out.contains("a = [\"a\",1]"), "{out}");
        let parsed: toml::Table = toml::from_str(
            &out.lines()
                .filter(|l| l.starts_with("b = "))
                .collect::<String>(),
        )
        .expect("toml_encode makes TOML");
        assert_eq!(parsed["b"].as_str(), Some("say \"hi\""));
        assert!(
            out.contains("# hello-world my-test-name my_test_name_x"),
            "{out}"
        );
        assert!(out.contains("# 5 6 0"), "{out}");
    }

    #[test]
    fn an_older_clock_or_random_function_is_refused_at_its_call() {
        for call in [
            "now_rfc3339()",
            "fake_name()",
            "uuid_v4(seed=1)",
            "pick(list=[1])",
        ] {
            let text = format!("[test.metadata]\nname = \"t\"\n# at {{{{ {call} }}}}\n");
            let errors = render(&source(&text), &TemplateVars::new()).unwrap_err();
            let d = &errors[0];
            assert_eq!((d.line, d.column), (3, 9), "{d}");
            assert!(d.message.contains("is not supported"), "{d}");
            assert!(d.message.contains(call.split('(').next().unwrap()), "{d}");
        }
    }

    #[test]
    fn uuid_v5_is_the_older_name_based_uuid_and_a_bad_namespace_is_positioned() {
        let text = "[test.metadata]\nname = \"{{ uuid_v5(ns=\"6ba7b810-9dad-11d1-80b4-00c04fd430c8\", name=\"python.org\") }}\"\n";
        let out = render(&source(text), &TemplateVars::new()).unwrap().text;
        // RFC 9562's DNS namespace; the same value as Python's `uuid.uuid5(NAMESPACE_DNS, ...)`.
        assert!(
            out.contains("name = \"886313e1-3b8a-5372-9b90-0c9aee199e5d\""),
            "{out}"
        );
        let bad = "[test.metadata]\nname = \"{{ uuid_v5(ns=\"dns\", name=\"x\") }}\"\n";
        let errors = render(&source(bad), &TemplateVars::new()).unwrap_err();
        assert_eq!((errors[0].line, errors[0].column), (2, 12), "{}", errors[0]);
        assert!(
            errors[0].message.contains("`ns` is not a UUID"),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn the_older_macro_pack_is_imported_under_its_name() {
        let text = concat!(
            "{% import \"_macros.toml.tera\" as m %}\n",
            // Tera has no map literals: maps come from `[vars]`.
            "[vars]\n",
            "app_env = { MODE = \"test\" }\n",
            "db_attrs = { \"db.system\" = \"postgres\" }\n",
            "[meta]\n",
            "name = \"t\"\n",
            "{{ m::service(id=\"api\", image=\"debian:bookworm\", args=[\"sleep\", \"infinity\"], env=app_env) }}\n",
            "{{ m::scenario(name=\"fails\", service=\"api\", cmd=\"false\", expect_success=false) }}\n",
            "{{ m::span(name=\"db.query\", parent=\"http.request\", attrs=db_attrs) }}\n",
        );
        let out = render(&source(text), &TemplateVars::new()).unwrap().text;
        for line in [
            "[service.api]\nplugin = \"generic_container\"\nimage = \"debian:bookworm\"\nargs = [\"sleep\", \"infinity\"]\nenv.MODE = \"test\"\n",
            "[[scenario]]\nname = \"fails\"\nservice = \"api\"\nrun = \"false\"\nexpect_success = false\n",
            "[[expect.span]]\nname = \"db.query\"\nparent = \"http.request\"\nattrs.all = { \"db.system\" = \"postgres\" }\n",
        ] {
            assert!(out.contains(line), "missing\n{line}\nin\n{out}");
        }
    }

    #[test]
    fn the_template_matrix_and_the_older_defaults_are_variables() {
        let text = concat!(
            "[template.matrix]\n",
            "exporters = [\n",
            "    { name = \"stdout\" },\n",
            "    { name = \"otlp\" },\n",
            "]\n",
            "\n",
            "[test.metadata]\n",
            "name = \"{{ svc }}-{{ matrix.exporters | length }}\"\n",
            "{% for e in matrix.exporters %}# {{ e.name }}\n{% endfor %}",
        );
        let rendered = render(&source(text), &TemplateVars::new()).expect("renders");
        let expected_svc = std::env::var("SERVICE_NAME").unwrap_or_else(|_| "clnrm".into());
        assert!(
            rendered
                .text
                .contains(&format!("name = \"{expected_svc}-2\"")),
            "{}",
            rendered.text
        );
        assert!(
            rendered.text.contains("# stdout\n# otlp\n"),
            "{}",
            rendered.text
        );
    }

    #[test]
    fn a_template_matrix_with_template_syntax_or_another_template_table_is_an_error() {
        let text = "[template.matrix]\nxs = [\"{{ a }}\"]\n[test.metadata]\nname = \"t\"\n";
        let d = &render(&source(text), &TemplateVars::new()).unwrap_err()[0];
        assert_eq!((d.line, d.column), (2, 8), "{d}");
        assert!(d.message.contains("plain TOML"), "{d}");
        let text = "[template.vars]\nx = 1\n";
        let d = &render(&source(text), &TemplateVars::new()).unwrap_err()[0];
        assert_eq!((d.line, d.column), (1, 1), "{d}");
        assert!(d.message.contains("`[template.vars]` is not read"), "{d}");
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
