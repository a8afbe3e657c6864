//! The harness judged from outside: the fixture test binary (`src/bin/harness-fixture.rs`, ending
//! with `clnrm::main!()`) run with libtest's flags, its output, exit code and reports checked.
//! Every run gets a scratch directory (`FIXTURE_DIR`) and a history of its own, and after every
//! run no container owned by the fixture's process may be left.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clnrm::docker::{Owner, labels};
use serde_json::Value;

const FIXTURE: &str = env!("CARGO_BIN_EXE_harness-fixture");

/// Every test of the fixture, as `--list` names them.
const ALL_TESTS: &[&str] = &[
    "basic::fails_with_message",
    "basic::panics_with_message",
    "basic::passes",
    "basic::sync_with_ctx",
    "basic::sync_without_ctx",
    "diagnostics::pg_fails",
    "groups::exclusive_a",
    "groups::exclusive_b",
    "groups::exclusive_c",
    "ignored::not_ignored",
    "ignored::skipped",
    "infra::unknown_plugin",
    "isolation::pg::a",
    "isolation::pg::b",
    "isolation::redis::a",
    "isolation::redis::b",
    "isolation::schema::a",
    "isolation::schema::b",
    "retry::always_fails",
    "retry::flaky_then_passes",
    "scope_test::fresh_container_a",
    "scope_test::fresh_container_b",
    "timing::times_out",
    "timing::z_runs_after_the_timeout",
];

/// One finished run of the fixture.
struct Run {
    stdout: String,
    stderr: String,
    code: Option<i32>,
    pid: u32,
    elapsed: Duration,
    dir: PathBuf,
    /// Unix seconds just before the start and just after the end, for `docker events`.
    window: (f64, f64),
}

impl Run {
    fn both(&self) -> String {
        format!(
            "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    fn expect_code(&self, code: i32) {
        assert_eq!(self.code, Some(code), "{}", self.both());
    }

    fn expect_stdout(&self, needle: &str) {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}\n{}",
            self.both()
        );
    }

    /// The index and result of the `test NAME ... RESULT` line of `name` (libtest pads names).
    fn result_line(&self, name: &str) -> (usize, &str) {
        self.stdout
            .lines()
            .enumerate()
            .find_map(|(i, l)| {
                let (n, result) = l.strip_prefix("test ")?.split_once(" ... ")?;
                (n.trim_end() == name).then(|| (i, result.trim()))
            })
            .unwrap_or_else(|| panic!("no result line for {name}\n{}", self.both()))
    }

    /// The result libtest printed for `name`: `ok`, `FAILED`, `ignored`...
    fn result_of(&self, name: &str) -> &str {
        self.result_line(name).1
    }

    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    /// The JSON report written to `report.json` (pass `--json` through [`json_args`]).
    fn json(&self) -> Value {
        let text = std::fs::read_to_string(self.dir.join("report.json"))
            .unwrap_or_else(|e| panic!("no JSON report: {e}\n{}", self.both()));
        serde_json::from_str(&text).expect("the JSON report parses")
    }

    fn json_test(&self, name: &str) -> Value {
        let json = self.json();
        json["tests"]
            .as_array()
            .expect("tests[]")
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("{name} not in the JSON report: {json:#}"))
            .clone()
    }

    /// `(name, start, end)` intervals the fixture appended to `file`, sorted by start.
    fn intervals(&self, file: &str) -> Vec<(String, u128, u128)> {
        let mut intervals: Vec<(String, u128, u128)> = self
            .file(file)
            .lines()
            .map(|l| {
                let parts: Vec<&str> = l.split_whitespace().collect();
                assert_eq!(parts.len(), 3, "bad interval line {l:?}");
                let start = parts[1].parse().unwrap();
                let end = parts[2].parse().unwrap();
                assert!(start <= end, "interval ends before it starts: {l:?}");
                (parts[0].to_owned(), start, end)
            })
            .collect();
        intervals.sort_by_key(|i| i.1);
        intervals
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A fresh scratch directory for one run.
fn scratch(tag: &str) -> PathBuf {
    super::support::scratch("harness", tag)
}

/// Runs the fixture with `args` (libtest's flags) and checks that no container of it is left.
fn fixture(tag: &str, args: &[&str]) -> Run {
    let dir = scratch(tag);
    let args: Vec<String> = args
        .iter()
        .map(|a| a.replace("{dir}", &dir.to_string_lossy()))
        .collect();
    let mut cmd = crate::support::own_run(FIXTURE);
    cmd.args(&args)
        .env("FIXTURE_DIR", &dir)
        .env("CLNRM_HISTORY", dir.join("history.db"))
        .env_remove("CLNRM_JSON")
        .env_remove("CLNRM_JUNIT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let window_start = unix_now() - 1.0;
    let t0 = Instant::now();
    let child = cmd.spawn().expect("the fixture starts");
    let pid = child.id();
    let out = child.wait_with_output().expect("the fixture ends");
    let elapsed = t0.elapsed();
    let run = Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code(),
        pid,
        elapsed,
        dir,
        window: (window_start, unix_now() + 1.0),
    };
    let left = containers_owned_by(pid);
    assert!(
        left.is_empty(),
        "containers of fixture pid {pid} left behind: {left:?}\n{}",
        run.both()
    );
    run
}

/// `--json` and `--junit` into the run's directory.
fn json_args<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut all = args.to_vec();
    all.extend(["--json", "{dir}/report.json", "--junit", "{dir}/junit.xml"]);
    all
}

