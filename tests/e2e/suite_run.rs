//! `clnrm run` on real Docker: passing suites, a failing expectation, argv fidelity, reports,
//! and Docker unreachable.

use std::path::{Path, PathBuf};

use crate::support::run_bin;

const CLNRM: &str = env!("CARGO_BIN_EXE_clnrm-under-test");

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/suites")
        .join(name)
        .to_str()
        .expect("utf-8")
        .to_owned()
}

/// A fresh directory for one test, removed by the caller.
fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("clnrm-e2e-run-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

/// Runs `clnrm` with the history kept in `dir`; (exit code, stdout, stderr).
fn clnrm(dir: &Path, args: &[&str], extra_env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let history = dir.join("history.db");
    let mut envs = vec![("CLNRM_HISTORY", history.to_str().expect("utf-8"))];
    envs.extend_from_slice(extra_env);
    let output = run_bin(CLNRM, args, &envs);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn every_example_suite_passes_when_the_directory_is_run() {
    let dir = scratch_dir("all-examples");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/suites");
    let (code, stdout, stderr) = clnrm(
        &dir,
        &["run", examples.to_str().expect("utf-8"), "--jobs", "2"],
        &[],
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    for name in [
        "PASS legacy_basic/legacy_basic (",
        "PASS legacy_scenarios/greets (",
        "PASS legacy_scenarios/checks its output (",
        "PASS isolated/starts clean (",
    ] {
        assert!(stdout.contains(name), "no `{name}` in\n{stdout}");
    }
    let passes = stdout.lines().filter(|l| l.starts_with("PASS ")).count();
    assert!(
        stdout.contains(&format!("{passes} passed, 0 failed")),
        "{stdout}"
    );
}

#[test]
fn example_suites_with_services_and_fresh_containers_pass() {
    let dir = scratch_dir("pass");
    let json = dir.join("results.json");
    let (code, stdout, stderr) = clnrm(
        &dir,
        &[
            "run",
            &example("signup.clnrm.toml"),
            &example("fresh-image.clnrm.toml"),
            &example("http-api.clnrm.toml"),
            "--jobs",
            "3",
            "--json",
            json.to_str().expect("utf-8"),
        ],
        &[],
    );
    let report = std::fs::read_to_string(&json).unwrap_or_default();
    let history = dir.join("history.db").is_file();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    for name in [
        "PASS signup/signup (",
        "PASS fresh-image/fresh-image (",
        "PASS http-api/health (",
        "PASS http-api/post (",
    ] {
        assert!(stdout.contains(name), "no `{name}` in\n{stdout}");
    }
    assert!(stdout.contains("4 passed, 0 failed"), "{stdout}");
    assert!(report.contains("\"signup::signup\""), "{report}");
    assert!(history, "no history database written");
}

#[test]
fn a_failing_expectation_exits_1_with_the_reason_and_writes_junit() {
    let dir = scratch_dir("fail");
    let suite = dir.join("greet.clnrm.toml");
    std::fs::write(
        &suite,
        r#"version = 1
[suite]
name = "greet"
[[scenarios]]
name = "says goodbye"
[[scenarios.steps]]
name = "echo"
run = ["echo", "hello"]
image = "debian:bookworm"
expect.stdout.contains = "goodbye"
[[scenarios]]
name = "says hello"
[[scenarios.steps]]
name = "echo"
run = ["echo", "hello"]
image = "debian:bookworm"
expect.stdout.contains = "hello"
"#,
    )
    .expect("write suite");
    let junit = dir.join("junit.xml");
    let (code, stdout, stderr) = clnrm(
        &dir,
        &[
            "run",
            suite.to_str().expect("utf-8"),
            "--junit",
            junit.to_str().expect("utf-8"),
        ],
        &[],
    );
    let xml = std::fs::read_to_string(&junit).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(1), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains("FAIL greet/says goodbye (",)
            && stdout
                .contains("step `echo`: stdout does not contain \"goodbye\"; stdout: \"hello\\n\""),
        "{stdout}"
    );
    assert!(stdout.contains("PASS greet/says hello ("), "{stdout}");
    assert!(stdout.contains("1 passed, 1 failed"), "{stdout}");
    assert!(xml.contains("<failure"), "{xml}");
}

#[test]
fn argv_items_reach_the_container_exactly_as_written() {
    let dir = scratch_dir("argv");
    let suite = dir.join("argv.clnrm.toml");
    // `\A` and `\z`: the whole output, nothing before or after.
    std::fs::write(
        &suite,
        r#"version = 1
[[steps]]
name = "quoted"
run = ["sh", "-c", "echo 'a b' && echo c"]
image = "debian:bookworm"
expect.stdout.regex = ['\Aa b\nc\n\z']
[[steps]]
name = "one argument with spaces"
run = ["printf", "%s|", "x y", "z"]
image = "debian:bookworm"
expect.stdout.regex = ['\Ax y\|z\|\z']
"#,
    )
    .expect("write suite");
    let (code, stdout, stderr) = clnrm(&dir, &["run", suite.to_str().expect("utf-8")], &[]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("PASS argv/argv ("), "{stdout}");
}

#[test]
fn an_invalid_suite_exits_2_before_anything_runs() {
    let dir = scratch_dir("invalid");
    let suite = dir.join("bad.clnrm.toml");
    std::fs::write(&suite, "version = 1\n[[steps]]\nname = \"a\"\n").expect("write suite");
    let (code, stdout, stderr) = clnrm(&dir, &["run", suite.to_str().expect("utf-8")], &[]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(2), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("bad.clnrm.toml:2:"), "{stderr}");
    assert!(
        !stdout.contains("PASS") && !stdout.contains("FAIL"),
        "{stdout}"
    );
}

#[test]
fn docker_unreachable_exits_3() {
    let dir = scratch_dir("nodocker");
    let (code, stdout, stderr) = clnrm(
        &dir,
        &["run", &example("fresh-image.clnrm.toml")],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(3), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("cannot reach Docker"), "{stderr}");
}

#[test]
fn a_suite_timeout_fails_only_the_scenarios_it_cut_short() {
    let dir = scratch_dir("timeout");
    let suite = dir.join("slow.clnrm.toml");
    std::fs::write(
        &suite,
        r#"version = 1
[suite]
name = "slow"
timeout = "4s"
[[scenarios]]
name = "fast"
[[scenarios.steps]]
name = "true"
run = ["true"]
image = "debian:bookworm"
[[scenarios]]
name = "sleeps"
[[scenarios.steps]]
name = "sleep"
run = ["sleep", "30"]
image = "debian:bookworm"
"#,
    )
    .expect("write suite");
    let started = std::time::Instant::now();
    let (code, stdout, stderr) = clnrm(&dir, &["run", suite.to_str().expect("utf-8")], &[]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(1), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("PASS slow/fast ("), "{stdout}");
    assert!(
        stdout.contains("TIMEOUT slow/sleeps (0.0 s): suite timeout of 4.0 s ran out"),
        "{stdout}"
    );
    assert!(!stdout.contains("TIMEOUT slow/fast"), "{stdout}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(25),
        "{stdout}"
    );
}

#[test]
fn isolated_scenarios_get_their_own_database_redis_db_and_fresh_container() {
    // The example's second scenario checks that the first one's row, Redis key and file are
    // not there: with shared namespaces (or one container) it fails.
    let dir = scratch_dir("isolated");
    let (code, stdout, stderr) = clnrm(&dir, &["run", &example("isolated.clnrm.toml")], &[]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("PASS isolated/stores a link ("), "{stdout}");
    assert!(stdout.contains("PASS isolated/starts clean ("), "{stdout}");
    assert!(stdout.contains("2 passed, 0 failed"), "{stdout}");
}

#[test]
fn without_isolation_scenarios_share_the_suites_database_as_before() {
    let dir = scratch_dir("shared-db");
    let suite = dir.join("shared.clnrm.toml");
    std::fs::write(
        &suite,
        r#"version = 1
[suite]
name = "shared"
[services.db]
plugin = "postgres"
image = "postgres:16"
[[scenarios]]
name = "creates"
[[scenarios.steps]]
name = "create table"
shell = 'psql "$CLNRM_DB_URL" -c "create table kept (x int)"'
service = "db"
[[scenarios]]
name = "sees it"
[[scenarios.steps]]
name = "select"
shell = 'psql "$CLNRM_DB_URL" -qtAc "select count(*) from kept"'
service = "db"
expect.stdout.regex = ['^0$']
"#,
    )
    .expect("write suite");
    let (code, stdout, stderr) = clnrm(&dir, &["run", suite.to_str().expect("utf-8")], &[]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("PASS shared/sees it ("), "{stdout}");
}

#[test]
fn schema_isolation_gives_each_scenario_a_migrated_schema_of_its_own() {
    let dir = scratch_dir("schema");
    std::fs::create_dir_all(dir.join("sql")).expect("mkdir");
    std::fs::write(
        dir.join("sql/001_users.sql"),
        "create table users (email text primary key);",
    )
    .expect("write migration");
    let suite = dir.join("schemas.clnrm.toml");
    std::fs::write(
        &suite,
        r#"version = 1
[suite]
name = "schemas"
[services.db]
plugin = "postgres"
image = "postgres:16"
isolation = "schema"
migrations = "sql"
[[scenarios]]
name = "a"
[[scenarios.steps]]
name = "insert"
run = ["psql", "-v", "ON_ERROR_STOP=1", "-qtAc", "insert into users values ('a@example.com'); select current_schema()"]
service = "db"
expect.stdout.regex = ['^s_\d+_\d+$']
[[scenarios]]
name = "b"
[[scenarios.steps]]
name = "own schema, empty table"
shell = '''test "$(psql -qtAc 'select current_schema()')" = "$CLNRM_DB_SCHEMA" && psql -qtAc "select count(*) from users"'''
service = "db"
expect.stdout.regex = ['\A0\n\z']
"#,
    )
    .expect("write suite");
    let (code, stdout, stderr) = clnrm(&dir, &["run", suite.to_str().expect("utf-8")], &[]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("PASS schemas/a ("), "{stdout}");
    assert!(stdout.contains("PASS schemas/b ("), "{stdout}");
}

#[test]
fn step_retries_and_timeouts_run_on_the_engine_attempt_loop() {
    let dir = scratch_dir("retries");
    let suite = dir.join("retries.clnrm.toml");
    // The step-image container is shared by the attempts, so the file survives the first one.
    std::fs::write(
        &suite,
        r#"version = 1
[suite]
name = "retries"
[[scenarios]]
name = "passes on the second attempt"
[[scenarios.steps]]
name = "fails once"
shell = "test -e /tmp/tried || { touch /tmp/tried; exit 1; }"
image = "debian:bookworm"
retries = 1
[[scenarios]]
name = "runs out of time"
[[scenarios.steps]]
name = "sleeps"
run = ["sleep", "30"]
image = "debian:bookworm"
timeout = "1s"
retries = 1
[[scenarios]]
name = "fails every attempt"
[[scenarios.steps]]
name = "false"
run = ["false"]
image = "debian:bookworm"
retries = 2
"#,
    )
    .expect("write suite");
    let json = dir.join("results.json");
    let (code, stdout, stderr) = clnrm(
        &dir,
        &[
            "run",
            suite.to_str().expect("utf-8"),
            "--json",
            json.to_str().expect("utf-8"),
        ],
        &[],
    );
    let report = std::fs::read_to_string(&json).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(1), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains("FLAKY retries/passes on the second attempt ("),
        "{stdout}"
    );
    assert!(
        stdout.contains("TIMEOUT retries/runs out of time (")
            && stdout.contains("step `sleeps`: timed out after 1.0 s"),
        "{stdout}"
    );
    assert!(
        stdout.contains("FAIL retries/fails every attempt (")
            && stdout.contains("step `false`: exit code 1 (expected 0)"),
        "{stdout}"
    );
    let report: serde_json::Value = serde_json::from_str(&report).expect("JSON report");
    let attempts = |name: &str| {
        report["tests"]
            .as_array()
            .and_then(|tests| tests.iter().find(|t| t["name"] == name))
            .map(|t| t["attempts"].clone())
    };
    assert_eq!(
        attempts("retries::passes on the second attempt"),
        Some(2.into())
    );
    assert_eq!(attempts("retries::runs out of time"), Some(2.into()));
    assert_eq!(attempts("retries::fails every attempt"), Some(3.into()));
}

#[test]
fn a_scope_test_service_starts_once_per_scenario_and_never_for_the_suite() {
    let dir = scratch_dir("scope-count");
    // A service name no other test uses, so Docker's events can be counted by its label.
    let service = format!("probe{}", std::process::id());
    let suite = dir.join("scoped.clnrm.toml");
    std::fs::write(
        &suite,
        format!(
            r#"version = 1
[suite]
name = "scoped"

[services.{service}]
plugin = "generic"
image = "debian:bookworm"
cmd = ["sleep", "infinity"]
scope = "test"

[[scenarios]]
name = "one"
[[scenarios.steps]]
name = "runs"
run = ["true"]
service = "{service}"

[[scenarios]]
name = "two"
[[scenarios.steps]]
name = "runs"
run = ["true"]
service = "{service}"
"#
        ),
    )
    .expect("write suite");
    // Watched live: Docker keeps only its last 256 events, fewer than a busy test run makes.
    let mut watch = std::process::Command::new("docker")
        .args(["events", "--filter", "event=create", "--filter"])
        .arg(format!(
            "label={}={service}",
            clnrm::docker::labels::SERVICE
        ))
        .args(["--format", "{{.ID}}"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("docker events runs");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let (code, stdout, stderr) = clnrm(&dir, &["run", suite.to_str().expect("utf-8")], &[]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let _ = watch.kill();
    let events = watch.wait_with_output().expect("docker events ends");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let created = String::from_utf8_lossy(&events.stdout).lines().count();
    assert_eq!(
        created,
        2,
        "one container per scenario, none for the suite; docker events:\n{}{}",
        String::from_utf8_lossy(&events.stdout),
        String::from_utf8_lossy(&events.stderr)
    );
}

#[test]
fn a_suite_service_runs_as_its_user() {
    let dir = scratch_dir("user");
    let suite = dir.join("user.clnrm.toml");
    std::fs::write(
        &suite,
        r#"version = 1
[suite]
name = "user"
[services.tools]
plugin = "generic"
image = "debian:bookworm"
cmd = ["sleep", "infinity"]
user = "1000:1000"
[[steps]]
name = "who"
service = "tools"
run = ["id", "-u"]
expect.stdout.regex = "^1000\\s*$"
"#,
    )
    .expect("write");
    let (code, stdout, stderr) = clnrm(&dir, &["run", suite.to_str().expect("utf-8")], &[]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("PASS user/user"), "{stdout}");
}
