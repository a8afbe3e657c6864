//! Tests of the history store against real SQLite files in scratch directories.

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};
use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::report::scratch::ScratchDir;
use crate::report::{Outcome, RunRecord, TestRecord};

fn run(run_id: &str, target: &str, tests: &[(&str, Outcome, u64)]) -> RunRecord {
    RunRecord {
        run_id: run_id.into(),
        target: target.into(),
        started_at: UNIX_EPOCH + Duration::from_secs(1_714_564_800),
        duration: Duration::from_secs(3),
        tests: tests
            .iter()
            .map(|&(name, outcome, millis)| TestRecord {
                name: name.into(),
                outcome,
                duration: Duration::from_millis(millis),
                attempts: if outcome == Outcome::Flaky { 2 } else { 1 },
                message: None,
                started_at: UNIX_EPOCH + Duration::from_millis(1_714_564_800_500),
                file: Some("tests/a.rs".into()),
                line: Some(7),
                faults: Vec::new(),
            })
            .collect(),
    }
}

#[test]
fn opening_creates_parent_directories_and_the_current_schema() {
    let dir = ScratchDir::new();
    let path = dir.path().join("target/clnrm/history.db");
    let store = HistoryStore::open(&path).unwrap();
    assert!(path.is_file());
    assert_eq!(store.last_run_seq().unwrap(), None);
    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
}

#[test]
fn appended_runs_come_back_oldest_first_with_every_field() {
    let dir = ScratchDir::new();
    let store = HistoryStore::open(&dir.path().join("h.db")).unwrap();
    store
        .append(&run(
            "r1",
            "api",
            &[
                ("a::x", Outcome::Passed, 100),
                ("a::y", Outcome::Failed, 200),
            ],
        ))
        .unwrap();
    store
        .append(&run("r2", "api", &[("a::x", Outcome::Flaky, 300)]))
        .unwrap();

    let rows = store.records(None, 10).unwrap();
    let summary: Vec<_> = rows
        .iter()
        .map(|r| (r.run_id.as_str(), r.test.as_str(), r.outcome))
        .collect();
    assert_eq!(
        summary,
        [
            ("r1", "a::x", Outcome::Passed),
            ("r1", "a::y", Outcome::Failed),
            ("r2", "a::x", Outcome::Flaky)
        ]
    );
    assert_eq!(
        rows[2],
        HistoryRow {
            run_seq: rows[2].run_seq,
            run_id: "r2".into(),
            target: "api".into(),
            test: "a::x".into(),
            outcome: Outcome::Flaky,
            duration_secs: 0.3,
            attempts: 2,
            started_at_ms: 1_714_564_800_500,
        }
    );
    assert!(rows[0].run_seq < rows[2].run_seq);
    assert_eq!(store.last_run_seq().unwrap(), Some(rows[2].run_seq));
}

#[test]
fn records_keeps_only_the_newest_runs_of_the_asked_target() {
    let dir = ScratchDir::new();
    let store = HistoryStore::open(&dir.path().join("h.db")).unwrap();
    for i in 0..5 {
        store
            .append(&run(
                &format!("api-{i}"),
                "api",
                &[("t", Outcome::Passed, 1)],
            ))
            .unwrap();
        store
            .append(&run(
                &format!("web-{i}"),
                "web",
                &[("t", Outcome::Passed, 1)],
            ))
            .unwrap();
    }
    let ids = |rows: Vec<HistoryRow>| rows.into_iter().map(|r| r.run_id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.records(Some("api"), 2).unwrap()),
        ["api-3", "api-4"]
    );
    assert_eq!(
        ids(store.records(None, 3).unwrap()),
        ["web-3", "api-4", "web-4"]
    );
    assert!(store.records(Some("nope"), 10).unwrap().is_empty());
    assert!(store.records(None, 0).unwrap().is_empty());
}

#[test]
fn statistics_count_failures_flakes_and_the_median_of_executed_runs() {
    let dir = ScratchDir::new();
    let store = HistoryStore::open(&dir.path().join("h.db")).unwrap();
    store
        .append(&run(
            "1",
            "api",
            &[("x", Outcome::Passed, 100), ("y", Outcome::Ignored, 0)],
        ))
        .unwrap();
    store
        .append(&run(
            "2",
            "api",
            &[("x", Outcome::Failed, 500), ("y", Outcome::Ignored, 0)],
        ))
        .unwrap();
    store
        .append(&run("3", "api", &[("x", Outcome::TimedOut, 1000)]))
        .unwrap();
    store
        .append(&run("4", "api", &[("x", Outcome::Flaky, 250)]))
        .unwrap();
    store
        .append(&run("5", "api", &[("x", Outcome::InfraError, 5000)]))
        .unwrap();
    store
        .append(&run("6", "web", &[("x", Outcome::Passed, 1)]))
        .unwrap();

    let stats = store.last_outcomes(Some("api")).unwrap();
    assert_eq!(
        stats["x"],
        TestStats {
            runs: 4,
            failures: 2,
            flaky: 1,
            last_outcome: Outcome::InfraError,
            median_duration_secs: 0.375,
        }
    );
    assert_eq!(
        stats["y"],
        TestStats {
            runs: 0,
            failures: 0,
            flaky: 0,
            last_outcome: Outcome::Ignored,
            median_duration_secs: 0.0,
        }
    );
    let all = store.last_outcomes(None).unwrap();
    assert_eq!(all["x"].runs, 5);
    assert_eq!(all["x"].last_outcome, Outcome::Passed);
}

