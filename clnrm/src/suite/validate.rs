//! `validate_suite`: the checks that need the whole spec (cross-references, cycles, regexes,
//! images, timeouts, duplicates). Every problem is collected; nothing stops at the first one.

use std::collections::HashMap;
use std::ops::Range;
use std::time::Duration;

use super::diagnostic::{self, Diagnostic, Sink, SuiteSource};
use super::spec::{
    Action, Expectations, Isolation, OutputExpect, ScenarioSpec, Scope, ServiceSpec, Spanned,
    StepSpec, SuiteSpec, Target, WaitFor,
};
use crate::values;

/// Checks `spec` (parsed from `source`) against itself and the plugins the engine knows.
///
/// Returns every problem found, sorted by position; an empty list means the suite can run.
/// `known_plugins` are the plugin names the service registry resolves (`generic`,
/// `postgres`, `redis`, installed marketplace plugins, ...).
pub fn validate_suite(
    spec: &SuiteSpec,
    source: &SuiteSource,
    known_plugins: &[&str],
) -> Vec<Diagnostic> {
    let mut v = Validator {
        sink: Sink::new(source),
        spec,
        known_plugins,
    };
    v.suite();
    let mut out = v.sink.out;
    diagnostic::sort(&mut out);
    out
}

struct Validator<'a> {
    sink: Sink<'a>,
    spec: &'a SuiteSpec,
    known_plugins: &'a [&'a str],
}

/// Where `migrations` (written relative to the suite file) are.
pub(crate) fn migrations_dir(suite_file: &std::path::Path, migrations: &str) -> std::path::PathBuf {
    suite_file
        .parent()
        .unwrap_or(std::path::Path::new(""))
        .join(migrations)
}

/// `Some((description of the root, resolved dir))` when `dir` is outside the root of `suite_file`: the git
/// repository holding it, or its own directory when it is in none. Compared lexically after
/// resolving `.` and `..` (and symlinks, when both exist), so `../../etc` and absolute paths
/// elsewhere are caught.
pub(crate) fn outside_root(
    suite_file: &std::path::Path,
    dir: &std::path::Path,
) -> Option<(String, std::path::PathBuf)> {
    let suite_dir = suite_file.parent().unwrap_or(std::path::Path::new(""));
    let absolute = |p: &std::path::Path| {
        let p = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(p)
        };
        p.canonicalize().unwrap_or_else(|_| normalise(&p))
    };
    let suite_dir = absolute(suite_dir);
    let (root, shown) = match suite_dir.ancestors().find(|a| a.join(".git").exists()) {
        Some(repo) => (
            repo.to_path_buf(),
            format!("the repository `{}`", repo.display()),
        ),
        None => (
            suite_dir.clone(),
            format!("the suite's directory `{}`", suite_dir.display()),
        ),
    };
    let resolved = absolute(dir);
    (!resolved.starts_with(&root)).then_some((shown, resolved))
}

