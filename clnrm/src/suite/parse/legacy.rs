//! The older upstream clnrm format's own tables: `[test.metadata]` / `[meta]`, its service keys
//! (`type`, `args`, `environment`, `volumes`, `health_check`, older plugin names), `[[scenario]]`
//! with `run`, steps with `command` and the `expected_*` keys. Keys it shares with the current
//! format are read by the walker in `parse.rs`; what each older key means is in
//! [`OLD_KEYS`](crate::suite::compat::OLD_KEYS).

use std::collections::BTreeMap;
use std::ops::Range;

use toml::de::{DeTable, DeValue};

use super::Walker;
use crate::suite::compat::Place;
use crate::suite::diagnostic::DiagnosticKind;
use crate::suite::keys::{self, Table};
use crate::suite::spec::{
    Action, Command, ExecSpec, Expectations, ScenarioSpec, ServiceSpec, Spanned, StepSpec,
    SuiteSpec, Target, VolumeSpec, WaitFor,
};
use crate::values;

/// Besides these, old-format tables take the keys [`OLD_KEYS`](crate::suite::compat::OLD_KEYS) maps.
pub(super) const LEGACY_SERVICE_KEYS: &[&str] = &["plugin", "image", "env", "ports", "otel"];
/// `[containers.NAME]` keys read as they are; the others are in [`OLD_KEYS`](crate::suite::compat::OLD_KEYS).
pub(super) const CONTAINER_KEYS: &[&str] = &["image", "env", "ports"];
pub(super) const LEGACY_STEP_KEYS: &[&str] =
    &["name", "service", "workdir", "env", "continue_on_failure"];
pub(super) const LEGACY_SCENARIO_KEYS: &[&str] = &["name", "steps", "service", "run"];

/// Where old-format steps that name no service run when the suite declares none and no
/// `cleanroom.toml` says otherwise (as in the older clnrm).
pub(super) const OLDER_DEFAULT_IMAGE: &str = "alpine:latest";