fn is_owned_by(owner_label: &str, pid: u32) -> bool {
    Owner::parse(owner_label).is_some_and(|o| o.pid == pid)
}

/// Containers (running or not) whose owner label names process `pid`.
fn containers_owned_by(pid: u32) -> Vec<String> {
    use clnrm::docker::bollard::query_parameters::ListContainersOptions;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let docker = clnrm::docker::connect().await.expect("docker reachable");
        let filters = HashMap::from([(
            "label".to_owned(),
            vec![format!("{}=true", labels::MANAGED)],
        )]);
        docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(filters),
                ..Default::default()
            }))
            .await
            .expect("list containers")
            .into_iter()
            .filter(|c| {
                c.labels
                    .as_ref()
                    .and_then(|l| l.get(labels::OWNER))
                    .is_some_and(|o| is_owned_by(o, pid))
            })
            .filter_map(|c| c.id)
            .collect()
    })
}

/// How many clnrm containers process `pid` created during the run, from Docker's event log
/// (so a container created and removed again still counts).
fn containers_created_by(run: &Run) -> usize {
    let out = Command::new("docker")
        .args([
            "events",
            "--since",
            &format!("{:.3}", run.window.0),
            "--until",
            &format!("{:.3}", run.window.1),
            "--filter",
            "type=container",
            "--filter",
            "event=create",
            "--filter",
            &format!("label={}=true", labels::MANAGED),
            "--format",
            &format!("{{{{index .Actor.Attributes \"{}\"}}}}", labels::OWNER),
        ])
        .output()
        .expect("docker events runs");
    assert!(
        out.status.success(),
        "docker events: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|owner| is_owned_by(owner.trim(), run.pid))
        .count()
}

/// The `---- NAME ----` section libtest prints for a failed test.
fn failure_section<'a>(run: &'a Run, name: &str) -> &'a str {
    let header = format!("---- {name} ----");
    let start = run
        .stdout
        .find(&header)
        .unwrap_or_else(|| panic!("no failure section for {name}\n{}", run.both()));
    let rest = &run.stdout[start + header.len()..];
    let end = rest
        .find("\n---- ")
        .or_else(|| rest.find("\nfailures:"))
        .unwrap_or(rest.len());
    &rest[..end]
}

// ---- listing and selection -------------------------------------------------------------------

