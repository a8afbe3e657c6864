//! `plugin.toml`: a declarative service recipe. Data only: no field reaches a host process;
//! commands (readiness, isolation hooks) run inside the plugin's own container.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::MarketError;
use crate::suite::{Diagnostic, Severity, SuiteSource};

/// The only schema this clnrm reads.
pub const SCHEMA: u32 = 1;

/// A parsed, validated `plugin.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct PluginManifest {
    /// Manifest schema version (1).
    pub schema: Spanned<u32>,
    /// Name, version and metadata.
    pub plugin: PluginSection,
    /// The container.
    pub service: ServiceSection,
    /// When the service is ready (every condition must hold).
    #[serde(default)]
    pub readiness: ReadinessSection,
    /// Credentials generated per run.
    #[serde(default)]
    pub credentials: Option<CredentialsSection>,
    /// How tests reach the service.
    #[serde(default)]
    pub connection: Option<ConnectionSection>,
    /// Per-test namespaces: commands run in the plugin's container.
    #[serde(default)]
    pub isolation: Option<Spanned<IsolationSection>>,
    /// Other plugins this one needs: name = semver requirement.
    #[serde(default)]
    pub dependencies: BTreeMap<String, Spanned<String>>,
}

/// `[plugin]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct PluginSection {
    /// The name services use (`mariadb`).
    pub name: Spanned<String>,
    /// Semver version of the recipe.
    pub version: Spanned<String>,
    /// One line.
    pub description: String,
    /// The clnrm versions this recipe works with (semver requirement, `>=0.1, <0.2`).
    pub clnrm: Spanned<String>,
    /// SPDX licence.
    #[serde(default)]
    pub license: Option<String>,
    /// Home page.
    #[serde(default)]
    pub homepage: Option<String>,
    /// Categories (`database`, `queue`).
    #[serde(default)]
    pub categories: Vec<String>,
    /// Free tags.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// `[service]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct ServiceSection {
    /// `repo:tag`, optionally `@sha256:<64 hex>`.
    pub image: Spanned<String>,
    /// Container ports to publish.
    #[serde(default)]
    pub ports: Vec<u16>,
    /// Environment; values may use `{user}`, `{password}`, `{database}`.
    #[serde(default)]
    pub env: BTreeMap<String, Spanned<String>>,
    /// Command (argv).
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    /// Entrypoint (argv).
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    /// Start-up timeout in seconds (default 60).
    #[serde(default)]
    pub startup_timeout: Option<u64>,
}

/// `[readiness]`: every condition given must hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct ReadinessSection {
    /// A line in the logs.
    #[serde(default)]
    pub log: Option<String>,
    /// A container port that accepts connections.
    #[serde(default)]
    pub port: Option<Spanned<u16>>,
    /// An HTTP GET that answers a status.
    #[serde(default)]
    pub http: Option<HttpReadiness>,
    /// A command (argv, run in the container) that exits 0.
    #[serde(default)]
    pub command: Option<Vec<String>>,
}

/// `[readiness.http]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct HttpReadiness {
    /// Container port.
    pub port: u16,
    /// Path (`/health`).
    pub path: String,
    /// Expected status (200).
    #[serde(default = "ok")]
    pub status: u16,
}

fn ok() -> u16 {
    200
}

/// `[credentials]`: a user and a password generated per run, passed through `env`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct CredentialsSection {
    /// The user name.
    pub user: String,
    /// The database name, where the service has one.
    #[serde(default)]
    pub database: Option<String>,
}

/// `[connection]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct ConnectionSection {
    /// `scheme://{user}:{password}@{host}:{port:3306}/{database}`.
    pub url: Spanned<String>,
}

/// `[isolation]`: argv run with `docker exec` in the plugin's container when a test (or an
/// isolated scenario) starts and ends; `{namespace}` is the per-test name, and `{user}`,
/// `{password}`, `{database}` the credentials, filled argument by argument (no shell unless the
/// argv calls one).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct IsolationSection {
    /// Creates the namespace.
    pub create: Spanned<Vec<String>>,
    /// Drops it.
    pub drop: Spanned<Vec<String>>,
}

/// What `{...}` placeholders a template may use.
const ENV_PLACEHOLDERS: &[&str] = &["user", "password", "database", "namespace"];
const URL_PLACEHOLDERS: &[&str] = &["user", "password", "database", "host", "namespace"];
const HOOK_PLACEHOLDERS: &[&str] = &["user", "password", "database", "namespace"];
const NAMESPACE: &str = "{namespace}";

