//! What a run reports while it goes: reporters (a terminal progress display, plain lines) take
//! these as they happen; the finished [`RunRecord`](super::RunRecord) is built from the same
//! [`TestRecord`]s.

use std::path::Path;
use std::time::Duration;

use super::TestRecord;

/// One thing that happened during a run, in the order it happened per suite.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum RunEvent<'a> {
    /// A suite begins: its run environment is about to start.
    SuiteStarted {
        /// The suite file.
        path: &'a Path,
        /// The suite's name.
        suite: &'a str,
        /// How many scenarios it will report.
        scenarios: usize,
    },
    /// The suite's services are up (or it has none).
    ServicesReady {
        /// The suite's name.
        suite: &'a str,
        /// How long starting them took.
        took: Duration,
    },
    /// A scenario begins (`suite::scenario`).
    ScenarioStarted {
        /// The scenario's full name.
        name: &'a str,
    },
    /// A scenario ended, or was reported without running (skipped, infrastructure error).
    ScenarioFinished(&'a TestRecord),
    /// A suite ended and its containers are gone.
    SuiteFinished {
        /// The suite's name.
        suite: &'a str,
    },
}
