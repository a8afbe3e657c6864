//! A registered test's declaration, validated: what the macro wrote, turned into service specs
//! and durations, with errors that name the test's file and line.

use std::time::Duration;

use crate::__macro_support::{OptValue, TestDef};
use crate::docker::Readiness;
use crate::service::ServiceSpec;
// The same parsers as the TOML suites, so both front doors accept and refuse the same text.
use crate::values::{parse_duration, parse_memory};

/// The engine's service kinds: what the macro declares is what a suite declares.
pub use crate::engine::{Isolation, Scope, ServiceNeed as TestService};

/// A validated test declaration.
#[derive(Debug, Clone)]
pub struct TestSpec {
    /// `module::fn` (the crate name left out, as libtest names tests).
    pub name: String,
    /// Where it is written.
    pub file: &'static str,
    /// The line of the `fn`.
    pub line: u32,
    /// Its services.
    pub services: Vec<TestService>,
    /// Shared or per test.
    pub scope: Scope,
    /// Fails the test when it runs longer.
    pub timeout: Option<Duration>,
    /// Attempts after the first failure.
    pub retries: u32,
    /// Tags.
    pub tags: Vec<String>,
    /// Tests of one group never overlap.
    pub exclusive: Option<String>,
    /// Ignored, with the reason when given.
    pub ignore: Option<Option<String>>,
    /// Services declared with `chaos = true`: a fault proxy in front of each.
    pub chaos: Vec<String>,
}

const OPTIONS: &[&str] = &[
    "image",
    "env",
    "port",
    "ports",
    "cmd",
    "entrypoint",
    "memory",
    "cpus",
    "user",
    "startup_timeout",
    "isolation",
    "migrations",
    "wait_log",
    "wait_port",
    "wait_http",
    "wait_cmd",
    "chaos",
    "otel",
    "mount",
    "model",
    "models",
    "gpus",
];

/// The test name libtest shows: the module path without the crate name, then the function.
pub(crate) fn test_name(module_path: &str, fn_name: &str) -> String {
    match module_path.split_once("::") {
        Some((_, rest)) => format!("{rest}::{fn_name}"),
        None => fn_name.to_owned(),
    }
}

impl TestSpec {
    /// Validates what `#[clnrm::test]` registered; `manifest_dir` resolves `migrations`.
    pub fn from_def(def: &TestDef, manifest_dir: &std::path::Path) -> Result<TestSpec, String> {
        let at = format!("{}:{}", def.file, def.line);
        let mut problems = Vec::new();
        let scope = match def.scope {
            None | Some("shared") => Scope::Shared,
            Some("test") => Scope::Test,
            Some(other) => {
                problems.push(format!("scope `{other}`: expected \"shared\" or \"test\""));
                Scope::Shared
            }
        };
        let timeout = match def.timeout {
            None => None,
            Some(OptValue::Int(secs)) if secs > 0 => Some(Duration::from_secs(secs as u64)),
            Some(OptValue::Str(text)) => match parse_duration(text) {
                Ok(d) if !d.is_zero() => Some(d),
                Ok(_) => {
                    problems.push("timeout must be more than zero".to_owned());
                    None
                }
                Err(e) => {
                    problems.push(format!("timeout: {e}"));
                    None
                }
            },
            Some(other) => {
                problems.push(format!(
                    "timeout: expected seconds or a duration, found {other:?}"
                ));
                None
            }
        };
        let mut services = Vec::new();
        for decl in def.services {
            match service(decl, manifest_dir) {
                Ok(s) => services.push(TestService { scope, ..s }),
                Err(e) => problems.push(format!("service `{}`: {e}", decl.name)),
            }
        }
        if !problems.is_empty() {
            return Err(format!(
                "{at}: invalid #[clnrm::test]: {}",
                problems.join("; ")
            ));
        }
        Ok(TestSpec {
            name: test_name(def.module_path, def.fn_name),
            file: def.file,
            line: def.line,
            services,
            scope,
            timeout,
            retries: def.retries.unwrap_or(0),
            tags: def.tags.iter().map(|t| (*t).to_owned()).collect(),
            exclusive: def.exclusive.map(str::to_owned),
            ignore: def.ignore.map(|reason| reason.map(str::to_owned)),
            chaos: def
                .services
                .iter()
                .filter(|s| {
                    s.options
                        .iter()
                        .any(|o| o.key == "chaos" && o.value == OptValue::Bool(true))
                })
                .map(|s| s.name.to_owned())
                .collect(),
        })
    }
}