#[test]
fn concurrent_writers_with_their_own_connections_lose_no_row() {
    const THREADS: usize = 8;
    const RUNS: usize = 15;
    const TESTS: usize = 5;
    let dir = ScratchDir::new();
    let path = dir.path().join("shared/history.db");
    // Every thread also opens the fresh file at the same moment: creation and migration race too.
    let start = Arc::new(Barrier::new(THREADS));
    let writers: Vec<_> = (0..THREADS)
        .map(|w| {
            let (path, start) = (path.clone(), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                let store = HistoryStore::open(&path).unwrap();
                for r in 0..RUNS {
                    let names: Vec<String> = (0..TESTS).map(|t| format!("w{w}::t{t}")).collect();
                    let tests: Vec<_> = names
                        .iter()
                        .map(|n| (n.as_str(), Outcome::Passed, 5))
                        .collect();
                    store
                        .append(&run(&format!("w{w}-r{r}"), &format!("bin{w}"), &tests))
                        .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }

    let rows = HistoryStore::open(&path)
        .unwrap()
        .records(None, usize::MAX)
        .unwrap();
    assert_eq!(rows.len(), THREADS * RUNS * TESTS);
    let runs: BTreeSet<_> = rows.iter().map(|r| (r.run_seq, r.run_id.clone())).collect();
    assert_eq!(runs.len(), THREADS * RUNS);
    let seqs: BTreeSet<_> = runs.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(
        seqs.len(),
        THREADS * RUNS,
        "every run has its own sequence number"
    );
    assert!(rows.windows(2).all(|w| w[0].run_seq <= w[1].run_seq));
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_with_its_path() {
    let dir = ScratchDir::new();
    let path = dir.path().join("history.db");
    std::fs::write(&path, "this is not a database\n".repeat(100)).unwrap();
    let err = HistoryStore::open(&path).unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(
            err,
            crate::Error::History(HistoryError::NotADatabase { .. })
        ),
        "{err:?}"
    );
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(
        message.contains("is not a clnrm history database"),
        "{message}"
    );
    // The file is left alone for the user to inspect.
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .starts_with("this is not")
    );
}

#[test]
fn a_schema_from_a_newer_clnrm_is_refused_with_both_versions() {
    let dir = ScratchDir::new();
    let path = dir.path().join("history.db");
    drop(HistoryStore::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 41)
        .unwrap();
    let err = HistoryStore::open(&path).unwrap_err();
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(
        message.contains(&format!(
            "schema version {}, newer than version {SCHEMA_VERSION}",
            SCHEMA_VERSION + 41
        )),
        "{message}"
    );
}

#[test]
fn an_unknown_stored_outcome_is_an_error_not_a_panic() {
    let dir = ScratchDir::new();
    let path = dir.path().join("history.db");
    let store = HistoryStore::open(&path).unwrap();
    store
        .append(&run("1", "api", &[("x", Outcome::Passed, 1)]))
        .unwrap();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute("UPDATE tests SET outcome = 'exploded'", [])
        .unwrap();
    let message = store.records(None, 1).unwrap_err().to_string();
    assert!(
        message.contains("unknown outcome `exploded` for test `x`"),
        "{message}"
    );
}

#[test]
fn targets_and_failure_messages_are_read_back_newest_first() {
    let dir = ScratchDir::new();
    let store = HistoryStore::open(&dir.path().join("h.db")).unwrap();
    let with_message = |mut record: RunRecord, message: &str| {
        for test in &mut record.tests {
            if test.outcome.is_failure() {
                test.message = Some(message.to_owned());
            }
        }
        record
    };
    store
        .append(&with_message(
            run("r1", "pkg::api", &[("a::x", Outcome::Failed, 10)]),
            "old failure",
        ))
        .unwrap();
    store
        .append(&with_message(
            run(
                "r2",
                "pkg::api",
                &[
                    ("a::x", Outcome::TimedOut, 10),
                    ("a::y", Outcome::Passed, 5),
                ],
            ),
            "new failure",
        ))
        .unwrap();
    store
        .append(&with_message(
            run("r3", "clnrm-suites", &[("s::one", Outcome::Failed, 10)]),
            "suite failure",
        ))
        .unwrap();

    assert_eq!(store.targets().unwrap(), ["clnrm-suites", "pkg::api"]);
    let messages = store.failure_messages(Some("pkg::api"), 10).unwrap();
    assert_eq!(messages.len(), 1, "passing tests have no failure messages");
    assert_eq!(messages["a::x"], ["new failure", "old failure"]);
    let newest = store.failure_messages(Some("pkg::api"), 1).unwrap();
    assert_eq!(newest["a::x"], ["new failure"]);

    let row = &store.records(Some("pkg::api"), 1).unwrap()[0];
    let record = row.to_plan_record();
    assert_eq!(record.test, "a::x");
    assert_eq!(record.outcome, crate::plan::TestOutcome::Failed);
}