#[test]
fn list_names_every_test_and_starts_no_container() {
    let run = fixture("list", &["--list"]);
    run.expect_code(0);
    let listed: Vec<&str> = run
        .stdout
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .collect();
    // the fifty generated `load::tNN` tests of the load test, then the rest by name
    let load: Vec<String> = (0..50).map(|i| format!("load::t{i:02}")).collect();
    let (generated, named): (Vec<&str>, Vec<&str>) = listed
        .iter()
        .copied()
        .partition(|n| n.starts_with("load::"));
    assert_eq!(generated, load, "{}", run.both());
    assert_eq!(named, ALL_TESTS, "{}", run.both());
    assert_eq!(
        containers_created_by(&run),
        0,
        "--list must not touch Docker"
    );
}

#[test]
fn a_substring_filter_runs_only_the_matching_tests() {
    let run = fixture("filter", &["sync_"]);
    run.expect_code(0);
    run.expect_stdout("running 2 tests");
    assert_eq!(run.result_of("basic::sync_with_ctx"), "ok");
    assert_eq!(run.result_of("basic::sync_without_ctx"), "ok");
    run.expect_stdout("2 passed; 0 failed");
    assert!(!run.stdout.contains("basic::passes"), "{}", run.both());
}

#[test]
fn exact_runs_only_the_test_of_that_full_name() {
    let run = fixture("exact", &["--exact", "basic::passes"]);
    run.expect_code(0);
    run.expect_stdout("running 1 test");
    assert_eq!(run.result_of("basic::passes"), "ok");

    // A part of a name is no exact match (`retry::flaky_then_passes` ends with it too).
    let run = fixture("exact-partial", &["--exact", "passes"]);
    run.expect_code(0);
    run.expect_stdout("running 0 tests");
}

#[test]
fn skip_leaves_out_the_matching_tests() {
    let run = fixture(
        "skip",
        &["basic::", "--skip", "fails_with", "--skip", "panics"],
    );
    run.expect_code(0);
    run.expect_stdout("running 3 tests");
    for name in [
        "basic::passes",
        "basic::sync_with_ctx",
        "basic::sync_without_ctx",
    ] {
        assert_eq!(run.result_of(name), "ok");
    }
    assert!(!run.stdout.contains("fails_with_message"), "{}", run.both());
    assert!(
        !run.stdout.contains("panics_with_message"),
        "{}",
        run.both()
    );
}

#[test]
fn ignored_tests_run_only_when_asked_for() {
    let run = fixture("ignored-default", &["ignored::"]);
    run.expect_code(0);
    assert!(run.result_of("ignored::skipped").starts_with("ignored"));
    assert_eq!(run.result_of("ignored::not_ignored"), "ok");
    assert_eq!(run.file("ignored.log"), "", "an ignored test's body ran");

    let run = fixture("ignored-only", &["ignored::", "--ignored"]);
    run.expect_code(0);
    assert_eq!(run.result_of("ignored::skipped"), "ok");
    assert!(
        !run.stdout.contains("ignored::not_ignored"),
        "--ignored runs the ignored tests only\n{}",
        run.both()
    );
    assert_eq!(run.file("ignored.log"), "skipped ran\n");

    let run = fixture("ignored-included", &["ignored::", "--include-ignored"]);
    run.expect_code(0);
    assert_eq!(run.result_of("ignored::skipped"), "ok");
    assert_eq!(run.result_of("ignored::not_ignored"), "ok");
    run.expect_stdout("2 passed; 0 failed");
}

// ---- outcomes ------------------------------------------------------------------------------

#[test]
fn a_failing_test_exits_101_with_its_message_and_a_repro_command() {
    let run = fixture("fails", &["--exact", "basic::fails_with_message"]);
    run.expect_code(101);
    assert_eq!(run.result_of("basic::fails_with_message"), "FAILED");
    let section = failure_section(&run, "basic::fails_with_message");
    assert!(
        section.contains("the fixture fails on purpose: expected 1, found 2"),
        "{section}"
    );
    assert!(
        section.contains("re-run just this test: cargo test -p clnrm-e2e --test harness-fixture -- --exact basic::fails_with_message"),
        "{section}"
    );
    run.expect_stdout("0 passed; 1 failed");
}

