//! What the harness reads before the run (history, for the order) and writes after it (history,
//! JSON and JUnit on request).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::runner::TestRun;
use crate::__macro_support::TestDef;
use crate::history::{HistoryStore, default_history_path};
use crate::plan::{PlannerConfig, TestCandidate, TestHistoryRecord, TestOutcome};
use crate::report::{Outcome, RunRecord, TestRecord};

/// Where to write reports, from `--json PATH` / `--junit PATH` (taken out of the arguments
/// before libtest-mimic sees them) or `CLNRM_JSON` / `CLNRM_JUNIT`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Outputs {
    pub(crate) json: Option<PathBuf>,
    pub(crate) junit: Option<PathBuf>,
}

/// Splits clnrm's own flags from libtest's.
pub(crate) fn split_args(args: Vec<String>) -> (Vec<String>, Outputs) {
    let mut outputs = Outputs {
        json: std::env::var_os("CLNRM_JSON")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from),
        junit: std::env::var_os("CLNRM_JUNIT")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from),
    };
    let mut rest = Vec::new();
    let mut iter = args.into_iter();
    while let Some(arg) = iter.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f.to_owned(), Some(v.to_owned())),
            None => (arg.clone(), None),
        };
        let slot = match flag.as_str() {
            "--json" => &mut outputs.json,
            "--junit" => &mut outputs.junit,
            _ => {
                rest.push(arg);
                continue;
            }
        };
        match inline.or_else(|| iter.next()) {
            Some(path) => *slot = Some(PathBuf::from(path)),
            None => rest.push(arg),
        }
    }
    (rest, outputs)
}

/// `package::binary` of this test binary, like nextest's binary id.
pub(crate) fn target_name() -> String {
    if let Ok(id) = std::env::var("NEXTEST_BINARY_ID") {
        return id;
    }
    let package = std::env::var("CARGO_PKG_NAME").unwrap_or_else(|_| "<package>".to_owned());
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|stem| match stem.rsplit_once('-') {
            Some((name, hash))
                if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) =>
            {
                name.to_owned()
            }
            _ => stem,
        })
        .unwrap_or_else(|| "<target>".to_owned());
    format!("{package}::{binary}")
}

/// The history store, or `None` with a warning: history never stops a test run.
pub(crate) fn open_history(manifest_dir: &Path) -> Option<HistoryStore> {
    let path = default_history_path(manifest_dir, |k| std::env::var(k).ok());
    match HistoryStore::open(&path) {
        Ok(store) => Some(store),
        Err(e) => {
            eprintln!("clnrm: warning: no history this run: {e:?}");
            None
        }
    }
}

/// Orders `defs` by the planner's estimate from `target`'s history.
pub(crate) fn order_by_history(
    defs: &mut Vec<&'static TestDef>,
    history: Option<&HistoryStore>,
    target: &str,
) {
    let Some(history) = history else { return };
    let rows = match history.records(Some(target), 50) {
        Ok(rows) if !rows.is_empty() => rows,
        _ => return,
    };
    let records: Vec<TestHistoryRecord> = rows
        .iter()
        .map(|row| TestHistoryRecord {
            test: row.test.clone(),
            run_id: row.run_seq.max(0) as u64,
            timestamp_ms: Some(row.started_at_ms),
            duration_secs: row.duration_secs,
            outcome: match row.outcome {
                Outcome::Passed => TestOutcome::Passed,
                Outcome::Flaky => TestOutcome::Flaky,
                Outcome::Failed | Outcome::TimedOut => TestOutcome::Failed,
                Outcome::Ignored | Outcome::InfraError => TestOutcome::Skipped,
            },
            retries: row.attempts.saturating_sub(1),
        })
        .collect();
    let candidates: Vec<TestCandidate> = defs
        .iter()
        .map(|d| TestCandidate::new(super::spec::test_name(d.module_path, d.fn_name)))
        .collect();
    let Ok(estimates) = crate::plan::estimate(
        &candidates,
        &records,
        &Default::default(),
        &PlannerConfig::default(),
    ) else {
        return;
    };
    let order = crate::plan::prioritise(&estimates);
    let sorted: Vec<&'static TestDef> = order.into_iter().map(|i| defs[i]).collect();
    *defs = sorted;
}

/// The run as a whole.
pub(crate) struct Finished {
    pub(crate) target: String,
    pub(crate) started_at: SystemTime,
    pub(crate) duration: Duration,
    pub(crate) test_threads: usize,
    pub(crate) service_starts: Vec<(String, Duration)>,
}

/// Appends the run to the history and writes the requested reports. Problems are warnings:
/// the test results stand.
pub(crate) fn finish(
    run: &Finished,
    results: &[TestRun],
    history: Option<&HistoryStore>,
    outputs: &Outputs,
) {
    if results.is_empty() {
        return;
    }
    let record = RunRecord {
        run_id: format!("{:016x}", rand::random::<u64>()),
        target: run.target.clone(),
        started_at: run.started_at,
        duration: run.duration,
        tests: results
            .iter()
            .map(|r| TestRecord {
                name: r.name.clone(),
                outcome: r.verdict,
                duration: r.duration,
                attempts: r.attempts,
                message: r.message.clone(),
                started_at: r.started_at,
                file: Some(r.file.to_owned()),
                line: Some(r.line),
            })
            .collect(),
    };
    if let Some(history) = history
        && let Err(e) = history.append(&record)
    {
        eprintln!("clnrm: warning: the run was not added to the history: {e:?}");
    }
    if let Some(path) = &outputs.junit
        && let Err(e) = crate::report::write_junit(path, &record)
    {
        eprintln!("clnrm: warning: {e:?}");
    }
    if let Some(path) = &outputs.json {
        let mut json = crate::report::json(&record);
        // What the harness knows beyond the record: service start-up and the time each test
        // waited for its services and isolation.
        json["test_threads"] = run.test_threads.into();
        json["services"] = run
            .service_starts
            .iter()
            .map(|(name, took)| serde_json::json!({"name": name, "start_secs": took.as_secs_f64()}))
            .collect();
        if let Some(tests) = json["tests"].as_array_mut() {
            for test in tests {
                let wait = results
                    .iter()
                    .find(|r| test["name"] == r.name.as_str())
                    .map(|r| r.setup_wait.as_secs_f64());
                test["setup_wait_secs"] = wait.into();
            }
        }
        let text = serde_json::to_string_pretty(&json).unwrap_or_default();
        if let Err(e) = crate::report::write_atomically(path, text.as_bytes()) {
            eprintln!("clnrm: warning: {e:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn report_flags_are_taken_out_before_libtest_sees_the_arguments() {
        let (rest, outputs) = split_args(strings(&[
            "bin",
            "--json",
            "out.json",
            "--junit=j.xml",
            "--exact",
            "a::b",
        ]));
        assert_eq!(rest, strings(&["bin", "--exact", "a::b"]));
        assert_eq!(outputs.json, Some(PathBuf::from("out.json")));
        assert_eq!(outputs.junit, Some(PathBuf::from("j.xml")));
    }
}
