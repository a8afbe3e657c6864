//! `parse_suite`: TOML text -> [`SuiteSpec`], for both the current and the old upstream format
//! (the old format's own tables are read in `parse/legacy.rs`).
//!
//! Why a walker over `toml::de::DeTable` instead of `#[derive(Deserialize)]` with
//! `deny_unknown_fields`: serde stops at the first unknown key, and a suite must report every
//! problem of a file at once, each with its position. The walker keeps the contract of
//! `deny_unknown_fields` (every key is checked against the list of known keys of its table; an
//! unknown one is an error naming the closest known key) and of a visitor's `expecting` (every
//! wrong type says what was expected), with the byte span of every key and value at hand.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use toml::de::{DeTable, DeValue};

use super::compat::{self, Place};
use super::diagnostic::{self, Diagnostic, Sink, SuiteSource};
use super::error::SuiteError;
use super::keys::{self, Table};
use super::spec::{
    Action, CURRENT_VERSION, Command, ExecSpec, Expectations, HttpBody, HttpSpec, Isolation,
    JsonExpect, OutputExpect, ScenarioSpec, Scope, ServiceSpec, Spanned, StepSpec, SuiteSpec,
    SurqlSpec, Target, WaitFor,
};
use crate::values;

mod legacy;

use legacy::{LEGACY_SCENARIO_KEYS, LEGACY_SERVICE_KEYS, LEGACY_STEP_KEYS};

mod chaos_step;

mod spans;

mod oldest;

type Value<'i> = Spanned<DeValue<'i>>;
type Key<'i> = Spanned<Cow<'i, str>>;

/// Which of the two accepted formats a file is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuiteFormat {
    /// `version = 1`, `[suite]`, `[services.NAME]`, `[[steps]]` with `run`/`shell`/`http`.
    Current,
    /// The older upstream clnrm format: `[test.metadata]` or `[meta]`, `[[steps]]` with
    /// `command` and `expected_output_regex`, `[[scenario]]`; or its oldest `clnrm init`
    /// shape (top-level `name`, `[[scenarios]]` with `cmd` steps, `[policy]`).
    Legacy,
}

/// The result of [`parse_suite`]: a spec plus the structural problems found on the way.
#[derive(Debug, Clone)]
pub struct ParsedSuite {
    /// The spec. When `diagnostics` has errors it is partial (bad entries are left out) and
    /// only good for further checking, never for running.
    pub spec: SuiteSpec,
    /// The format the file was written in.
    pub format: SuiteFormat,
    /// Unknown keys, wrong types, bad values, ignored upstream keys (warnings), sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}

const LEGACY_TOP: &[&str] = &[
    "test", "meta", "services", "service", "steps", "scenario", "expect",
];
const HTTP_METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// Parses a suite file (either format) into a [`SuiteSpec`].
///
/// Pure: no I/O. Fails only when the text is not TOML ([`SuiteError::Parse`], carrying every
/// syntax error with its position); every other problem is returned in
/// [`ParsedSuite::diagnostics`] so that one pass reports all of them. Cross-references
/// (plugins, services, cycles, regexes, timeouts) are checked by
/// [`validate_suite`](super::validate_suite).
pub fn parse_suite(source: &SuiteSource) -> Result<ParsedSuite, SuiteError> {
    let (root, errors) = DeTable::parse_recoverable(source.text());
    if let Some(first) = errors.first() {
        let mut diagnostics: Vec<Diagnostic> = errors
            .iter()
            .map(|e| {
                let span = e.span().unwrap_or(0..0);
                source.diagnostic(
                    diagnostic::Severity::Error,
                    span,
                    format!("invalid TOML: {}", e.message().trim_end_matches('.')),
                )
            })
            .collect();
        if let Some(at) = template_syntax(source.text()) {
            diagnostics.push(source.diagnostic(
                diagnostic::Severity::Error,
                at..at + 2,
                "this file looks like a Tera template (`{{ }}` / `{% %}`) of the older clnrm; name it `*.clnrm.toml.tera` to have it rendered before parsing",
            ));
            diagnostic::sort(&mut diagnostics);
        }
        return Err(SuiteError::Parse {
            path: source.path().to_path_buf(),
            diagnostics,
            source: Box::new(first.clone()),
        });
    }
    let root = root.into_inner();
    let format = detect_format(&root);
    let mut walker = Walker {
        sink: Sink::new(source),
        legacy: format == SuiteFormat::Legacy,
        default_image_noted: false,
    };
    let spec = walker.suite(&root, source);
    let mut diagnostics = walker.sink.out;
    diagnostic::sort(&mut diagnostics);
    Ok(ParsedSuite {
        spec,
        format,
        diagnostics,
    })
}

/// The offset of the first `{%` or `{{` of a file that is not valid TOML: template syntax.
fn template_syntax(text: &str) -> Option<usize> {
    [text.find("{%"), text.find("{{")]
        .into_iter()
        .flatten()
        .min()
}

fn detect_format(root: &DeTable<'_>) -> SuiteFormat {
    if root.contains_key("version") {
        return SuiteFormat::Current;
    }
    if oldest::is_oldest(root) {
        return SuiteFormat::Legacy;
    }
    let legacy_key = ["test", "meta", "service", "scenario", "containers"]
        .iter()
        .any(|k| root.contains_key(*k));
    // A step key only the older format has (the table of older keys, less the current ones).
    let current_step = keys::names(Table::Step);
    let legacy_step = root
        .get("steps")
        .and_then(|s| s.get_ref().as_array())
        .is_some_and(|steps| {
            steps.iter().any(|s| {
                s.get_ref().as_table().is_some_and(|t| {
                    t.keys().any(|k| {
                        compat::lookup(Place::Step, k.get_ref()).is_some()
                            && !current_step.contains(&k.get_ref().as_ref())
                    })
                })
            })
        });
    let legacy_service = root
        .get("services")
        .and_then(|s| s.get_ref().as_table())
        .is_some_and(|services| {
            services.values().any(|s| {
                s.get_ref()
                    .as_table()
                    .is_some_and(|t| t.contains_key("type") || t.contains_key("args"))
            })
        });
    if legacy_key || legacy_step || legacy_service {
        SuiteFormat::Legacy
    } else {
        SuiteFormat::Current
    }
}

/// The entries of a table in file order (a `DeTable` is sorted by key).
fn entries<'a, 'i>(table: &'a DeTable<'i>) -> Vec<(&'a Key<'i>, &'a Value<'i>)> {
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    entries
}

fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

fn integer(value: &DeValue<'_>) -> Option<Option<i64>> {
    match value {
        DeValue::Integer(i) => Some(i64::from_str_radix(i.as_str(), i.radix()).ok()),
        _ => None,
    }
}

struct Walker<'s> {
    sink: Sink<'s>,
    legacy: bool,
    /// Whether the default container of service-less old-format steps was reported already.
    default_image_noted: bool,
}