#[test]
fn a_panic_fails_the_test_with_the_panic_message() {
    let run = fixture("panic", &["--exact", "basic::panics_with_message"]);
    run.expect_code(101);
    assert_eq!(run.result_of("basic::panics_with_message"), "FAILED");
    let section = failure_section(&run, "basic::panics_with_message");
    assert!(
        section.contains("panicked: the fixture panics on purpose: boom 42"),
        "{section}"
    );
}

#[test]
fn a_timeout_fails_the_test_and_the_run_goes_on() {
    let run = fixture("timeout", &json_args(&["timing::", "--test-threads", "1"]));
    run.expect_code(101);
    assert_eq!(run.result_of("timing::times_out"), "FAILED");
    assert_eq!(run.result_of("timing::z_runs_after_the_timeout"), "ok");
    let timed_out_at = run.result_line("timing::times_out").0;
    let next_at = run.result_line("timing::z_runs_after_the_timeout").0;
    assert!(timed_out_at < next_at, "{}", run.both());
    assert!(
        failure_section(&run, "timing::times_out").contains("timed out after 1.0 s"),
        "{}",
        run.both()
    );
    // The body sleeps 30 s; a generous bound, this is behaviour, not performance.
    assert!(
        run.elapsed < Duration::from_secs(20),
        "the run took {:?}: the timeout did not stop the test",
        run.elapsed
    );
    let test = run.json_test("timing::times_out");
    assert_eq!(test["outcome"], "timed_out");
    assert_eq!(test["attempts"], 1);
    assert_eq!(run.json()["summary"]["timed_out"], 1);
    assert_eq!(
        run.json_test("timing::z_runs_after_the_timeout")["outcome"],
        "passed"
    );
}

#[test]
fn a_test_passing_only_on_retry_is_reported_flaky() {
    let run = fixture(
        "flaky",
        &json_args(&["--exact", "retry::flaky_then_passes"]),
    );
    run.expect_code(0);
    assert_eq!(run.result_of("retry::flaky_then_passes"), "ok");
    run.expect_stdout("clnrm: FLAKY retry::flaky_then_passes: failed, then passed on attempt 2");
    assert_eq!(run.file("flaky_then_passes.attempts"), "2");
    let test = run.json_test("retry::flaky_then_passes");
    assert_eq!(test["outcome"], "flaky", "{test:#}");
    assert_eq!(test["attempts"], 2);
    assert_eq!(run.json()["summary"]["flaky"], 1);
}

#[test]
fn a_test_failing_every_attempt_fails_after_its_retries() {
    let run = fixture(
        "always-fails",
        &json_args(&["--exact", "retry::always_fails"]),
    );
    run.expect_code(101);
    assert!(!run.stdout.contains("FLAKY"), "{}", run.both());
    assert_eq!(
        run.file("always_fails.attempts"),
        "2",
        "retries = 1: two attempts"
    );
    assert!(
        failure_section(&run, "retry::always_fails").contains("attempt 2 fails on purpose"),
        "the last attempt's message is reported\n{}",
        run.both()
    );
    let test = run.json_test("retry::always_fails");
    assert_eq!(test["outcome"], "failed", "{test:#}");
    assert_eq!(test["attempts"], 2);
}

#[test]
fn a_service_that_cannot_start_is_an_infrastructure_error() {
    let run = fixture("infra", &json_args(&["--exact", "infra::unknown_plugin"]));
    run.expect_code(101);
    let section = failure_section(&run, "infra::unknown_plugin");
    assert!(section.contains("infrastructure error"), "{section}");
    assert!(section.contains("nosuchplugin"), "{section}");
    assert!(
        !run.both().contains("the body must not run"),
        "{}",
        run.both()
    );
    let test = run.json_test("infra::unknown_plugin");
    assert_eq!(test["outcome"], "infra_error", "{test:#}");
    assert_eq!(run.json()["summary"]["infra_error"], 1);
    assert_eq!(run.json()["summary"]["failed"], 0);
}

