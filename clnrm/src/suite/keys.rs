//! The current suite format's keys, described once: the table each belongs to, the type it
//! takes and what it does. The parser checks every table against [`KEYS`] (an unknown key is an
//! error naming the closest known one; a value of the wrong type is an error saying what was
//! expected) and the README's key reference is rendered from it ([`keys_markdown`]). The older
//! format's keys are described the same way in [`compat::OLD_KEYS`](super::compat::OLD_KEYS).

use std::fmt::Write as _;

/// A table of the current format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    /// The top level of the file.
    Top,
    /// `[suite]`.
    Suite,
    /// `[services.NAME]`.
    Service,
    /// A service's `wait_for = { ... }`.
    WaitFor,
    /// `[[scenarios]]`.
    Scenario,
    /// `[[steps]]` / `[[scenarios.steps]]`.
    Step,
    /// A step's `http = { ... }`.
    Http,
    /// A step's `expect`.
    Expect,
    /// A step's `expect.stdout` / `expect.stderr`.
    Output,
    /// `[[services.NAME.volumes]]` (both formats).
    Volume,
    /// `[expect]`: span expectations (both formats).
    Spans,
    /// `[[expect.span]]`.
    Span,
    /// `[[expect.order]]`.
    Order,
    /// `[expect.trace]`.
    Trace,
    /// `[expect.hermetic]`.
    Hermetic,
    /// A span rule's `count` / `duration_ms`.
    Bounds,
}

impl Table {
    fn shown(self) -> &'static str {
        match self {
            Self::Top => "top level",
            Self::Suite => "`[suite]`",
            Self::Service => "`[services.NAME]`",
            Self::WaitFor => "a service's `wait_for`",
            Self::Scenario => "`[[scenarios]]`",
            Self::Step => "step",
            Self::Http => "a step's `http`",
            Self::Expect => "a step's `expect`",
            Self::Output => "`expect.stdout` / `expect.stderr`",
            Self::Volume => "`[[services.NAME.volumes]]`",
            Self::Spans => "`[expect]`",
            Self::Span => "`[[expect.span]]`",
            Self::Order => "`[[expect.order]]`",
            Self::Trace => "`[expect.trace]`",
            Self::Hermetic => "`[expect.hermetic]`",
            Self::Bounds => "a span rule's `count` / `duration_ms`",
        }
    }
}

/// One key of the current format.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Key {
    table: Table,
    name: &'static str,
    /// What its value must be.
    ty: &'static str,
    /// What it does.
    meaning: &'static str,
}

const fn key(table: Table, name: &'static str, ty: &'static str, meaning: &'static str) -> Key {
    Key {
        table,
        name,
        ty,
        meaning,
    }
}

use Table::{
    Bounds, Expect, Hermetic, Http, Order, Output, Scenario, Service, Span, Spans, Step, Suite,
    Top, Trace, Volume, WaitFor,
};

const DURATION: &str = "duration: seconds or \"30s\", \"1m 30s\"";
const ARGV: &str = "argv array of strings";