fn text(value: &OptValue) -> Result<String, String> {
    match value {
        OptValue::Str(s) => Ok((*s).to_owned()),
        OptValue::Int(i) => Ok(i.to_string()),
        OptValue::Bool(b) => Ok(b.to_string()),
        OptValue::List(_) => Err("expected a single value, found a list".to_owned()),
    }
}

fn list(value: &OptValue) -> Vec<String> {
    match value {
        OptValue::List(items) => items.iter().map(|s| (*s).to_owned()).collect(),
        other => text(other).into_iter().collect(),
    }
}

fn port(value: &str) -> Result<u16, String> {
    value
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("expected a port 1-65535, found `{value}`"))
}

/// `HOST:CONTAINER` or `HOST:CONTAINER:ro`: `HOST` absolute or relative to the crate, with
/// `${VAR}` read from the environment (an unset variable is an error).
fn mount(text: &str, manifest_dir: &std::path::Path) -> Result<(String, String, bool), String> {
    let expected =
        || format!("mount: expected `HOST:CONTAINER` or `HOST:CONTAINER:ro`, found `{text}`");
    let (rest, read_only) = match text.strip_suffix(":ro") {
        Some(rest) => (rest, true),
        None => (text, false),
    };
    let (host, container) = rest.rsplit_once(':').ok_or_else(expected)?;
    if host.is_empty() || !container.starts_with('/') {
        return Err(expected());
    }
    let mut expanded = String::new();
    let mut rest = host;
    while let Some(at) = rest.find("${") {
        expanded.push_str(&rest[..at]);
        let (name, after) = rest[at + 2..].split_once('}').ok_or_else(expected)?;
        let value = std::env::var(name)
            .map_err(|_| format!("mount `{text}`: the environment variable `{name}` is not set"))?;
        expanded.push_str(&value);
        rest = after;
    }
    expanded.push_str(rest);
    let host = manifest_dir.join(&expanded);
    if !host.exists() {
        return Err(format!(
            "mount `{text}`: `{}` does not exist",
            host.display()
        ));
    }
    Ok((
        host.to_string_lossy().into_owned(),
        container.to_owned(),
        read_only,
    ))
}

