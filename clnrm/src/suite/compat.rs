//! The older upstream clnrm format: every key of it that clnrm does not read as one of its own,
//! described once in [`OLD_KEYS`] (where it goes, what clnrm does with it). The parser, the
//! warning summary of `clnrm validate` and the README's key reference all read this table.
//!
//! The rule: a key that only describes is accepted with a warning; a key that expresses a
//! check clnrm does not evaluate, or changes behaviour clnrm does not implement, is an error
//! saying so. Nothing a suite asks for is skipped in silence.

use std::fmt::Write as _;

use super::diagnostic::DiagnosticKind;

/// Where an older-format key sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// The top level of the file.
    Top,
    /// `[test.metadata]` or `[meta]`.
    Meta,
    /// `[services.NAME]` / `[service.NAME]`.
    Service,
    /// `[[scenario]]`.
    Scenario,
    /// `[[steps]]` / `[[scenario.steps]]`.
    Step,
    /// `[expect]`.
    Expect,
    /// `[containers.NAME]` (the older `[test]` + `[containers.NAME]` + `exec` shape).
    Container,
    /// A step's `assert` table (`[steps.assert]` / `assert.KEY = ...`).
    Assert,
    /// The top level of the oldest `clnrm init` shape (`name` + `[[scenarios]]` + `[policy]`).
    InitTop,
    /// A `[[scenarios]]` entry of the oldest shape.
    InitScenario,
    /// A step (`{ name, cmd }`) of the oldest shape.
    InitStep,
    /// `[policy]` of the oldest shape.
    Policy,
}

impl Place {
    fn shown(self) -> &'static str {
        match self {
            Self::Top => "top level",
            Self::Meta => "`[test.metadata]` / `[meta]`",
            Self::Service => "service",
            Self::Scenario => "`[[scenario]]`",
            Self::Step => "step",
            Self::Expect => "`[expect]`",
            Self::Container => "`[containers.NAME]`",
            Self::Assert => "a step's `assert`",
            Self::InitTop => "top level of the oldest `clnrm init` shape",
            Self::InitScenario => "`[[scenarios]]` (oldest shape)",
            Self::InitStep => "`steps` item (oldest shape)",
            Self::Policy => "`[policy]` (oldest shape)",
        }
    }
}

