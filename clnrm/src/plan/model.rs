//! Input types of the planner.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::PlanError;
use super::pattern::MAX_PATTERN_RUNS;
use super::shard::Partition;

/// A test that may be run: its name, the services it needs and whether its sources changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct TestCandidate {
    /// Unique test name (the history key).
    pub name: String,
    /// Service keys the test needs (e.g. `postgres`), each started once per run.
    #[serde(default)]
    pub services: Vec<String>,
    /// Its source files changed since the last green run (`None`: unknown).
    #[serde(default)]
    pub source_changed: Option<bool>,
}

impl TestCandidate {
    /// A candidate with no services and unknown source changes.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            services: Vec::new(),
            source_changed: None,
        }
    }
}

/// How one execution of a test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestOutcome {
    /// Passed on the first attempt.
    Passed,
    /// Failed (after all retries).
    Failed,
    /// Failed first, passed on a retry.
    Flaky,
    /// Not run (ignored, filtered). Carries no signal and is left out of the estimates.
    Skipped,
}

impl TestOutcome {
    /// How much this outcome counts as a failure (flaky counts half).
    pub(crate) fn failure_weight(self, flaky_weight: f64) -> Option<f64> {
        match self {
            TestOutcome::Passed => Some(0.0),
            TestOutcome::Failed => Some(1.0),
            TestOutcome::Flaky => Some(flaky_weight),
            TestOutcome::Skipped => None,
        }
    }
}

/// One past execution of one test, as the history store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct TestHistoryRecord {
    /// Test name.
    pub test: String,
    /// Run (or CI cycle) number; larger is more recent.
    pub run_id: u64,
    /// When it ran, milliseconds since the Unix epoch; orders records within a run.
    #[serde(default)]
    pub timestamp_ms: Option<i64>,
    /// Wall time of the execution in seconds (all attempts).
    pub duration_secs: f64,
    /// How it ended.
    pub outcome: TestOutcome,
    /// Number of retries it took (0 when it passed or failed at once).
    #[serde(default)]
    pub retries: u32,
}

/// What the order optimises: the position of the failures among the tests (APFD), the time
/// until they show up (APFDc), or a blend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Most likely failures first, whatever they cost (best APFD).
    Failures,
    /// Most chance to fail per second first (best APFDc, Smith's rule: the shortest expected
    /// wait for the first failure). The default: a developer waits for the first failure in
    /// seconds, not in positions. No single order won both APFD and APFDc against the best
    /// baselines on the synthetic histories, so the choice is explicit.
    #[default]
    Time,
    /// Chance to fail per blended cost: a test costs `(1 - w)` times the mean test plus `w`
    /// times itself, `w` = [`PlannerConfig::time_weight`].
    Balanced,
}

impl Objective {
    /// Parses `failures`, `time` or `balanced` (case-insensitive).
    pub fn parse(text: &str) -> Result<Self, PlanError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "failures" => Ok(Objective::Failures),
            "time" => Ok(Objective::Time),
            "balanced" => Ok(Objective::Balanced),
            _ => Err(PlanError::InvalidObjective {
                given: text.to_string(),
            }),
        }
    }
}

impl std::fmt::Display for Objective {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            Objective::Failures => "failures",
            Objective::Time => "time",
            Objective::Balanced => "balanced",
        })
    }
}