impl PluginManifest {
    /// The plugin name.
    pub fn name(&self) -> &str {
        self.plugin.name.get_ref()
    }

    /// The parsed version (validated at load).
    pub fn version(&self) -> semver::Version {
        semver::Version::parse(self.plugin.version.get_ref()).expect("validated at load")
    }

    /// Dependencies as parsed requirements (validated at load).
    pub fn dependency_reqs(&self) -> Vec<(String, semver::VersionReq)> {
        self.dependencies
            .iter()
            .map(|(name, req)| {
                (
                    name.clone(),
                    semver::VersionReq::parse(req.get_ref()).expect("validated at load"),
                )
            })
            .collect()
    }

    /// Whether this clnrm is in the recipe's range.
    pub fn supports_this_clnrm(&self) -> bool {
        semver::VersionReq::parse(self.plugin.clnrm.get_ref())
            .is_ok_and(|r| r.matches(&this_clnrm()))
    }
}

/// The running clnrm's version.
pub fn this_clnrm() -> semver::Version {
    semver::Version::parse(env!("CARGO_PKG_VERSION")).expect("cargo versions are semver")
}

/// Reads and validates `path`.
pub fn load_manifest(path: &Path) -> Result<PluginManifest, crate::Error> {
    let text = std::fs::read_to_string(path).map_err(|source| crate::Error::Io {
        action: "failed to read plugin manifest",
        path: path.to_owned(),
        source,
    })?;
    Ok(parse_manifest(path, &text)?)
}

/// Parses and validates a manifest's `text` (`path` is used in messages). Every semantic
/// problem is reported at once, each with its line and column.
pub fn parse_manifest(path: &Path, text: &str) -> Result<PluginManifest, MarketError> {
    let source = SuiteSource::new(path, text);
    let structural = check_keys(&source);
    if !structural.is_empty() {
        return Err(MarketError::Manifest(structural));
    }
    let manifest: PluginManifest = match toml::from_str(text) {
        Ok(m) => m,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            return Err(MarketError::Manifest(vec![source.diagnostic(
                Severity::Error,
                span,
                e.message().to_owned(),
            )]));
        }
    };
    let problems = validate_manifest(&source, &manifest);
    if problems.is_empty() {
        Ok(manifest)
    } else {
        Err(MarketError::Manifest(problems))
    }
}

/// The keys each table may hold (the `deny_unknown_fields` check, done by hand so that every
/// unknown key is reported at once, as suites do).
const KEYS: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "schema",
            "plugin",
            "service",
            "readiness",
            "credentials",
            "connection",
            "isolation",
            "dependencies",
        ],
    ),
    (
        "plugin",
        &[
            "name",
            "version",
            "description",
            "clnrm",
            "license",
            "homepage",
            "categories",
            "tags",
        ],
    ),
    (
        "service",
        &[
            "image",
            "ports",
            "env",
            "cmd",
            "entrypoint",
            "startup_timeout",
        ],
    ),
    ("readiness", &["log", "port", "http", "command"]),
    ("readiness.http", &["port", "path", "status"]),
    ("credentials", &["user", "database"]),
    ("connection", &["url"]),
    ("isolation", &["create", "drop"]),
];

/// TOML syntax errors, or every unknown key with its position.
fn check_keys(source: &SuiteSource) -> Vec<Diagnostic> {
    use toml::de::{DeTable, DeValue};
    let (root, errors) = DeTable::parse_recoverable(source.text());
    if !errors.is_empty() {
        return errors
            .iter()
            .map(|e| {
                source.diagnostic(
                    Severity::Error,
                    e.span().unwrap_or(0..0),
                    format!("invalid TOML: {}", e.message().trim_end_matches('.')),
                )
            })
            .collect();
    }
    let root = root.into_inner();
    let mut out = Vec::new();
    for (path, known) in KEYS {
        let mut table = Some(&root);
        for part in path.split('.').filter(|p| !p.is_empty()) {
            table = table.and_then(|t| match t.get(part).map(|v| v.get_ref()) {
                Some(DeValue::Table(inner)) => Some(inner),
                _ => None,
            });
        }
        let Some(table) = table else { continue };
        let mut keys: Vec<_> = table.iter().collect();
        keys.sort_by_key(|(k, _)| k.span().start);
        for (key, _) in keys {
            let name = key.get_ref().as_ref();
            if known.contains(&name) {
                continue;
            }
            let what = if path.is_empty() {
                "the manifest".to_owned()
            } else {
                format!("[{path}]")
            };
            let message = match crate::suite::values::closest(name, known) {
                Some(s) => format!("unknown key `{name}` in {what}, did you mean `{s}`?"),
                None => format!(
                    "unknown key `{name}` in {what}; expected one of: {}",
                    known.join(", ")
                ),
            };
            out.push(source.diagnostic(Severity::Error, key.span(), message));
        }
    }
    out.sort_by_key(|d| (d.line, d.column));
    out
}

