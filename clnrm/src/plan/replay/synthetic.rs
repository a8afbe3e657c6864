//! Deterministic synthetic inputs: a planner input of any size (and timing the planner on
//! it), and CI histories shaped like industrial ones for the replay.

use std::collections::BTreeMap;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::plan::error::PlanError;
use crate::plan::model::{PlanInput, PlannerConfig, TestCandidate, TestHistoryRecord, TestOutcome};
use crate::plan::planner::plan;
use crate::plan::replay::RetecsRow;

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
    /// CPU milliseconds of the planning thread in each run, ascending (empty where the system
    /// does not say): on a shared machine the wall clock also counts waiting for a core.
    #[serde(default)]
    pub cpu_ms: Vec<f64>,
    /// The plan's predicted wall time, seconds (the same on every run).
    pub predicted_wall_secs: f64,
}

impl PlannerTiming {
    /// Median run, milliseconds (the lower middle one for an even count).
    pub fn median_ms(&self) -> f64 {
        self.runs_ms[(self.runs_ms.len() - 1) / 2]
    }

    /// Median CPU time of a run, milliseconds, when measured.
    pub fn median_cpu_ms(&self) -> Option<f64> {
        (!self.cpu_ms.is_empty()).then(|| self.cpu_ms[(self.cpu_ms.len() - 1) / 2])
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
    let mut cpu_ms = Vec::with_capacity(runs.max(1));
    let mut predicted_wall_secs = 0.0;
    for _ in 0..runs.max(1) {
        let cpu_before = thread_cpu_time();
        let started = Instant::now();
        predicted_wall_secs = plan(&input)?.predicted_wall_secs;
        runs_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        if let (Some(before), Some(after)) = (cpu_before, thread_cpu_time()) {
            cpu_ms.push(after.saturating_sub(before).as_secs_f64() * 1000.0);
        }
    }
    runs_ms.sort_by(f64::total_cmp);
    cpu_ms.sort_by(f64::total_cmp);
    Ok(PlannerTiming {
        tests,
        history_rows,
        threads: input.threads,
        runs_ms,
        cpu_ms,
        predicted_wall_secs,
    })
}

/// CPU time this thread has run so far (`CLOCK_THREAD_CPUTIME_ID`).
fn thread_cpu_time() -> Option<std::time::Duration> {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Some(std::time::Duration::new(
        u64::try_from(t.tv_sec).ok()?,
        u32::try_from(t.tv_nsec).ok()?,
    ))
}

/// The shape of a [`synthetic_history`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case", default)]
pub struct HistoryShape {
    /// CI cycles.
    pub cycles: usize,
    /// Median number of tests per cycle (log-normal, at most 1000).
    pub median_tests: usize,
    /// Multiplies every failure chance: 1.0 gives about 27 % failing executions, 0.3 about
    /// 10 %, 1.6 about 36 %.
    pub failure_scale: f64,
    /// Chance that a test slot of a cycle is a brand-new test.
    pub new_test_share: f64,
    /// Chance that a failing execution is run again in the same cycle.
    pub rerun_share: f64,
}

impl Default for HistoryShape {
    fn default() -> Self {
        Self {
            cycles: 300,
            median_tests: 24,
            failure_scale: 1.0,
            new_test_share: 0.08,
            rerun_share: 0.3,
        }
    }
}

struct SynthTest {
    name: String,
    /// Failure chance while healthy.
    base: f64,
    /// Broken tests fail 85 % of the time until fixed.
    broken: bool,
    duration_secs: f64,
}

/// A CI history with the traits of industrial ones: a pool of tests that grows (new tests,
/// a third of them born broken), a median of `median_tests` tests per cycle with a long tail,
/// tests that break and stay broken for a few cycles (85 % failing) besides rare, occasional
/// and frequent intermittent failures, one bad cycle in ten where every test is likelier to
/// fail, durations from 0.05 s to 200 s (log-uniform per test, ±25 % per run, a third of
/// failures cut short), and failing executions re-run in the same cycle. Rows come in a
/// random order within a cycle. Same seed and shape, same rows.
pub fn synthetic_history(seed: u64, shape: &HistoryShape) -> Vec<RetecsRow> {
    let mut rng = StdRng::seed_from_u64(seed);
    let scale = shape.failure_scale.max(0.0);
    let mut pool: Vec<SynthTest> = Vec::new();
    let mut rows = Vec::new();
    for cycle in 1..=shape.cycles {
        let normal: f64 = {
            // Box–Muller: a standard normal from two uniforms.
            let (u1, u2): (f64, f64) = (rng.random_range(1e-12..1.0), rng.random());
            (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        };
        let size = ((shape.median_tests.max(1) as f64).ln() + normal)
            .exp()
            .round()
            .clamp(1.0, 1000.0) as usize;
        let bad_cycle = rng.random_bool(0.1);
        let mut chosen: Vec<usize> = Vec::with_capacity(size);
        for _ in 0..size {
            let t = if pool.is_empty() || rng.random_bool(shape.new_test_share.clamp(0.0, 1.0)) {
                let kind: f64 = rng.random();
                let base = if kind < 0.5 {
                    0.005
                } else if kind < 0.85 {
                    0.1
                } else {
                    0.4
                };
                pool.push(SynthTest {
                    name: format!("T{}", pool.len() + 1),
                    base: (base * scale).min(1.0),
                    broken: rng.random_bool((0.35 * scale).min(1.0)),
                    duration_secs: rng.random_range(0.05f64.ln()..200f64.ln()).exp(),
                });
                pool.len() - 1
            } else {
                // mostly the recently added tests, like a project's active test set
                let window = pool.len().min(400);
                pool.len() - 1 - rng.random_range(0..window)
            };
            if !chosen.contains(&t) {
                chosen.push(t);
            }
        }
        let mut cycle_rows = Vec::with_capacity(chosen.len() * 2);
        for t in chosen {
            let test = &mut pool[t];
            if test.broken {
                test.broken = !rng.random_bool(0.3);
            } else {
                test.broken = rng.random_bool((0.04 * scale).min(1.0));
            }
            let mut chance = if test.broken { 0.85 } else { test.base };
            if bad_cycle {
                chance = (chance + 0.25).min(1.0);
            }
            let failed = rng.random_bool(chance);
            let cut_short = failed && rng.random_bool(1.0 / 3.0);
            let jitter = rng.random_range(0.8..1.25);
            let duration = test.duration_secs * jitter * if cut_short { 0.3 } else { 1.0 };
            cycle_rows.push((test.name.clone(), duration, failed));
            if failed && rng.random_bool(shape.rerun_share.clamp(0.0, 1.0)) {
                let again = rng.random_bool(0.6);
                let jitter = rng.random_range(0.8..1.25);
                cycle_rows.push((test.name.clone(), test.duration_secs * jitter, again));
            }
        }
        cycle_rows.shuffle(&mut rng);
        for (name, duration_secs, failed) in cycle_rows {
            rows.push(RetecsRow {
                line: rows.len() + 2,
                id: (rows.len() + 1).to_string(),
                name,
                build_id: None,
                duration_secs: (duration_secs * 1000.0).round() / 1000.0,
                last_run: String::new(),
                failed,
                cycle: cycle as i64,
            });
        }
    }
    rows
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
        assert_eq!(timing.cpu_ms.len(), 3, "Linux says the thread's CPU time");
        assert!(timing.median_cpu_ms().unwrap() > 0.0);
        assert!(timing.min_ms() <= timing.median_ms() && timing.median_ms() <= timing.max_ms());
        assert!(timing.predicted_wall_secs > 0.0);
        assert_eq!(time_planner(10, 0, 0).unwrap().runs_ms.len(), 1);
    }
}

#[cfg(test)]
mod history_tests {
    use super::*;