#[test]
fn a_failing_service_test_shows_log_tails_a_masked_url_a_repro_and_junit() {
    let run = fixture(
        "diagnostics",
        &json_args(&["--exact", "diagnostics::pg_fails"]),
    );
    run.expect_code(101);
    let section = failure_section(&run, "diagnostics::pg_fails");
    assert!(
        section.contains("the fixture's query gave 42, failing on purpose"),
        "{section}"
    );
    assert!(
        section.contains("service `db` (postgres, image "),
        "{section}"
    );
    let logs_at = section
        .find("last log lines:")
        .unwrap_or_else(|| panic!("no log tail\n{section}"));
    assert!(
        section[logs_at..]
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("  | ")),
        "the log tail is empty\n{section}"
    );
    assert!(
        section.contains(
            "re-run just this test: cargo test -p clnrm-e2e --test harness-fixture -- --exact diagnostics::pg_fails"
        ),
        "{section}"
    );
    // The URL the test saw carries the generated password; the report masks it.
    let url = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("FIXTURE-URL "))
        .expect("the fixture printed its URL");
    let password = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, password)| password)
        .expect("the URL has a password");
    assert!(password.len() >= 8, "{url}");
    assert!(section.contains(":***@"), "{section}");
    assert!(
        !section.contains(password),
        "the password leaked\n{section}"
    );

    let test = run.json_test("diagnostics::pg_fails");
    assert_eq!(test["outcome"], "failed");
    assert!(
        test["message"]
            .as_str()
            .unwrap()
            .contains("last log lines:")
    );
    let junit = run.file("junit.xml");
    assert!(junit.contains("<testsuite"), "{junit}");
    assert!(junit.contains("pg_fails"), "{junit}");
    assert!(junit.contains("<failure"), "{junit}");
    assert!(junit.contains("failing on purpose"), "{junit}");
}

// ---- exclusive groups, isolation, scopes -----------------------------------------------------

#[test]
fn exclusive_group_members_never_overlap() {
    let run = fixture("groups", &["groups::", "--test-threads", "4"]);
    run.expect_code(0);
    let intervals = run.intervals("groups.log");
    assert_eq!(intervals.len(), 3, "{intervals:?}");
    for pair in intervals.windows(2) {
        assert!(
            pair[0].2 <= pair[1].1,
            "{} and {} of one exclusive group overlapped: {intervals:?}",
            pair[0].0,
            pair[1].0
        );
    }
}

/// Runs a pair of isolation tests on two threads: both pass, and the intervals in which each held
/// its data while checking it overlap, so the pair really ran at the same time.
fn concurrent_pair(tag: &str, filter: &str, log: &str) -> Run {
    let run = fixture(tag, &[filter, "--test-threads", "2"]);
    run.expect_code(0);
    run.expect_stdout("2 passed; 0 failed");
    let intervals = run.intervals(log);
    assert_eq!(intervals.len(), 2, "{intervals:?}");
    let (first, second) = (&intervals[0], &intervals[1]);
    assert!(
        second.1 < first.2,
        "{} and {} did not overlap, so they proved no isolation: {intervals:?}",
        first.0,
        second.0
    );
    assert!(
        containers_created_by(&run) >= 1,
        "the pair's service container was not seen in Docker's events"
    );
    run
}

#[test]
fn concurrent_postgres_tests_see_only_their_own_rows() {
    concurrent_pair("pg", "isolation::pg::", "pg.log");
}

#[test]
fn concurrent_postgres_schema_tests_see_only_their_own_rows() {
    concurrent_pair("schema", "isolation::schema::", "schema.log");
}

#[test]
fn concurrent_redis_tests_see_only_their_own_keys() {
    concurrent_pair("redis", "isolation::redis::", "redis.log");
}

#[test]
fn scope_test_gives_every_test_a_fresh_container() {
    let run = fixture("scope", &["scope_test::", "--test-threads", "2"]);
    run.expect_code(0);
    run.expect_stdout("2 passed; 0 failed");
    let ids: Vec<String> = run
        .file("scope.log")
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert_ne!(
        ids[0], ids[1],
        "two scope = \"test\" tests shared a container"
    );
    assert!(containers_created_by(&run) >= 2);
}