/// Every semantic problem of a parsed manifest.
pub fn validate_manifest(source: &SuiteSource, m: &PluginManifest) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut err = |span: Range<usize>, msg: String| {
        out.push(source.diagnostic(Severity::Error, span, msg));
    };
    if *m.schema.get_ref() != SCHEMA {
        err(
            m.schema.span(),
            format!(
                "unsupported schema {}; this clnrm reads schema {SCHEMA}",
                m.schema.get_ref()
            ),
        );
    }
    if let Err(why) = check_name(m.plugin.name.get_ref()) {
        err(m.plugin.name.span(), why);
    }
    if let Err(e) = semver::Version::parse(m.plugin.version.get_ref()) {
        err(
            m.plugin.version.span(),
            format!("`version` is not a semver version (`1.2.0`): {e}"),
        );
    }
    match semver::VersionReq::parse(m.plugin.clnrm.get_ref()) {
        Err(e) => err(
            m.plugin.clnrm.span(),
            format!("`clnrm` is not a semver requirement (`>=0.1, <0.2`): {e}"),
        ),
        Ok(req) if !req.matches(&this_clnrm()) => err(
            m.plugin.clnrm.span(),
            format!(
                "this plugin needs clnrm {}, this is clnrm {}",
                m.plugin.clnrm.get_ref(),
                this_clnrm()
            ),
        ),
        Ok(_) => {}
    }
    if let Err(why) = check_image(m.service.image.get_ref()) {
        err(m.service.image.span(), why);
    }
    for (key, value) in &m.service.env {
        if let Err(why) = check_template(value.get_ref(), ENV_PLACEHOLDERS, &m.service.ports) {
            err(value.span(), format!("env `{key}`: {why}"));
        } else if value.get_ref().contains(NAMESPACE) && m.isolation.is_none() {
            err(
                value.span(),
                format!("env `{key}` uses `{{namespace}}` but there is no [isolation] table"),
            );
        }
    }
    if let Some(conn) = &m.connection {
        if let Err(why) = check_template(conn.url.get_ref(), URL_PLACEHOLDERS, &m.service.ports) {
            err(conn.url.span(), format!("connection url: {why}"));
        } else if conn.url.get_ref().contains(NAMESPACE) && m.isolation.is_none() {
            err(
                conn.url.span(),
                "connection url uses `{namespace}` but there is no [isolation] table".to_owned(),
            );
        }
        let uses_creds = ["{user}", "{password}", "{database}"]
            .iter()
            .any(|p| conn.url.get_ref().contains(p));
        if uses_creds && m.credentials.is_none() {
            err(
                conn.url.span(),
                "connection url uses credentials but there is no [credentials] table".to_owned(),
            );
        }
    }
    if let Some(port) = &m.readiness.port
        && !m.service.ports.contains(port.get_ref())
    {
        err(
            port.span(),
            format!(
                "readiness port {} is not in service.ports {:?}",
                port.get_ref(),
                m.service.ports
            ),
        );
    }
    if let Some(iso) = &m.isolation {
        for (which, argv) in [
            ("create", &iso.get_ref().create),
            ("drop", &iso.get_ref().drop),
        ] {
            let text = argv.get_ref().join(" ");
            let problem = if argv.get_ref().first().is_none_or(|a| a.trim().is_empty()) {
                Some(format!(
                    "isolation {which}: expected a command (argv), e.g. [\"sh\", \"-c\", \"...\"]"
                ))
            } else if let Err(why) = check_template(&text, HOOK_PLACEHOLDERS, &[]) {
                Some(format!("isolation {which}: {why}"))
            } else if !text.contains(NAMESPACE) {
                Some(format!(
                    "isolation {which} never names `{{namespace}}`: every test would get the same namespace"
                ))
            } else if m.credentials.is_none()
                && ["{user}", "{password}", "{database}"]
                    .iter()
                    .any(|p| text.contains(p))
            {
                Some(format!(
                    "isolation {which} uses credentials but there is no [credentials] table"
                ))
            } else {
                None
            };
            if let Some(problem) = problem {
                err(argv.span(), problem);
            }
        }
    }
    for (name, req) in &m.dependencies {
        if let Err(why) = check_name(name) {
            err(req.span(), format!("dependency `{name}`: {why}"));
        }
        if let Err(e) = semver::VersionReq::parse(req.get_ref()) {
            err(
                req.span(),
                format!("dependency `{name}`: not a semver requirement (`^1.0`): {e}"),
            );
        }
    }
    out
}