/// What clnrm does with an older-format key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Treatment {
    /// It only describes: accepted with a warning, the suite runs the same.
    Describes,
    /// It has no effect on a suite clnrm runs, for the reason given: accepted with a warning.
    Ignored(&'static str),
    /// It is read as clnrm's own equivalent, named here, with a warning naming the mapping.
    Mapped(&'static str),
    /// It expresses a check clnrm does not evaluate: an error, so nothing passes unchecked.
    Check(&'static str),
    /// It changes behaviour in a way clnrm does not implement: an error saying so.
    Unsupported(&'static str),
}

impl Treatment {
    /// Whether a key of this treatment is an error in any format.
    pub(crate) fn is_error(self) -> bool {
        matches!(self, Check(_) | Unsupported(_))
    }

    /// What the parser reports for key `name` in `what` (old-format files): a warning with the
    /// kind `clnrm validate`'s summary counts it under, or an error (`None` kind), or nothing
    /// for a mapped key, which the code of its table reads and reports naming the mapping.
    pub(crate) fn report(self, name: &str, what: &str) -> Option<(Option<DiagnosticKind>, String)> {
        Some(match self {
            Describes => (
                Some(DiagnosticKind::Descriptive),
                format!("`{name}` in {what} only describes the suite; ignored"),
            ),
            Ignored(why) => (
                Some(DiagnosticKind::Descriptive),
                format!("`{name}` in {what} is ignored: {why}"),
            ),
            Mapped(_) => return None,
            Check(why) => (
                None,
                format!("`{name}` in {what} asks for a check clnrm does not evaluate: {why}"),
            ),
            Unsupported(why) => (None, format!("`{name}` in {what} is not supported: {why}")),
        })
    }
}

/// One older-format key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OldKey {
    pub(crate) place: Place,
    pub(crate) name: &'static str,
    pub(crate) treatment: Treatment,
}

const fn key(place: Place, name: &'static str, treatment: Treatment) -> OldKey {
    OldKey {
        place,
        name,
        treatment,
    }
}

use Place::{
    Assert, Container, Expect, InitScenario, InitStep, InitTop, Meta, Policy, Scenario, Service,
    Step, Top,
};
use Treatment::{Check, Describes, Ignored, Mapped, Unsupported};

const SPANS: &str = "the v0.4 `[otel_validation]` shape is not read; write the spans as `[[expect.span]]` (see the README's span expectations)";

/// Every older-format key clnrm does not read as one of its own current keys.
pub(crate) const OLD_KEYS: &[OldKey] = &[
    key(Top, "otel_validation", Check(SPANS)),
    key(
        Top,
        "assertions",
        Mapped(
            "the two checks the older clnrm evaluated: `container_should_have_executed_commands = N` (at least N of the suite's steps, so an error when it has fewer; a run that passes ran them all) and `execution_should_be_hermetic = true` (its own session: every clnrm suite runs in its own network and containers); also `all_steps_should_pass` / `all_commands_should_succeed = true`, which it skipped but a passing run means (an error with a `continue_on_failure` step); any other key, which the older clnrm skipped with a log line, is an error",
        ),
    ),
    key(
        Top,
        "weaver",
        Check("Weaver live-check of telemetry is not supported"),
    ),
    key(
        Top,
        "performance",
        Check("performance baselines and regression checks are not supported"),
    ),
    key(
        Top,
        "otel",
        Unsupported(
            "per-suite telemetry export is not supported; clnrm exports with the standard OTEL_EXPORTER_OTLP_* variables",
        ),
    ),
    key(
        Top,
        "otel_headers",
        Unsupported("per-suite OTLP headers are not supported; use OTEL_EXPORTER_OTLP_HEADERS"),
    ),
    key(
        Top,
        "otel_propagators",
        Unsupported("per-suite trace propagators are not supported"),
    ),
    key(
        Top,
        "matrix",
        Unsupported("matrix expansion of a suite is not supported"),
    ),
    key(
        Top,
        "report",
        Unsupported(
            "per-suite report paths are not supported; use `clnrm run --json FILE --junit FILE`",
        ),
    ),
    key(
        Top,
        "determinism",
        Unsupported("seeded ordering and frozen clocks are not supported"),
    ),
    key(
        Top,
        "limits",
        Unsupported(
            "suite-wide resource limits are not supported; set `memory` / `cpus` on a current-format service",
        ),
    ),
    key(
        Top,
        "chaos",
        Unsupported("the older chaos experiments are not supported"),
    ),
    key(
        Top,
        "vars",
        Ignored(
            "template variables, read when a `*.clnrm.toml.tera` template is rendered; nothing else reads them",
        ),
    ),
    key(
        Top,
        "template",
        Ignored(
            "`[template.matrix]`, read when a `*.clnrm.toml.tera` template is rendered (`{{ matrix.NAME }}`); nothing else reads it",
        ),
    ),
    key(
        Top,
        "containers",
        Mapped(
            "`[services.NAME]` of plugin `generic` (their keys are listed as `[containers.NAME]`)",
        ),
    ),
    key(
        Top,
        "parallel",
        Ignored(
            "a limit on steps run at once; clnrm runs a scenario's steps one after another (suites in parallel with `clnrm run --jobs N`)",
        ),
    ),
    key(
        Meta,
        "parallel",
        Ignored(
            "a limit on steps run at once; clnrm runs a scenario's steps one after another (suites in parallel with `clnrm run --jobs N`)",
        ),
    ),
    key(Meta, "version", Describes),
    key(Meta, "hermetic", Describes),
    key(Meta, "tags", Describes),
    key(Meta, "author", Describes),
    key(Meta, "authors", Describes),
    key(
        Service,
        "type",
        Mapped("`plugin`; ignored when `plugin` is given too, as the older clnrm ignored it"),
    ),
    key(
        Service,
        "args",
        Mapped("`cmd` (for `surrealdb`/`ollama`, instead of their default command)"),
    ),
    key(
        Service,
        "volumes",
        Mapped(
            "bind mounts: `host_path` (absolute, or relative to the suite file) at `container_path`, read-only when `read_only = true`",
        ),
    ),
    key(
        Service,
        "username",
        Mapped(
            "the `--user` of the `surrealdb` server (the built-in takes it as its credentials; an error on other plugins)",
        ),
    ),
    key(
        Service,
        "password",
        Mapped("the `--pass` of the `surrealdb` server (an error on other plugins)"),
    ),
    key(Service, "description", Describes),
    key(
        Service,
        "wait_strategy",
        Ignored("the older clnrm did not read it"),
    ),
    key(
        Service,
        "wait_message",
        Ignored("the older clnrm did not read it"),
    ),
    key(Service, "environment", Mapped("`env`")),
    key(
        Service,
        "health_check",
        Mapped("`wait_for = { command = CMD }` (polled until the start-up timeout)"),
    ),
    key(
        Service,
        "wait_for_span",
        Check(
            "waiting for a span before the steps is not supported; clnrm checks spans after each scenario (`[[expect.span]]`)",
        ),
    ),
    key(
        Service,
        "wait_for_span_timeout_secs",
        Check(
            "waiting for a span before the steps is not supported; clnrm checks spans after each scenario (`[[expect.span]]`)",
        ),
    ),
    key(
        Service,
        "strict",
        Ignored(
            "the older clnrm never read it (its surrealdb factory took `strict` from `env`), so it had no effect; an error on other plugins",
        ),
    ),
    key(Scenario, "description", Describes),
    key(
        Scenario,
        "concurrent",
        Mapped("steps in order: `concurrent = false` is what clnrm does, `true` is an error"),
    ),
    key(
        Scenario,
        "expect_success",
        Mapped(
            "whether its `run` command must succeed: `false` expects a non-zero exit (`should_fail`); an error without `run`",
        ),
    ),
    key(
        Scenario,
        "timeout_ms",
        Unsupported(
            "a per-scenario timeout is not supported; give the suite a `timeout` in `[test.metadata]`",
        ),
    ),
    key(
        Scenario,
        "policy",
        Unsupported("security policies are not supported"),
    ),
    key(
        Scenario,
        "artifacts",
        Check("artifact collection (spans, logs, files) is not supported yet"),
    ),
    key(Step, "command", Mapped("`run` (an argv array)")),
    key(
        Step,
        "expected_output_regex",
        Mapped("`expect.stdout.regex`"),
    ),
    key(
        Step,
        "expected_output_regex_not",
        Mapped("a regex stdout must not match"),
    ),
    key(Step, "expected_exit_code", Mapped("`expect.exit_code`")),
    key(Step, "should_fail", Mapped("any exit code but 0")),
    key(Step, "description", Describes),
    key(Step, "exec", Mapped("`run` (an argv array)")),
    key(Step, "container", Mapped("`service`")),
    key(
        Step,
        "assert",
        Mapped("the step's expectations (its keys are listed as a step's `assert`)"),
    ),
    key(
        Step,
        "depends_on",
        Mapped(
            "file order: steps run one after another, so each step it names must come earlier (a later or unknown one is an error)",
        ),
    ),
    key(
        Step,
        "retry",
        Mapped(
            "`retries = attempts - 1`; a `delay` other than \"0s\" is an error (clnrm retries at once)",
        ),
    ),
    key(
        Expect,
        "graph",
        Mapped(
            "`parent` edges of `[[expect.span]]` (`must_include`; `must_not_cross` as `count = 0` on the edge; `acyclic` always holds)",
        ),
    ),
    key(
        Expect,
        "counts",
        Mapped(
            "`[expect.trace]` `min_spans`/`max_spans` (`spans_total`) and `errors` (`errors_total`, upper bound only), and a `count` per span name (`by_name`)",
        ),
    ),
    key(
        Expect,
        "status",
        Mapped(
            "`[expect.trace] errors = 0` (`all = \"OK\"`; other values are an error) and a `status` per span name (`by_name`)",
        ),
    ),
    key(
        Expect,
        "hermeticity",
        Mapped(
            "`[expect.hermetic]`: `no_external_services = true` allows the suite's services and loopback only (other keys are an error)",
        ),
    ),
    key(
        Expect,
        "window",
        Mapped(
            "`within`: each `contains` span descends from an `outer` span and lies inside its interval",
        ),
    ),
    key(
        Container,
        "volumes",
        Mapped("bind mounts: `host` at `container`, read-only when `readonly = true`"),
    ),
    key(
        Container,
        "healthcheck",
        Mapped(
            "`wait_for = { command = [...] }` (the string split like a shell would, never run through one)",
        ),
    ),
    key(Container, "depends_on", Mapped("`depends_on`")),
    key(Container, "command", Mapped("`cmd` (an argv array)")),
    key(
        Container,
        "workdir",
        Unsupported("a container's working directory is not supported; give the steps a `workdir`"),
    ),
    key(Assert, "exit_code", Mapped("`expect.exit_code`")),
    key(
        Assert,
        "stdout_contains",
        Mapped("`expect.stdout.contains`"),
    ),
    key(Assert, "stdout_regex", Mapped("`expect.stdout.regex`")),
    key(
        Assert,
        "stdout_not_contains",
        Mapped("`expect.stdout.not_contains`"),
    ),
    key(
        Assert,
        "stderr_contains",
        Mapped("`expect.stderr.contains`"),
    ),
    key(InitTop, "name", Mapped("the suite's name")),
    key(
        InitTop,
        "scenarios",
        Mapped(
            "scenarios, their steps run in order in a container of `[containers] default_image` of cleanroom.toml (else `alpine:latest`), a scenario stopping at its first failing step",
        ),
    ),
    key(InitTop, "policy", Mapped("its keys, one by one (below)")),
    key(
        InitTop,
        "services",
        Unsupported(
            "the oldest shape's `[[services]]` (commented out in its `clnrm init` output) is not read; write the suite in a later shape with `[services.NAME]`",
        ),
    ),
    key(
        InitScenario,
        "concurrent",
        Mapped("`false` as written; `true` is an error: the steps of a scenario run in order"),
    ),
    key(
        InitScenario,
        "timeout_ms",
        Unsupported(
            "a time limit per scenario is not supported; give the top-level `[policy] max_execution_time`",
        ),
    ),
    key(
        InitScenario,
        "policy",
        Unsupported(
            "a policy per scenario is not supported (the older clnrm applied the top-level `[policy]` instead); move its keys to the top-level `[policy]`",
        ),
    ),
    key(InitStep, "cmd", Mapped("`run` (an argv array)")),
    key(InitStep, "expected_exit_code", Mapped("`expect.exit_code`")),
    key(
        Policy,
        "security_level",
        Mapped(
            "`\"low\"` or `\"medium\"` (the older default): what every clnrm step gets, its own container on the run's own network; `\"high\"` asks for more and is an error",
        ),
    ),
    key(
        Policy,
        "max_execution_time",
        Mapped("the suite's `timeout`, in seconds: the run fails when it runs out"),
    ),
    key(
        Policy,
        "disallowed_commands",
        Mapped(
            "checked on every step's command as written: a step naming one of them (an argv item or a word of one), or running a shell, whose script clnrm cannot see into, is an error",
        ),
    ),
    key(
        Policy,
        "max_memory_mb",
        Unsupported("a memory limit for the steps' container is not supported"),
    ),
    key(
        Policy,
        "max_cpu_usage",
        Unsupported("a CPU limit for the steps' container is not supported"),
    ),
    key(
        Policy,
        "allowed_network_hosts",
        Unsupported("clnrm does not restrict the hosts a step may reach"),
    ),
];

/// The entry for `name` at `place`, if it is an older-format key clnrm knows about.
pub(crate) fn lookup(place: Place, name: &str) -> Option<&'static OldKey> {
    OLD_KEYS.iter().find(|k| k.place == place && k.name == name)
}

/// The older-format keys of `place` that clnrm reads as its own (its parser takes them as known).
pub(crate) fn mapped_keys(place: Place) -> impl Iterator<Item = &'static str> {
    OLD_KEYS
        .iter()
        .filter(move |k| k.place == place && matches!(k.treatment, Mapped(_)))
        .map(|k| k.name)
}

