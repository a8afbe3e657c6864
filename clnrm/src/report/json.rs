//! The JSON results document. Its shape is stable; additions bump [`JSON_VERSION`].
//!
//! ```json
//! {
//!   "version": 3,
//!   "run_id": "4f0c…",
//!   "target": "api",
//!   "started_at": "2024-05-01T12:00:00.250Z",
//!   "duration_secs": 4.321,
//!   "summary": { "passed": 1, "failed": 1, "flaky": 0, "ignored": 0, "timed_out": 0, "infra_error": 0,
//!                "interrupted": 0 },
//!   "interrupted": false,
//!   "tests": [
//!     { "name": "api::users::creates_user", "outcome": "passed", "duration_secs": 0.12,
//!       "attempts": 1, "message": null, "file": "tests/api.rs", "line": 12, "faults": [] }
//!   ]
//! }
//! ```
//!
//! `started_at` is RFC 3339 in UTC; `outcome` is one of `passed`, `failed`, `flaky`, `ignored`,
//! `timed_out`, `infra_error`, `interrupted` (version 2: cut short or never started by Ctrl-C /
//! SIGTERM; `"interrupted": true` marks such a run); `message`, `file` and `line` are `null` when unknown;
//! `faults` (version 3) lists the faults a test injected (`service`, `fault`, `started_at`, `duration_secs`,
//! `healed_by`, `heal_error`). Tests keep
//! the order of the run record.
//!
//! [`read_json`] / [`parse_json`] turn a document back into a [`RunRecord`] (what
//! `clnrm ai-orchestrate --target` does with the report of the test binary it ran). The document
//! does not carry when each test started: a test read back starts with its run, and times are
//! kept to the millisecond (`started_at`) and to the nanosecond (durations).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value, json as j};

use super::record::{Outcome, RunRecord, TestRecord};
use super::time::rfc3339_utc;
use super::write::write_atomically;
use crate::{Error, Result};

/// The value of the document's `version` field.
pub const JSON_VERSION: u32 = 3;

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
                "faults": t.faults,
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
            "interrupted": s.interrupted,
        },
        "interrupted": run.was_interrupted(),
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

/// A JSON results document that is not what [`json`] writes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JsonReportError {
    /// The text is not JSON.
    #[error("{}: not a JSON document", path.display())]
    Syntax {
        /// The file (`<text>` for [`parse_json`]).
        path: PathBuf,
        /// The parser's error, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// A field is missing or has the wrong type or value.
    #[error("{}: `{field}`: expected {expected}, found {found}", path.display())]
    Field {
        /// The file (`<text>` for [`parse_json`]).
        path: PathBuf,
        /// Where in the document, `tests[2].outcome`.
        field: String,
        /// What the documented shape has there.
        expected: String,
        /// What the document has there.
        found: String,
    },
}

/// Reads the document at `path` (as [`write_json`] or a test binary's `--json` writes it) back
/// into a run record; errors name the file and the field.
pub fn read_json(path: &Path) -> Result<RunRecord> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        action: "failed to read",
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path).map_err(Error::other)
}

/// Parses a document (as [`json`] produces it) into a run record.
pub fn parse_json(text: &str) -> Result<RunRecord> {
    parse(text, Path::new("<text>")).map_err(Error::other)
}

fn parse(text: &str, path: &Path) -> Result<RunRecord, JsonReportError> {
    let value: Value = serde_json::from_str(text).map_err(|source| JsonReportError::Syntax {
        path: path.to_path_buf(),
        source,
    })?;
    let doc = Fields { path };
    let root = doc.object(&value, "(document)")?;
    let version = doc.integer(root, "", "version")?;
    if version == 0 || version > u64::from(JSON_VERSION) {
        return Err(doc.wrong(
            "version",
            &format!("1 to {JSON_VERSION} (the versions this clnrm reads)"),
            Fields::get(root, "version"),
        ));
    }
    let started_at = doc.time(root, "", "started_at")?;
    let mut tests = Vec::new();
    let field = "tests";
    let Some(items) = root.get(field).and_then(Value::as_array) else {
        return Err(doc.wrong(
            field,
            "an array of tests",
            root.get(field).unwrap_or(&Value::Null),
        ));
    };
    for (i, item) in items.iter().enumerate() {
        let at = format!("tests[{i}].");
        let test = doc.object(item, &format!("tests[{i}]"))?;
        let outcome_name = doc.string(test, &at, "outcome")?;
        let Some(outcome) = Outcome::parse(&outcome_name) else {
            let names: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
            return Err(doc.wrong(
                &format!("{at}outcome"),
                &format!("one of {}", names.join(", ")),
                Fields::get(test, "outcome"),
            ));
        };
        tests.push(TestRecord {
            name: doc.string(test, &at, "name")?,
            outcome,
            duration: doc.duration(test, &at, "duration_secs")?,
            attempts: u32::try_from(doc.integer(test, &at, "attempts")?).map_err(|_| {
                doc.wrong(
                    &format!("{at}attempts"),
                    "a u32",
                    Fields::get(test, "attempts"),
                )
            })?,
            message: doc.optional_string(test, &at, "message")?,
            started_at,
            file: doc.optional_string(test, &at, "file")?,
            line: match test.get("line") {
                None | Some(Value::Null) => None,
                Some(_) => Some(u32::try_from(doc.integer(test, &at, "line")?).map_err(|_| {
                    doc.wrong(&format!("{at}line"), "a u32", Fields::get(test, "line"))
                })?),
            },
            // Read back for the outcomes; the faults stay in the document.
            faults: Vec::new(),
        });
    }
    Ok(RunRecord {
        run_id: doc.string(root, "", "run_id")?,
        target: doc.string(root, "", "target")?,
        started_at,
        duration: doc.duration(root, "", "duration_secs")?,
        tests,
    })
}

