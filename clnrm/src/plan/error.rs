//! Errors of the planner and of the replay benchmark.

use std::path::PathBuf;

/// Why a plan could not be made. Bad input is reported, never panicked on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// `threads` was 0.
    #[error("number of threads must be at least 1, got 0")]
    NoThreads,
    /// Two candidates share a name.
    #[error("test `{name}` is listed twice among the candidates; expected unique test names")]
    DuplicateTest {
        /// The repeated name.
        name: String,
    },
    /// A `K/N` partition spec that does not parse or is out of bounds.
    #[error("invalid partition `{spec}`: {reason}")]
    InvalidPartition {
        /// The spec as given.
        spec: String,
        /// What was expected.
        reason: String,
    },
    /// An `--order` value that is not `planned` or `file`.
    #[error("invalid order `{given}`: expected `planned` (likely failures first) or `file`")]
    InvalidOrder {
        /// The value as given.
        given: String,
    },
    /// A number that must be finite and non-negative was not.
    #[error("{what} is {value}; expected a finite number of seconds >= 0")]
    InvalidSeconds {
        /// Which value (e.g. "duration of history record 3 (`login`)").
        what: String,
        /// The offending value.
        value: f64,
    },
    /// A planner configuration given as JSON does not parse.
    #[error("invalid planner configuration: expected a JSON object of `PlannerConfig` fields")]
    InvalidConfig {
        /// The JSON error, with its line and column.
        #[source]
        source: serde_json::Error,
    },
    /// An objective that is not `failures`, `time` or `balanced`.
    #[error(
        "invalid objective `{given}`: expected `failures` (likely failures first), `time` \
         (chance to fail per second) or `balanced`"
    )]
    InvalidObjective {
        /// The value as given.
        given: String,
    },
    /// `pattern_runs` above the maximum.
    #[error("pattern_runs is {given}; expected at most {max}")]
    InvalidPatternRuns {
        /// The value as given.
        given: usize,
        /// The largest accepted.
        max: usize,
    },
    /// A probability in the config or input outside [0, 1].
    #[error("{what} is {value}; expected a probability between 0 and 1")]
    InvalidProbability {
        /// Which value.
        what: String,
        /// The offending value.
        value: f64,
    },
}

/// Why a replay could not be run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The CSV file could not be read.
    #[error("failed to read `{}`", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The content of a file is not a valid RETECS CSV; the source says where and why.
    #[error("{}: invalid RETECS CSV", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The problem, with its line.
        #[source]
        source: Box<ReplayError>,
    },
    /// The header line lacks a column the replay needs, or repeats one.
    #[error(
        "line {line}: {problem} in header `{found}`; expected `;`-separated column names \
         including Name, Duration, Verdict and Cycle (e.g. \
         `Id;Name;Duration;CalcPrio;LastRun;Verdict;Cycle;LastResults`)"
    )]
    Header {
        /// 1-based line number of the header (the first non-blank line).
        line: usize,
        /// What the file has.
        found: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A data row is malformed.
    #[error("line {line}: {message}")]
    Row {
        /// 1-based line number in the file.
        line: usize,
        /// What was wrong and what was expected.
        message: String,
    },
    /// The file has a header but no rows.
    #[error("no data rows after the header")]
    Empty,
    /// The planner rejected a cycle (a bug in the replay's input building, reported not hidden).
    #[error("planner failed on cycle {cycle}")]
    Plan {
        /// The cycle being replayed.
        cycle: i64,
        /// The cause.
        #[source]
        source: PlanError,
    },
}