/// The README's reference of older-format keys (a Markdown table), rendered from the one
/// table of them the parser reads.
pub fn old_keys_markdown() -> String {
    let mut out = String::from("| where | key | clnrm |\n|---|---|---|\n");
    for k in OLD_KEYS {
        let what = match k.treatment {
            Describes => "warning: describes only, ignored".to_owned(),
            Ignored(why) => format!("warning: ignored, {why}"),
            Mapped(to) => format!("read as {to}"),
            Check(why) => format!("error: a check clnrm does not evaluate: {why}"),
            Unsupported(why) => format!("error: {why}"),
        };
        let _ = writeln!(out, "| {} | `{}` | {what} |", k.place.shown(), k.name);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_old_key_is_listed_once_per_place() {
        for (i, a) in OLD_KEYS.iter().enumerate() {
            for b in &OLD_KEYS[i + 1..] {
                assert!(
                    !(a.place == b.place && a.name == b.name),
                    "{} listed twice",
                    a.name
                );
            }
        }
    }

    #[test]
    fn the_readme_key_reference_is_rendered_from_the_table() {
        let readme = include_str!("../../../README.md");
        let table = old_keys_markdown();
        assert!(
            readme.contains(&table),
            "README.md must contain the older-format key table exactly as \
             `clnrm::suite::old_keys_markdown()` renders it:\n{table}"
        );
    }
}
