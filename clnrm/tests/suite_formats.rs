//! Both formats, argv fidelity, examples, loading, and reporting every problem at once.

use std::path::Path;
use std::time::Duration;

use clnrm::suite::{
    Action, Command, DiagnosticKind, HttpBody, Isolation, Scope, Severity, SuiteError, SuiteFormat,
    SuiteSource, Target, WaitFor, check_suite, load_suite, load_suite_str, parse_suite,
};

const PLUGINS: &[&str] = &["generic", "postgres", "redis"];

fn load(text: &str) -> clnrm::suite::LoadedSuite {
    match load_suite_str(Path::new("t.clnrm.toml"), text, PLUGINS) {
        Ok(loaded) => loaded,
        Err(e) => panic!(
            "{e}\n{}",
            e.diagnostics()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

fn exec(step: &clnrm::suite::StepSpec) -> &clnrm::suite::ExecSpec {
    match &step.action {
        Action::Exec(exec) => exec,
        Action::Http(_) | Action::Chaos(_) | Action::Surql(_) => {
            panic!("step {} is not a command", step.name)
        }
    }
}

#[test]
fn argv_items_are_kept_exactly_as_written() {
    let loaded = load(
        r#"version = 1
[[steps]]
name = "quoted"
run = ["sh", "-c", "echo 'a b' && echo c"]
image = "debian:bookworm"
"#,
    );
    let step = &loaded.spec.scenarios[0].steps[0];
    assert_eq!(
        exec(step).command.get_ref(),
        &Command::Argv(vec![
            "sh".into(),
            "-c".into(),
            "echo 'a b' && echo c".into()
        ])
    );
    assert_eq!(exec(step).command.get_ref().to_argv().len(), 3);
}

#[test]
fn shell_runs_through_sh_dash_c_only_when_asked() {
    let loaded = load(
        r#"version = 1
[[steps]]
name = "shell"
shell = "echo $HOME && ls"
image = "debian:bookworm"
"#,
    );
    let command = exec(&loaded.spec.scenarios[0].steps[0]).command.get_ref();
    assert_eq!(command, &Command::Shell("echo $HOME && ls".into()));
    assert_eq!(command.to_argv(), ["sh", "-c", "echo $HOME && ls"]);
}

const LEGACY: &str = r#"
[test.metadata]
name = "basic"
description = "Basic integration test"
timeout = "120s"

[services.box]
type = "generic_container"
image = "debian:bookworm"
env = { APP_ENV = "test" }
ports = [8080]

[[steps]]
name = "hello"
command = ["sh", "-c", "echo 'Hello from cleanroom!'"]
expected_output_regex = "Hello from cleanroom!"
expected_exit_code = 0
service = "box"
workdir = "/tmp"
env = { A = "1" }
continue_on_failure = true

[[steps]]
name = "second"
command = ["true"]
"#;

const CURRENT: &str = r#"
version = 1

[suite]
name = "basic"
description = "Basic integration test"
timeout = 120

[services.box]
plugin = "generic"
image = "debian:bookworm"
env = { APP_ENV = "test" }
ports = [8080]

[[steps]]
name = "hello"
run = ["sh", "-c", "echo 'Hello from cleanroom!'"]
service = "box"
workdir = "/tmp"
env = { A = "1" }
continue_on_failure = true
expect = { exit_code = 0, stdout = { regex = "Hello from cleanroom!" } }

[[steps]]
name = "second"
run = ["true"]
service = "box"
"#;

#[test]
fn both_formats_parse_into_the_same_spec() {
    let legacy = load(LEGACY);
    let current = load(CURRENT);
    assert_eq!(legacy.format, SuiteFormat::Legacy);
    assert_eq!(current.format, SuiteFormat::Current);
    assert_eq!(legacy.spec, current.spec);
    // Only the mapping of the older plugin name is noted.
    assert!(
        legacy
            .warnings
            .iter()
            .all(|w| w.kind == DiagnosticKind::Mapped && w.message.contains("generic_container")),
        "{:?}",
        legacy.warnings
    );
    // The spec is what both say, not an empty shell that happens to compare equal.
    let spec = &current.spec;
    assert_eq!(spec.name.get_ref(), "basic");
    assert_eq!(
        spec.timeout.as_ref().map(|t| *t.get_ref()),
        Some(Duration::from_secs(120))
    );
    assert_eq!(spec.scenarios.len(), 1);
    assert_eq!(spec.scenarios[0].steps.len(), 2);
    assert_eq!(
        spec.scenarios[0].steps[0].expect.stdout.regex[0].get_ref(),
        "Hello from cleanroom!"
    );
}

#[test]
fn old_format_scenarios_with_run_strings_become_argv_steps() {
    let loaded = load(
        r#"[meta]
name = "v06"
[service.app]
plugin = "generic_container"
image = "debian:bookworm"
[[scenario]]
name = "greets"
service = "app"
run = "sh -lc 'echo \"hi there\"'"
"#,
    );
    let scenario = &loaded.spec.scenarios[0];
    assert_eq!(scenario.name.get_ref(), "greets");
    let exec = exec(&scenario.steps[0]);
    assert_eq!(
        exec.command.get_ref(),
        &Command::Argv(vec!["sh".into(), "-lc".into(), "echo \"hi there\"".into()])
    );
    assert_eq!(
        exec.target,
        Target::Service(toml::Spanned::new(0..0, "app".into()))
    );
    assert_eq!(loaded.spec.services[0].plugin.get_ref(), "generic");
}

#[test]
fn old_format_keys_are_warnings_when_they_describe_and_errors_when_they_check() {
    let text = r#"[meta]
name = "otel"
version = "0.6.0"

[vars]
svc = "x"

[otel]
exporter = "stdout"

[services.app]
type = "generic_container"
image = "debian:bookworm"
description = "the app"
wait_for_span = "ready"

[[scenario]]
name = "s"
service = "app"
run = "echo hi"
concurrent = true
timeout_ms = 5000

[[expect.span]]
name = "clnrm.run"

[determinism]
seed = 42

[report]
json = "out.json"

[limits]
memory_mb = 512

[otel_validation]
enabled = true
"#;
    let checked = check_suite(&SuiteSource::new("t.clnrm.toml", text), PLUGINS);
    let shown: Vec<String> = checked
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    let find = |key: &str| {
        checked
            .diagnostics
            .iter()
            .find(|d| d.message.starts_with(&format!("`{key}`")))
            .unwrap_or_else(|| panic!("nothing about `{key}`:\n{}", shown.join("\n")))
    };
    for key in ["version", "vars", "description"] {
        let d = find(key);
        assert_eq!(d.severity, Severity::Warning, "{d}");
        assert_eq!(d.kind, DiagnosticKind::Descriptive, "{d}");
    }
    for key in [
        "otel",
        "wait_for_span",
        "concurrent = true",
        "timeout_ms",
        "determinism",
        "report",
        "limits",
        "otel_validation",
    ] {
        assert_eq!(find(key).severity, Severity::Error, "{}", find(key));
    }
    // Each points at the key itself, and says why.
    let det = find("determinism");
    assert_eq!((det.line, det.column), (27, 2));
    // Span expectations are evaluated now, but one on clnrm's own span proves nothing.
    let own = checked
        .diagnostics
        .iter()
        .find(|d| d.message.contains("names a span of clnrm itself"))
        .unwrap_or_else(|| panic!("`clnrm.run` not refused:\n{}", shown.join("\n")));
    assert_eq!(own.severity, Severity::Error, "{own}");
    assert_eq!((own.line, own.column), (25, 8), "{own}");
}

#[test]
fn new_format_rejects_upstream_only_keys_as_unknown() {
    let source = SuiteSource::new(
        "n.clnrm.toml",
        "version = 1\n[determinism]\nseed = 1\n[[steps]]\nname = \"a\"\nrun = [\"true\"]\nimage = \"debian:bookworm\"\n",
    );
    let checked = check_suite(&source, PLUGINS);
    assert!(checked.has_errors());
    assert_eq!(
        checked.diagnostics[0].to_string(),
        "n.clnrm.toml:2:2: error: `determinism` in the top level is not supported: seeded ordering and frozen clocks are not supported"
    );
}

#[test]
fn every_problem_of_a_file_is_reported_at_once() {
    let text = r#"version = 1
[suite]
name = "many"
timeout = "1m"
tgas = ["x"]

[services.db]
plugin = "postgress"
image = "postgres:16"
depends_on = ["cache"]
memory = "lots"

[services.cache]
plugin = "redis"
image = "redis:7"
depends_on = ["db"]
ports = [0]

[[steps]]
name = "migrate"
run = ["psql", "-c", "select 1"]
service = "pg"
timeout = "2m"
comand = ["x"]

[[steps]]
name = "migrate"
run = []
service = "db"
expect.stdout.regex = ["ok", "(unclosed"]

[[steps]]
name = "nothing"
"#;
    let source = SuiteSource::new("suite.clnrm.toml", text);
    let checked = check_suite(&source, PLUGINS);
    let rendered: Vec<String> = checked
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    insta::assert_snapshot!(rendered.join("\n"));
    // Whatever the snapshot says, these must all be there together.
    assert!(rendered.len() >= 11, "{}", rendered.join("\n"));
}

#[test]
fn current_format_service_options_are_parsed() {
    let loaded = load(
        r#"version = 1
[services.db]
plugin = "postgres"
image = "postgres:16"
ports = [5432]
memory = "1g"
cpus = 2
startup_timeout = "1m 30s"
isolation = "schema"
wait_for = { command = ["pg_isready"] }
[services.web]
image = "debian:bookworm"
ports = [8080, 9090]
scope = "test"
depends_on = "db"
wait_for = { http = "/health", port = 8080, status = 204 }
[[steps]]
name = "call"
http = { service = "web", port = 9090, method = "post", path = "/x?y=1", headers = { a = "b" }, json = { k = [1, 2.5, true] } }
expect = { status = 201, max_duration = "500ms", json = { "/k/0" = 1 }, stdout = { contains = "k", not_contains = ["err"] } }
"#,
    );
    let db = loaded.spec.service("db").unwrap();
    assert_eq!(db.memory.as_ref().map(|m| *m.get_ref()), Some(1 << 30));
    assert_eq!(db.cpus.as_ref().map(|c| *c.get_ref()), Some(2.0));
    assert_eq!(
        db.startup_timeout.as_ref().map(|t| *t.get_ref()),
        Some(Duration::from_secs(90))
    );
    assert_eq!(
        db.isolation.as_ref().map(|i| *i.get_ref()),
        Some(Isolation::Schema)
    );
    assert_eq!(
        db.wait_for.as_ref().map(|w| w.get_ref().clone()),
        Some(WaitFor::Command(vec!["pg_isready".into()]))
    );
    let web = loaded.spec.service("web").unwrap();
    assert_eq!(web.scope, Scope::Test);
    assert_eq!(web.depends_on[0].get_ref(), "db");
    assert_eq!(
        web.wait_for.as_ref().map(|w| w.get_ref().clone()),
        Some(WaitFor::Http {
            path: "/health".into(),
            port: Some(8080),
            status: 204
        })
    );
    let step = &loaded.spec.scenarios[0].steps[0];
    let Action::Http(http) = &step.action else {
        panic!("not http")
    };
    assert_eq!(http.method, "POST");
    assert_eq!(http.path, "/x?y=1");
    assert_eq!(
        http.body,
        Some(HttpBody::Json(serde_json::json!({ "k": [1, 2.5, true] })))
    );
    assert_eq!(step.expect.status.as_ref().map(|s| *s.get_ref()), Some(201));
    assert_eq!(
        step.expect.max_duration.as_ref().map(|d| *d.get_ref()),
        Some(Duration::from_millis(500))
    );
    assert_eq!(step.expect.json[0].pointer.get_ref(), "/k/0");
    assert_eq!(step.expect.json[0].value, serde_json::json!(1));
    assert_eq!(step.expect.stdout.contains, ["k"]);
    assert_eq!(step.expect.stdout.not_contains, ["err"]);
}

#[test]
fn example_suites_load_without_errors_or_warnings() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/suites");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.to_string_lossy().ends_with(".clnrm.toml") {
            continue;
        }
        count += 1;
        match load_suite(&path, PLUGINS) {
            Ok(loaded) => assert!(
                // Older plugin names in the old-format examples are mapped with a note.
                loaded
                    .warnings
                    .iter()
                    .all(|w| w.kind == DiagnosticKind::Mapped),
                "{}: {:?}",
                path.display(),
                loaded.warnings
            ),
            Err(e) => panic!(
                "{e}\n{}",
                e.diagnostics()
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        }
    }
    assert!(count >= 4, "found {count} examples");
}

#[test]
fn signup_example_has_services_dependencies_and_targets() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/suites/signup.clnrm.toml");
    let loaded = load_suite(&path, PLUGINS).unwrap();
    let spec = &loaded.spec;
    let names: Vec<&str> = spec
        .services
        .iter()
        .map(|s| s.name.get_ref().as_str())
        .collect();
    assert_eq!(names, ["db", "cache", "tools"]);
    let deps: Vec<&str> = spec
        .service("tools")
        .unwrap()
        .depends_on
        .iter()
        .map(|d| d.get_ref().as_str())
        .collect();
    assert_eq!(deps, ["db", "cache"]);
    let steps = &spec.scenarios[0].steps;
    assert_eq!(steps[0].retries, 2);
    assert_eq!(
        steps[0].timeout.as_ref().map(|t| *t.get_ref()),
        Some(Duration::from_secs(30))
    );
    assert!(
        matches!(&exec(&steps[2]).command.get_ref(), Command::Shell(s) if s.starts_with("redis-cli"))
    );
}