fn service(
    decl: &crate::__macro_support::ServiceDecl,
    manifest_dir: &std::path::Path,
) -> Result<TestService, String> {
    let mut spec = ServiceSpec::new(decl.name, decl.plugin);
    let mut isolation = match decl.plugin {
        "postgres" => Isolation::Database,
        "redis" => Isolation::LogicalDb,
        "surrealdb" => Isolation::Namespace,
        // A declarative plugin with `[isolation]` hooks: a namespace per test; others as they are.
        _ => Isolation::Hooks { required: false },
    };
    let mut migrations = None;
    let mut key_parts = vec![format!("plugin={}", decl.plugin)];
    for opt in decl.options {
        let value = &opt.value;
        // `chaos = true` changes the container (a front answers its name): its own instance.
        if opt.key != "isolation" && (opt.key != "chaos" || *value == OptValue::Bool(true)) {
            key_parts.push(format!("{}={:?}", opt.key, value));
        }
        // `otel = true`: its `OTEL_SERVICE_NAME` is the local name, so one container per name.
        if opt.key == "otel" && *value == OptValue::Bool(true) {
            key_parts.push(format!("otel-name={}", decl.name));
        }
        match opt.key {
            "image" => spec.image = Some(text(value)?),
            "env" => {
                for pair in list(value) {
                    let (k, v) = pair
                        .split_once('=')
                        .ok_or_else(|| format!("env: expected `KEY=value`, found `{pair}`"))?;
                    spec.env.insert(k.to_owned(), v.to_owned());
                }
            }
            "port" | "ports" => {
                for p in list(value) {
                    spec.ports.push(port(&p)?);
                }
            }
            "cmd" => spec.cmd = Some(list(value)),
            "entrypoint" => spec.entrypoint = Some(list(value)),
            "memory" => {
                let bytes = parse_memory(&text(value)?)?;
                spec.memory =
                    Some(i64::try_from(bytes).map_err(|_| "memory: too large".to_owned())?);
            }
            "cpus" => {
                let t = text(value)?;
                let cpus: f64 = t
                    .parse()
                    .ok()
                    .filter(|c: &f64| *c > 0.0)
                    .ok_or_else(|| format!("cpus: expected a positive number, found `{t}`"))?;
                spec.cpus = Some(cpus);
            }
            "startup_timeout" => spec.startup_timeout = Some(parse_duration(&text(value)?)?),
            "user" => spec.user = Some(text(value)?),
            "model" => spec.model = Some(text(value)?),
            "models" => spec.models = list(value),
            "gpus" => spec.gpus = Some(text(value)?.parse().map_err(|e| format!("gpus: {e}"))?),
            "isolation" => {
                isolation = match (decl.plugin, text(value)?.as_str()) {
                    ("postgres", "database") => Isolation::Database,
                    ("postgres", "schema") => Isolation::Schema,
                    ("redis", "database" | "db") => Isolation::LogicalDb,
                    ("surrealdb", "namespace" | "database") => Isolation::Namespace,
                    (plugin, "namespace") if plugin != "postgres" && plugin != "redis" => {
                        Isolation::Hooks { required: true }
                    }
                    (_, "none") => Isolation::None,
                    (plugin, other) => {
                        return Err(format!(
                            "isolation `{other}` is not available for `{plugin}`: postgres takes \
                             \"database\" or \"schema\", redis \"database\", surrealdb \"namespace\", a \
                             plugin with [isolation] hooks \"namespace\", any plugin \"none\""
                        ));
                    }
                }
            }
            "migrations" => {
                let dir = manifest_dir.join(text(value)?);
                if !dir.is_dir() {
                    return Err(format!(
                        "migrations: `{}` is not a directory",
                        dir.display()
                    ));
                }
                migrations = Some(dir);
            }
            "wait_log" => spec.readiness.push(Readiness::LogLine(text(value)?)),
            "wait_port" => spec.readiness.push(Readiness::Port(port(&text(value)?)?)),
            "wait_http" => {
                // "8080/health" or "8080/health=204"
                let t = text(value)?;
                let (p, rest) = t.split_once('/').ok_or_else(|| {
                    format!("wait_http: expected `PORT/path[=STATUS]`, found `{t}`")
                })?;
                let (path, status) = match rest.split_once('=') {
                    Some((path, status)) => (
                        path,
                        status
                            .parse()
                            .map_err(|_| format!("wait_http: bad status `{status}`"))?,
                    ),
                    None => (rest, 200),
                };
                spec.readiness.push(Readiness::Http {
                    port: port(p)?,
                    path: format!("/{path}"),
                    status,
                });
            }
            "wait_cmd" => spec.readiness.push(Readiness::Command(list(value))),
            // A proxy in front of the service for this test (see `TestSpec::chaos`), and a
            // front that routes the other containers through it.
            "chaos" => match value {
                OptValue::Bool(chaos) => spec.chaos = *chaos,
                other => {
                    return Err(format!(
                        "chaos: expected `true` or `false`, found {other:?}"
                    ));
                }
            },
            // OTLP variables pointing at clnrm's receiver; it must send spans.
            "otel" => match value {
                OptValue::Bool(otel) => spec.otel = *otel,
                other => {
                    return Err(format!("otel: expected `true` or `false`, found {other:?}"));
                }
            },
            "mount" => {
                for m in list(value) {
                    let (host, container, read_only) = mount(&m, manifest_dir)?;
                    spec.mounts.push((host, container, read_only));
                }
            }
            other => {
                return Err(format!(
                    "unknown option `{other}`; known: {}",
                    OPTIONS.join(", ")
                ));
            }
        }
    }
    if migrations.is_some() && decl.plugin != "postgres" {
        return Err("`migrations` is a postgres option".to_owned());
    }
    if spec.model.is_some() && !matches!(decl.plugin, "vllm" | "tgi") {
        return Err("`model` is a vllm and tgi option (ollama takes `models(...)`)".to_owned());
    }
    if !spec.models.is_empty() && decl.plugin != "ollama" {
        return Err("`models` is an ollama option (vllm and tgi take `model`)".to_owned());
    }
    if decl.plugin == "redis" && spec.cmd.is_none() && spec.entrypoint.is_none() {
        // Room for a logical database per concurrent test (Redis defaults to 16).
        spec.cmd = Some(
            ["redis-server", "--databases", "256"]
                .map(String::from)
                .to_vec(),
        );
    }
    Ok(TestService {
        local: decl.name.to_owned(),
        spec,
        isolation,
        migrations,
        key: key_parts.join(","),
        scope: Scope::Shared,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::__macro_support::{Opt, ServiceDecl};

    fn declared(plugin: &'static str, options: &'static [Opt]) -> Result<TestService, String> {
        let decl = ServiceDecl {
            name: "llm",
            plugin,
            options,
        };
        service(&decl, std::path::Path::new("."))
    }

    #[test]
    fn declarative_plugins_default_to_their_hooks_and_namespace_is_refused_on_builtins() {
        const NAMESPACE: &[Opt] = &[Opt {
            key: "isolation",
            value: OptValue::Str("namespace"),
        }];
        const NONE: &[Opt] = &[Opt {
            key: "isolation",
            value: OptValue::Str("none"),
        }];
        assert_eq!(
            declared("mariadb", &[]).unwrap().isolation,
            Isolation::Hooks { required: false }
        );
        assert_eq!(
            declared("mariadb", NAMESPACE).unwrap().isolation,
            Isolation::Hooks { required: true }
        );
        assert_eq!(
            declared("mariadb", NONE).unwrap().isolation,
            Isolation::None
        );
        assert!(
            declared("postgres", NAMESPACE)
                .unwrap_err()
                .contains("a plugin with [isolation] hooks \"namespace\"")
        );
    }

    #[test]
    fn model_options_reach_the_spec_and_only_the_plugins_that_take_them() {
        const MODEL: &[Opt] = &[Opt {
            key: "model",
            value: OptValue::Str("org/name"),
        }];
        const MODELS: &[Opt] = &[
            Opt {
                key: "models",
                value: OptValue::List(&["gemma3:270m", "qwen3:0.6b"]),
            },
            Opt {
                key: "gpus",
                value: OptValue::Str("all"),
            },
        ];
        let vllm = declared("vllm", MODEL).unwrap();
        assert_eq!(vllm.spec.model.as_deref(), Some("org/name"));
        let ollama = declared("ollama", MODELS).unwrap();
        assert_eq!(ollama.spec.models, ["gemma3:270m", "qwen3:0.6b"]);
        assert_eq!(ollama.spec.gpus, Some(crate::docker::Gpus::All));
        assert!(
            declared("postgres", MODEL)
                .unwrap_err()
                .contains("vllm and tgi")
        );
        assert!(
            declared("tgi", MODELS)
                .unwrap_err()
                .contains("ollama option")
        );
        const BAD_GPUS: &[Opt] = &[Opt {
            key: "gpus",
            value: OptValue::Str("many"),
        }];
        assert!(
            declared("vllm", BAD_GPUS)
                .unwrap_err()
                .contains("\"all\" or a number")
        );
    }

    #[test]
    fn otel_reaches_the_spec_and_mount_reads_the_environment() {
        const OTEL: &[Opt] = &[
            Opt {
                key: "otel",
                value: OptValue::Bool(true),
            },
            Opt {
                key: "mount",
                value: OptValue::Str("${PATH_THAT_CLNRM_NEVER_SETS}:/opt/x:ro"),
            },
        ];
        let err = declared("generic", OTEL).unwrap_err();
        assert!(
            err.contains("the environment variable `PATH_THAT_CLNRM_NEVER_SETS` is not set"),
            "{err}"
        );
        const MOUNTED: &[Opt] = &[
            Opt {
                key: "otel",
                value: OptValue::Bool(true),
            },
            Opt {
                key: "mount",
                value: OptValue::Str("src:/opt/src:ro"),
            },
        ];
        let service = declared("generic", MOUNTED).unwrap();
        assert!(service.spec.otel);
        assert!(service.key.contains("otel-name=llm"), "{}", service.key);
        assert_eq!(
            service.spec.mounts,
            [("./src".to_owned(), "/opt/src".to_owned(), true)]
        );
        const BAD: &[Opt] = &[Opt {
            key: "mount",
            value: OptValue::Str("relative-container-path:opt"),
        }];
        assert!(
            declared("generic", BAD)
                .unwrap_err()
                .contains("expected `HOST:CONTAINER` or `HOST:CONTAINER:ro`")
        );
    }
}
