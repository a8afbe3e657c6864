//! The store itself: open, append a run, read rows and per-test statistics.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OptionalExtension as _, TransactionBehavior, params};

use super::error::HistoryError;
use super::schema::migrate;
use crate::plan::{TestHistoryRecord, TestOutcome};
use crate::report::{Outcome, RunRecord, unix_millis};
use crate::{Error, Result};

/// The target `clnrm::suite::run_suites` records TOML suite runs under.
pub const SUITES_TARGET: &str = "clnrm-suites";

/// How many of a target's newest runs the planner reads.
pub const PLAN_RUNS: usize = 50;

/// How long SQLite itself waits for a lock before reporting `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How often an operation that still got `SQLITE_BUSY` is retried, with growing pauses.
const BUSY_RETRIES: u32 = 8;

/// An open history database. One connection, behind a mutex so the store can be shared across
/// threads; open one store per process (or per thread, for parallel writers).
#[derive(Debug)]
pub struct HistoryStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

/// One test of one stored run, as [`HistoryStore::records`] returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    /// The run's sequence number: increases with every run appended to this store.
    pub run_seq: i64,
    /// The run's id.
    pub run_id: String,
    /// The run's target (test binary or suite).
    pub target: String,
    /// The test's full name.
    pub test: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Wall time of all its attempts, in seconds.
    pub duration_secs: f64,
    /// How many times it ran.
    pub attempts: u32,
    /// When the test started, in milliseconds since the Unix epoch.
    pub started_at_ms: i64,
}

/// What the history says about one test, as [`HistoryStore::last_outcomes`] returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct TestStats {
    /// Stored runs in which the test ran to a verdict (not ignored, not an infrastructure
    /// error; see [`Outcome::was_executed`]).
    pub runs: u32,
    /// Of those, how many failed or timed out.
    pub failures: u32,
    /// Of those, how many passed only on a retry.
    pub flaky: u32,
    /// The outcome in the newest run that recorded the test, whatever it was.
    pub last_outcome: Outcome,
    /// The median duration over the executed runs, in seconds; 0 if none.
    pub median_duration_secs: f64,
}