    #[test]
    fn synthetic_history_has_the_asked_shape_and_is_deterministic() {
        let shape = HistoryShape::default();
        let rows = synthetic_history(1, &shape);
        assert_eq!(rows, synthetic_history(1, &shape));
        let failing = rows.iter().filter(|r| r.failed).count() as f64 / rows.len() as f64;
        assert!((0.2..0.35).contains(&failing), "{failing}");
        let mut per_cycle = std::collections::BTreeMap::<i64, usize>::new();
        let mut per_test_cycle = std::collections::HashMap::<(i64, &str), usize>::new();
        for r in &rows {
            *per_cycle.entry(r.cycle).or_default() += 1;
            *per_test_cycle
                .entry((r.cycle, r.name.as_str()))
                .or_default() += 1;
        }
        assert_eq!(per_cycle.len(), shape.cycles);
        let mut sizes: Vec<usize> = per_cycle.values().copied().collect();
        sizes.sort_unstable();
        let median = sizes[sizes.len() / 2];
        assert!((15..40).contains(&median), "{median}");
        assert!(per_test_cycle.values().any(|n| *n > 1), "no rerun");
        let (min, max) = rows.iter().fold((f64::MAX, 0.0f64), |(lo, hi), r| {
            (lo.min(r.duration_secs), hi.max(r.duration_secs))
        });
        assert!(max / min.max(0.001) > 100.0, "{min} .. {max}");
        let low = synthetic_history(
            1,
            &HistoryShape {
                failure_scale: 0.3,
                ..shape
            },
        );
        let low_failing = low.iter().filter(|r| r.failed).count() as f64 / low.len() as f64;
        assert!(low_failing < 0.15, "{low_failing}");
    }
}