#[test]
fn a_harness_binary_run_directly_from_elsewhere_finds_its_migrations() {
    const MIGRATIONS_FIXTURE: &str = env!("CARGO_BIN_EXE_migrations-fixture");
    let elsewhere = std::env::temp_dir();
    let history = crate::support::scratch("harness", "direct").join("history.db");
    let out = crate::support::own_run(MIGRATIONS_FIXTURE)
        .current_dir(&elsewhere)
        .env_remove("CARGO_MANIFEST_DIR")
        .env("CLNRM_HISTORY", &history)
        // The images of this repository's clnrm.toml (found from the current directory up).
        .env(
            "CLNRM_CONFIG",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../clnrm.toml"),
        )
        .output()
        .expect("the fixture runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(said.contains("test migrated ... ok"), "{said}");
}

#[test]
fn the_json_report_gives_each_tests_wait_per_service() {
    let run = fixture(
        "waits",
        &json_args(&["isolation::pg::", "--test-threads", "2"]),
    );
    run.expect_code(0);
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.dir.join("report.json")).expect("the JSON report"),
    )
    .expect("JSON");
    let tests = report["tests"].as_array().expect("tests");
    assert_eq!(tests.len(), 2, "{report:#}");
    for test in tests {
        let waits = test["service_waits"].as_array().expect("service_waits");
        assert_eq!(waits.len(), 1, "one service, db: {test:#}");
        let wait = &waits[0];
        assert_eq!(wait["service"], "db", "{test:#}");
        let start = wait["start_secs"].as_f64().expect("start_secs");
        let isolation = wait["isolation_secs"].as_f64().expect("isolation_secs");
        let total = test["setup_wait_secs"].as_f64().expect("setup_wait_secs");
        assert!(
            start >= 0.0 && isolation > 0.0,
            "a clone is never free: {test:#}"
        );
        assert!(
            start + isolation <= total + 1e-3,
            "the parts of the wait fit in it: {test:#}"
        );
    }
}

#[test]
fn fifty_tests_on_eight_threads_see_only_their_own_rows_and_keys() {
    let run = fixture("load", &json_args(&["load::", "--test-threads", "8"]));
    run.expect_code(0);
    run.expect_stdout("50 passed; 0 failed");
    // name database redis_db pg_container redis_container start end
    let records: Vec<Vec<String>> = run
        .file("load.log")
        .lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect();
    assert_eq!(records.len(), 50, "one record per test: {records:?}");
    assert!(records.iter().all(|r| r.len() == 7), "{records:?}");
    let distinct = |field: usize| {
        records
            .iter()
            .map(|r| r[field].as_str())
            .collect::<HashSet<_>>()
            .len()
    };
    assert_eq!(distinct(1), 50, "every test has a database of its own");
    assert_eq!(distinct(3), 1, "one Postgres container serves them all");
    assert_eq!(distinct(4), 1, "one Redis container serves them all");
    // Tests holding their data at the same time used different logical databases, and at some
    // moment several held theirs at once (else nothing was proven under load).
    let interval =
        |r: &Vec<String>| -> (u128, u128) { (r[5].parse().unwrap(), r[6].parse().unwrap()) };
    let mut most_at_once = 0;
    for a in &records {
        let (start, _) = interval(a);
        let holding: Vec<&Vec<String>> = records
            .iter()
            .filter(|b| {
                let (s, e) = interval(b);
                s <= start && start <= e
            })
            .collect();
        most_at_once = most_at_once.max(holding.len());
        let dbs: HashSet<&str> = holding.iter().map(|b| b[2].as_str()).collect();
        assert_eq!(
            dbs.len(),
            holding.len(),
            "tests holding data at once shared a logical database: {holding:?}"
        );
    }
    assert!(
        most_at_once >= 2,
        "no two of the 50 tests ever held their data at once: nothing was proven under load"
    );
    println!("at most {most_at_once} tests held their data at once");
}
