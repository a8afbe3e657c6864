//! The run record: what happened to every test of one run.

use std::fmt;
use std::time::{Duration, SystemTime};

/// How a test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// Passed on the first attempt.
    Passed,
    /// Failed on every attempt.
    Failed,
    /// Failed at least once, then passed on a retry.
    Flaky,
    /// Not run: ignored or filtered out by the test's declaration.
    Ignored,
    /// Ran out of its time budget on the last attempt.
    TimedOut,
    /// Could not run because its infrastructure failed (a service did not start).
    InfraError,
    /// Cut short, or never started, because the run was interrupted (Ctrl-C, SIGTERM): says
    /// nothing about the test, and the planner ignores interrupted runs.
    Interrupted,
}

impl Outcome {
    /// Every outcome, in declaration order.
    pub const ALL: [Outcome; 7] = [
        Outcome::Passed,
        Outcome::Failed,
        Outcome::Flaky,
        Outcome::Ignored,
        Outcome::TimedOut,
        Outcome::InfraError,
        Outcome::Interrupted,
    ];

    /// The stable snake_case name used in JSON and in the history store (`"timed_out"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Flaky => "flaky",
            Outcome::Ignored => "ignored",
            Outcome::TimedOut => "timed_out",
            Outcome::InfraError => "infra_error",
            Outcome::Interrupted => "interrupted",
        }
    }

    /// The outcome named `name` by [`Outcome::as_str`], if any.
    pub fn parse(name: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == name)
    }

    /// Did the code under test fail ([`Outcome::Failed`] or [`Outcome::TimedOut`])?
    pub fn is_failure(self) -> bool {
        matches!(self, Outcome::Failed | Outcome::TimedOut)
    }

    /// Did the test run to a verdict? False for [`Outcome::Ignored`],
    /// [`Outcome::InfraError`] and [`Outcome::Interrupted`], whose durations say nothing about
    /// the test.
    pub fn was_executed(self) -> bool {
        !matches!(
            self,
            Outcome::Ignored | Outcome::InfraError | Outcome::Interrupted
        )
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to one test.
#[derive(Debug, Clone, PartialEq)]
pub struct TestRecord {
    /// The full test path, `module::path::fn_name` (or `suite::step` for TOML suites).
    pub name: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Wall time of all attempts together.
    pub duration: Duration,
    /// How many times it ran: 1 without retries, 0 if it never ran.
    pub attempts: u32,
    /// The failure message, the reason for ignoring, or what went wrong with the infrastructure.
    pub message: Option<String>,
    /// When the first attempt started.
    pub started_at: SystemTime,
    /// The source file declaring the test, if known.
    pub file: Option<String>,
    /// The line of the declaration in `file`, if known.
    pub line: Option<u32>,
    /// The faults it injected (chaos), in order.
    pub faults: Vec<crate::chaos::FaultRecord>,
}

impl TestRecord {
    /// The module path part of [`TestRecord::name`] (`a::b` for `a::b::f`), if there is one.
    pub fn module_path(&self) -> Option<&str> {
        self.name.rsplit_once("::").map(|(module, _)| module)
    }

    /// The function name part of [`TestRecord::name`] (`f` for `a::b::f`).
    pub fn fn_name(&self) -> &str {
        self.name.rsplit_once("::").map_or(&self.name, |(_, f)| f)
    }
}

/// What one run of one target produced.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// Unique id of the run (the harness's run id, or nextest's).
    pub run_id: String,
    /// The test binary or suite name.
    pub target: String,
    /// When the run started.
    pub started_at: SystemTime,
    /// Wall time of the whole run.
    pub duration: Duration,
    /// Every test, in the order they were reported.
    pub tests: Vec<TestRecord>,
}

impl RunRecord {
    /// How many tests ended in each outcome.
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for test in &self.tests {
            *match test.outcome {
                Outcome::Passed => &mut summary.passed,
                Outcome::Failed => &mut summary.failed,
                Outcome::Flaky => &mut summary.flaky,
                Outcome::Ignored => &mut summary.ignored,
                Outcome::TimedOut => &mut summary.timed_out,
                Outcome::InfraError => &mut summary.infra_error,
                Outcome::Interrupted => &mut summary.interrupted,
            } += 1;
        }
        summary
    }

    /// Was the run interrupted (a test of it cut short or never started by a signal)?
    pub fn was_interrupted(&self) -> bool {
        self.tests.iter().any(|t| t.outcome == Outcome::Interrupted)
    }
}

/// Counts of tests per outcome, as in the JSON `summary` object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// [`Outcome::Passed`].
    pub passed: usize,
    /// [`Outcome::Failed`].
    pub failed: usize,
    /// [`Outcome::Flaky`].
    pub flaky: usize,
    /// [`Outcome::Ignored`].
    pub ignored: usize,
    /// [`Outcome::TimedOut`].
    pub timed_out: usize,
    /// [`Outcome::InfraError`].
    pub infra_error: usize,
    /// [`Outcome::Interrupted`].
    pub interrupted: usize,
}

impl Summary {
    /// All tests counted.
    pub fn total(&self) -> usize {
        self.passed
            + self.failed
            + self.flaky
            + self.ignored
            + self.timed_out
            + self.infra_error
            + self.interrupted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_parses_back_from_its_name() {
        for outcome in Outcome::ALL {
            assert_eq!(Outcome::parse(outcome.as_str()), Some(outcome));
        }
        assert_eq!(Outcome::parse("Passed"), None);
    }

    #[test]
    fn only_failed_and_timed_out_count_as_failures() {
        let failures: Vec<_> = Outcome::ALL
            .into_iter()
            .filter(|o| o.is_failure())
            .collect();
        assert_eq!(failures, [Outcome::Failed, Outcome::TimedOut]);
    }

    #[test]
    fn a_test_name_splits_into_module_path_and_fn_name() {
        let mut test = TestRecord {
            name: "api::users::creates_user".into(),
            outcome: Outcome::Passed,
            duration: Duration::ZERO,
            attempts: 1,
            message: None,
            started_at: SystemTime::UNIX_EPOCH,
            file: None,
            line: None,
            faults: Vec::new(),
        };
        assert_eq!(test.module_path(), Some("api::users"));
        assert_eq!(test.fn_name(), "creates_user");
        test.name = "top_level".into();
        assert_eq!(test.module_path(), None);
        assert_eq!(test.fn_name(), "top_level");
    }
}