impl std::str::FromStr for Objective {
    type Err = PlanError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Tunable constants of the estimates. The defaults are generic, not fitted to one data set:
/// they were chosen on synthetic histories and one public history and checked on another
/// (see the README's replay section).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case", default)]
pub struct PlannerConfig {
    /// What the order optimises.
    pub objective: Objective,
    /// Share of a test's own cost in its blended cost under [`Objective::Balanced`]; the rest
    /// is the mean cost of the candidates.
    pub time_weight: f64,
    /// Number of most recent verdicts whose pattern the learned chance to fail looks at
    /// (at most 7).
    pub pattern_runs: usize,
    /// Pseudo-executions with which each pattern's failure rate is pulled towards the rate of
    /// its shorter pattern.
    pub pattern_smoothing: f64,
    /// Until the history shows how often a failure follows a failure, a test that failed last
    /// is assumed this much likelier to fail again: `p + (1 - p) * prior` (weighted like
    /// `pattern_smoothing` executions, so the data soon decides).
    pub failure_persistence_prior: f64,
    /// A past run's weight in a test's own failure rate halves every this many more recent
    /// runs of the same test.
    pub recency_half_life_runs: f64,
    /// Pseudo-runs of the learned pattern estimate mixed into every test's own failure rate:
    /// the larger, the more a test is judged by what tests with its recent verdicts did.
    pub prior_strength: f64,
    /// Chance to fail assumed when the history holds no run at all; otherwise the history's
    /// own rate for new tests is learned.
    pub new_test_failure_prior: f64,
    /// How much a flaky outcome (passed on retry) counts as a failure.
    pub flaky_outcome_weight: f64,
    /// Number of most recent runs the flip rate and the "failed x of last n" reason look at.
    pub flip_window_runs: usize,
    /// Extra chance to fail when the test's sources changed: p' = p + (1 - p) * boost.
    pub source_changed_boost: f64,
    /// Number of most recent durations the median is taken over.
    pub duration_window_runs: usize,
    /// Duration assumed for a test with no history when no other test has one either.
    pub default_duration_secs: f64,
    /// Floor on a test's cost when ordering, so near-zero durations do not dominate: below
    /// 50 ms a developer does not feel the difference, and timing noise would decide.
    pub min_cost_secs: f64,
    /// Cost floor relative to the median cost of the candidates: tests shorter than this share
    /// of the typical test are ordered as if they took that long, so timing noise of very
    /// short tests (a first test paying the warm-up) does not decide the order.
    pub min_cost_share_of_median: f64,
    /// Start-up time assumed for a service missing from the start-up estimates.
    pub default_service_startup_secs: f64,
}

impl Default for PlannerConfig {
    fn default() -> Self {
        Self {
            objective: Objective::Time,
            time_weight: 0.1,
            pattern_runs: 3,
            pattern_smoothing: 2.0,
            failure_persistence_prior: 0.5,
            recency_half_life_runs: 30.0,
            prior_strength: 16.0,
            new_test_failure_prior: 0.2,
            flaky_outcome_weight: 0.5,
            flip_window_runs: 10,
            source_changed_boost: 0.5,
            duration_window_runs: 10,
            default_duration_secs: 1.0,
            min_cost_secs: 0.05,
            min_cost_share_of_median: 1.0,
            default_service_startup_secs: 2.0,
        }
    }
}

impl PlannerConfig {
    /// Parses a JSON object of config fields (missing fields keep their defaults, unknown ones
    /// are an error) and checks every constant is in range.
    pub fn parse_json(text: &str) -> Result<Self, PlanError> {
        let config: Self =
            serde_json::from_str(text).map_err(|source| PlanError::InvalidConfig { source })?;
        config.validate()?;
        Ok(config)
    }

    /// The share of a test's own cost in its ordering cost, from the objective.
    pub fn own_cost_share(&self) -> f64 {
        match self.objective {
            Objective::Failures => 0.0,
            Objective::Time => 1.0,
            Objective::Balanced => self.time_weight,
        }
    }

    /// Checks that every constant is in range.
    pub fn validate(&self) -> Result<(), PlanError> {
        for (what, value) in [
            ("recency_half_life_runs", self.recency_half_life_runs),
            ("prior_strength", self.prior_strength),
            ("pattern_smoothing", self.pattern_smoothing),
            ("default_duration_secs", self.default_duration_secs),
            ("min_cost_secs", self.min_cost_secs),
            ("min_cost_share_of_median", self.min_cost_share_of_median),
            (
                "default_service_startup_secs",
                self.default_service_startup_secs,
            ),
        ] {
            check_seconds(what, value)?;
        }
        if self.recency_half_life_runs == 0.0 {
            return Err(PlanError::InvalidSeconds {
                what: "recency_half_life_runs (must be > 0)".into(),
                value: 0.0,
            });
        }
        if self.pattern_runs > MAX_PATTERN_RUNS {
            return Err(PlanError::InvalidPatternRuns {
                given: self.pattern_runs,
                max: MAX_PATTERN_RUNS,
            });
        }
        for (what, value) in [
            ("new_test_failure_prior", self.new_test_failure_prior),
            ("time_weight", self.time_weight),
            ("failure_persistence_prior", self.failure_persistence_prior),
            ("flaky_outcome_weight", self.flaky_outcome_weight),
            ("source_changed_boost", self.source_changed_boost),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(PlanError::InvalidProbability {
                    what: what.into(),
                    value,
                });
            }
        }
        Ok(())
    }
}

/// Everything the planner needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct PlanInput {
    /// The tests selected to run, in file (declaration) order.
    pub tests: Vec<TestCandidate>,
    /// Past executions, any order.
    #[serde(default)]
    pub history: Vec<TestHistoryRecord>,
    /// Estimated start-up seconds per service key.
    #[serde(default)]
    pub service_startup_secs: BTreeMap<String, f64>,
    /// Number of parallel lanes.
    pub threads: usize,
    /// Run only shard K of N.
    #[serde(default)]
    pub partition: Option<Partition>,
    /// Estimate constants.
    #[serde(default)]
    pub config: PlannerConfig,
}

pub(crate) fn check_seconds(what: &str, value: f64) -> Result<(), PlanError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(PlanError::InvalidSeconds {
            what: what.to_string(),
            value,
        })
    }
}
