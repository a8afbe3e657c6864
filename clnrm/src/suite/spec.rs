//! The suite spec: what a `*.clnrm.toml` file says, after parsing and normalising.
//!
//! Both the current format (`version = 1`) and the older upstream clnrm format parse into
//! these types. Positions are kept as [`Spanned`] on the fields semantic checks point at;
//! `Spanned` compares by value only, so two specs from different files are equal when they
//! say the same thing.

use std::collections::BTreeMap;
use std::time::Duration;

pub use toml::Spanned;

/// The current (and only) suite format version.
pub const CURRENT_VERSION: u32 = 1;

/// A whole suite file.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteSpec {
    /// Format version (`version = 1`; the old upstream format normalises to 1).
    pub version: u32,
    /// `[suite] name`; defaults to the file name without `.clnrm.toml` (span `0..0`).
    pub name: Spanned<String>,
    /// `[suite] description`.
    pub description: Option<String>,
    /// `[suite] tags`.
    pub tags: Vec<String>,
    /// `[suite] timeout`: the whole suite, services included.
    pub timeout: Option<Spanned<Duration>>,
    /// `[services.NAME]`, in file order.
    pub services: Vec<ServiceSpec>,
    /// The tests of the suite. Top-level `[[steps]]` become one scenario named after the suite.
    pub scenarios: Vec<ScenarioSpec>,
    /// `[expect]`: spans the systems under test must have sent, checked after each scenario.
    pub expect: crate::telemetry::SpanExpectations,
}

impl SuiteSpec {
    /// The service called `name`, if declared.
    pub fn service(&self, name: &str) -> Option<&ServiceSpec> {
        self.services.iter().find(|s| s.name.get_ref() == name)
    }

    /// The host directories the suite reads when it runs (its services' `migrations`), resolved
    /// against the directory of `suite_file`, in file order.
    pub fn referenced_dirs(&self, suite_file: &std::path::Path) -> Vec<std::path::PathBuf> {
        self.services
            .iter()
            .filter_map(|s| s.migrations.as_ref())
            .map(|m| super::validate::migrations_dir(suite_file, m.get_ref()))
            .collect()
    }
}

/// `[services.NAME]`: a container the steps use.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpec {
    /// The table key (`db` in `[services.db]`); the span is the table header.
    pub name: Spanned<String>,
    /// Plugin name (`generic`, `postgres`, `redis`, ...); defaults to `generic`.
    pub plugin: Spanned<String>,
    /// Image reference `repo:tag`; `None` lets the plugin choose its default image.
    pub image: Option<Spanned<String>>,
    /// Environment of the container.
    pub env: BTreeMap<String, String>,
    /// Container ports to expose (1..=65535).
    pub ports: Vec<Spanned<u16>>,
    /// Overrides the image's command (argv).
    pub cmd: Option<Vec<String>>,
    /// Overrides the image's entrypoint (argv).
    pub entrypoint: Option<Vec<String>>,
    /// Readiness check; `None` lets the plugin decide.
    pub wait_for: Option<Spanned<WaitFor>>,
    /// Memory limit in bytes (`"256m"`, `"1g"`).
    pub memory: Option<Spanned<u64>>,
    /// CPU limit (`1.5` = one and a half cores).
    pub cpus: Option<Spanned<f64>>,
    /// The user the container runs as (`"1000:1000"`); the image's (often root) when `None`.
    pub user: Option<Spanned<String>>,
    /// How long the service may take to become ready.
    pub startup_timeout: Option<Spanned<Duration>>,
    /// Services that must be ready before this one starts.
    pub depends_on: Vec<Spanned<String>>,
    /// One container per suite (`shared`, default) or a fresh one per scenario (`test`).
    pub scope: Scope,
    /// What each scenario gets of its own inside the suite's container; `None` (the default)
    /// means scenarios share the service as it is.
    pub isolation: Option<Spanned<Isolation>>,
    /// Directory of `*.sql` files applied once to the template every isolated Postgres
    /// database (or schema) is made from, in name order; relative to the suite file.
    pub migrations: Option<Spanned<String>>,
    /// Bind mounts (`[[services.NAME.volumes]]`).
    pub volumes: Vec<VolumeSpec>,
    /// The model a one-model server serves (`vllm`, `tgi`).
    pub model: Option<Spanned<String>>,
    /// Models pulled at start (`ollama`).
    pub models: Vec<Spanned<String>>,
    /// GPUs requested from Docker (`"all"` or a count).
    pub gpus: Option<Spanned<crate::docker::Gpus>>,
    /// `otel = true`: the service gets the OTLP variables pointing at clnrm's receiver and
    /// must send telemetry (one that sends none is an infrastructure error).
    pub otel: bool,
    /// `chaos = true`: a proxy in front of it, for connection faults, that the scenario's
    /// steps (host and containers alike) go through.
    pub chaos: bool,
}