/// `a/b/../c/./d` -> `a/c/d`, without touching the file system.
fn normalise(path: &std::path::Path) -> std::path::PathBuf {
    let mut out = std::path::PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `1m 30s`, `500ms`, `0s`.
fn show(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) || ms == 0 && d.as_nanos() > 0 {
        return format!("{ms}ms");
    }
    let mut secs = d.as_secs();
    if secs == 0 {
        return "0s".into();
    }
    let mut parts = Vec::new();
    for (unit, size) in [("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= size {
            parts.push(format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    parts.join(" ")
}

fn regex_message(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find(|l| l.trim_start().starts_with("error:"))
        .map(|l| {
            l.trim_start()
                .trim_start_matches("error:")
                .trim()
                .to_owned()
        })
        .unwrap_or_else(|| text.split_whitespace().collect::<Vec<_>>().join(" "))
}

impl Validator<'_> {
    fn known_services(&self) -> String {
        if self.spec.services.is_empty() {
            return "none declared".into();
        }
        self.spec
            .services
            .iter()
            .map(|s| s.name.get_ref().as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn suite(&mut self) {
        if let Some(timeout) = &self.spec.timeout
            && timeout.get_ref().is_zero()
        {
            self.sink.error(
                timeout.span(),
                "impossible timeout: the suite `timeout` is zero; expected a positive duration",
            );
        }
        for service in &self.spec.services {
            self.service(service);
        }
        self.cycles();
        let mut seen: HashMap<&str, Range<usize>> = HashMap::new();
        for scenario in &self.spec.scenarios {
            let name = scenario.name.get_ref().as_str();
            if let Some(first) = seen.get(name) {
                let (line, _) = self.sink.source.line_col(first.start);
                self.sink.error(
                    scenario.name.span(),
                    format!("duplicate scenario name \"{name}\" (first used on line {line})"),
                );
            } else {
                seen.insert(name, scenario.name.span());
            }
            self.scenario(scenario);
        }
    }

    fn too_long(&mut self, what: &str, key: &str, d: &Spanned<Duration>) {
        if d.get_ref().is_zero() {
            self.sink.error(
                d.span(),
                format!(
                    "impossible timeout: `{key}` of {what} is zero; expected a positive duration"
                ),
            );
        } else if let Some(suite) = &self.spec.timeout {
            let suite = *suite.get_ref();
            if !suite.is_zero() && *d.get_ref() > suite {
                self.sink.error(
                    d.span(),
                    format!(
                        "impossible timeout: `{key}` of {what} ({}) is longer than the suite timeout ({})",
                        show(*d.get_ref()),
                        show(suite)
                    ),
                );
            }
        }
    }

    fn image(&mut self, image: &Spanned<String>, what: &str) {
        match values::check_image_reference(image.get_ref()) {
            Err(e) => self.sink.error(image.span(), format!("{e} (in {what})")),
            Ok(()) if !values::image_has_tag(image.get_ref()) => self.sink.warning(
                image.span(),
                format!(
                    "image \"{}\" of {what} has no tag; pin one, like \"{}:1.0\", so runs are repeatable",
                    image.get_ref(),
                    image.get_ref()
                ),
            ),
            Ok(()) => {}
        }
    }

    /// `model` and `models` against the plugin: one model for `vllm` and `tgi` (required), a
    /// list to pull for `ollama`, neither for the others.
    fn models(&mut self, service: &ServiceSpec, what: &str) {
        let plugin = service.plugin.get_ref().as_str();
        let one_model = plugin == "vllm" || plugin == "tgi";
        match &service.model {
            None if one_model => self.sink.error(
                service.name.span(),
                format!("{what} uses plugin \"{plugin}\", which serves one model: add `model = \"org/name\"`"),
            ),
            Some(model) if !one_model => self.sink.error(
                model.span(),
                if plugin == "ollama" {
                    format!("{what}: ollama pulls a list: write `models = [\"name:tag\"]`")
                } else {
                    format!("`model` in {what} is for the vllm and tgi plugins; it uses \"{plugin}\"")
                },
            ),
            _ => {}
        }
        if let Some(first) = service.models.first()
            && plugin != "ollama"
        {
            self.sink.error(
                first.span(),
                format!(
                    "`models` in {what} is for the ollama plugin; it uses \"{plugin}\"{}",
                    if one_model { " (write `model`)" } else { "" }
                ),
            );
        }
    }

    fn service(&mut self, service: &ServiceSpec) {
        let name = service.name.get_ref();
        let what = format!("service \"{name}\"");
        let plugin = service.plugin.get_ref().as_str();
        if !self.known_plugins.contains(&plugin) {
            let hint = values::closest(plugin, self.known_plugins)
                .map(|s| format!("did you mean \"{s}\"? "))
                .unwrap_or_default();
            self.sink.error(
                service.plugin.span(),
                format!(
                    "{what} uses unknown plugin \"{plugin}\"; {hint}known: {}",
                    self.known_plugins.join(", ")
                ),
            );
        }
        match &service.image {
            Some(image) => self.image(image, &what),
            None if plugin == "generic" => self.sink.error(
                service.name.span(),
                format!("{what} uses the generic plugin and needs an `image = \"repo:tag\"`"),
            ),
            None => {}
        }
        self.isolation(service, &what);
        self.models(service, &what);
        self.volumes(service, &what);
        if let Some(timeout) = &service.startup_timeout {
            self.too_long(&what, "startup_timeout", timeout);
        }
        if let Some(wait) = &service.wait_for {
            let port = match wait.get_ref() {
                WaitFor::Tcp(p) => Some(*p),
                WaitFor::Http { port, .. } => *port,
                _ => None,
            };
            let declared: Vec<u16> = service.ports.iter().map(|p| *p.get_ref()).collect();
            if let Some(port) = port {
                if !declared.is_empty() && !declared.contains(&port) {
                    self.sink.error(
                        wait.span(),
                        format!(
                            "wait_for of {what} uses port {port}, which is not among its `ports` ({})",
                            join_ports(&declared)
                        ),
                    );
                }
            } else if matches!(wait.get_ref(), WaitFor::Http { .. }) && declared.len() != 1 {
                self.sink.error(
                    wait.span(),
                    format!(
                        "wait_for of {what} needs a `port`: the service declares {} ports",
                        declared.len()
                    ),
                );
            }
        }
        for dep in &service.depends_on {
            match self.spec.service(dep.get_ref()) {
                None => self.sink.error(
                    dep.span(),
                    format!(
                        "{what} depends on unknown service \"{}\"; known: {}",
                        dep.get_ref(),
                        self.known_services()
                    ),
                ),
                Some(other) if service.scope == Scope::Shared && other.scope == Scope::Test => {
                    self.sink.error(
                        dep.span(),
                        format!(
                            "{what} is shared by the suite's scenarios but depends on \"{}\", which has `scope = \"test\"` (a fresh container per scenario); give {what} `scope = \"test\"` too",
                            dep.get_ref()
                        ),
                    );
                }
                Some(_) => {}
            }
        }
    }

    /// `isolation`, `migrations` and `scope` against the plugin and each other.
    fn isolation(&mut self, service: &ServiceSpec, what: &str) {
        let plugin = service.plugin.get_ref().as_str();
        let isolation = service.isolation.as_ref().map(|i| (*i.get_ref(), i.span()));
        match isolation.clone() {
            Some((Isolation::Database, span))
                if !matches!(plugin, "postgres" | "redis" | "surrealdb") =>
            {
                self.sink.error(
                    span,
                    format!(
                        "`isolation = \"database\"` is for postgres, redis and surrealdb services; {what} uses plugin \"{plugin}\""
                    ),
                );
            }
            Some((Isolation::Namespace, span)) if plugin == "postgres" || plugin == "redis" => {
                self.sink.error(
                    span,
                    format!(
                        "`isolation = \"namespace\"` is for plugins with [isolation] hooks; {what} uses plugin \"{plugin}\" (postgres takes \"database\" or \"schema\", redis \"database\")"
                    ),
                );
            }
            Some((Isolation::Schema, span)) if plugin != "postgres" => self.sink.error(
                span,
                format!(
                    "`isolation = \"schema\"` is only for postgres services; {what} uses plugin \"{plugin}\""
                ),
            ),
            Some((Isolation::Database | Isolation::Schema, span))
                if service.scope == Scope::Test =>
            {
                self.sink.warning(
                    span,
                    format!(
                        "`isolation` of {what} has no effect with `scope = \"test\"`: each scenario has the whole container"
                    ),
                );
            }
            _ => {}
        }
        let Some(migrations) = &service.migrations else {
            return;
        };
        let isolated = matches!(
            isolation,
            Some((Isolation::Database | Isolation::Schema, _))
        );
        if plugin != "postgres" {
            self.sink.error(
                migrations.span(),
                format!(
                    "`migrations` is only for postgres services; {what} uses plugin \"{plugin}\""
                ),
            );
        } else if !isolated || service.scope == Scope::Test {
            self.sink.error(
                migrations.span(),
                format!(
                    "`migrations` of {what} are applied to the template of isolated databases; add `isolation = \"database\"` or `\"schema\"` (and keep `scope = \"shared\"`)"
                ),
            );
        } else {
            let dir = migrations_dir(self.sink.source.path(), migrations.get_ref());
            if let Some((root, resolved)) = outside_root(self.sink.source.path(), &dir) {
                self.sink.warning(
                    migrations.span(),
                    format!(
                        "`migrations` of {what} resolve to `{}`, outside {root}; the suite reads files it does not own",
                        resolved.display()
                    ),
                );
            }
            if !dir.is_dir() {
                self.sink.error(
                    migrations.span(),
                    format!(
                        "`migrations` of {what}: `{}` is not a directory (paths are relative to the suite file)",
                        dir.display()
                    ),
                );
            }
        }
    }

    fn volumes(&mut self, service: &ServiceSpec, what: &str) {
        for volume in &service.volumes {
            let host = volume.host_path_for(self.sink.source.path());
            if volume.host_path.get_ref().trim().is_empty() {
                self.sink.error(
                    volume.host_path.span(),
                    format!("`host_path` of a volume of {what} is empty"),
                );
            } else if !host.exists() {
                self.sink.error(
                    volume.host_path.span(),
                    format!(
                        "volume of {what}: host path `{}` does not exist (relative paths are relative to the suite file)",
                        host.display()
                    ),
                );
            }
            if !volume.container_path.get_ref().starts_with('/') {
                self.sink.error(
                    volume.container_path.span(),
                    format!(
                        "volume of {what}: `container_path` must be absolute, like \"/data\"; found \"{}\"",
                        volume.container_path.get_ref()
                    ),
                );
            }
        }
    }

    /// Reports each dependency cycle once, as `a -> b -> a`, at the edge that closes it.
    fn cycles(&mut self) {
        let services = &self.spec.services;
        let index: HashMap<&str, usize> = services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.get_ref().as_str(), i))
            .collect();
        // 0 = unvisited, 1 = on the stack, 2 = done
        let mut state = vec![0u8; services.len()];
        let mut found: Vec<(Range<usize>, String)> = Vec::new();
        for start in 0..services.len() {
            if state[start] != 0 {
                continue;
            }
            // Iterative DFS: (node, next edge to look at).
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            state[start] = 1;
            while let Some(&mut (node, ref mut edge)) = stack.last_mut() {
                let deps = &services[node].depends_on;
                if *edge >= deps.len() {
                    state[node] = 2;
                    stack.pop();
                    continue;
                }
                let dep = &deps[*edge];
                *edge += 1;
                let Some(&next) = index.get(dep.get_ref().as_str()) else {
                    continue;
                };
                match state[next] {
                    0 => {
                        state[next] = 1;
                        stack.push((next, 0));
                    }
                    1 => {
                        let from = stack.iter().position(|(n, _)| *n == next).unwrap_or(0);
                        let mut names: Vec<&str> = stack[from..]
                            .iter()
                            .map(|(n, _)| services[*n].name.get_ref().as_str())
                            .collect();
                        names.push(services[next].name.get_ref());
                        found.push((dep.span(), names.join(" -> ")));
                    }
                    _ => {}
                }
            }
        }
        for (span, cycle) in found {
            self.sink.error(
                span,
                format!("dependency cycle: {cycle}; services cannot wait for each other"),
            );
        }
    }

    fn scenario(&mut self, scenario: &ScenarioSpec) {
        let mut seen: HashMap<&str, Range<usize>> = HashMap::new();
        for step in &scenario.steps {
            let name = step.name.get_ref().as_str();
            if let Some(first) = seen.get(name) {
                let (line, _) = self.sink.source.line_col(first.start);
                self.sink.error(
                    step.name.span(),
                    duplicate_step_message(name, scenario.name.get_ref(), line),
                );
            } else {
                seen.insert(name, step.name.span());
            }
            self.step(step);
        }
    }

    fn step(&mut self, step: &StepSpec) {
        let what = format!("step \"{}\"", step.name.get_ref());
        if let Some(timeout) = &step.timeout {
            self.too_long(&what, "timeout", timeout);
        }
        if let Some(workdir) = &step.workdir
            && !workdir.get_ref().starts_with('/')
        {
            self.sink.error(
                workdir.span(),
                format!(
                    "`workdir` of {what} is \"{}\"; expected an absolute path like \"/app\"",
                    workdir.get_ref()
                ),
            );
        }
        match &step.action {
            Action::Exec(exec) => {
                match &exec.target {
                    Target::Service(service) => self.service_ref(&what, service),
                    Target::Image(image) => self.image(image, &what),
                }
                if let Some(status) = &step.expect.status {
                    self.sink.error(
                        status.span(),
                        format!("`expect.status` of {what} is for http steps; a command has `expect.exit_code`"),
                    );
                }
            }
            Action::Chaos(chaos) => {
                self.service_ref(&what, &chaos.service);
                let name = chaos.service.get_ref();
                if chaos.fault.get_ref().needs_proxy()
                    && let Some(service) = self.spec.service(name)
                    && !service.chaos
                {
                    self.sink.error(
                        chaos.fault.span(),
                        format!(
                            "a connection fault in chaos of {what} needs a proxy in front of \
                             service \"{name}\": declare it with `chaos = true` in \
                             [services.{name}]"
                        ),
                    );
                }
            }
            Action::Surql(surql) => {
                self.service_ref(&what, &surql.service);
                let name = surql.service.get_ref();
                if let Some(service) = self.spec.service(name)
                    && service.plugin.get_ref() != "surrealdb"
                {
                    self.sink.error(
                        surql.service.span(),
                        format!(
                            "{what} sends SurrealQL to service \"{name}\", which uses plugin \"{}\"; expected a `plugin = \"surrealdb\"` service",
                            service.plugin.get_ref()
                        ),
                    );
                }
                if !step.expect.stderr.is_empty() || step.expect.fails {
                    self.sink.error(
                        step.name.span(),
                        format!("{what}: a surql step has no stderr or exit code to check; it fails when any statement fails"),
                    );
                }
                for (key, span) in [
                    (
                        "exit_code",
                        step.expect.exit_code.as_ref().map(Spanned::span),
                    ),
                    ("status", step.expect.status.as_ref().map(Spanned::span)),
                ] {
                    if let Some(span) = span {
                        self.sink.error(
                            span,
                            format!("`expect.{key}` of {what} does not apply to a surql step: it fails when any statement fails; check results with `expect.json` or `expect.stdout`"),
                        );
                    }
                }
            }
            Action::Http(http) => {
                self.service_ref(&what, &http.service);
                if let Some(service) = self.spec.service(http.service.get_ref()) {
                    let declared: Vec<u16> = service.ports.iter().map(|p| *p.get_ref()).collect();
                    match &http.port {
                        Some(port)
                            if !declared.is_empty() && !declared.contains(port.get_ref()) =>
                        {
                            self.sink.error(
                                port.span(),
                                format!(
                                    "{what} calls port {} of service \"{}\", which declares only {}",
                                    port.get_ref(),
                                    http.service.get_ref(),
                                    join_ports(&declared)
                                ),
                            );
                        }
                        None if declared.len() != 1 => {
                            let why = if declared.is_empty() {
                                "declares no `ports`".to_owned()
                            } else {
                                format!("exposes {}", join_ports(&declared))
                            };
                            self.sink.error(
                                http.service.span(),
                                format!(
                                    "{what} needs `port` in `http`: service \"{}\" {why}",
                                    http.service.get_ref()
                                ),
                            );
                        }
                        _ => {}
                    }
                }
                if let Some(code) = &step.expect.exit_code {
                    self.sink.error(
                        code.span(),
                        format!("`expect.exit_code` of {what} is for commands; an http step has `expect.status`"),
                    );
                }
            }
        }
        self.expectations(&what, &step.expect);
    }

    fn service_ref(&mut self, what: &str, service: &Spanned<String>) {
        if self.spec.service(service.get_ref()).is_none() {
            let hint = {
                let names: Vec<&str> = self
                    .spec
                    .services
                    .iter()
                    .map(|s| s.name.get_ref().as_str())
                    .collect();
                values::closest(service.get_ref(), &names)
                    .map(|s| format!("did you mean \"{s}\"? "))
                    .unwrap_or_default()
            };
            self.sink.error(
                service.span(),
                format!(
                    "{what} uses unknown service \"{}\"; {hint}known: {}",
                    service.get_ref(),
                    self.known_services()
                ),
            );
        }
    }

    fn expectations(&mut self, what: &str, expect: &Expectations) {
        if let Some(max) = &expect.max_duration
            && max.get_ref().is_zero()
        {
            self.sink.error(
                max.span(),
                format!("impossible expectation: `expect.max_duration` of {what} is zero"),
            );
        }
        self.regexes(what, "stdout", &expect.stdout);
        self.regexes(what, "stderr", &expect.stderr);
    }

    fn regexes(&mut self, what: &str, stream: &str, output: &OutputExpect) {
        for pattern in output.regex.iter().chain(&output.not_regex) {
            if let Some(message) = regex_problem(pattern.get_ref(), stream, what) {
                self.sink.error(pattern.span(), message);
            }
        }
    }
}

/// The message for a step name used twice in one scenario.
pub(super) fn duplicate_step_message(name: &str, scenario: &str, first_line: usize) -> String {
    format!(
        "duplicate step name \"{name}\" in scenario \"{scenario}\" (first used on line {first_line})"
    )
}

/// Why `pattern` is not a usable regex, if it is not.
pub(super) fn regex_problem(pattern: &str, stream: &str, what: &str) -> Option<String> {
    // A bounded size keeps hostile patterns (`a{1000}{1000}`) from taking the validator down.
    let compiled = regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build();
    compiled.err().map(|e| {
        format!(
            "invalid regex in expect.{stream} of {what}: {}",
            regex_message(&e)
        )
    })
}

fn join_ports(ports: &[u16]) -> String {
    ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