impl HistoryStore {
    /// Opens the database at `path`, creating it, its parent directories and its schema as
    /// needed, and migrating an older schema forward.
    ///
    /// Fails with [`HistoryError::NotADatabase`] for a file that is not an SQLite database and
    /// [`HistoryError::NewerSchema`] for one written by a newer clnrm.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| Error::Io {
                action: "failed to create directory",
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let sqlite = |action| move |e| HistoryError::sqlite(action, path.to_path_buf(), e);
        let mut conn = Connection::open(path).map_err(sqlite("open"))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(sqlite("configure"))?;
        // The first statement that reads the file: a non-SQLite file fails here.
        retry_busy(|| conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(())))
            .map_err(sqlite("enable WAL mode on"))?;
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
            .map_err(sqlite("configure"))?;
        migrate(&mut conn, path)?;
        Ok(HistoryStore {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `run` in one transaction: a row for the run and one per test. Concurrent
    /// appenders from other connections and processes wait for each other.
    pub fn append(&self, run: &RunRecord) -> Result<()> {
        let mut conn = self.lock();
        retry_busy(|| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO runs (run_id, target, started_at_ms, duration_secs, interrupted)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    run.run_id,
                    run.target,
                    unix_millis(run.started_at),
                    run.duration.as_secs_f64(),
                    run.was_interrupted(),
                ],
            )?;
            let seq = tx.last_insert_rowid();
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO tests (run_seq, name, outcome, duration_secs, attempts, message,
                                        started_at_ms, file, line)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )?;
                for test in &run.tests {
                    insert.execute(params![
                        seq,
                        test.name,
                        test.outcome.as_str(),
                        test.duration.as_secs_f64(),
                        test.attempts,
                        test.message,
                        unix_millis(test.started_at),
                        test.file,
                        test.line,
                    ])?;
                }
            }
            tx.commit()
        })
        .map_err(|e| self.sqlite("append a run to", e))
    }

    /// The tests of the newest `max_runs` runs (of `target`, or of every target), oldest run
    /// first, tests in the order they were appended.
    pub fn records(&self, target: Option<&str>, max_runs: usize) -> Result<Vec<HistoryRow>> {
        let max_runs = i64::try_from(max_runs).unwrap_or(i64::MAX);
        let conn = self.lock();
        let raw = retry_busy(|| {
            let mut query = conn.prepare_cached(
                "SELECT r.seq, r.run_id, r.target, t.name, t.outcome, t.duration_secs,
                        t.attempts, t.started_at_ms
                 FROM (SELECT seq, run_id, target FROM runs
                       WHERE (?1 IS NULL OR target = ?1) AND interrupted = 0
                       ORDER BY seq DESC LIMIT ?2) AS r
                 JOIN tests AS t ON t.run_seq = r.seq
                 ORDER BY r.seq, t.id",
            )?;
            query
                .query_map(params![target, max_runs], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, String>(4)?,
                        row.get::<_, f64>(5)?,
                        row.get::<_, u32>(6)?,
                        row.get::<_, i64>(7)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(|e| self.sqlite("read runs from", e))?;
        raw.into_iter()
            .map(
                |(
                    run_seq,
                    run_id,
                    target,
                    test,
                    outcome,
                    duration_secs,
                    attempts,
                    started_at_ms,
                )| {
                    Ok(HistoryRow {
                        run_seq,
                        run_id,
                        target,
                        outcome: self.outcome(&test, &outcome)?,
                        test,
                        duration_secs,
                        attempts,
                        started_at_ms,
                    })
                },
            )
            .collect()
    }

    /// Statistics per test name over every stored run (of `target`, or of every target).
    pub fn last_outcomes(&self, target: Option<&str>) -> Result<BTreeMap<String, TestStats>> {
        let conn = self.lock();
        let raw = retry_busy(|| {
            let mut query = conn.prepare_cached(
                "SELECT t.name, t.outcome, t.duration_secs
                 FROM tests AS t JOIN runs AS r ON t.run_seq = r.seq
                 WHERE (?1 IS NULL OR r.target = ?1) AND r.interrupted = 0
                 ORDER BY r.seq, t.id",
            )?;
            query
                .query_map(params![target], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, f64>(2)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(|e| self.sqlite("read test statistics from", e))?;
        drop(conn);

        let mut acc: BTreeMap<String, (TestStats, Vec<f64>)> = BTreeMap::new();
        for (name, outcome, duration) in raw {
            let outcome = self.outcome(&name, &outcome)?;
            let (stats, durations) = acc.entry(name).or_insert_with(|| {
                let stats = TestStats {
                    runs: 0,
                    failures: 0,
                    flaky: 0,
                    last_outcome: outcome,
                    median_duration_secs: 0.0,
                };
                (stats, Vec::new())
            });
            // Rows arrive oldest first, so the last one seen is the newest.
            stats.last_outcome = outcome;
            if outcome.was_executed() {
                stats.runs += 1;
                stats.failures += u32::from(outcome.is_failure());
                stats.flaky += u32::from(outcome == Outcome::Flaky);
                durations.push(duration);
            }
        }
        Ok(acc
            .into_iter()
            .map(|(name, (mut stats, mut durations))| {
                stats.median_duration_secs = median(&mut durations);
                (name, stats)
            })
            .collect())
    }

    /// The newest `max_runs` runs of `target` as the planner reads history (see
    /// [`HistoryRow::to_plan_record`]).
    pub fn plan_records(&self, target: &str, max_runs: usize) -> Result<Vec<TestHistoryRecord>> {
        Ok(self
            .records(Some(target), max_runs)?
            .iter()
            .map(HistoryRow::to_plan_record)
            .collect())
    }

    /// Every target with stored runs, by name.
    pub fn targets(&self) -> Result<Vec<String>> {
        let conn = self.lock();
        retry_busy(|| {
            let mut query =
                conn.prepare_cached("SELECT DISTINCT target FROM runs ORDER BY target")?;
            query
                .query_map([], |row| row.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(|e| self.sqlite("read targets from", e))
    }

    /// The failure messages of the newest `max_runs` runs (of `target`, or of every target),
    /// per test, newest first.
    pub fn failure_messages(
        &self,
        target: Option<&str>,
        max_runs: usize,
    ) -> Result<BTreeMap<String, Vec<String>>> {
        let max_runs = i64::try_from(max_runs).unwrap_or(i64::MAX);
        let conn = self.lock();
        let raw = retry_busy(|| {
            let mut query = conn.prepare_cached(
                "SELECT t.name, t.message
                 FROM (SELECT seq FROM runs
                       WHERE (?1 IS NULL OR target = ?1) AND interrupted = 0
                       ORDER BY seq DESC LIMIT ?2) AS r
                 JOIN tests AS t ON t.run_seq = r.seq
                 WHERE t.outcome IN ('failed', 'timed_out') AND t.message IS NOT NULL
                 ORDER BY r.seq DESC, t.id",
            )?;
            query
                .query_map(params![target, max_runs], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(|e| self.sqlite("read failure messages from", e))?;
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, message) in raw {
            out.entry(name).or_default().push(message);
        }
        Ok(out)
    }

    /// The sequence number of the newest stored run, if any.
    pub fn last_run_seq(&self) -> Result<Option<i64>> {
        let conn = self.lock();
        retry_busy(|| {
            conn.query_row("SELECT max(seq) FROM runs", [], |row| row.get(0))
                .optional()
                .map(Option::flatten)
        })
        .map_err(|e| self.sqlite("read runs from", e))
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves the connection usable: every write is one
        // transaction, rolled back when dropped.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn sqlite(&self, action: &'static str, error: rusqlite::Error) -> Error {
        HistoryError::sqlite(action, self.path.clone(), error).into()
    }

    fn outcome(&self, test: &str, name: &str) -> Result<Outcome> {
        Outcome::parse(name).ok_or_else(|| {
            HistoryError::Invalid {
                path: self.path.clone(),
                message: format!("unknown outcome `{name}` for test `{test}`"),
            }
            .into()
        })
    }
}

impl HistoryRow {
    /// This row as the planner reads history: ignored tests and infrastructure errors carry
    /// no signal and count as skipped, a timeout as a failure.
    pub fn to_plan_record(&self) -> TestHistoryRecord {
        TestHistoryRecord {
            test: self.test.clone(),
            run_id: self.run_seq.max(0) as u64,
            timestamp_ms: Some(self.started_at_ms),
            duration_secs: self.duration_secs,
            outcome: match self.outcome {
                Outcome::Passed => TestOutcome::Passed,
                Outcome::Flaky => TestOutcome::Flaky,
                Outcome::Failed | Outcome::TimedOut => TestOutcome::Failed,
                Outcome::Ignored | Outcome::InfraError | Outcome::Interrupted => {
                    TestOutcome::Skipped
                }
            },
            retries: self.attempts.saturating_sub(1),
        }
    }
}

/// The median of `values` (the mean of the middle two for an even count); 0 for none.
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Runs `op`, retrying with growing pauses while SQLite reports the database busy or locked
/// (the busy timeout covers most waits; this covers the cases where SQLite gives up at once,
/// such as a WAL switch or a deadlock between two readers upgrading).
pub(crate) fn retry_busy<T>(mut op: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let mut pause = Duration::from_millis(10);
    for _ in 0..BUSY_RETRIES {
        match op() {
            Err(e)
                if matches!(
                    e.sqlite_error_code(),
                    Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
                ) =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(500));
            }
            result => return result,
        }
    }
    op()
}
