//! `--partition K/N` and `--order planned|file` of the harness, judged from outside on the
//! fixture test binary (`src/bin/harness-fixture.rs`). Most runs list (`--list` applies the
//! shard), so no container starts; the runs that execute select tests that need no service.
//! Every run gets its own history, seeded here through the history store when a test needs one.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use clnrm::history::HistoryStore;
use clnrm::report::{Outcome, RunRecord, TestRecord};

const FIXTURE: &str = env!("CARGO_BIN_EXE_harness-fixture");

/// The history target the fixture records itself under (`package::binary`), given the
/// `CARGO_PKG_NAME` set by [`fixture`].
const TARGET: &str = "clnrm-e2e::harness-fixture";

struct Run {
    stdout: String,
    stderr: String,
    code: Option<i32>,
}

impl Run {
    fn both(&self) -> String {
        format!(
            "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    /// The names `--list` printed.
    fn listed(&self) -> Vec<String> {
        self.stdout
            .lines()
            .filter_map(|l| l.strip_suffix(": test"))
            .map(str::to_owned)
            .collect()
    }

    /// Test names in the order libtest reported their results.
    fn results(&self) -> Vec<(String, String)> {
        self.stdout
            .lines()
            .filter_map(|l| {
                let (name, result) = l.strip_prefix("test ")?.split_once(" ... ")?;
                Some((name.trim_end().to_owned(), result.trim().to_owned()))
            })
            .collect()
    }
}

/// A fresh scratch directory for one run.
fn scratch(tag: &str) -> PathBuf {
    super::support::scratch("partition", tag)
}

/// Runs the fixture in `dir` (its history is `dir/history.db`) with `args` and `envs`.
fn fixture(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Run {
    let mut cmd = crate::support::own_run(FIXTURE);
    cmd.args(args)
        .env("FIXTURE_DIR", dir)
        .env("CLNRM_HISTORY", dir.join("history.db"))
        .env("CARGO_PKG_NAME", "clnrm-e2e")
        .env_remove("CLNRM_JSON")
        .env_remove("CLNRM_JUNIT")
        .env_remove("CLNRM_PARTITION")
        .env_remove("CLNRM_ORDER")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the fixture runs");
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code(),
    }
}

/// Appends one run of the fixture's target to `dir`'s history: `(test, outcome, seconds)`.
fn seed_history(dir: &Path, tests: &[(&str, Outcome, f64)]) {
    let store = HistoryStore::open(&dir.join("history.db")).expect("history opens");
    let now = SystemTime::now();
    store
        .append(&RunRecord {
            run_id: format!("seed-{}", store.last_run_seq().unwrap().unwrap_or(0)),
            target: TARGET.to_owned(),
            started_at: now,
            duration: Duration::from_secs(1),
            tests: tests
                .iter()
                .map(|&(name, outcome, secs)| TestRecord {
                    name: name.to_owned(),
                    outcome,
                    duration: Duration::from_secs_f64(secs),
                    attempts: 1,
                    message: outcome.is_failure().then(|| "seeded failure".to_owned()),
                    started_at: now,
                    file: None,
                    line: None,
                    faults: Vec::new(),
                })
                .collect(),
        })
        .expect("history append");
}

fn all_tests(dir: &Path) -> Vec<String> {
    let run = fixture(dir, &["--list"], &[]);
    assert_eq!(run.code, Some(0), "{}", run.both());
    run.listed()
}

#[test]
fn two_shards_list_every_test_exactly_once_and_balanced_by_count_without_history() {
    let dir = scratch("cover");
    let all = all_tests(&dir);
    assert!(all.len() > 20, "the fixture has its tests: {all:?}");
    let first = fixture(&dir, &["--list", "--partition", "1/2"], &[]);
    let second = fixture(&dir, &["--list", "--partition=2/2"], &[]);
    assert_eq!(first.code, Some(0), "{}", first.both());
    assert_eq!(second.code, Some(0), "{}", second.both());
    let (a, b) = (first.listed(), second.listed());
    assert!(
        a.iter().all(|t| !b.contains(t)),
        "no test in both shards: {a:?} / {b:?}"
    );
    let mut union: Vec<String> = a.iter().chain(&b).cloned().collect();
    union.sort();
    assert_eq!(union, all, "the shards together are every test");
    assert!(
        a.len().abs_diff(b.len()) <= 1,
        "without history shards differ by at most one test: {} vs {}",
        a.len(),
        b.len()
    );

    // The environment variable chooses the same shard, and the same history gives the same one.
    let by_env = fixture(&dir, &["--list"], &[("CLNRM_PARTITION", "2/2")]);
    assert_eq!(by_env.listed(), b, "{}", by_env.both());
}

#[test]
fn shards_are_balanced_by_the_time_the_history_predicts() {
    let dir = scratch("by-time");
    let all = all_tests(&dir);
    let seeded: Vec<(&str, Outcome, f64)> = all
        .iter()
        .map(|t| {
            let secs = if t == "basic::sync_with_ctx" {
                600.0
            } else {
                1.0
            };
            (t.as_str(), Outcome::Passed, secs)
        })
        .collect();
    seed_history(&dir, &seeded);
    // The 600 s test outweighs all others together: it is alone in its shard.
    let first = fixture(&dir, &["--list", "--partition", "1/2"], &[]);
    assert_eq!(first.listed(), ["basic::sync_with_ctx"], "{}", first.both());
    let second = fixture(&dir, &["--list", "--partition", "2/2"], &[]);
    assert_eq!(second.listed().len(), all.len() - 1, "{}", second.both());
}

#[test]
fn tests_of_other_shards_are_counted_as_filtered_out_not_failed() {
    let dir = scratch("filtered");
    let all = all_tests(&dir);
    let mut ran = Vec::new();
    for k in ["1/2", "2/2"] {
        let run = fixture(&dir, &["--partition", k, "sync_"], &[]);
        assert_eq!(run.code, Some(0), "{}", run.both());
        let results = run.results();
        assert!(results.iter().all(|(_, r)| r == "ok"), "{}", run.both());
        let filtered = all.len() - results.len();
        assert!(
            run.stdout.contains(&format!(
                "{} passed; 0 failed; 0 ignored; 0 measured; {filtered} filtered out",
                results.len()
            )),
            "libtest's summary counts the other tests as filtered out\n{}",
            run.both()
        );
        ran.extend(results.into_iter().map(|(name, _)| name));
    }
    ran.sort();
    assert_eq!(ran, ["basic::sync_with_ctx", "basic::sync_without_ctx"]);
}

#[test]
fn exact_naming_a_test_of_another_shard_runs_nothing_and_of_this_shard_runs_it() {
    let dir = scratch("exact");
    let all = all_tests(&dir);
    let second = fixture(&dir, &["--list", "--partition", "2/2"], &[]).listed();
    let test = "basic::sync_with_ctx";
    let (own, other) = if second.iter().any(|t| t == test) {
        ("2/2", "1/2")
    } else {
        ("1/2", "2/2")
    };
    let run = fixture(&dir, &["--partition", other, "--exact", test], &[]);
    assert_eq!(run.code, Some(0), "{}", run.both());
    assert!(run.results().is_empty(), "{}", run.both());
    assert!(
        run.stdout.contains(&format!(
            "0 passed; 0 failed; 0 ignored; 0 measured; {} filtered out",
            all.len()
        )),
        "{}",
        run.both()
    );
    let run = fixture(&dir, &["--partition", own, "--exact", test], &[]);
    assert_eq!(
        run.results(),
        [(test.to_owned(), "ok".to_owned())],
        "{}",
        run.both()
    );
}

#[test]
fn planned_order_runs_the_recent_failure_first_and_file_order_does_not() {
    let dir = scratch("order");
    seed_history(
        &dir,
        &[
            ("basic::sync_with_ctx", Outcome::Passed, 0.01),
            ("basic::sync_without_ctx", Outcome::Failed, 0.01),
        ],
    );
    let order = |args: &[&str], envs: &[(&str, &str)]| -> Vec<String> {
        let mut all = vec!["--test-threads", "1", "sync_"];
        all.extend(args);
        let run = fixture(&dir, &all, envs);
        assert_eq!(run.code, Some(0), "{}", run.both());
        run.results().into_iter().map(|(name, _)| name).collect()
    };
    let failed_first = ["basic::sync_without_ctx", "basic::sync_with_ctx"];
    let by_name = ["basic::sync_with_ctx", "basic::sync_without_ctx"];
    assert_eq!(order(&[], &[]), failed_first, "planned is the default");
    assert_eq!(order(&["--order", "planned"], &[]), failed_first);
    assert_eq!(order(&["--order", "file"], &[]), by_name);
    assert_eq!(order(&[], &[("CLNRM_ORDER", "file")]), by_name);
}

#[test]
fn a_bad_partition_or_order_is_a_usage_error_with_exit_code_2() {
    let dir = scratch("bad");
    for (args, envs, expected) in [
        (
            &["--partition", "3/2"][..],
            &[][..],
            "error: invalid partition `3/2`: K must be between 1 and 2 (K is 1-based)",
        ),
        (
            &["--partition", "x"][..],
            &[][..],
            "error: invalid partition `x`: expected `K/N`, e.g. `2/4`",
        ),
        (
            &[][..],
            &[("CLNRM_PARTITION", "0/4")][..],
            "error: invalid partition `0/4`: K must be between 1 and 4 (K is 1-based)",
        ),
        (
            &["--order", "random"][..],
            &[][..],
            "error: invalid order `random`: expected `planned` (likely failures first) or `file`",
        ),
    ] {
        let run = fixture(&dir, args, envs);
        assert_eq!(run.code, Some(2), "{args:?} {envs:?}\n{}", run.both());
        assert!(run.stderr.contains(expected), "{}", run.both());
        assert!(!run.stderr.contains("panicked"), "{}", run.both());
        assert!(run.results().is_empty(), "nothing runs\n{}", run.both());
    }
}

// ---- `clnrm run --partition K/N --order planned|file` ----------------------------------------

const CLNRM: &str = env!("CARGO_BIN_EXE_clnrm-under-test");

/// Writes suites named `names`, one passing scenario `s` each (a command in a fresh container).
fn write_suites(dir: &Path, names: &[&str]) {
    for name in names {
        std::fs::write(
            dir.join(format!("{name}.clnrm.toml")),
            format!(
                "version = 1\n[suite]\nname = \"{name}\"\n[[scenarios]]\nname = \"s\"\n\
                 [[scenarios.steps]]\nname = \"true\"\nrun = [\"true\"]\nimage = \"debian:bookworm\"\n"
            ),
        )
        .expect("write suite");
    }
}

/// Runs `clnrm run DIR --jobs 1 ARGS` with the history in `dir`.
fn clnrm_run(dir: &Path, args: &[&str]) -> Run {
    let history = dir.join("history.db");
    let mut all = vec!["run", dir.to_str().expect("utf-8"), "--jobs", "1"];
    all.extend(args);
    let out = crate::support::run_bin(
        CLNRM,
        &all,
        &[("CLNRM_HISTORY", history.to_str().expect("utf-8"))],
    );
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code(),
    }
}

/// Suites in the order `clnrm run` reported them passing.
fn passed_suites(run: &Run) -> Vec<String> {
    run.stdout
        .lines()
        .filter_map(|l| {
            l.strip_prefix("PASS ")?
                .split_once("/s (")
                .map(|(s, _)| s.to_owned())
        })
        .collect()
}

#[test]
fn run_shards_split_the_suites_and_together_run_each_once() {
    let dir = scratch("cli-shards");
    let names = ["alpha", "beta", "gamma", "delta"];
    write_suites(&dir, &names);
    let mut ran = Vec::new();
    for k in ["1/2", "2/2"] {
        let run = clnrm_run(&dir, &["--partition", k]);
        assert_eq!(run.code, Some(0), "{}", run.both());
        assert!(
            run.stdout.contains(&format!("shard {k}: 2 of 4 suite(s)")),
            "{}",
            run.both()
        );
        let passed = passed_suites(&run);
        assert_eq!(passed.len(), 2, "{}", run.both());
        ran.extend(passed);
    }
    ran.sort();
    let mut all: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
    all.sort();
    assert_eq!(ran, all, "every suite ran in exactly one shard");

    let bad = clnrm_run(&dir, &["--partition", "3/2"]);
    assert_eq!(bad.code, Some(2), "{}", bad.both());
    assert!(
        bad.stderr.contains("invalid partition `3/2`"),
        "{}",
        bad.both()
    );
}

#[test]
fn run_orders_suites_by_their_scenarios_history_unless_file_order_is_asked() {
    let dir = scratch("cli-order");
    write_suites(&dir, &["a-first", "b-second"]);
    let store = HistoryStore::open(&dir.join("history.db")).expect("history opens");
    let now = SystemTime::now();
    let scenario = |name: &str, outcome| TestRecord {
        name: name.to_owned(),
        outcome,
        duration: Duration::from_millis(500),
        attempts: 1,
        message: None,
        started_at: now,
        file: None,
        line: None,
        faults: Vec::new(),
    };
    store
        .append(&RunRecord {
            run_id: "seed".to_owned(),
            target: clnrm::history::SUITES_TARGET.to_owned(),
            started_at: now,
            duration: Duration::from_secs(1),
            tests: vec![
                scenario("a-first::s", Outcome::Passed),
                scenario("b-second::s", Outcome::Failed),
            ],
        })
        .expect("seed");
    drop(store);
    let planned = clnrm_run(&dir, &[]);
    assert_eq!(planned.code, Some(0), "{}", planned.both());
    assert_eq!(
        passed_suites(&planned),
        ["b-second", "a-first"],
        "{}",
        planned.both()
    );
    let file = clnrm_run(&dir, &["--order", "file"]);
    assert_eq!(
        passed_suites(&file),
        ["a-first", "b-second"],
        "{}",
        file.both()
    );
}

#[test]
fn run_puts_a_suite_whose_file_changed_since_its_last_green_run_first() {
    let dir = scratch("cli-changed");
    write_suites(&dir, &["a-same", "b-edited"]);
    let git = super::ai_cli::git_at;
    git(&dir, 0, &["init", "-q"]);
    git(&dir, -3600, &["add", "-A"]);
    git(&dir, -3600, &["commit", "-q", "-m", "suites"]);
    let store = HistoryStore::open(&dir.join("history.db")).expect("history opens");
    let now = SystemTime::now();
    let scenario = |name: &str| TestRecord {
        name: name.to_owned(),
        outcome: Outcome::Passed,
        duration: Duration::from_millis(500),
        attempts: 1,
        message: None,
        started_at: now,
        file: None,
        line: None,
        faults: Vec::new(),
    };
    store
        .append(&RunRecord {
            run_id: "green".to_owned(),
            target: clnrm::history::SUITES_TARGET.to_owned(),
            started_at: now,
            duration: Duration::from_secs(1),
            tests: vec![scenario("a-same::s"), scenario("b-edited::s")],
        })
        .expect("seed");
    drop(store);
    let edited = dir.join("b-edited.clnrm.toml");
    let text = std::fs::read_to_string(&edited).expect("suite");
    std::fs::write(&edited, format!("{text}# edited after its green run\n")).expect("edit");

    let planned = clnrm_run(&dir, &[]);
    assert_eq!(planned.code, Some(0), "{}", planned.both());
    assert_eq!(
        passed_suites(&planned),
        ["b-edited", "a-same"],
        "{}",
        planned.both()
    );
}