impl Walker<'_> {
    pub(super) fn legacy_metadata(&mut self, root: &DeTable<'_>, spec: &mut SuiteSpec) {
        if let Some((test, _)) = self.table(root, "test", "the top level") {
            // `[test]` holds `[test.metadata]`, or (the older `[containers.NAME]` + `exec`
            // shape) the same keys itself.
            self.check_keys(
                test,
                "[test]",
                &["metadata", "name", "description", "timeout"],
                Some(Place::Meta),
            );
            let direct = ["name", "description", "timeout"]
                .iter()
                .find_map(|k| test.get_key_value(*k));
            if let (Some((key, _)), true) = (direct, test.contains_key("metadata")) {
                self.sink.error(
                    key.span(),
                    format!(
                        "[test] gives both `{}` and [test.metadata]; keep one",
                        key.get_ref()
                    ),
                );
            } else if direct.is_some() {
                self.metadata(test, "[test]", spec);
            }
            if let Some((meta, _)) = self.table(test, "metadata", "[test]") {
                self.check_keys(
                    meta,
                    "[test.metadata]",
                    &["name", "description", "timeout"],
                    Some(Place::Meta),
                );
                self.metadata(meta, "[test.metadata]", spec);
            }
        }
        if let Some((meta, span)) = self.table(root, "meta", "the top level") {
            if root.contains_key("test") {
                self.sink.error(
                    span.clone(),
                    "both [meta] and [test.metadata] are given; keep one",
                );
            }
            self.check_keys(meta, "[meta]", &["name", "description"], Some(Place::Meta));
            self.metadata(meta, "[meta]", spec);
        }
    }

    /// The older format's service keys: `plugin`/`type` (and the older plugin names), `args`,
    /// `environment`, `volumes`, `health_check`, SurrealDB's `username`/`password`.
    pub(super) fn legacy_service(
        &mut self,
        table: &DeTable<'_>,
        what: &str,
        service: &mut ServiceSpec,
    ) {
        let plugin = self.string(table, "plugin", what);
        let kind = self.string(table, "type", what);
        // Checked for its type only: the older clnrm never read it (see `compat::OLD_KEYS`).
        let _ = self.bool(table, "strict", what);
        if let (Some(p), Some(k)) = (&plugin, &kind)
            && p.get_ref() != k.get_ref()
        {
            self.sink.note(
                DiagnosticKind::Mapped,
                k.span(),
                format!(
                    "{what}: `type = \"{}\"` is ignored, as the older clnrm ignored it; `plugin = \"{}\"` decides",
                    k.get_ref(),
                    p.get_ref()
                ),
            );
        }
        let args = self.argv(table, "args", what).map(Spanned::into_inner);
        let credentials = [
            self.string(table, "username", what),
            self.string(table, "password", what),
        ];
        if let Some(plugin) = plugin.or(kind) {
            let span = plugin.span();
            let old = plugin.get_ref().as_str();
            if old == "generic_container" {
                self.sink.note(
                    DiagnosticKind::Mapped,
                    span.clone(),
                    format!("{what}: the older plugin \"generic_container\" runs as \"generic\""),
                );
                service.plugin = Spanned::new(span, "generic".to_owned());
            } else if old == "surrealdb" {
                self.sink.note(
                    DiagnosticKind::Mapped,
                    span.clone(),
                    format!(
                        "{what}: the older plugin \"surrealdb\" runs as the built-in \"surrealdb\" (port 8000) with the older command line"
                    ),
                );
                service.plugin = Spanned::new(span.clone(), "surrealdb".to_owned());
                service.ports = vec![Spanned::new(span.clone(), 8000)];
                if args.is_none() {
                    // The older plugin's command: root/root unless `username`/`password` say
                    // otherwise (the built-in reads the credentials from it).
                    let mut argv: Vec<String> =
                        ["start", "--user", "root", "--pass", "root", "memory"]
                            .map(String::from)
                            .to_vec();
                    for (i, value) in [2, 4].into_iter().zip(&credentials) {
                        if let Some(v) = value {
                            argv[i] = v.get_ref().clone();
                        }
                    }
                    service.cmd = Some(argv);
                }
            } else if let Some((model_keys, port)) = match old {
                "ollama" => Some((&["default_model", "model"][..], 11434)),
                "vllm" => Some((&["model"][..], 8000)),
                "tgi" => Some((&["model_id", "model"][..], 80)),
                _ => None,
            } {
                // The older model-server plugins called a server at `env.endpoint`; clnrm starts
                // one, serving (or, for ollama, pulling) the model named in the older `env`.
                let model = model_keys.iter().find_map(|key| {
                    let (_, env) = table.get_key_value("env")?;
                    let DeValue::Table(env) = env.get_ref() else {
                        return None;
                    };
                    let (_, value) = env.get_key_value(*key)?;
                    match value.get_ref() {
                        DeValue::String(m) => Some(Spanned::new(value.span(), m.to_string())),
                        _ => None,
                    }
                });
                let variable = service
                    .name
                    .get_ref()
                    .to_ascii_uppercase()
                    .replace(|c: char| !c.is_ascii_alphanumeric(), "_");
                let serves = match (&model, old) {
                    (Some(m), "ollama") => {
                        format!(", pulling `models = [\"{}\"]` from its `env`", m.get_ref())
                    }
                    (Some(m), _) => {
                        format!(", serving `model = \"{}\"` from its `env`", m.get_ref())
                    }
                    (None, _) => String::new(),
                };
                self.sink.note(
                    DiagnosticKind::Mapped,
                    span.clone(),
                    format!(
                        "{what}: the older plugin \"{old}\" runs as the built-in \"{old}\", a server clnrm starts (port {port}; steps reach it at $CLNRM_{variable}_URL){serves}"
                    ),
                );
                service.plugin = Spanned::new(span.clone(), old.to_owned());
                if old == "ollama" {
                    service.models = model.into_iter().collect();
                } else if model.is_none() {
                    self.sink.error(
                        span.clone(),
                        format!(
                            "{what}: the older plugin \"{old}\" serves one model: name it in `env` (`{} = \"org/name\"`)",
                            model_keys[0]
                        ),
                    );
                } else {
                    service.model = model;
                }
            } else if old == "testcontainers" {
                self.sink.note(
                    DiagnosticKind::Mapped,
                    span.clone(),
                    format!("{what}: the older plugin \"testcontainers\" runs as \"generic\""),
                );
                service.plugin = Spanned::new(span, "generic".to_owned());
            } else {
                service.plugin = plugin;
            }
        }
        let surreal = matches!(
            table.get("plugin").or_else(|| table.get("type")).map(|v| v.get_ref()),
            Some(DeValue::String(p)) if p.as_ref() == "surrealdb"
        );
        if let Some((k, _)) = table.get_key_value("strict")
            && !surreal
        {
            self.sink.error(
                k.span(),
                format!("{what}: `strict` is only for the older \"surrealdb\" plugin"),
            );
        }
        for credential in credentials.into_iter().flatten().filter(|_| !surreal) {
            self.sink.error(
                credential.span(),
                format!("{what}: `username` / `password` are only for the older \"surrealdb\" plugin; pass credentials with `env`"),
            );
        }
        if let Some(args) = args {
            service.cmd = Some(args);
        }
        if table.contains_key("environment") {
            if let Some((k, _)) = table.get_key_value("env") {
                self.sink.error(
                    k.span(),
                    format!("{what} gives both `env` and `environment`; keep one"),
                );
            }
            if let Some((k, _)) = table.get_key_value("environment") {
                self.sink.note(
                    DiagnosticKind::Mapped,
                    k.span(),
                    format!("{what}: `environment` is read as `env`"),
                );
            }
            service.env = self.string_map(table, "environment", what);
        }
        if let Some((check, span)) = self.table(table, "health_check", what) {
            let inner = format!("health_check of {what}");
            self.check_keys(
                check,
                &inner,
                &["cmd", "interval", "timeout", "retries"],
                None,
            );
            if let Some(cmd) = self.argv(check, "cmd", &inner) {
                self.sink.note(
                    DiagnosticKind::Mapped,
                    span.clone(),
                    format!("{what}: `health_check` is read as `wait_for = {{ command = [...] }}`, polled until the start-up timeout"),
                );
                service.wait_for = Some(Spanned::new(span, WaitFor::Command(cmd.into_inner())));
            } else if !check.contains_key("cmd") {
                self.sink.error(
                    span,
                    format!("{inner} has no `cmd`; expected cmd = [\"program\", \"arg\", ...]"),
                );
            }
        }
        self.volumes(table, what, service);
    }

    /// `[assertions]`: the two keys the older clnrm evaluated after a run, evaluated here
    /// (`steps` is the number of steps the suite runs); every other key is an error, since the
    /// older clnrm skipped it.
    pub(super) fn legacy_assertions(&mut self, root: &DeTable<'_>, scenarios: &[ScenarioSpec]) {
        let steps: usize = scenarios.iter().map(|s| s.steps.len()).sum();
        let tolerated = scenarios
            .iter()
            .flat_map(|s| &s.steps)
            .find(|s| s.continue_on_failure);
        let Some((table, span)) = self.table(root, "assertions", "the top level") else {
            return;
        };
        let what = "[assertions]";
        for (key, value) in super::entries(table) {
            match key.get_ref().as_ref() {
                "container_should_have_executed_commands" => {
                    let Some(n) =
                        self.int_in(value, key.get_ref(), what, 0..i64::MAX, "a number of commands")
                    else {
                        continue;
                    };
                    let n = n.into_inner().unsigned_abs();
                    if n > steps as u64 {
                        self.sink.error(
                            value.span(),
                            format!("{what}: `container_should_have_executed_commands = {n}` can never hold: the suite runs {steps} command(s)"),
                        );
                    } else {
                        self.sink.note(
                            DiagnosticKind::Mapped,
                            key.span(),
                            format!("{what}: `container_should_have_executed_commands = {n}` holds when the suite passes: all its {steps} step(s) run"),
                        );
                    }
                }
                "execution_should_be_hermetic" => {
                    if self.bool(table, "execution_should_be_hermetic", what) == Some(true) {
                        self.sink.note(
                            DiagnosticKind::Mapped,
                            key.span(),
                            format!("{what}: `execution_should_be_hermetic` holds by construction: the older clnrm checked its run had a session of its own; every clnrm suite runs in its own network and containers"),
                        );
                    }
                }
                // Never evaluated by the older clnrm, but they say what a passing clnrm run
                // means, unless a step may fail without failing its scenario.
                key_name @ ("all_steps_should_pass" | "all_commands_should_succeed") => {
                    if self.bool(table, key_name, what) != Some(true) {
                        continue;
                    }
                    if let Some(step) = tolerated {
                        self.sink.error(
                            key.span(),
                            format!(
                                "{what}: `{key_name}` does not hold when step \"{}\" fails, which `continue_on_failure` allows",
                                step.name.get_ref()
                            ),
                        );
                    } else {
                        self.sink.note(
                            DiagnosticKind::Mapped,
                            key.span(),
                            format!("{what}: `{key_name}` holds when the suite passes: every step must pass"),
                        );
                    }
                }
                other => self.sink.error(
                    key.span(),
                    format!("`{other}` in {what} asks for a check clnrm does not evaluate (the older clnrm skipped it with a log line); express it as a step expectation"),
                ),
            }
        }
        if table.is_empty() {
            self.sink.note(
                DiagnosticKind::Descriptive,
                span,
                format!("{what} is empty; ignored"),
            );
        }
    }

    /// `[containers.NAME]` of the older `[test]` + `[containers.NAME]` + `exec` shape: a
    /// `generic` service whose steps `exec` in it.
    pub(super) fn legacy_container(&mut self, table: &DeTable<'_>, service: &mut ServiceSpec) {
        let what = format!("container \"{}\"", service.name.get_ref());
        let what = what.as_str();
        self.check_keys(table, what, CONTAINER_KEYS, Some(Place::Container));
        match self.string(table, "image", what) {
            Some(image) => service.image = Some(image),
            None if !table.contains_key("image") => self.sink.error(
                service.name.span(),
                format!("{what} has no `image`; expected image = \"repo:tag\""),
            ),
            None => {}
        }
        service.env = self.string_map(table, "env", what);
        if let Some(ports) = table.get("ports") {
            let Some(array) = ports.get_ref().as_array() else {
                self.expected(ports, "ports", what, "an array of ports");
                return;
            };
            for port in array.iter() {
                match port.get_ref() {
                    // "CONTAINER:HOST" or "PORT": the container port is published; the host
                    // side is picked free by Docker (steps reach it by the service's name).
                    DeValue::String(text) => {
                        let container = text.split(':').next().unwrap_or_default();
                        match container.trim().parse::<u16>() {
                            Ok(p) if p > 0 && text.split(':').count() <= 2 => {
                                service.ports.push(Spanned::new(port.span(), p));
                            }
                            _ => self.sink.error(
                                port.span(),
                                format!("port \"{text}\" of {what}: expected \"CONTAINER:HOST\" or \"PORT\", like \"5432\""),
                            ),
                        }
                    }
                    _ => {
                        if let Some(p) = self.port(port, "ports", what) {
                            service.ports.push(p);
                        }
                    }
                }
            }
        }
        for (volume, header) in self.tables(table, "volumes", what) {
            let inner = format!("a volume of {what}");
            self.check_keys(volume, &inner, &["host", "container", "readonly"], None);
            let host = self.string(volume, "host", &inner);
            let container = self.string(volume, "container", &inner);
            for (key, found) in [("host", host.is_some()), ("container", container.is_some())] {
                if !found && !volume.contains_key(key) {
                    self.sink
                        .error(header.clone(), format!("{inner} has no `{key}`"));
                }
            }
            let read_only = self.bool(volume, "readonly", &inner).unwrap_or(false);
            if let (Some(host_path), Some(container_path)) = (host, container) {
                service.volumes.push(VolumeSpec {
                    host_path,
                    container_path,
                    read_only,
                });
            }
        }
        if let Some(check) = table.get("healthcheck") {
            match check.get_ref() {
                DeValue::String(line) => match values::split_command_line(line) {
                    Ok(argv) if !argv.is_empty() => {
                        service.wait_for = Some(Spanned::new(check.span(), WaitFor::Command(argv)));
                    }
                    Ok(_) => self.sink.error(
                        check.span(),
                        format!("`healthcheck` of {what} is empty; expected a command line"),
                    ),
                    Err(e) => self
                        .sink
                        .error(check.span(), format!("`healthcheck` of {what}: {e}")),
                },
                _ => self.expected(check, "healthcheck", what, "a command line (a string)"),
            }
        }
        if let Some(deps) = table.get("depends_on") {
            service.depends_on = self.one_or_many(deps, "depends_on", what);
        }
        service.cmd = self.argv(table, "command", what).map(Spanned::into_inner);
        // The steps `exec` in it: without a `command` it idles, as the older `clnrm init`'s
        // `[containers.test_container] image = "alpine:latest"` must for its steps to run.
        let idles = service.cmd.is_none() && !table.contains_key("command");
        if idles {
            service.cmd = Some(vec!["sleep".to_owned(), "infinity".to_owned()]);
        }
        self.sink.note(
            DiagnosticKind::Mapped,
            service.name.span(),
            format!(
                "{what} runs as a \"generic\" service of that name{}",
                if idles {
                    " kept running with `sleep infinity` for its steps to `exec` in (give `command` to run the image's own)"
                } else {
                    ""
                }
            ),
        );
    }

    /// `[[services.NAME.volumes]]`: bind mounts (both formats).
    pub(super) fn volumes(&mut self, table: &DeTable<'_>, what: &str, service: &mut ServiceSpec) {
        for (volume, header) in self.tables(table, "volumes", what) {
            let inner = format!("a volume of {what}");
            self.check_keys(volume, &inner, &keys::names(Table::Volume), None);
            let host = self.string(volume, "host_path", &inner);
            let container = self.string(volume, "container_path", &inner);
            for (key, found) in [
                ("host_path", host.is_some()),
                ("container_path", container.is_some()),
            ] {
                if !found && !volume.contains_key(key) {
                    self.sink
                        .error(header.clone(), format!("{inner} has no `{key}`"));
                }
            }
            let read_only = self.bool(volume, "read_only", &inner).unwrap_or(false);
            if let (Some(host_path), Some(container_path)) = (host, container) {
                service.volumes.push(VolumeSpec {
                    host_path,
                    container_path,
                    read_only,
                });
            }
        }
    }

    pub(super) fn legacy_step_body(
        &mut self,
        table: &DeTable<'_>,
        header: &Range<usize>,
        what: &str,
        default_service: Option<&Spanned<String>>,
        services: &[ServiceSpec],
    ) -> (Option<Action>, Expectations, u32) {
        let mut expect = Expectations::default();
        let retries = self.legacy_retry(table, what);
        if let Some((checks, _)) = self.table(table, "assert", what) {
            self.legacy_assert(checks, what, &mut expect);
        }
        if let Some(regex) = self.string(table, "expected_output_regex", what) {
            expect.stdout.regex.push(regex);
        }
        if let Some(regex) = self.string(table, "expected_output_regex_not", what) {
            expect.stdout.not_regex.push(regex);
        }
        if let Some(fails) = self.bool(table, "should_fail", what) {
            expect.fails = fails;
            if fails && let Some((k, _)) = table.get_key_value("expected_exit_code") {
                self.sink.error(
                    k.span(),
                    format!("{what} gives both `should_fail` and `expected_exit_code`; keep one"),
                );
            }
        }
        if let Some(code) = table.get("expected_exit_code") {
            if let Some(earlier) = &expect.exit_code {
                let (line, _) = self.sink.source.line_col(earlier.span().start);
                self.sink.error(
                    code.span(),
                    format!("{what} gives `expected_exit_code` and `assert.exit_code` (line {line}); keep one"),
                );
            }
            expect.exit_code = self.exit_code(code, "expected_exit_code", what);
        }
        // `command` (the `[test.metadata]` shape) or `exec` (the `[containers.NAME]` shape).
        let command = match (table.get_key_value("command"), table.get_key_value("exec")) {
            (Some(_), Some((exec, _))) => {
                self.sink.error(
                    exec.span(),
                    format!("{what} gives both `command` and `exec`; keep one"),
                );
                None
            }
            (Some(_), None) => self.argv(table, "command", what),
            (None, Some(_)) => self.argv(table, "exec", what),
            (None, None) => {
                self.sink.error(
                    header.clone(),
                    format!("{what} has no `command`; expected command = [\"program\", \"arg\", ...] (or `exec`)"),
                );
                None
            }
        };
        let service = match (
            self.string(table, "service", what),
            table.get_key_value("container"),
        ) {
            (Some(_), Some((container, _))) => {
                self.sink.error(
                    container.span(),
                    format!("{what} gives both `service` and `container`; keep one"),
                );
                None
            }
            (Some(service), None) => Some(service),
            (None, Some(_)) => self.string(table, "container", what),
            (None, None) => default_service.cloned(),
        };
        let span = command.as_ref().map_or(header.clone(), Spanned::span);
        let target = self.legacy_target(service, span, what, services);
        let action = match (command, target) {
            (Some(argv), Some(target)) => Some(Action::Exec(ExecSpec {
                command: Spanned::new(argv.span(), Command::Argv(argv.into_inner())),
                target,
            })),
            _ => None,
        };
        (action, expect, retries)
    }

    /// A step's `assert` table (the `[containers.NAME]` shape): every key is a check, read as
    /// the step's expectations; an unknown one is an error, never skipped.
    fn legacy_assert(&mut self, checks: &DeTable<'_>, what: &str, expect: &mut Expectations) {
        let inner = format!("`assert` of {what}");
        let inner = inner.as_str();
        self.check_keys(checks, inner, &[], Some(Place::Assert));
        if let Some(code) = checks.get("exit_code") {
            expect.exit_code = self.exit_code(code, "exit_code", inner);
        }
        if let Some(text) = self.string(checks, "stdout_contains", inner) {
            expect.stdout.contains.push(text.into_inner());
        }
        if let Some(text) = self.string(checks, "stdout_not_contains", inner) {
            expect.stdout.not_contains.push(text.into_inner());
        }
        if let Some(regex) = self.string(checks, "stdout_regex", inner) {
            expect.stdout.regex.push(regex);
        }
        if let Some(text) = self.string(checks, "stderr_contains", inner) {
            expect.stderr.contains.push(text.into_inner());
        }
    }

    /// `retry = { attempts = N, delay = "1s" }`: `N - 1` retries, made at once, so only a zero
    /// `delay` keeps its meaning.
    fn legacy_retry(&mut self, table: &DeTable<'_>, what: &str) -> u32 {
        let Some((retry, span)) = self.table(table, "retry", what) else {
            return 0;
        };
        let inner = format!("`retry` of {what}");
        let inner = inner.as_str();
        self.check_keys(retry, inner, &["attempts", "delay"], None);
        if let Some(delay) = self.duration(retry, "delay", inner)
            && !delay.get_ref().is_zero()
        {
            self.sink.error(
                delay.span(),
                format!("{inner}: a delay between attempts is not supported (clnrm retries at once); remove it or set \"0s\""),
            );
        }
        match retry.get("attempts") {
            Some(attempts) => self
                .int_in(
                    attempts,
                    "attempts",
                    inner,
                    1..1002,
                    "a number of attempts from 1 to 1001",
                )
                .map_or(0, |n| u32::try_from(n.into_inner() - 1).unwrap_or(0)),
            None => {
                self.sink.error(
                    span,
                    format!("{inner} has no `attempts`; expected attempts = 3"),
                );
                0
            }
        }
    }

    /// `depends_on` of an old-format step: steps run in file order, so each step it names must
    /// come earlier in the same list (`names` are the list's step names, in order).
    pub(super) fn legacy_depends_on(
        &mut self,
        table: &DeTable<'_>,
        index: usize,
        names: &[Option<String>],
        what: &str,
    ) {
        let Some(deps) = table.get("depends_on") else {
            return;
        };
        for dep in self.one_or_many(deps, "depends_on", what) {
            let at = names
                .iter()
                .position(|n| n.as_deref() == Some(dep.get_ref().as_str()));
            match at {
                Some(i) if i < index => {}
                Some(i) if i == index => self.sink.error(
                    dep.span(),
                    format!("{what} depends on itself"),
                ),
                Some(_) => self.sink.error(
                    dep.span(),
                    format!(
                        "{what} depends on step \"{}\", which comes later; steps run in file order, so move it before this one",
                        dep.get_ref()
                    ),
                ),
                None => self.sink.error(
                    dep.span(),
                    format!("{what} depends on unknown step \"{}\"", dep.get_ref()),
                ),
            }
        }
    }

    /// Old-format steps may omit `service`: they then run in the suite's only service, else in
    /// a container of the project's `[containers] default_image` (the older clnrm's "image for
    /// steps that name no service"), else, with no service at all, of the older default image.
    pub(super) fn legacy_target(
        &mut self,
        service: Option<Spanned<String>>,
        span: Range<usize>,
        what: &str,
        services: &[ServiceSpec],
    ) -> Option<Target> {
        if let Some(service) = service {
            return Some(Target::Service(service));
        }
        if let [only] = services {
            return Some(Target::Service(Spanned::new(
                span,
                only.name.get_ref().clone(),
            )));
        }
        let (image, origin) = match self.sink.source.default_image() {
            Some(Ok((image, config))) => (
                image.to_owned(),
                format!("`[containers] default_image` of {}", config.display()),
            ),
            Some(Err(e)) => {
                let e = e.to_owned();
                self.sink.error(
                    span,
                    format!("{what} names no service and the project config cannot be read for its default image: {e}"),
                );
                return None;
            }
            None if services.is_empty() => (
                OLDER_DEFAULT_IMAGE.to_owned(),
                "the older clnrm's default image; set `[containers] default_image` in cleanroom.toml to change it".to_owned(),
            ),
            None => {
                let known: Vec<&str> = services.iter().map(|s| s.name.get_ref().as_str()).collect();
                self.sink.error(
                    span,
                    format!(
                        "{what} does not say which service runs its command; expected `service = \"NAME\"` (known: {}) or a `[containers] default_image` in the project's cleanroom.toml for steps that name no service",
                        known.join(", ")
                    ),
                );
                return None;
            }
        };
        if !self.default_image_noted {
            self.default_image_noted = true;
            self.sink.note(
                DiagnosticKind::Mapped,
                span.clone(),
                format!("steps that name no service run in a container of \"{image}\" ({origin})"),
            );
        }
        Some(Target::Image(Spanned::new(span, image)))
    }

    /// `run = "a command line"` of a `[[scenario]]`: one more step, split like a shell would.
    pub(super) fn legacy_scenario_run(
        &mut self,
        table: &DeTable<'_>,
        what: &str,
        name: &Spanned<String>,
        scenario_service: Option<Spanned<String>>,
        services: &[ServiceSpec],
        steps: &mut Vec<StepSpec>,
    ) {
        if let Some(value) = table.get("concurrent")
            && self.bool(table, "concurrent", what) == Some(true)
        {
            self.sink.error(
                value.span(),
                format!("`concurrent = true` in {what} is not supported: steps of a scenario run in order"),
            );
        }
        let must_succeed = self.bool(table, "expect_success", what);
        let Some(run) = table.get("run") else {
            if let Some((key, _)) = table.get_key_value("expect_success") {
                self.sink.error(
                    key.span(),
                    format!("`expect_success` in {what} applies to its `run` command, and it has none; give the steps an `expected_exit_code`"),
                );
            }
            return;
        };
        let command = match run.get_ref() {
            DeValue::String(line) => match values::split_command_line(line) {
                Ok(argv) => Some(argv),
                Err(e) => {
                    self.sink.error(run.span(), format!("`run` in {what}: {e}"));
                    None
                }
            },
            DeValue::Array(_) => self.argv(table, "run", what).map(Spanned::into_inner),
            _ => {
                self.expected(run, "run", what, "a command string or an argv array");
                None
            }
        };
        let target = self.legacy_target(scenario_service.clone(), run.span(), what, services);
        if let (Some(argv), Some(target)) = (command, target) {
            steps.push(StepSpec {
                name: name.clone(),
                action: Action::Exec(ExecSpec {
                    command: Spanned::new(run.span(), Command::Argv(argv)),
                    target,
                }),
                expect: Expectations {
                    fails: must_succeed == Some(false),
                    ..Expectations::default()
                },
                timeout: None,
                env: BTreeMap::new(),
                workdir: None,
                continue_on_failure: false,
                retries: 0,
            });
        }
    }
}
