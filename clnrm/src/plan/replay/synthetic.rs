//! A deterministic, synthetic planner input of any size, and timing the planner on it.

use std::collections::BTreeMap;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::plan::error::PlanError;
use crate::plan::model::{PlanInput, PlannerConfig, TestCandidate, TestHistoryRecord, TestOutcome};
use crate::plan::planner::plan;

const SERVICES: [&str; 5] = ["postgres", "redis", "kafka", "minio", "ollama"];

/// `tests` candidates (names `test_00000`...) needing 0 to 2 of 5 services, and
/// `history_rows` records spread round-robin over the tests (one run per sweep), with
/// per-test failure rates between 0 and 20 % and log-normal-ish durations. 8 threads, no
/// partition. Same arguments, same input.
pub fn synthetic_plan_input(tests: usize, history_rows: usize, seed: u64) -> PlanInput {
    let mut rng = StdRng::seed_from_u64(seed);
    let candidates: Vec<TestCandidate> = (0..tests)
        .map(|i| {
            let count = rng.random_range(0..=2usize);
            let mut services: Vec<String> = (0..count)
                .map(|_| SERVICES[rng.random_range(0..SERVICES.len())].to_string())
                .collect();
            services.sort();
            services.dedup();
            TestCandidate {
                name: format!("test_{i:05}"),
                services,
                source_changed: Some(rng.random_bool(0.02)),
            }
        })
        .collect();
    let fail_rate: Vec<f64> = (0..tests)
        .map(|_| {
            if rng.random_bool(0.1) {
                rng.random_range(0.0..0.2)
            } else {
                0.0
            }
        })
        .collect();
    let base_duration: Vec<f64> = (0..tests)
        .map(|_| (rng.random_range(-3.0f64..3.0)).exp())
        .collect();
    let history = (0..history_rows)
        .map(|r| {
            let t = r % tests.max(1);
            let roll: f64 = rng.random();
            let outcome = if roll < fail_rate[t] {
                TestOutcome::Failed
            } else if roll < fail_rate[t] * 1.3 {
                TestOutcome::Flaky
            } else {
                TestOutcome::Passed
            };
            TestHistoryRecord {
                test: format!("test_{t:05}"),
                run_id: (r / tests.max(1)) as u64,
                timestamp_ms: Some(1_600_000_000_000 + r as i64 * 1000),
                duration_secs: base_duration[t] * rng.random_range(0.8..1.25),
                outcome,
                retries: u32::from(outcome == TestOutcome::Flaky),
            }
        })
        .collect();
    let service_startup_secs: BTreeMap<String, f64> = SERVICES
        .iter()
        .zip([2.3, 0.5, 6.0, 1.5, 12.0])
        .map(|(s, t)| (s.to_string(), t))
        .collect();
    PlanInput {
        tests: candidates,
        history,
        service_startup_secs,
        threads: 8,
        partition: None,
        config: PlannerConfig::default(),
    }
}

/// How long [`plan`] took on a [`synthetic_plan_input`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct PlannerTiming {
    /// Candidate tests in the input.
    pub tests: usize,
    /// History records in the input.
    pub history_rows: usize,
    /// Lanes planned.
    pub threads: usize,
    /// Wall-clock milliseconds of each run, ascending.
    pub runs_ms: Vec<f64>,
    /// The plan's predicted wall time, seconds (the same on every run).
    pub predicted_wall_secs: f64,
}

impl PlannerTiming {
    /// Median run, milliseconds (the lower middle one for an even count).
    pub fn median_ms(&self) -> f64 {
        self.runs_ms[(self.runs_ms.len() - 1) / 2]
    }

    /// Fastest run, milliseconds.
    pub fn min_ms(&self) -> f64 {
        self.runs_ms[0]
    }

    /// Slowest run, milliseconds.
    pub fn max_ms(&self) -> f64 {
        self.runs_ms[self.runs_ms.len() - 1]
    }
}

/// Plans [`synthetic_plan_input`]`(tests, history_rows, 42)` `runs` times (at least once) and
/// measures each run. Building the input is not timed.
pub fn time_planner(
    tests: usize,
    history_rows: usize,
    runs: usize,
) -> Result<PlannerTiming, PlanError> {
    let input = synthetic_plan_input(tests, history_rows, 42);
    let mut runs_ms = Vec::with_capacity(runs.max(1));
    let mut predicted_wall_secs = 0.0;
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        predicted_wall_secs = plan(&input)?.predicted_wall_secs;
        runs_ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    runs_ms.sort_by(f64::total_cmp);
    Ok(PlannerTiming {
        tests,
        history_rows,
        threads: input.threads,
        runs_ms,
        predicted_wall_secs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_input_is_deterministic_and_timing_reports_every_run() {
        assert_eq!(
            synthetic_plan_input(50, 200, 7),
            synthetic_plan_input(50, 200, 7)
        );
        let timing = time_planner(50, 200, 3).unwrap();
        assert_eq!(timing.runs_ms.len(), 3);
        assert!(timing.min_ms() <= timing.median_ms() && timing.median_ms() <= timing.max_ms());
        assert!(timing.predicted_wall_secs > 0.0);
        assert_eq!(time_planner(10, 0, 0).unwrap().runs_ms.len(), 1);
    }
}