/// Plugin names: ASCII, a leading letter, letters, digits, `-` and `_`, at most 64, lowercase
/// (crates.io's rules, so look-alikes cannot be published).
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid plugin name `{name}`: expected 1-64 ASCII lowercase letters, digits, `-` or `_`, starting with a letter"
        ))
    }
}

fn check_image(image: &str) -> Result<(), String> {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(format!(
            "invalid image `{image}`: expected `repo:tag[@sha256:...]`"
        ));
    }
    if let Some(d) = digest {
        let hex = d.strip_prefix("sha256:").unwrap_or("");
        if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!(
                "invalid image digest `{d}`: expected `sha256:` and 64 hex digits"
            ));
        }
    }
    Ok(())
}

/// Checks `{...}` placeholders: known names, or `port:N` with N in `ports`.
fn check_template(text: &str, allowed: &[&str], ports: &[u16]) -> Result<(), String> {
    for placeholder in placeholders(text)? {
        if allowed.contains(&placeholder) {
            continue;
        }
        if let Some(port) = placeholder.strip_prefix("port:")
            && allowed.contains(&"host")
        {
            match port.parse::<u16>() {
                Ok(p) if ports.contains(&p) => continue,
                _ => {
                    return Err(format!(
                        "`{{{placeholder}}}` names a port that is not in service.ports {ports:?}"
                    ));
                }
            }
        }
        let mut known: Vec<String> = allowed.iter().map(|a| format!("{{{a}}}")).collect();
        if allowed.contains(&"host") {
            known.push("{port:N}".to_owned());
        }
        return Err(format!(
            "unknown placeholder `{{{placeholder}}}`; known: {}",
            known.join(", ")
        ));
    }
    Ok(())
}

fn placeholders(text: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unclosed `{{` in `{text}`"))?;
        out.push(&after[..end]);
        rest = &after[end + 1..];
    }
    Ok(out)
}

/// Fills a template's placeholders.
pub(crate) fn render_template(
    text: &str,
    values: &BTreeMap<&str, String>,
    port: impl Fn(u16) -> Option<u16>,
) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let key = &after[..end];
        if let Some(p) = key
            .strip_prefix("port:")
            .and_then(|p| p.parse::<u16>().ok())
        {
            out.push_str(&port(p).unwrap_or(p).to_string());
        } else if let Some(v) = values.get(key) {
            out.push_str(v);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The summary of a manifest that goes into an index line and `search`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestSummary {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Description.
    pub description: String,
    /// clnrm requirement.
    pub clnrm: String,
    /// Image.
    pub image: String,
    /// Categories.
    pub categories: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"schema = 1
[plugin]
name = "memcached"
version = "1.0.0"
description = "Memcached"
clnrm = ">=0.1"
[service]
image = "memcached:1.6"
ports = [11211]
[readiness]
port = 11211
"#;

    #[test]
    fn a_good_manifest_parses() {
        let m = parse_manifest(Path::new("plugin.toml"), GOOD).unwrap();
        assert_eq!(m.name(), "memcached");
        assert_eq!(m.version().to_string(), "1.0.0");
    }

    #[test]
    fn every_problem_is_reported_with_its_line_and_column() {
        let text = GOOD
            .replace("\"memcached\"", "\"Memcached\"")
            .replace("\"1.0.0\"", "\"one\"")
            .replace("port = 11211", "port = 1")
            .replace("memcached:1.6", "memcached:1.6@sha256:xyz");
        let err = parse_manifest(Path::new("p/plugin.toml"), &text).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("p/plugin.toml:3:8: error: invalid plugin name `Memcached`"),
            "{msg}"
        );
        assert!(
            msg.contains("p/plugin.toml:4:11: error: `version` is not a semver version"),
            "{msg}"
        );
        assert!(
            msg.contains("p/plugin.toml:8:9: error: invalid image digest"),
            "{msg}"
        );
        assert!(
            msg.contains("p/plugin.toml:11:8: error: readiness port 1 is not in service.ports"),
            "{msg}"
        );
    }

    #[test]
    fn a_smuggled_field_is_an_error_not_ignored() {
        let text = GOOD
            .replace("[readiness]", "host_command = [\"rm\"]\n[readiness]")
            .replace("description =", "descripton =");
        let err = parse_manifest(Path::new("plugin.toml"), &text).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("plugin.toml:5:1: error: unknown key `descripton` in [plugin], did you mean `description`?"),
            "{msg}"
        );
        assert!(
            msg.contains("plugin.toml:10:1: error: unknown key `host_command` in [service]"),
            "{msg}"
        );
    }

    const HOOKED: &str = r#"[credentials]
