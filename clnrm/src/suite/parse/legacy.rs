//! The older upstream clnrm format's own tables: `[test.metadata]` / `[meta]`, its service keys
//! (`type`, `args`, `environment`, `volumes`, `health_check`, older plugin names), `[[scenario]]`
//! with `run`, steps with `command` and the `expected_*` keys. Keys it shares with the current
//! format are read by the walker in `parse.rs`; what each older key means is in
//! [`compat::OLD_KEYS`].

use std::collections::BTreeMap;
use std::ops::Range;

use toml::de::{DeTable, DeValue};

use super::Walker;
use crate::suite::compat::{self, Place};
use crate::suite::diagnostic::DiagnosticKind;
use crate::suite::spec::{
    Action, Command, ExecSpec, Expectations, ServiceSpec, Spanned, StepSpec, SuiteSpec, Target,
    VolumeSpec, WaitFor,
};
use crate::values;

/// Besides these, old-format tables take the keys [`compat::OLD_KEYS`] maps.
pub(super) const LEGACY_SERVICE_KEYS: &[&str] = &["plugin", "image", "env", "ports", "otel"];
pub(super) const VOLUME_KEYS: &[&str] = &["host_path", "container_path", "read_only"];
pub(super) const LEGACY_STEP_KEYS: &[&str] =
    &["name", "service", "workdir", "env", "continue_on_failure"];
pub(super) const LEGACY_SCENARIO_KEYS: &[&str] = &["name", "steps", "service", "run"];

/// Where old-format steps that name no service run when the suite declares none and no
/// `cleanroom.toml` says otherwise (as in the older clnrm).
pub(super) const OLDER_DEFAULT_IMAGE: &str = "alpine:latest";

impl Walker<'_> {
    pub(super) fn legacy_metadata(&mut self, root: &DeTable<'_>, spec: &mut SuiteSpec) {
        if let Some((test, _)) = self.table(root, "test", "the top level") {
            self.check_keys(test, "[test]", &["metadata"], None);
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
        let strict = self.bool(table, "strict", what);
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
                    if strict == Some(true) {
                        argv.insert(argv.len() - 1, "--strict".to_owned());
                    }
                    for (i, value) in [2, 4].into_iter().zip(&credentials) {
                        if let Some(v) = value {
                            argv[i] = v.get_ref().clone();
                        }
                    }
                    service.cmd = Some(argv);
                }
            } else if let Some((_, image, cmd, ports)) =
                compat::OLD_PLUGINS.iter().find(|(name, ..)| *name == old)
            {
                let image = self
                    .string(table, "image", what)
                    .map_or_else(|| (*image).to_owned(), Spanned::into_inner);
                self.sink.note(
                    DiagnosticKind::Mapped,
                    span.clone(),
                    format!(
                        "{what}: the older plugin \"{old}\" runs as \"generic\" with image \"{image}\"{}",
                        if ports.is_empty() {
                            String::new()
                        } else {
                            format!(" and port {}", ports[0])
                        }
                    ),
                );
                service.plugin = Spanned::new(span.clone(), "generic".to_owned());
                service.image = Some(Spanned::new(span.clone(), image));
                service.ports = ports
                    .iter()
                    .map(|p| Spanned::new(span.clone(), *p))
                    .collect();
                if !cmd.is_empty() && args.is_none() {
                    service.cmd = Some(cmd.iter().map(|s| (*s).to_owned()).collect());
                }
            } else {
                service.plugin = plugin;
            }
        }
        let surreal = matches!(
            table.get("plugin").or_else(|| table.get("type")).map(|v| v.get_ref()),
            Some(DeValue::String(p)) if p.as_ref() == "surrealdb"
        );
        if let Some((k, _)) = table.get_key_value("strict") {
            if !surreal {
                self.sink.error(
                    k.span(),
                    format!("{what}: `strict` is only for the older \"surrealdb\" plugin"),
                );
            } else if strict == Some(true) && table.contains_key("args") {
                self.sink.error(
                    k.span(),
                    format!("{what}: `strict = true` has no effect when `args` replace the server's command; put `--strict` in `args`"),
                );
            }
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

    /// `[[services.NAME.volumes]]`: bind mounts (both formats).
    pub(super) fn volumes(&mut self, table: &DeTable<'_>, what: &str, service: &mut ServiceSpec) {
        for (volume, header) in self.tables(table, "volumes", what) {
            let inner = format!("a volume of {what}");
            self.check_keys(volume, &inner, VOLUME_KEYS, None);
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
    ) -> (Option<Action>, Expectations) {
        let mut expect = Expectations::default();
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
            expect.exit_code = self.exit_code(code, "expected_exit_code", what);
        }
        let command = self.argv(table, "command", what);
        if command.is_none() && !table.contains_key("command") {
            self.sink.error(
                header.clone(),
                format!("{what} has no `command`; expected command = [\"program\", \"arg\", ...]"),
            );
        }
        let service = self
            .string(table, "service", what)
            .or_else(|| default_service.cloned());
        let span = command.as_ref().map_or(header.clone(), Spanned::span);
        let target = self.legacy_target(service, span, what, services);
        let action = match (command, target) {
            (Some(argv), Some(target)) => Some(Action::Exec(ExecSpec {
                command: Spanned::new(argv.span(), Command::Argv(argv.into_inner())),
                target,
            })),
            _ => None,
        };
        (action, expect)
    }

    /// Old-format steps may omit `service`: they then run in the suite's only service.
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
        match services {
            [only] => Some(Target::Service(Spanned::new(
                span,
                only.name.get_ref().clone(),
            ))),
            [] => {
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
                    None => (
                        OLDER_DEFAULT_IMAGE.to_owned(),
                        "the older clnrm's default image; set `[containers] default_image` in cleanroom.toml to change it".to_owned(),
                    ),
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
            many => {
                let known: Vec<&str> = many.iter().map(|s| s.name.get_ref().as_str()).collect();
                self.sink.error(
                    span,
                    format!(
                        "{what} does not say which service runs its command; expected `service = \"NAME\"`, known: {}",
                        known.join(", ")
                    ),
                );
                None
            }
        }
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
        let Some(run) = table.get("run") else {
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
                expect: Expectations::default(),
                timeout: None,
                env: BTreeMap::new(),
                workdir: None,
                continue_on_failure: false,
                retries: 0,
            });
        }
    }
}