impl ServiceSpec {
    /// A `generic` service of that name with every option at its default (the parser's start).
    pub(crate) fn generic(name: Spanned<String>) -> Self {
        let header = name.span();
        Self {
            name,
            plugin: Spanned::new(header, "generic".to_owned()),
            image: None,
            env: BTreeMap::new(),
            ports: Vec::new(),
            cmd: None,
            entrypoint: None,
            wait_for: None,
            memory: None,
            cpus: None,
            user: None,
            startup_timeout: None,
            depends_on: Vec::new(),
            scope: Scope::Shared,
            isolation: None,
            migrations: None,
            volumes: Vec::new(),
            model: None,
            models: Vec::new(),
            gpus: None,
            otel: false,
            chaos: false,
        }
    }
}

/// A host directory or file mounted into a service's container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSpec {
    /// Host path: absolute, or relative to the suite file's directory.
    pub host_path: Spanned<String>,
    /// Absolute path inside the container.
    pub container_path: Spanned<String>,
    /// Mounted read-only.
    pub read_only: bool,
}

impl VolumeSpec {
    /// The host path, resolved against the directory of `suite_file` when relative.
    pub fn host_path_for(&self, suite_file: &std::path::Path) -> std::path::PathBuf {
        suite_file
            .parent()
            .unwrap_or(std::path::Path::new(""))
            .join(self.host_path.get_ref())
    }
}

/// Whether a service container is shared by the scenarios of a suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Scope {
    /// One container per suite, started before the first scenario; scenarios are isolated
    /// inside it when the service has an `isolation`.
    #[default]
    Shared,
    /// A fresh container per scenario, removed after it.
    Test,
}

/// What each scenario gets of its own inside a shared service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Isolation {
    /// Postgres: a database per scenario, cloned from a template. Redis: a logical database
    /// per scenario, flushed after.
    Database,
    /// Postgres: a schema per scenario, selected through `search_path`.
    Schema,
    /// A declarative plugin's `[isolation]` hooks: a namespace per scenario, made before it and
    /// removed after.
    Namespace,
    /// Nothing: scenarios share the service as it is (the default).
    None,
}

/// `wait_for`: when a service counts as ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitFor {
    /// `{ log = "ready to accept connections" }`: a log line containing this text.
    Log(String),
    /// `{ tcp = 5432 }`: the container port accepts TCP connections.
    Tcp(u16),
    /// `{ http = "/health", port = 8080, status = 200 }`: a GET answers with `status` (default 200).
    Http {
        /// Request path, starting with `/`.
        path: String,
        /// Container port; `None` means the service's only port.
        port: Option<u16>,
        /// Expected status code.
        status: u16,
    },
    /// `{ command = ["pg_isready"] }`: the command exits 0 inside the container.
    Command(Vec<String>),
}

/// `[[scenarios]]`: one test, a named list of steps.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioSpec {
    /// Scenario name (span: the name value, or the header when implicit).
    pub name: Spanned<String>,
    /// Steps, run in order.
    pub steps: Vec<StepSpec>,
}

/// One step of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct StepSpec {
    /// Step name.
    pub name: Spanned<String>,
    /// What the step does.
    pub action: Action,
    /// What must hold afterwards.
    pub expect: Expectations,
    /// Time limit of one attempt.
    pub timeout: Option<Spanned<Duration>>,
    /// Extra environment for `run` steps.
    pub env: BTreeMap<String, String>,
    /// Working directory for `run` steps.
    pub workdir: Option<Spanned<String>>,
    /// Keep going with the next step when this one fails.
    pub continue_on_failure: bool,
    /// Extra attempts after a failure (0 = run once).
    pub retries: u32,
}

/// The one action of a step.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `run` / `shell`: a command in a service's container or a fresh container.
    Exec(ExecSpec),
    /// `http`: a request to a service.
    Http(HttpSpec),
    /// `chaos`: a fault injected into a service, healed at the end of the scenario at the
    /// latest.
    Chaos(ChaosStepSpec),
    /// `surql`: SurrealQL sent to a `surrealdb` service (the scenario's namespace and database
    /// when isolated); any statement that fails fails the step.
    Surql(SurqlSpec),
}

/// `surql = "..."` with `service = "NAME"`.
#[derive(Debug, Clone, PartialEq)]
pub struct SurqlSpec {
    /// The SurrealQL text (span: the `surql` value).
    pub query: Spanned<String>,
    /// The `surrealdb` service to send it to.
    pub service: Spanned<String>,
}

/// `chaos = { fault, service, signal, after, duration, allow_damage }`, plus a connection
/// fault's parameters (`latency`, `jitter`, `rate`, `timeout`, `delay`, `bytes`, `direction`,
/// `toxicity`).
#[derive(Debug, Clone, PartialEq)]
pub struct ChaosStepSpec {
    /// What to do (span: the `fault` value).
    pub fault: Spanned<ChaosFault>,
    /// The service to break.
    pub service: Spanned<String>,
    /// The signal of a kill (default `SIGKILL`).
    pub signal: Option<String>,
    /// Inject it this long after the step, in the background, while the next steps run.
    pub after: Option<Duration>,
    /// Heal it this long after it was injected, in the background; without it, the fault
    /// stays until the end of the scenario.
    pub duration: Option<Duration>,
    /// Allows kill, stop and restart on a service the suite's scenarios share.
    pub allow_damage: bool,
    /// A connection fault's toxic (all but `down`), for the proxy in front of the service.
    pub toxic: Option<crate::chaos::Toxic>,
}

