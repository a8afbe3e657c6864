//! The JSON results document. Its shape is stable; additions bump [`JSON_VERSION`].
//!
//! ```json
//! {
//!   "version": 1,
//!   "run_id": "4f0c…",
//!   "target": "api",
//!   "started_at": "2024-05-01T12:00:00.250Z",
//!   "duration_secs": 4.321,
//!   "summary": { "passed": 1, "failed": 1, "flaky": 0, "ignored": 0, "timed_out": 0, "infra_error": 0 },
//!   "tests": [
//!     { "name": "api::users::creates_user", "outcome": "passed", "duration_secs": 0.12,
//!       "attempts": 1, "message": null, "file": "tests/api.rs", "line": 12 }
//!   ]
//! }
//! ```
//!
//! `started_at` is RFC 3339 in UTC; `outcome` is one of `passed`, `failed`, `flaky`, `ignored`,
//! `timed_out`, `infra_error`; `message`, `file` and `line` are `null` when unknown. Tests keep
//! the order of the run record.

use std::path::Path;

use serde_json::{Value, json as j};

use super::record::RunRecord;
use super::time::rfc3339_utc;
use super::write::write_atomically;
use crate::Result;

/// The value of the document's `version` field.
pub const JSON_VERSION: u32 = 1;

/// The run as the documented JSON value.
pub fn json(run: &RunRecord) -> Value {
    let s = run.summary();
    let tests: Vec<Value> = run
        .tests
        .iter()
        .map(|t| {
            j!({
                "name": t.name,
                "outcome": t.outcome.as_str(),
                "duration_secs": t.duration.as_secs_f64(),
                "attempts": t.attempts,
                "message": t.message,
                "file": t.file,
                "line": t.line,
            })
        })
        .collect();
    j!({
        "version": JSON_VERSION,
        "run_id": run.run_id,
        "target": run.target,
        "started_at": rfc3339_utc(run.started_at),
        "duration_secs": run.duration.as_secs_f64(),
        "summary": {
            "passed": s.passed,
            "failed": s.failed,
            "flaky": s.flaky,
            "ignored": s.ignored,
            "timed_out": s.timed_out,
            "infra_error": s.infra_error,
        },
        "tests": tests,
    })
}

/// Writes [`json`] to `path` atomically (pretty-printed, newline-terminated), creating parent
/// directories.
pub fn write_json(path: &Path, run: &RunRecord) -> Result<()> {
    let mut text =
        serde_json::to_string_pretty(&json(run)).expect("a json::Value always serialises");
    text.push('\n');
    write_atomically(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::scratch::ScratchDir;
    use crate::report::{Outcome, TestRecord};
    use std::time::{Duration, UNIX_EPOCH};

    fn run() -> RunRecord {
        let test = |name: &str, outcome, millis, attempts, message: Option<&str>| TestRecord {
            name: String::from(name),
            outcome,
            duration: Duration::from_millis(millis),
            attempts,
            message: message.map(Into::into),
            started_at: UNIX_EPOCH,
            file: None,
            line: None,
        };
        let mut first = test("api::users::creates_user", Outcome::Passed, 125, 1, None);
        first.file = Some("tests/api.rs".into());
        first.line = Some(12);
        RunRecord {
            run_id: "run-1".into(),
            target: "api".into(),
            started_at: UNIX_EPOCH + Duration::from_millis(1_714_564_800_250),
            duration: Duration::from_millis(4500),
            tests: vec![
                first,
                test("api::fails", Outcome::Failed, 500, 1, Some("boom")),
                test("api::flakes", Outcome::Flaky, 250, 2, Some("reset")),
                test("api::hangs", Outcome::TimedOut, 1000, 1, None),
                test("api::later", Outcome::Ignored, 0, 0, None),
                test("api::no_db", Outcome::InfraError, 0, 1, Some("db down")),
            ],
        }
    }

    #[test]
    fn the_document_has_the_documented_shape() {
        let value = json(&run());
        assert_eq!(
            value,
            j!({
                "version": 1,
                "run_id": "run-1",
                "target": "api",
                "started_at": "2024-05-01T12:00:00.250Z",
                "duration_secs": 4.5,
                "summary": {
                    "passed": 1, "failed": 1, "flaky": 1,
                    "ignored": 1, "timed_out": 1, "infra_error": 1
                },
                "tests": [
                    { "name": "api::users::creates_user", "outcome": "passed", "duration_secs": 0.125,
                      "attempts": 1, "message": null, "file": "tests/api.rs", "line": 12 },
                    { "name": "api::fails", "outcome": "failed", "duration_secs": 0.5,
                      "attempts": 1, "message": "boom", "file": null, "line": null },
                    { "name": "api::flakes", "outcome": "flaky", "duration_secs": 0.25,
                      "attempts": 2, "message": "reset", "file": null, "line": null },
                    { "name": "api::hangs", "outcome": "timed_out", "duration_secs": 1.0,
                      "attempts": 1, "message": null, "file": null, "line": null },
                    { "name": "api::later", "outcome": "ignored", "duration_secs": 0.0,
                      "attempts": 0, "message": null, "file": null, "line": null },
                    { "name": "api::no_db", "outcome": "infra_error", "duration_secs": 0.0,
                      "attempts": 1, "message": "db down", "file": null, "line": null },
                ]
            })
        );
    }

    #[test]
    fn write_json_writes_a_file_that_parses_back_to_the_same_value() {
        let dir = ScratchDir::new();
        let path = dir.path().join("out/results.json");
        write_json(&path, &run()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with("}\n"));
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed, json(&run()));
    }
}