/// Typed access to the fields of a document, with errors naming the field.
struct Fields<'a> {
    path: &'a Path,
}

impl Fields<'_> {
    fn wrong(&self, field: &str, expected: &str, found: &Value) -> JsonReportError {
        let mut found = match found {
            Value::Null => "nothing".to_owned(),
            other => other.to_string(),
        };
        if found.len() > 60 {
            let cut = (0..=60)
                .rev()
                .find(|&i| found.is_char_boundary(i))
                .unwrap_or(0);
            found.truncate(cut);
            found.push('…');
        }
        JsonReportError::Field {
            path: self.path.to_path_buf(),
            field: field.to_owned(),
            expected: expected.to_owned(),
            found,
        }
    }

    fn object<'v>(
        &self,
        value: &'v Value,
        field: &str,
    ) -> Result<&'v Map<String, Value>, JsonReportError> {
        value
            .as_object()
            .ok_or_else(|| self.wrong(field, "an object", value))
    }

    fn get<'v>(map: &'v Map<String, Value>, key: &str) -> &'v Value {
        map.get(key).unwrap_or(&Value::Null)
    }

    fn string(
        &self,
        map: &Map<String, Value>,
        at: &str,
        key: &str,
    ) -> Result<String, JsonReportError> {
        let value = Self::get(map, key);
        value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| self.wrong(&format!("{at}{key}"), "a string", value))
    }

    fn optional_string(
        &self,
        map: &Map<String, Value>,
        at: &str,
        key: &str,
    ) -> Result<Option<String>, JsonReportError> {
        match Self::get(map, key) {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            other => Err(self.wrong(&format!("{at}{key}"), "a string or null", other)),
        }
    }

    fn integer(
        &self,
        map: &Map<String, Value>,
        at: &str,
        key: &str,
    ) -> Result<u64, JsonReportError> {
        let value = Self::get(map, key);
        value
            .as_u64()
            .ok_or_else(|| self.wrong(&format!("{at}{key}"), "a non-negative integer", value))
    }

    fn duration(
        &self,
        map: &Map<String, Value>,
        at: &str,
        key: &str,
    ) -> Result<Duration, JsonReportError> {
        let value = Self::get(map, key);
        value
            .as_f64()
            .filter(|secs| secs.is_finite() && *secs >= 0.0 && *secs < 1e12)
            .map(|secs| Duration::from_nanos((secs * 1e9).round() as u64))
            .ok_or_else(|| self.wrong(&format!("{at}{key}"), "a number of seconds ≥ 0", value))
    }

    fn time(
        &self,
        map: &Map<String, Value>,
        at: &str,
        key: &str,
    ) -> Result<SystemTime, JsonReportError> {
        let value = Self::get(map, key);
        value.as_str().and_then(parse_rfc3339_utc).ok_or_else(|| {
            self.wrong(
                &format!("{at}{key}"),
                "an RFC 3339 UTC time such as \"2024-05-01T12:00:00.250Z\"",
                value,
            )
        })
    }
}

/// The instant of `2024-05-01T12:00:00.250Z` (what [`rfc3339_utc`] writes: UTC, `Z`, optional
/// fraction of a second kept to the millisecond).
fn parse_rfc3339_utc(text: &str) -> Option<SystemTime> {
    let (date, time) = text.strip_suffix('Z')?.split_once('T')?;
    let mut date = date.splitn(3, '-');
    let year: i64 = date.next()?.parse().ok()?;
    let month: i64 = date.next()?.parse().ok()?;
    let day: i64 = date.next()?.parse().ok()?;
    let (hms, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut hms = hms.splitn(3, ':');
    let hour: i64 = hms.next()?.parse().ok()?;
    let minute: i64 = hms.next()?.parse().ok()?;
    let second: i64 = hms.next()?.parse().ok()?;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
        || !fraction.chars().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let millis: i64 = format!("{fraction:0<3}").get(..3)?.parse().ok()?;
    let total_ms =
        ((days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second) * 1000)
            + millis;
    let magnitude = Duration::from_millis(total_ms.unsigned_abs());
    if total_ms >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(magnitude)
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(magnitude)
    }
}