/// A fault a suite can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChaosFault {
    /// `docker pause`: a hang with connections kept open.
    Pause,
    /// A signal to the main process; healed by starting it again.
    Kill,
    /// `docker stop`; healed by starting it again.
    Stop,
    /// `docker restart`, waiting until it is ready again.
    Restart,
    /// Disconnected from the run network; healed by reconnecting it.
    Partition,
    /// A toxic on the proxy in front of the service (`chaos = true`): latency, bandwidth,
    /// timeout, reset_peer, slow_close or limit_data ([`ChaosStepSpec::toxic`]).
    Toxic,
    /// The proxy in front of the service is down: connections closed, new ones refused.
    Down,
}

impl ChaosFault {
    /// Needs a proxy in front of the service (`chaos = true`).
    pub fn needs_proxy(self) -> bool {
        matches!(self, ChaosFault::Toxic | ChaosFault::Down)
    }
}

/// A command to execute.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecSpec {
    /// The command (span: the `run`/`shell` value).
    pub command: Spanned<Command>,
    /// Where it runs.
    pub target: Target,
}

/// A command line, never re-split: argv items are passed as they are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `run = ["psql", "-c", "select 1"]`: executed directly, no shell.
    Argv(Vec<String>),
    /// `shell = "echo $HOME && ls"`: executed as `sh -c <script>`.
    Shell(String),
}

impl Command {
    /// The argv to execute (`["sh", "-c", script]` for a shell command).
    pub fn to_argv(&self) -> Vec<String> {
        match self {
            Self::Argv(argv) => argv.clone(),
            Self::Shell(script) => vec!["sh".into(), "-c".into(), script.clone()],
        }
    }
}

/// Where an [`ExecSpec`] runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `service = "NAME"`: exec in that service's container.
    Service(Spanned<String>),
    /// `image = "repo:tag"`: a fresh container, removed afterwards.
    Image(Spanned<String>),
}

/// `http = { service, port, method, path, headers, body | json }`.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSpec {
    /// The service to call.
    pub service: Spanned<String>,
    /// Container port; `None` means the service's only port.
    pub port: Option<Spanned<u16>>,
    /// Upper-case method, default `GET`.
    pub method: String,
    /// Path and query, starting with `/`, default `/`.
    pub path: String,
    /// Request headers.
    pub headers: BTreeMap<String, String>,
    /// Request body.
    pub body: Option<HttpBody>,
}

/// The body of an HTTP step.
#[derive(Debug, Clone, PartialEq)]
pub enum HttpBody {
    /// `body = "..."`, sent as is.
    Text(String),
    /// `json = {...}`, serialised, with `content-type: application/json`.
    Json(serde_json::Value),
}

/// `expect`: what must hold after a step.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Expectations {
    /// `exit_code` of a `run` step; `None` means 0 is expected (or, with `fails`, anything but 0).
    pub exit_code: Option<Spanned<i32>>,
    /// The command must fail: any exit code but 0 (the older format's `should_fail = true`).
    pub fails: bool,
    /// Checks on stdout (or the HTTP response body).
    pub stdout: OutputExpect,
    /// Checks on stderr.
    pub stderr: OutputExpect,
    /// JSON pointer -> expected value, on the HTTP response body or on stdout parsed as JSON.
    pub json: Vec<JsonExpect>,
    /// HTTP status; `None` means any 2xx.
    pub status: Option<Spanned<u16>>,
    /// Upper bound on the step's wall time.
    pub max_duration: Option<Spanned<Duration>>,
}

impl Expectations {
    /// The exit code a `run` step must end with.
    pub fn expected_exit_code(&self) -> i32 {
        self.exit_code.as_ref().map_or(0, |c| *c.get_ref())
    }
}

/// Checks on one output stream; every entry must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutputExpect {
    /// Substrings that must appear.
    pub contains: Vec<String>,
    /// Substrings that must not appear.
    pub not_contains: Vec<String>,
    /// Regexes (Rust `regex` syntax, already checked to compile) that must match.
    pub regex: Vec<Spanned<String>>,
    /// Regexes that must not match (the older format's `expected_output_regex_not`).
    pub not_regex: Vec<Spanned<String>>,
}

impl OutputExpect {
    /// Whether there is nothing to check.
    pub fn is_empty(&self) -> bool {
        self.contains.is_empty()
            && self.not_contains.is_empty()
            && self.regex.is_empty()
            && self.not_regex.is_empty()
    }
}

/// One `expect.json` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonExpect {
    /// RFC 6901 pointer (`/data/0/name`; `""` is the whole document).
    pub pointer: Spanned<String>,
    /// The value found there must equal this.
    pub value: serde_json::Value,
}