#[test]
fn a_missing_file_is_an_io_error_naming_the_path() {
    let err = load_suite(Path::new("/nonexistent/x.clnrm.toml"), PLUGINS).unwrap_err();
    assert!(matches!(err, SuiteError::Io { .. }));
    assert_eq!(
        err.to_string(),
        "failed to read suite /nonexistent/x.clnrm.toml"
    );
}

#[test]
fn invalid_toml_is_a_parse_error_leading_with_the_path() {
    let err = load_suite_str(
        Path::new("bad.clnrm.toml"),
        "version = 1\nname = \"x\n",
        PLUGINS,
    )
    .unwrap_err();
    assert!(matches!(err, SuiteError::Parse { .. }));
    let message = err.to_string();
    assert!(
        message.starts_with("failed to parse suite bad.clnrm.toml: 2:10: invalid TOML"),
        "{message}"
    );
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn an_invalid_suite_error_counts_its_errors() {
    let err = load_suite_str(
        Path::new("x.clnrm.toml"),
        "version = 1\n[[steps]]\nname = \"a\"\nrun = [\"true\"]\nservice = \"pg\"\n",
        PLUGINS,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid suite x.clnrm.toml: 1 error(s), first: 5:11: step \"a\" uses unknown service \"pg\"; known: none declared"
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    let source = SuiteSource::new(
        "u.clnrm.toml",
        "version = 1\n[[steps]]\nname = \"ünïcødé\"\nrun = [\"true\"]\nservice = \"pg\" # é\n",
    );
    let checked = check_suite(&source, PLUGINS);
    assert_eq!(
        (checked.diagnostics[0].line, checked.diagnostics[0].column),
        (5, 11)
    );
    let parsed = parse_suite(&SuiteSource::new("u", "name = \"ü\"\nzzz = 1")).unwrap();
    let zzz = parsed
        .diagnostics
        .iter()
        .find(|d| d.message.contains("zzz"))
        .unwrap();
    assert_eq!((zzz.line, zzz.column), (2, 1));
}

#[test]
fn an_invalid_suite_is_bad_input_not_an_infrastructure_error() {
    let err = load_suite_str(Path::new("x.clnrm.toml"), "version = 2\n", PLUGINS).unwrap_err();
    let err = clnrm::Error::from(err);
    assert!(matches!(err, clnrm::Error::Suite(_)), "{err:?}");
    assert!(!err.is_infrastructure(), "{err:?}");
    assert!(
        err.to_string().starts_with("invalid suite x.clnrm.toml"),
        "{err}"
    );
}

#[test]
fn migrations_outside_the_repository_are_reported_with_the_resolved_path() {
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/m.clnrm.toml");
    let text = |migrations: &str| {
        format!(
            "version = 1\n[services.db]\nplugin = \"postgres\"\nisolation = \"database\"\nmigrations = \"{migrations}\"\n[[steps]]\nname = \"a\"\nrun = [\"true\"]\nservice = \"db\"\n"
        )
    };
    let outside = std::env::temp_dir();
    for migrations in [
        outside.display().to_string(),
        "../../../../../../../../tmp".to_owned(),
    ] {
        let checked = check_suite(&SuiteSource::new(&suite, text(&migrations)), PLUGINS);
        let warning = checked
            .diagnostics
            .iter()
            .find(|d| d.message.contains("outside the repository"))
            .unwrap_or_else(|| panic!("no warning for {migrations}: {:?}", checked.diagnostics));
        assert_eq!(warning.severity, Severity::Warning);
        assert_eq!((warning.line, warning.column), (5, 14));
        assert!(warning.message.contains("`/tmp"), "{warning}");
    }
    // Inside the repository (a sibling directory of the suite's): nothing to say.
    let inside = check_suite(&SuiteSource::new(&suite, text("ui")), PLUGINS);
    assert!(
        !inside
            .diagnostics
            .iter()
            .any(|d| d.message.contains("outside")),
        "{:?}",
        inside.diagnostics
    );
}

#[test]
fn problems_of_a_rendered_template_point_at_the_template_line() {
    let text = r#"[vars]
limit = "soon"

[test.metadata]
name = "t"
timeout = "{{ limit }}"

[services.c]
image = "debian:bookworm"
{% for n in [1, 2] %}
[[steps]]
name = "s{{ n }}"
command = ["true"]
{% endfor %}
[[steps]]
name = "x"
comand = ["true"]
"#;
    let path = Path::new("/nonexistent/t.clnrm.toml.tera");
    let checked = clnrm::suite::check_suite_file(path, text, PLUGINS);
    let shown: Vec<String> = checked
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    // A line the template has verbatim keeps its column.
    assert!(
        shown.contains(
            &"/nonexistent/t.clnrm.toml.tera:17:1: error: unknown key `comand` in step \"x\", did you mean `command`?"
                .to_owned()
        ),
        "{shown:#?}"
    );
    // A line an expression produced points at the template line that holds it.
    let timeout = checked
        .diagnostics
        .iter()
        .find(|d| d.message.contains("`timeout`"))
        .unwrap_or_else(|| panic!("{shown:#?}"));
    assert_eq!((timeout.line, timeout.column), (6, 1), "{timeout}");
    assert!(
        timeout.message.ends_with("(in the rendered template)"),
        "{timeout}"
    );
    // The loop rendered two steps; `[vars]` of a template are not reported as ignored.
    assert!(!shown.iter().any(|d| d.contains("`vars`")), "{shown:#?}");
    let spec = checked.spec.expect("spec");
    assert_eq!(spec.scenarios[0].steps.len(), 2, "{shown:#?}");
}

#[test]
fn the_oldest_init_shape_runs_its_cmd_steps_in_the_default_image_with_its_policy() {
    let loaded = load(
        r#"name = "cleanroom-test"

[[scenarios]]
name = "basic_test"
steps = [
    { name = "setup", cmd = ["echo", "Setting up test environment"] },
    { name = "expects_one", cmd = ["false"], expected_exit_code = 1 },
]

[policy]
security_level = "medium"
max_execution_time = 300
"#,
    );
    assert_eq!(loaded.format, SuiteFormat::Legacy);
    let spec = &loaded.spec;
    assert_eq!(spec.name.get_ref(), "cleanroom-test");
    assert_eq!(
        spec.timeout.as_ref().map(|t| *t.get_ref()),
        Some(Duration::from_secs(300))
    );
    let scenario = &spec.scenarios[0];
    assert_eq!(scenario.name.get_ref(), "basic_test");
    let setup = exec(&scenario.steps[0]);
    assert_eq!(
        setup.command.get_ref(),
        &Command::Argv(vec!["echo".into(), "Setting up test environment".into()])
    );
    assert!(
        matches!(&setup.target, Target::Image(image) if image.get_ref() == "alpine:latest"),
        "{:?}",
        setup.target
    );
    assert_eq!(scenario.steps[0].expect.expected_exit_code(), 0);
    assert_eq!(scenario.steps[1].expect.expected_exit_code(), 1);
    let mapped = loaded
        .warnings
        .iter()
        .filter(|d| d.kind == DiagnosticKind::Mapped)
        .count();
    assert_eq!(mapped, 3, "{:#?}", loaded.warnings);
}

#[test]
fn legacy_steps_naming_no_service_among_several_run_in_the_configured_default_image() {
    let dir = std::env::temp_dir().join(format!("clnrm-default-image-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("cleanroom.toml"),
        "[containers]\ndefault_image = \"debian:bookworm\"\n",
    )
    .unwrap();
    let suite = dir.join("two.clnrm.toml");
    std::fs::write(
        &suite,
        r#"[test.metadata]
name = "t"
[services.a]
type = "generic_container"
image = "debian:bookworm"
[services.b]
type = "generic_container"
image = "debian:bookworm"
[[steps]]
name = "unnamed"
command = ["true"]
[[steps]]
name = "named"
service = "b"
command = ["true"]
"#,
    )
    .unwrap();
    let loaded = load_suite(&suite, PLUGINS);
    let _ = std::fs::remove_dir_all(&dir);
    let loaded = loaded.unwrap_or_else(|e| panic!("{e}: {:#?}", e.diagnostics()));
    let steps = &loaded.spec.scenarios[0].steps;
    assert!(
        matches!(&exec(&steps[0]).target, Target::Image(i) if i.get_ref() == "debian:bookworm"),
        "{:?}",
        exec(&steps[0]).target
    );
    assert!(
        matches!(&exec(&steps[1]).target, Target::Service(s) if s.get_ref() == "b"),
        "{:?}",
        exec(&steps[1]).target
    );
    assert!(
        loaded.warnings.iter().any(|d| d
            .message
            .contains("steps that name no service run in a container of \"debian:bookworm\"")),
        "{:#?}",
        loaded.warnings
    );
}