/// Every key of the current format, in the order the parser lists them.
pub(crate) const KEYS: &[Key] = &[
    key(
        Top,
        "version",
        "integer 1",
        "the suite format version (required)",
    ),
    key(
        Top,
        "suite",
        "table",
        "the suite's name, description, tags and timeout",
    ),
    key(
        Top,
        "services",
        "table of tables",
        "the services the steps use, by name",
    ),
    key(
        Top,
        "steps",
        "array of tables",
        "the steps of a suite with one scenario",
    ),
    key(
        Top,
        "scenarios",
        "array of tables",
        "scenarios, each with its own steps",
    ),
    key(
        Top,
        "expect",
        "table",
        "span expectations (see Span expectations)",
    ),
    key(
        Suite,
        "name",
        "string",
        "the suite's name (default: the file name)",
    ),
    key(Suite, "description", "string", "describes the suite"),
    key(
        Suite,
        "tags",
        "array of strings",
        "tags to select suites by",
    ),
    key(
        Suite,
        "timeout",
        DURATION,
        "fails the scenarios still running after it",
    ),
    key(
        Service,
        "plugin",
        "string",
        "the plugin (default `generic`)",
    ),
    key(
        Service,
        "image",
        "string `repo:tag`",
        "the image (default: the plugin's)",
    ),
    key(
        Service,
        "env",
        "table of strings",
        "the container's environment",
    ),
    key(
        Service,
        "ports",
        "array of port numbers",
        "container ports to expose",
    ),
    key(Service, "cmd", ARGV, "replaces the image's command"),
    key(
        Service,
        "entrypoint",
        ARGV,
        "replaces the image's entrypoint",
    ),
    key(
        Service,
        "wait_for",
        "table",
        "readiness: one of `log`, `tcp`, `http`, `command`",
    ),
    key(Service, "memory", "size like \"256m\"", "memory limit"),
    key(Service, "cpus", "number", "CPU limit"),
    key(Service, "user", "string", "the user the container runs as"),
    key(
        Service,
        "startup_timeout",
        DURATION,
        "how long it may take to become ready",
    ),
    key(
        Service,
        "depends_on",
        "string or array of strings",
        "services ready before it starts",
    ),
    key(
        Service,
        "scope",
        "\"shared\" or \"test\"",
        "one container per suite, or per scenario",
    ),
    key(
        Service,
        "isolation",
        "\"database\", \"schema\", \"namespace\" or \"none\"",
        "what each scenario gets of its own",
    ),
    key(
        Service,
        "migrations",
        "path",
        "`*.sql` applied once to the isolated template",
    ),
    key(
        Service,
        "model",
        "string",
        "the model a `vllm` / `tgi` server serves",
    ),
    key(
        Service,
        "models",
        "string or array of strings",
        "models an `ollama` server pulls",
    ),
    key(
        Service,
        "gpus",
        "\"all\" or a count",
        "GPUs requested from Docker",
    ),
    key(Service, "volumes", "array of tables", "bind mounts"),
    key(
        Service,
        "otel",
        "boolean",
        "gets the OTLP variables and must send telemetry",
    ),
    key(Service, "chaos", "boolean", "a fault proxy in front of it"),
    key(WaitFor, "log", "string", "a log line containing it"),
    key(WaitFor, "tcp", "port number", "the port accepts TCP"),
    key(WaitFor, "http", "path", "a GET answers `status`"),
    key(
        WaitFor,
        "command",
        ARGV,
        "a command in the container exits 0",
    ),
    key(WaitFor, "port", "port number", "the port of `http`"),
    key(
        WaitFor,
        "status",
        "HTTP status",
        "the status `http` must answer (default 200)",
    ),
    key(Scenario, "name", "string", "the scenario's name (required)"),
    key(
        Scenario,
        "steps",
        "array of tables",
        "its steps, run in order",
    ),
    key(Step, "name", "string", "the step's name (required)"),
    key(Step, "run", ARGV, "a command, passed as written"),
    key(Step, "shell", "string", "a script for `sh -c`"),
    key(Step, "http", "table", "an HTTP request to a service"),
    key(Step, "chaos", "table", "a fault on a service"),
    key(
        Step,
        "surql",
        "string",
        "SurrealQL sent to a `surrealdb` service",
    ),
    key(
        Step,
        "service",
        "string",
        "the service a command or `surql` runs in",
    ),
    key(
        Step,
        "image",
        "string `repo:tag`",
        "a container of this image a command runs in",
    ),
    key(Step, "expect", "table", "what the step must produce"),
    key(Step, "timeout", DURATION, "per attempt (default 120 s)"),
    key(Step, "env", "table of strings", "the command's environment"),
    key(Step, "workdir", "string", "the command's working directory"),
    key(
        Step,
        "continue_on_failure",
        "boolean",
        "a failure is reported but does not fail the scenario",
    ),
    key(
        Step,
        "retries",
        "integer 0..=1000",
        "attempts after the first",
    ),
    key(Http, "service", "string", "the service called (required)"),
    key(
        Http,
        "port",
        "port number",
        "its port (default: its only one)",
    ),
    key(
        Http,
        "method",
        "string",
        "GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS",
    ),
    key(
        Http,
        "path",
        "string starting with `/`",
        "the request path (default `/`)",
    ),
    key(Http, "headers", "table of strings", "request headers"),
    key(Http, "body", "string", "a text body"),
    key(Http, "json", "any TOML value", "a JSON body"),
    key(
        Expect,
        "exit_code",
        "integer",
        "the command's exit code (default 0)",
    ),
    key(
        Expect,
        "stdout",
        "table",
        "checks on stdout (or the HTTP body)",
    ),
    key(Expect, "stderr", "table", "checks on stderr"),
    key(
        Expect,
        "json",
        "table of JSON pointers",
        "values in the JSON output or body",
    ),
    key(
        Expect,
        "status",
        "HTTP status",
        "the response status (default: any 2xx)",
    ),
    key(
        Expect,
        "max_duration",
        DURATION,
        "an upper bound on the step's time",
    ),
    key(
        Output,
        "contains",
        "string or array of strings",
        "substrings that must appear",
    ),
    key(
        Output,
        "not_contains",
        "string or array of strings",
        "substrings that must not appear",
    ),
    key(
        Output,
        "regex",
        "string or array of strings",
        "regexes that must match",
    ),
    key(
        Volume,
        "host_path",
        "path",
        "absolute, or relative to the suite file",
    ),
    key(
        Volume,
        "container_path",
        "absolute path",
        "where it is mounted",
    ),
    key(Volume, "read_only", "boolean", "mounted read-only"),
    key(
        Spans,
        "span",
        "array of tables",
        "span rules (`[[expect.span]]`)",
    ),
    key(
        Spans,
        "order",
        "array of tables",
        "order rules (`[[expect.order]]`)",
    ),
    key(Spans, "trace", "table", "rules on the whole trace"),
    key(Spans, "hermetic", "table", "where the spans may point"),
    key(
        Spans,
        "settle_ms",
        "integer",
        "the longest wait for spans after the steps (default 2000)",
    ),
    key(
        Span,
        "id",
        "string",
        "for `parent`, `ancestor` and order rules (default: the name)",
    ),
    key(Span, "name", "string", "the span's name"),
    key(Span, "name_re", "regex", "or a regex its name matches"),
    key(Span, "service", "string", "the resource's `service.name`"),
    key(
        Span,
        "kind",
        "string",
        "internal, server, client, producer or consumer",
    ),
    key(Span, "status", "string", "ok, error or unset"),
    key(Span, "attrs", "table", "attributes with these typed values"),
    key(
        Span,
        "attrs_re",
        "table",
        "attributes whose values match these regexes",
    ),
    key(
        Span,
        "absent",
        "array of strings",
        "attributes it must not have",
    ),
    key(Span, "events", "array of strings", "events it must have"),
    key(
        Span,
        "duration_ms",
        "table",
        "bounds on its duration (`min`, `max`)",
    ),
    key(
        Span,
        "count",
        "table",
        "bounds on the matches (default `{ min = 1 }`; `max = 0` forbids)",
    ),
    key(
        Span,
        "parent",
        "string",
        "the id or name of its direct parent",
    ),
    key(
        Span,
        "ancestor",
        "string",
        "the id or name of a span above it at any level",
    ),
    key(
        Order,
        "before",
        "string",
        "a span rule's id or a span name that comes first",
    ),
    key(
        Order,
        "after",
        "string",
        "one whose spans start after the end of some `before` span",
    ),
    key(Order, "slack_ms", "integer", "clock skew tolerated"),
    key(
        Trace,
        "services",
        "array of strings",
        "each sent a span in the scenario's trace",
    ),
    key(
        Trace,
        "errors",
        "integer",
        "ERROR spans that no `status = \"error\"` rule matches",
    ),
    key(Trace, "max_spans", "integer", "at most this many spans"),
    key(Trace, "min_spans", "integer", "at least this many spans"),
    key(
        Hermetic,
        "allow",
        "array of strings",
        "destinations allowed besides loopback",
    ),
    key(Bounds, "min", "number", "lower bound (inclusive)"),
    key(Bounds, "max", "number", "upper bound (inclusive)"),
];

/// The names of `table`'s keys, in order.
pub(crate) fn names(table: Table) -> Vec<&'static str> {
    KEYS.iter()
        .filter(|k| k.table == table)
        .map(|k| k.name)
        .collect()
}

/// The README's reference of the current format's keys (a Markdown table), rendered from the
/// one table the parser reads.
pub fn keys_markdown() -> String {
    let mut out = String::from("| where | key | value | what it does |\n|---|---|---|---|\n");
    for k in KEYS {
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} |",
            k.table.shown(),
            k.name,
            k.ty,
            k.meaning
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_listed_once_per_table() {
        for (i, a) in KEYS.iter().enumerate() {
            for b in &KEYS[i + 1..] {
                assert!(
                    !(a.table == b.table && a.name == b.name),
                    "{} listed twice",
                    a.name
                );
            }
        }
    }

    #[test]
    fn the_readme_key_reference_is_rendered_from_the_table() {
        let readme = include_str!("../../../README.md");
        let table = keys_markdown();
        assert!(
            readme.contains(&table),
            "README.md must contain the current-format key table exactly as \
             `clnrm::suite::keys_markdown()` renders it:\n{table}"
        );
    }
}