/// Days from 1970-01-01 to the proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
            faults: Vec::new(),
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
                "version": 3,
                "run_id": "run-1",
                "target": "api",
                "started_at": "2024-05-01T12:00:00.250Z",
                "duration_secs": 4.5,
                "summary": {
                    "passed": 1, "failed": 1, "flaky": 1,
                    "ignored": 1, "timed_out": 1, "infra_error": 1, "interrupted": 0
                },
                "interrupted": false,
                "tests": [
                    { "name": "api::users::creates_user", "outcome": "passed", "duration_secs": 0.125,
                      "attempts": 1, "message": null, "file": "tests/api.rs", "line": 12, "faults": [] },
                    { "name": "api::fails", "outcome": "failed", "duration_secs": 0.5,
                      "attempts": 1, "message": "boom", "file": null, "line": null, "faults": [] },
                    { "name": "api::flakes", "outcome": "flaky", "duration_secs": 0.25,
                      "attempts": 2, "message": "reset", "file": null, "line": null, "faults": [] },
                    { "name": "api::hangs", "outcome": "timed_out", "duration_secs": 1.0,
                      "attempts": 1, "message": null, "file": null, "line": null, "faults": [] },
                    { "name": "api::later", "outcome": "ignored", "duration_secs": 0.0,
                      "attempts": 0, "message": null, "file": null, "line": null, "faults": [] },
                    { "name": "api::no_db", "outcome": "infra_error", "duration_secs": 0.0,
                      "attempts": 1, "message": "db down", "file": null, "line": null, "faults": [] },
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

    #[test]
    fn a_written_report_reads_back_as_the_same_record() {
        let dir = ScratchDir::new();
        let path = dir.path().join("results.json");
        let mut written = run();
        // The document keeps when the run started, not each test: they start with the run.
        for test in &mut written.tests {
            test.started_at = written.started_at;
        }
        written.tests[0].message = Some("quotes \" and\nnewlines ✓".into());
        written.tests[1].duration = Duration::from_micros(1_234_567);
        write_json(&path, &written).unwrap();
        assert_eq!(read_json(&path).unwrap(), written);
        assert_eq!(parse_json(&json(&written).to_string()).unwrap(), written);
    }

    #[test]
    fn times_before_and_after_the_epoch_parse_back() {
        for millis in [
            0i64,
            1_714_564_800_250,
            951_782_400_000,
            1_735_689_599_999,
            -1500,
        ] {
            let time = if millis >= 0 {
                UNIX_EPOCH + Duration::from_millis(millis as u64)
            } else {
                UNIX_EPOCH - Duration::from_millis(millis.unsigned_abs())
            };
            assert_eq!(
                parse_rfc3339_utc(&rfc3339_utc(time)),
                Some(time),
                "{millis}"
            );
        }
        assert_eq!(
            parse_rfc3339_utc("2024-05-01T12:00:00Z"),
            Some(UNIX_EPOCH + Duration::from_secs(1_714_564_800))
        );
        for bad in [
            "2024-05-01 12:00:00Z",
            "2024-13-01T12:00:00.000Z",
            "2024-05-01T12:00:00.2x0Z",
            "yesterday",
        ] {
            assert_eq!(parse_rfc3339_utc(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_malformed_report_is_an_error_naming_the_file_and_what_was_expected() {
        let dir = ScratchDir::new();
        let path = dir.path().join("results.json");
        let message = |text: &str| {
            std::fs::write(&path, text).unwrap();
            format!("{:?}", read_json(&path).unwrap_err())
        };
        let shown = path.display();

        let not_json = message("{\"version\": 1,");
        assert!(
            not_json.starts_with(&format!(
                "{shown}: not a JSON document\n  caused by: EOF while parsing"
            )),
            "{not_json}"
        );

        let mut document = json(&run());
        document["tests"][2]["outcome"] = j!("exploded");
        assert_eq!(
            message(&document.to_string()),
            format!(
                "{shown}: `tests[2].outcome`: expected one of passed, failed, flaky, ignored, \
                 timed_out, infra_error, interrupted, found \"exploded\""
            )
        );

        let mut document = json(&run());
        document.as_object_mut().unwrap().remove("run_id");
        assert_eq!(
            message(&document.to_string()),
            format!("{shown}: `run_id`: expected a string, found nothing")
        );

        let mut document = json(&run());
        document["version"] = j!(7);
        assert_eq!(
            message(&document.to_string()),
            format!("{shown}: `version`: expected 1 to 3 (the versions this clnrm reads), found 7")
        );

        let mut document = json(&run());
        document["started_at"] = j!("May 1st");
        assert!(
            message(&document.to_string()).contains(
                "`started_at`: expected an RFC 3339 UTC time such as \"2024-05-01T12:00:00.250Z\", found \"May 1st\""
            )
        );

        assert_eq!(
            message("[1, 2]"),
            format!("{shown}: `(document)`: expected an object, found [1,2]")
        );

        let missing = dir.path().join("missing.json");
        let err = format!("{:?}", read_json(&missing).unwrap_err());
        assert!(
            err.starts_with(&format!("failed to read `{}`", missing.display())),
            "{err}"
        );
    }
}