user = "u"
[connection]
url = "x://{user}:{password}@{host}:{port:11211}/{namespace}"
[isolation]
create = ["tool", "-p{password}", "create", "{namespace}"]
drop = ["tool", "drop", "{namespace}"]
"#;

    #[test]
    fn isolation_hooks_are_accepted_and_name_the_namespace() {
        let m = parse_manifest(Path::new("plugin.toml"), &format!("{GOOD}{HOOKED}")).unwrap();
        let iso = m.isolation.unwrap().into_inner();
        assert_eq!(iso.create.get_ref()[3], "{namespace}");
        assert_eq!(iso.drop.get_ref().len(), 3);
    }

    #[test]
    fn namespace_without_isolation_and_bad_hooks_are_reported_with_positions() {
        let without = format!("{GOOD}{HOOKED}")
            .replace("[isolation]", "[other]")
            .replace("create = [", "# create = [")
            .replace("drop = [", "# drop = [")
            .replace("[other]", "");
        let msg = parse_manifest(Path::new("p/plugin.toml"), &without)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains(
                "p/plugin.toml:15:7: error: connection url uses `{namespace}` but there is no [isolation] table"
            ),
            "{msg}"
        );
        let env = GOOD.replace(
            "ports = [11211]",
            "ports = [11211]\nenv = { DB = \"{namespace}\" }",
        );
        let msg = parse_manifest(Path::new("plugin.toml"), &env)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("plugin.toml:10:14: error: env `DB` uses `{namespace}` but there is no [isolation] table"),
            "{msg}"
        );
        let bad = format!("{GOOD}{HOOKED}")
            .replace(
                "\"create\", \"{namespace}\"]",
                "\"create\", \"{nmespace}\"]",
            )
            .replace(
                "[\"tool\", \"drop\", \"{namespace}\"]",
                "[\"tool\", \"drop\"]",
            );
        let msg = parse_manifest(Path::new("plugin.toml"), &bad)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains(
                "plugin.toml:17:10: error: isolation create: unknown placeholder `{nmespace}`"
            ),
            "{msg}"
        );
        assert!(
            msg.contains("plugin.toml:18:8: error: isolation drop never names `{namespace}`"),
            "{msg}"
        );
        let empty = format!("{GOOD}{HOOKED}")
            .replace("drop = [\"tool\", \"drop\", \"{namespace}\"]", "drop = []");
        let msg = parse_manifest(Path::new("plugin.toml"), &empty)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("plugin.toml:18:8: error: isolation drop: expected a command (argv)"),
            "{msg}"
        );
    }

    #[test]
    fn templates_name_only_known_placeholders() {
        let text = format!(
            "{GOOD}[credentials]\nuser = \"u\"\n[connection]\nurl = \"x://{{user}}@{{host}}:{{port:1}}/{{secret}}\"\n"
        );
        let msg = parse_manifest(Path::new("plugin.toml"), &text)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("names a port that is not in service.ports"),
            "{msg}"
        );
        let values = BTreeMap::from([("user", "u".to_owned()), ("host", "h".to_owned())]);
        assert_eq!(
            render_template("x://{user}@{host}:{port:11211}", &values, |p| (p == 11211)
                .then_some(4000)),
            "x://u@h:4000"
        );
    }
}