impl Walker<'_> {
    // ---- generic helpers -------------------------------------------------------------

    /// Reports every key of `table` that is not in `known` (the `deny_unknown_fields` check).
    /// Older-format keys of `place` are treated as [`compat::OLD_KEYS`] says: descriptive ones
    /// are warnings in old-format files, unevaluated checks and unsupported behaviour errors.
    fn check_keys(
        &mut self,
        table: &DeTable<'_>,
        what: &str,
        known: &[&str],
        place: Option<Place>,
    ) {
        for (key, _) in entries(table) {
            let name = key.get_ref().as_ref();
            if known.contains(&name) {
                continue;
            }
            if matches!(place, Some(Place::Top | Place::InitTop))
                && (name == "vars" || name == "template")
                && self.sink.source.is_rendered_template()
            {
                // The renderer read them.
                continue;
            }
            let treatment = place
                .and_then(|p| compat::lookup(p, name))
                .map(|k| k.treatment);
            if let Some(t) = treatment
                && (self.legacy || t.is_error())
            {
                // What to report, and the kind `validate`'s summary counts it under, come
                // from the table; a mapped key is read (and reported) by its table's code.
                match t.report(name, what) {
                    Some((Some(kind), message)) => self.sink.note(kind, key.span(), message),
                    Some((None, message)) => self.sink.error(key.span(), message),
                    None => {}
                }
                continue;
            }
            let mut candidates: Vec<&str> = known.to_vec();
            if self.legacy
                && let Some(place) = place
            {
                candidates.extend(compat::mapped_keys(place).map(|k| -> &str { k }));
            }
            let message = match values::closest(name, &candidates) {
                Some(suggestion) => {
                    format!("unknown key `{name}` in {what}, did you mean `{suggestion}`?")
                }
                None => format!(
                    "unknown key `{name}` in {what}; expected one of: {}",
                    candidates.join(", ")
                ),
            };
            self.sink.error(key.span(), message);
        }
    }

    fn expected(&mut self, value: &Value<'_>, key: &str, what: &str, expected: &str) {
        self.sink.error(
            value.span(),
            format!(
                "`{key}` in {what}: expected {expected}, found {}",
                type_name(value.get_ref())
            ),
        );
    }

    fn string(&mut self, table: &DeTable<'_>, key: &str, what: &str) -> Option<Spanned<String>> {
        let value = table.get(key)?;
        match value.get_ref() {
            DeValue::String(s) => Some(Spanned::new(value.span(), s.to_string())),
            _ => {
                self.expected(value, key, what, "a string");
                None
            }
        }
    }

    fn bool(&mut self, table: &DeTable<'_>, key: &str, what: &str) -> Option<bool> {
        let value = table.get(key)?;
        match value.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.expected(value, key, what, "true or false");
                None
            }
        }
    }

    /// An integer in `range`, reported with `expected` when it is out of range or not an integer.
    fn int_in(
        &mut self,
        value: &Value<'_>,
        key: &str,
        what: &str,
        range: Range<i64>,
        expected: &str,
    ) -> Option<Spanned<i64>> {
        match integer(value.get_ref()) {
            None => {
                self.expected(value, key, what, expected);
                None
            }
            Some(Some(n)) if range.contains(&n) => Some(Spanned::new(value.span(), n)),
            Some(n) => {
                let shown = n.map_or_else(|| "a huge integer".to_owned(), |n| n.to_string());
                self.sink.error(
                    value.span(),
                    format!("`{key}` in {what}: {shown} is out of range; expected {expected}"),
                );
                None
            }
        }
    }

    fn exit_code(&mut self, value: &Value<'_>, key: &str, what: &str) -> Option<Spanned<i32>> {
        let range = i64::from(i32::MIN)..i64::from(i32::MAX) + 1;
        self.int_in(value, key, what, range, "an exit code (integer)")
            .map(|c| Spanned::new(c.span(), i32::try_from(c.into_inner()).unwrap_or(0)))
    }

    fn port(&mut self, value: &Value<'_>, key: &str, what: &str) -> Option<Spanned<u16>> {
        let n = self.int_in(value, key, what, 1..65536, "a port number from 1 to 65535")?;
        let span = n.span();
        Some(Spanned::new(span, u16::try_from(*n.get_ref()).ok()?))
    }

    fn duration(
        &mut self,
        table: &DeTable<'_>,
        key: &str,
        what: &str,
    ) -> Option<Spanned<Duration>> {
        let value = table.get(key)?;
        match value.get_ref() {
            DeValue::String(s) => match values::parse_duration(s) {
                Ok(d) => Some(Spanned::new(value.span(), d)),
                Err(e) => {
                    self.sink
                        .error(value.span(), format!("`{key}` in {what}: {e}"));
                    None
                }
            },
            DeValue::Integer(_) => {
                let secs = self.int_in(
                    value,
                    key,
                    what,
                    0..i64::MAX,
                    "a duration: whole seconds (0 or more) or a string like \"30s\"",
                )?;
                Some(Spanned::new(
                    value.span(),
                    Duration::from_secs(secs.into_inner().unsigned_abs()),
                ))
            }
            _ => {
                self.expected(
                    value,
                    key,
                    what,
                    "a duration: whole seconds or a string like \"500ms\", \"30s\", \"1m 30s\"",
                );
                None
            }
        }
    }

    /// An array of strings (argv), element errors pointing at the element.
    fn strings(
        &mut self,
        value: &Value<'_>,
        key: &str,
        what: &str,
    ) -> Option<Vec<Spanned<String>>> {
        let Some(array) = value.get_ref().as_array() else {
            self.expected(value, key, what, "an array of strings");
            return None;
        };
        let mut out = Vec::with_capacity(array.len());
        let mut ok = true;
        for item in array.iter() {
            match item.get_ref() {
                DeValue::String(s) => out.push(Spanned::new(item.span(), s.to_string())),
                _ => {
                    self.expected(item, key, what, "a string in the array");
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    /// A string or an array of strings.
    fn one_or_many(&mut self, value: &Value<'_>, key: &str, what: &str) -> Vec<Spanned<String>> {
        match value.get_ref() {
            DeValue::String(s) => vec![Spanned::new(value.span(), s.to_string())],
            DeValue::Array(_) => self.strings(value, key, what).unwrap_or_default(),
            _ => {
                self.expected(value, key, what, "a string or an array of strings");
                Vec::new()
            }
        }
    }

    /// An argv array that must not be empty.
    fn argv(&mut self, table: &DeTable<'_>, key: &str, what: &str) -> Option<Spanned<Vec<String>>> {
        let value = table.get(key)?;
        let items = self.strings(value, key, what)?;
        if items.is_empty() {
            self.sink.error(
                value.span(),
                format!(
                    "`{key}` in {what} is an empty array; expected the program and its arguments, like [\"psql\", \"-c\", \"select 1\"]"
                ),
            );
            return None;
        }
        if items[0].get_ref().trim().is_empty() {
            self.sink.error(
                items[0].span(),
                format!("`{key}` in {what}: the program name (first item) is empty"),
            );
            return None;
        }
        Some(Spanned::new(
            value.span(),
            items.into_iter().map(Spanned::into_inner).collect(),
        ))
    }

    fn table<'a, 'i>(
        &mut self,
        table: &'a DeTable<'i>,
        key: &str,
        what: &str,
    ) -> Option<(&'a DeTable<'i>, Range<usize>)> {
        let value = table.get(key)?;
        match value.get_ref() {
            DeValue::Table(t) => Some((t, value.span())),
            _ => {
                self.expected(value, key, what, "a table");
                None
            }
        }
    }

    fn string_map(
        &mut self,
        table: &DeTable<'_>,
        key: &str,
        what: &str,
    ) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let Some((map, _)) = self.table(table, key, what) else {
            return out;
        };
        for (k, v) in entries(map) {
            match v.get_ref() {
                DeValue::String(s) => {
                    out.insert(k.get_ref().to_string(), s.to_string());
                }
                _ => {
                    let entry = format!("{key}.{}", k.get_ref());
                    self.expected(v, &entry, what, "a string (quote numbers and booleans)");
                }
            }
        }
        out
    }

    /// An array of tables (`[[steps]]`), each with its header span.
    fn tables<'a, 'i>(
        &mut self,
        table: &'a DeTable<'i>,
        key: &str,
        what: &str,
    ) -> Vec<(&'a DeTable<'i>, Range<usize>)> {
        let Some(value) = table.get(key) else {
            return Vec::new();
        };
        let Some(array) = value.get_ref().as_array() else {
            self.expected(value, key, what, &format!("an array of tables ([[{key}]])"));
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in array.iter() {
            match item.get_ref() {
                DeValue::Table(t) => out.push((t, item.span())),
                _ => self.expected(item, key, what, "a table"),
            }
        }
        out
    }

    fn json_value(&mut self, value: &Value<'_>, what: &str) -> Option<serde_json::Value> {
        Some(match value.get_ref() {
            DeValue::String(s) => serde_json::Value::String(s.to_string()),
            DeValue::Integer(_) => match integer(value.get_ref()).flatten() {
                Some(n) => n.into(),
                None => {
                    self.sink.error(
                        value.span(),
                        format!("{what}: integer does not fit in 64 bits"),
                    );
                    return None;
                }
            },
            DeValue::Float(f) => {
                let n = f
                    .as_str()
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64);
                match n {
                    Some(n) => serde_json::Value::Number(n),
                    None => {
                        self.sink.error(
                            value.span(),
                            format!("{what}: {} cannot be represented in JSON", f.as_str()),
                        );
                        return None;
                    }
                }
            }
            DeValue::Boolean(b) => serde_json::Value::Bool(*b),
            DeValue::Datetime(d) => serde_json::Value::String(d.to_string()),
            DeValue::Array(a) => {
                let mut out = Vec::with_capacity(a.len());
                for item in a.iter() {
                    out.push(self.json_value(item, what)?);
                }
                serde_json::Value::Array(out)
            }
            DeValue::Table(t) => {
                let mut out = serde_json::Map::new();
                for (k, v) in entries(t) {
                    out.insert(k.get_ref().to_string(), self.json_value(v, what)?);
                }
                serde_json::Value::Object(out)
            }
        })
    }

    // ---- the suite ---------------------------------------------------------------------

    fn suite(&mut self, root: &DeTable<'_>, source: &SuiteSource) -> SuiteSpec {
        let default_name = default_suite_name(source);
        let mut spec = SuiteSpec {
            version: CURRENT_VERSION,
            name: Spanned::new(0..0, default_name),
            description: None,
            tags: Vec::new(),
            timeout: None,
            services: Vec::new(),
            scenarios: Vec::new(),
            expect: crate::telemetry::SpanExpectations::default(),
        };
        if self.legacy && oldest::is_oldest(root) {
            self.oldest_suite(root, &mut spec);
            return spec;
        }
        if self.legacy {
            self.check_keys(root, "the top level", LEGACY_TOP, Some(Place::Top));
            self.legacy_metadata(root, &mut spec);
        } else {
            self.check_keys(
                root,
                "the top level",
                &keys::names(Table::Top),
                Some(Place::Top),
            );
            self.version(root);
            if let Some((table, _)) = self.table(root, "suite", "the top level") {
                self.check_keys(table, "[suite]", &keys::names(Table::Suite), None);
                self.metadata(table, "[suite]", &mut spec);
                if let Some(tags) = table.get("tags") {
                    spec.tags = self
                        .strings(tags, "tags", "[suite]")
                        .unwrap_or_default()
                        .into_iter()
                        .map(Spanned::into_inner)
                        .collect();
                }
            }
        }

        self.services(root, "services", &mut spec.services);
        if self.legacy {
            self.services(root, "service", &mut spec.services);
            self.services(root, "containers", &mut spec.services);
        }

        let steps_span = root.get("steps").map(|v| v.span());
        let suite_name = spec.name.get_ref().clone();
        let steps = self.steps(root, "the top level", &suite_name, None, &spec.services);
        let scenario_key = if self.legacy { "scenario" } else { "scenarios" };
        let scenarios = self.tables(root, scenario_key, "the top level");
        if let Some(span) = steps_span.clone() {
            if !scenarios.is_empty() {
                let scenarios_span = root.get(scenario_key).map_or(0..0, |v| v.span());
                self.sink.error(
                    scenarios_span,
                    format!(
                        "a suite has top-level [[steps]] or [[{scenario_key}]], not both; move the steps into a scenario"
                    ),
                );
            }
            spec.scenarios.push(ScenarioSpec {
                name: Spanned::new(span, spec.name.get_ref().clone()),
                steps,
            });
        }
        for (index, (table, header)) in scenarios.into_iter().enumerate() {
            let scenario = self.scenario(table, header, index, &spec.services);
            spec.scenarios.push(scenario);
        }
        let empty_array = |key: &str| {
            root.get(key)
                .and_then(|v| v.get_ref().as_array())
                .is_some_and(|a| a.is_empty())
        };
        if let Some(span) = steps_span.clone().filter(|_| empty_array("steps")) {
            self.sink
                .error(span, "`steps` is empty; expected at least one [[steps]]");
        }
        if steps_span.is_none() && !root.contains_key(scenario_key) {
            self.sink.error(
                0..0,
                format!("suite has no steps; expected [[steps]] or [[{scenario_key}]]"),
            );
        }
        if self.legacy {
            self.legacy_assertions(root, &spec.scenarios);
        }
        spec.expect = self.span_expectations(root, &spec.services);
        spec
    }

    fn version(&mut self, root: &DeTable<'_>) {
        let Some(value) = root.get("version") else {
            self.sink.error(
                0..0,
                "missing top-level `version = 1` (the suite format version)",
            );
            return;
        };
        match integer(value.get_ref()) {
            Some(Some(n)) if n == i64::from(CURRENT_VERSION) => {}
            Some(n) => {
                let shown = n.map_or_else(|| "a huge integer".to_owned(), |n| n.to_string());
                self.sink.error(
                    value.span(),
                    format!("unsupported suite version {shown}; this clnrm reads version {CURRENT_VERSION}"),
                );
            }
            None => self.expected(value, "version", "the top level", "the integer 1"),
        }
    }

    /// `name`, `description`, `timeout` of `[suite]` / `[test.metadata]` / `[meta]`.
    fn metadata(&mut self, table: &DeTable<'_>, what: &str, spec: &mut SuiteSpec) {
        if let Some(name) = self.string(table, "name", what) {
            if name.get_ref().trim().is_empty() {
                self.sink
                    .error(name.span(), format!("`name` in {what} is empty"));
            } else {
                spec.name = name;
            }
        }
        spec.description = self
            .string(table, "description", what)
            .map(Spanned::into_inner);
        spec.timeout = self.duration(table, "timeout", what);
    }

    // ---- services ----------------------------------------------------------------------

    fn services(&mut self, root: &DeTable<'_>, key: &str, out: &mut Vec<ServiceSpec>) {
        let Some((services, _)) = self.table(root, key, "the top level") else {
            return;
        };
        for (name, value) in entries(services) {
            let DeValue::Table(table) = value.get_ref() else {
                self.expected(
                    value,
                    name.get_ref(),
                    &format!("[{key}]"),
                    "a table ([services.NAME])",
                );
                continue;
            };
            let name = Spanned::new(value.span(), name.get_ref().to_string());
            if !valid_service_name(name.get_ref()) {
                self.sink.error(
                    name.span(),
                    format!(
                        "invalid service name \"{}\"; expected letters, digits, `_`, `-` or `.`, starting with a letter or digit",
                        name.get_ref()
                    ),
                );
            }
            if out.iter().any(|s| s.name.get_ref() == name.get_ref()) {
                self.sink.error(
                    name.span(),
                    format!("service \"{}\" is declared twice", name.get_ref()),
                );
                continue;
            }
            let service = if key == "containers" {
                let mut service = ServiceSpec::generic(name);
                self.legacy_container(table, &mut service);
                service
            } else {
                self.service(table, name)
            };
            out.push(service);
        }
    }

    fn service(&mut self, table: &DeTable<'_>, name: Spanned<String>) -> ServiceSpec {
        let what = format!("service \"{}\"", name.get_ref());
        let what = what.as_str();
        let mut service = ServiceSpec::generic(name);
        if self.legacy {
            self.check_keys(table, what, LEGACY_SERVICE_KEYS, Some(Place::Service));
            self.legacy_service(table, what, &mut service);
        } else {
            self.check_keys(table, what, &keys::names(Table::Service), None);
            if let Some(plugin) = self.string(table, "plugin", what) {
                service.plugin = plugin;
            }
            service.cmd = self.argv(table, "cmd", what).map(Spanned::into_inner);
            service.entrypoint = self
                .argv(table, "entrypoint", what)
                .map(Spanned::into_inner);
            service.wait_for = self.wait_for(table, what);
            service.memory = self.memory(table, what);
            service.cpus = self.cpus(table, what);
            service.user = self.string(table, "user", what);
            service.startup_timeout = self.duration(table, "startup_timeout", what);
            service.chaos = self.bool(table, "chaos", what).unwrap_or(false);
            if let Some(deps) = table.get("depends_on") {
                service.depends_on = self.one_or_many(deps, "depends_on", what);
            }
            if let Some(scope) = self.string(table, "scope", what) {
                match scope.get_ref().as_str() {
                    "shared" => service.scope = Scope::Shared,
                    "test" => service.scope = Scope::Test,
                    other => self.sink.error(
                        scope.span(),
                        format!(
                            "unknown scope \"{other}\" in {what}; expected \"shared\" or \"test\""
                        ),
                    ),
                }
            }
            if let Some(isolation) = self.string(table, "isolation", what) {
                let span = isolation.span();
                match isolation.get_ref().as_str() {
                    "database" => service.isolation = Some(Spanned::new(span, Isolation::Database)),
                    "schema" => service.isolation = Some(Spanned::new(span, Isolation::Schema)),
                    "namespace" => {
                        service.isolation = Some(Spanned::new(span, Isolation::Namespace));
                    }
                    "none" => service.isolation = Some(Spanned::new(span, Isolation::None)),
                    other => self.sink.error(
                        span,
                        format!(
                            "unknown isolation \"{other}\" in {what}; expected \"database\", \"schema\", \"namespace\" or \"none\""
                        ),
                    ),
                }
            }
            service.migrations = self.string(table, "migrations", what);
            service.model = self.string(table, "model", what);
            if let Some(models) = table.get("models") {
                service.models = self.one_or_many(models, "models", what);
            }
            service.gpus = self.gpus(table, what);
            self.volumes(table, what, &mut service);
        }
        service.otel = self.bool(table, "otel", what).unwrap_or(false);
        if let Some(image) = self.string(table, "image", what) {
            service.image = Some(image);
        }
        if !self.legacy || !table.contains_key("environment") {
            service.env = self.string_map(table, "env", what);
        }
        if let Some(ports) = table.get("ports") {
            if let Some(array) = ports.get_ref().as_array() {
                for port in array.iter() {
                    if let Some(p) = self.port(port, "ports", what) {
                        service.ports.push(p);
                    }
                }
            } else {
                self.expected(ports, "ports", what, "an array of port numbers");
            }
        }
        service
    }

    fn wait_for(&mut self, table: &DeTable<'_>, what: &str) -> Option<Spanned<WaitFor>> {
        let value = table.get("wait_for")?;
        let DeValue::Table(wait) = value.get_ref() else {
            self.expected(
                value,
                "wait_for",
                what,
                "a table with one of `log`, `tcp`, `http`, `command`",
            );
            return None;
        };
        let inner = format!("wait_for of {what}");
        let inner = inner.as_str();
        self.check_keys(wait, inner, &keys::names(Table::WaitFor), None);
        let kinds: Vec<&str> = ["log", "tcp", "http", "command"]
            .into_iter()
            .filter(|k| wait.contains_key(*k))
            .collect();
        if kinds.len() != 1 {
            let found = if kinds.is_empty() {
                "none".to_owned()
            } else {
                kinds
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            };
            self.sink.error(
                value.span(),
                format!(
                    "{inner}: expected exactly one of `log`, `tcp`, `http`, `command`, found {found}"
                ),
            );
            return None;
        }
        if kinds[0] != "http" {
            for extra in ["port", "status"] {
                if let Some((k, _)) = wait.get_key_value(extra) {
                    self.sink.error(
                        k.span(),
                        format!("{inner}: `{extra}` only goes with `http`"),
                    );
                }
            }
        }
        let wait_for = match kinds[0] {
            "log" => WaitFor::Log(self.string(wait, "log", inner)?.into_inner()),
            "tcp" => WaitFor::Tcp(self.port(wait.get("tcp")?, "tcp", inner)?.into_inner()),
            "http" => {
                let path = self.string(wait, "http", inner)?;
                if !path.get_ref().starts_with('/') {
                    self.sink.error(
                        path.span(),
                        format!(
                            "{inner}: `http` is a path and must start with `/`, like \"/health\""
                        ),
                    );
                }
                let port = match wait.get("port") {
                    Some(p) => Some(self.port(p, "port", inner)?.into_inner()),
                    None => None,
                };
                let status = match wait.get("status") {
                    Some(s) => {
                        let s = self.int_in(
                            s,
                            "status",
                            inner,
                            100..600,
                            "an HTTP status from 100 to 599",
                        )?;
                        u16::try_from(s.into_inner()).ok()?
                    }
                    None => 200,
                };
                WaitFor::Http {
                    path: path.into_inner(),
                    port,
                    status,
                }
            }
            _ => WaitFor::Command(self.argv(wait, "command", inner)?.into_inner()),
        };
        Some(Spanned::new(value.span(), wait_for))
    }

    fn memory(&mut self, table: &DeTable<'_>, what: &str) -> Option<Spanned<u64>> {
        let value = table.get("memory")?;
        let parsed = match value.get_ref() {
            DeValue::String(s) => values::parse_memory(s),
            DeValue::Integer(_) => match integer(value.get_ref()).flatten() {
                Some(n) if n > 0 => Ok(n.unsigned_abs()),
                _ => Err("expected a positive number of bytes or a size like \"256m\"".to_owned()),
            },
            _ => {
                self.expected(
                    value,
                    "memory",
                    what,
                    "a memory size like \"256m\" or \"1g\"",
                );
                return None;
            }
        };
        match parsed {
            Ok(bytes) => Some(Spanned::new(value.span(), bytes)),
            Err(e) => {
                self.sink
                    .error(value.span(), format!("`memory` in {what}: {e}"));
                None
            }
        }
    }

    fn cpus(&mut self, table: &DeTable<'_>, what: &str) -> Option<Spanned<f64>> {
        let value = table.get("cpus")?;
        let cpus = match value.get_ref() {
            DeValue::Float(f) => f.as_str().parse::<f64>().ok(),
            DeValue::Integer(_) => integer(value.get_ref()).flatten().map(|n| n as f64),
            // `cpus = "0.5"`, as `docker run --cpus` and the macro's `cpus = "0.5"` write it.
            DeValue::String(s) => s.trim().parse::<f64>().ok(),
            _ => {
                self.expected(value, "cpus", what, "a number of CPUs like 1.5 or \"0.5\"");
                return None;
            }
        };
        match cpus {
            Some(c) if c.is_finite() && c > 0.0 && c <= 1024.0 => {
                Some(Spanned::new(value.span(), c))
            }
            _ => {
                self.sink.error(
                    value.span(),
                    format!("`cpus` in {what}: expected a positive number of CPUs like 0.5 or 2"),
                );
                None
            }
        }
    }

    fn gpus(&mut self, table: &DeTable<'_>, what: &str) -> Option<Spanned<crate::docker::Gpus>> {
        let value = table.get("gpus")?;
        let text = match value.get_ref() {
            DeValue::String(s) => s.to_string(),
            DeValue::Integer(_) => integer(value.get_ref())
                .flatten()
                .map(|n| n.to_string())
                .unwrap_or_default(),
            _ => String::new(),
        };
        match text.parse() {
            Ok(gpus) => Some(Spanned::new(value.span(), gpus)),
            Err(e) => {
                self.sink
                    .error(value.span(), format!("`gpus` in {what}: {e}"));
                None
            }
        }
    }

    // ---- scenarios and steps -----------------------------------------------------------

    fn scenario(
        &mut self,
        table: &DeTable<'_>,
        header: Range<usize>,
        index: usize,
        services: &[ServiceSpec],
    ) -> ScenarioSpec {
        let name = self.name_of(table, &header, format!("scenario #{}", index + 1));
        let what = format!("scenario \"{}\"", name.get_ref());
        let what = what.as_str();
        if self.legacy {
            self.check_keys(table, what, LEGACY_SCENARIO_KEYS, Some(Place::Scenario));
        } else {
            self.check_keys(table, what, &keys::names(Table::Scenario), None);
        }
        let scenario_service = if self.legacy {
            self.string(table, "service", what)
        } else {
            None
        };
        let mut steps = self.steps(
            table,
            what,
            name.get_ref(),
            scenario_service.as_ref(),
            services,
        );
        if self.legacy {
            self.legacy_scenario_run(table, what, &name, scenario_service, services, &mut steps);
        }
        let declared_steps = table
            .get("steps")
            .and_then(|v| v.get_ref().as_array())
            .map_or(0, |a| a.len());
        if declared_steps == 0 && !table.contains_key("run") {
            let expected = if self.legacy {
                "[[scenario.steps]] or `run`"
            } else {
                "[[scenarios.steps]]"
            };
            self.sink
                .error(header, format!("{what} has no steps; expected {expected}"));
        }
        ScenarioSpec { name, steps }
    }

    fn steps(
        &mut self,
        table: &DeTable<'_>,
        what: &str,
        scenario: &str,
        default_service: Option<&Spanned<String>>,
        services: &[ServiceSpec],
    ) -> Vec<StepSpec> {
        let mut out = Vec::new();
        // (name, kept): a step with a broken action is left out of the spec, so the checks
        // `validate_suite` makes on steps are made here for it, to still report everything.
        let mut seen: Vec<(Spanned<String>, bool)> = Vec::new();
        let tables = self.tables(table, "steps", what);
        let names: Vec<Option<String>> = tables
            .iter()
            .map(|(t, _)| {
                t.get("name")
                    .and_then(|n| n.get_ref().as_str())
                    .map(str::to_owned)
            })
            .collect();
        for (index, (step_table, header)) in tables.into_iter().enumerate() {
            if self.legacy {
                let step_what = names[index].as_deref().map_or_else(
                    || format!("step #{}", index + 1),
                    |n| format!("step \"{n}\""),
                );
                self.legacy_depends_on(step_table, index, &names, &step_what);
            }
            match self.step(step_table, header, index, default_service, services) {
                Ok(step) => {
                    self.duplicate(&seen, &step.name, true, scenario);
                    seen.push((step.name.clone(), true));
                    out.push(step);
                }
                Err(dropped) => {
                    let (name, expect) = *dropped;
                    self.duplicate(&seen, &name, false, scenario);
                    let step_what = format!("step \"{}\"", name.get_ref());
                    for (stream, output) in [("stdout", &expect.stdout), ("stderr", &expect.stderr)]
                    {
                        for pattern in &output.regex {
                            if let Some(message) = super::validate::regex_problem(
                                pattern.get_ref(),
                                stream,
                                &step_what,
                            ) {
                                self.sink.error(pattern.span(), message);
                            }
                        }
                    }
                    seen.push((name, false));
                }
            }
        }
        out
    }

    fn duplicate(
        &mut self,
        seen: &[(Spanned<String>, bool)],
        name: &Spanned<String>,
        kept: bool,
        scenario: &str,
    ) {
        let first = seen.iter().find(|(n, _)| n.get_ref() == name.get_ref());
        if let Some((first, first_kept)) = first
            && !(kept && *first_kept)
        {
            let (line, _) = self.sink.source.line_col(first.span().start);
            self.sink.error(
                name.span(),
                super::validate::duplicate_step_message(name.get_ref(), scenario, line),
            );
        }
    }

    /// The `name` of a scenario or step; `fallback` (and an error) when it is missing or empty.
    fn name_of(
        &mut self,
        table: &DeTable<'_>,
        header: &Range<usize>,
        fallback: String,
    ) -> Spanned<String> {
        match self.string(table, "name", &fallback) {
            Some(n) if !n.get_ref().trim().is_empty() => n,
            found => {
                match found {
                    Some(n) => self
                        .sink
                        .error(n.span(), format!("`name` of {fallback} is empty")),
                    None if !table.contains_key("name") => self.sink.error(
                        header.clone(),
                        format!("{fallback} has no `name`; expected name = \"...\""),
                    ),
                    None => {}
                }
                Spanned::new(header.clone(), fallback)
            }
        }
    }

    fn step(
        &mut self,
        table: &DeTable<'_>,
        header: Range<usize>,
        index: usize,
        default_service: Option<&Spanned<String>>,
        services: &[ServiceSpec],
    ) -> Result<StepSpec, Box<(Spanned<String>, Expectations)>> {
        let name = self.name_of(table, &header, format!("step #{}", index + 1));
        let what = format!("step \"{}\"", name.get_ref());
        let what = what.as_str();
        let env = self.string_map(table, "env", what);
        let workdir = self.string(table, "workdir", what);
        let continue_on_failure = self
            .bool(table, "continue_on_failure", what)
            .unwrap_or(false);
        let (action, expect, timeout, retries) = if self.legacy {
            self.check_keys(table, what, LEGACY_STEP_KEYS, Some(Place::Step));
            let (action, expect, retries) =
                self.legacy_step_body(table, &header, what, default_service, services);
            (action, expect, None, retries)
        } else {
            self.check_keys(table, what, &keys::names(Table::Step), None);
            let action = self.action(table, &header, what);
            let expect = match self.table(table, "expect", what) {
                Some((expect, _)) => self.expectations(expect, what),
                None => Expectations::default(),
            };
            let timeout = self.duration(table, "timeout", what);
            let retries = table
                .get("retries")
                .and_then(|v| {
                    self.int_in(
                        v,
                        "retries",
                        what,
                        0..1001,
                        "a number of retries from 0 to 1000",
                    )
                })
                .map_or(0, |n| u32::try_from(n.into_inner()).unwrap_or(0));
            (action, expect, timeout, retries)
        };
        let Some(action) = action else {
            return Err(Box::new((name, expect)));
        };
        Ok(StepSpec {
            name,
            action,
            expect,
            timeout,
            env,
            workdir,
            continue_on_failure,
            retries,
        })
    }

    fn action(&mut self, table: &DeTable<'_>, header: &Range<usize>, what: &str) -> Option<Action> {
        let present: Vec<(&Key<'_>, &Value<'_>)> = entries(table)
            .into_iter()
            .filter(|(k, _)| {
                matches!(
                    k.get_ref().as_ref(),
                    "run" | "shell" | "http" | "chaos" | "surql"
                )
            })
            .collect();
        match present.as_slice() {
            [] => {
                self.sink.error(
                    header.clone(),
                    format!(
                        "{what} has no action; expected one of `run`, `shell`, `http`, `chaos` or `surql`"
                    ),
                );
                None
            }
            [_, second, ..] => {
                self.sink.error(
                    second.0.span(),
                    format!(
                        "{what} has both `{}` and `{}`; a step has exactly one action",
                        present[0].0.get_ref(),
                        second.0.get_ref()
                    ),
                );
                None
            }
            [(key, value)] => match key.get_ref().as_ref() {
                "chaos" => self.chaos_step(value, what).map(Action::Chaos),
                "surql" => self.surql(table, key, what).map(Action::Surql),
                "http" => {
                    for stray in ["service", "image"] {
                        if let Some((k, _)) = table.get_key_value(stray) {
                            self.sink.error(
                                k.span(),
                                format!(
                                    "{what}: an http step names its service inside `http = {{ service = \"...\" }}`, not with `{stray}`"
                                ),
                            );
                        }
                    }
                    self.http(value, what).map(Action::Http)
                }
                kind => {
                    let command = if kind == "run" {
                        self.argv(table, "run", what)
                            .map(|argv| Spanned::new(argv.span(), Command::Argv(argv.into_inner())))
                    } else {
                        match self.string(table, "shell", what) {
                            Some(s) if s.get_ref().trim().is_empty() => {
                                self.sink.error(
                                    s.span(),
                                    format!(
                                        "`shell` in {what} is empty; expected a script for `sh -c`"
                                    ),
                                );
                                None
                            }
                            Some(s) => Some(Spanned::new(s.span(), Command::Shell(s.into_inner()))),
                            None => None,
                        }
                    };
                    let service = self.string(table, "service", what);
                    let image = self.string(table, "image", what);
                    let target = match (service, image) {
                        (Some(service), None) => Some(Target::Service(service)),
                        (None, Some(image)) => Some(Target::Image(image)),
                        (Some(_), Some(image)) => {
                            self.sink.error(
                                image.span(),
                                format!("{what} names both `service` and `image`; use one: exec in a service, or a fresh container of an image"),
                            );
                            None
                        }
                        (None, None) => {
                            if !table.contains_key("service") && !table.contains_key("image") {
                                self.sink.error(
                                    key.span(),
                                    format!("{what} runs a command but says nowhere to run it; expected `service = \"NAME\"` or `image = \"repo:tag\"`"),
                                );
                            }
                            None
                        }
                    };
                    Some(Action::Exec(ExecSpec {
                        command: command?,
                        target: target?,
                    }))
                }
            },
        }
    }

    fn surql(&mut self, table: &DeTable<'_>, key: &Key<'_>, what: &str) -> Option<SurqlSpec> {
        let query = self.string(table, "surql", what);
        if let Some(q) = &query
            && q.get_ref().trim().is_empty()
        {
            self.sink.error(
                q.span(),
                format!("`surql` in {what} is empty; expected SurrealQL statements"),
            );
        }
        if let Some((k, _)) = table.get_key_value("image") {
            self.sink.error(
                k.span(),
                format!("{what}: a surql step runs on a `surrealdb` service: name it with `service`, not `image`"),
            );
        }
        let service = self.string(table, "service", what);
        if service.is_none() && !table.contains_key("service") {
            self.sink.error(
                key.span(),
                format!("{what} sends SurrealQL but names no service; expected `service = \"NAME\"` of a surrealdb service"),
            );
        }
        Some(SurqlSpec {
            query: query.filter(|q| !q.get_ref().trim().is_empty())?,
            service: service?,
        })
    }

    fn http(&mut self, value: &Value<'_>, what: &str) -> Option<HttpSpec> {
        let DeValue::Table(http) = value.get_ref() else {
            self.expected(
                value,
                "http",
                what,
                "a table like { service = \"api\", path = \"/health\" }",
            );
            return None;
        };
        let inner = format!("http of {what}");
        let inner = inner.as_str();
        self.check_keys(http, inner, &keys::names(Table::Http), None);
        let service = self.string(http, "service", inner);
        if service.is_none() && !http.contains_key("service") {
            self.sink.error(
                value.span(),
                format!("{inner} has no `service`; expected the name of the service to call"),
            );
        }
        let port = http.get("port").and_then(|p| self.port(p, "port", inner));
        let method = match self.string(http, "method", inner) {
            Some(m) => {
                let upper = m.get_ref().to_ascii_uppercase();
                if !HTTP_METHODS.contains(&upper.as_str()) {
                    self.sink.error(
                        m.span(),
                        format!(
                            "unknown HTTP method \"{}\" in {inner}; expected one of: {}",
                            m.get_ref(),
                            HTTP_METHODS.join(", ")
                        ),
                    );
                }
                upper
            }
            None => "GET".to_owned(),
        };
        let path = match self.string(http, "path", inner) {
            Some(p) => {
                if !p.get_ref().starts_with('/') {
                    self.sink.error(
                        p.span(),
                        format!("`path` in {inner} must start with `/`, like \"/health\""),
                    );
                }
                p.into_inner()
            }
            None => "/".to_owned(),
        };
        let headers = self.string_map(http, "headers", inner);
        let text = self.string(http, "body", inner);
        let json = match http.get("json") {
            Some(v) => self.json_value(v, &format!("`json` in {inner}")),
            None => None,
        };
        let body = match (text, json) {
            (Some(_), Some(_)) => {
                let span = http
                    .get_key_value("json")
                    .map_or(value.span(), |(k, _)| k.span());
                self.sink.error(
                    span,
                    format!("{inner} has both `body` and `json`; keep one"),
                );
                None
            }
            (Some(t), None) => Some(HttpBody::Text(t.into_inner())),
            (None, Some(j)) => Some(HttpBody::Json(j)),
            (None, None) => None,
        };
        Some(HttpSpec {
            service: service?,
            port,
            method,
            path,
            headers,
            body,
        })
    }

    fn expectations(&mut self, table: &DeTable<'_>, what: &str) -> Expectations {
        let inner = format!("expect of {what}");
        let inner = inner.as_str();
        self.check_keys(table, inner, &keys::names(Table::Expect), None);
        let mut expect = Expectations::default();
        if let Some(code) = table.get("exit_code") {
            expect.exit_code = self.exit_code(code, "exit_code", inner);
        }
        if let Some(status) = table.get("status") {
            expect.status = self
                .int_in(
                    status,
                    "status",
                    inner,
                    100..600,
                    "an HTTP status from 100 to 599",
                )
                .map(|s| Spanned::new(s.span(), u16::try_from(s.into_inner()).unwrap_or(0)));
        }
        expect.max_duration = self.duration(table, "max_duration", inner);
        expect.stdout = self.output(table, "stdout", what);
        expect.stderr = self.output(table, "stderr", what);
        if let Some((json, _)) = self.table(table, "json", inner) {
            for (pointer, value) in entries(json) {
                let p = pointer.get_ref();
                if !(p.is_empty() || p.starts_with('/')) {
                    self.sink.error(
                        pointer.span(),
                        format!(
                            "JSON pointer \"{p}\" in {inner} must be empty or start with `/`, like \"/data/0/name\""
                        ),
                    );
                    continue;
                }
                if let Some(v) =
                    self.json_value(value, &format!("expected value of \"{p}\" in {inner}"))
                {
                    expect.json.push(JsonExpect {
                        pointer: Spanned::new(pointer.span(), p.to_string()),
                        value: v,
                    });
                }
            }
        }
        expect
    }

    fn output(&mut self, table: &DeTable<'_>, key: &str, what: &str) -> OutputExpect {
        let mut out = OutputExpect::default();
        let inner = format!("expect.{key} of {what}");
        let inner = inner.as_str();
        let Some((checks, _)) = self.table(table, key, &format!("expect of {what}")) else {
            return out;
        };
        self.check_keys(checks, inner, &keys::names(Table::Output), None);
        let plain = |s: Vec<Spanned<String>>| s.into_iter().map(Spanned::into_inner).collect();
        if let Some(v) = checks.get("contains") {
            out.contains = plain(self.one_or_many(v, "contains", inner));
        }
        if let Some(v) = checks.get("not_contains") {
            out.not_contains = plain(self.one_or_many(v, "not_contains", inner));
        }
        if let Some(v) = checks.get("regex") {
            out.regex = self.one_or_many(v, "regex", inner);
        }
        out
    }
}

fn default_suite_name(source: &SuiteSource) -> String {
    let file = source
        .path()
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = file
        .strip_suffix(".clnrm.toml.tera")
        .or_else(|| file.strip_suffix(".clnrm.toml"))
        .or_else(|| file.strip_suffix(".toml"))
        .unwrap_or(&file);
    if stem.is_empty() {
        "suite".to_owned()
    } else {
        stem.to_owned()
    }
}

fn valid_service_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
}
