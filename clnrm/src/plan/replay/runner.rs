//! Cycle-by-cycle replay of the planner and the baselines.

use std::collections::{BTreeMap, HashMap};

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::csv::RetecsRow;
use super::metrics::{CycleOutcome, apfd, apfdc, napfd_with_budget};
use crate::plan::error::ReplayError;
use crate::plan::estimate::estimate;
use crate::plan::model::{PlannerConfig, TestCandidate, TestHistoryRecord, TestOutcome};
use crate::plan::order::prioritise;

/// Seeds the random baseline is averaged over.
const RANDOM_SEEDS: u64 = 20;
/// NAPFD time budget as a share of the cycle's total duration.
const BUDGET_SHARE: f64 = 0.5;

/// An ordering strategy of the replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The clnrm planner.
    Planner,
    /// Uniformly random, mean over 20 seeds.
    Random,
    /// Row order within the cycle.
    FileOrder,
    /// Shortest last known duration first (unseen tests count as 0 s).
    ShortestFirst,
    /// Failed in its last run first, then higher failure rate, then shorter.
    LastFailedThenRate,
    /// Higher failure rate first, then shorter (the dataset README's history heuristic).
    RateThenShortest,
    /// Upper bound that knows the verdicts: failing first, then shortest.
    Oracle,
}

impl Strategy {
    /// All strategies, in table order.
    pub const ALL: [Strategy; 7] = [
        Strategy::Planner,
        Strategy::Random,
        Strategy::FileOrder,
        Strategy::ShortestFirst,
        Strategy::LastFailedThenRate,
        Strategy::RateThenShortest,
        Strategy::Oracle,
    ];

    /// Column label.
    pub fn label(self) -> &'static str {
        match self {
            Strategy::Planner => "planner",
            Strategy::Random => "random(20)",
            Strategy::FileOrder => "file order",
            Strategy::ShortestFirst => "shortest",
            Strategy::LastFailedThenRate => "lastfail+rate",
            Strategy::RateThenShortest => "rate+shortest",
            Strategy::Oracle => "oracle",
        }
    }
}

/// Mean scores of one strategy over the cycles with at least one failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct StrategyScores {
    /// The strategy.
    pub strategy: Strategy,
    /// Mean APFD.
    pub apfd: f64,
    /// Mean APFDc (real durations).
    pub apfdc: f64,
    /// Mean NAPFD with half the cycle's total duration as budget.
    pub napfd_half_budget: f64,
}

/// The outcome of a replay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct ReplayReport {
    /// Rows read.
    pub rows: usize,
    /// Distinct test names.
    pub tests: usize,
    /// Cycles replayed.
    pub cycles: usize,
    /// Cycles with at least one failing test (the ones scored).
    pub failing_cycles: usize,
    /// One entry per strategy, in [`Strategy::ALL`] order.
    pub scores: Vec<StrategyScores>,
}

struct CycleTest {
    name: String,
    duration_secs: f64,
    failed: bool,
}

#[derive(Default)]
struct Stats {
    runs: u32,
    failures: u32,
    last_failed: bool,
    last_duration: f64,
}

#[derive(Default, Clone, Copy)]
struct Sums {
    apfd: f64,
    apfdc: f64,
    napfd: f64,
}

impl Sums {
    fn add(&mut self, order: &[CycleOutcome], budget: f64, weight: f64) {
        self.apfd += weight * apfd(order).unwrap_or(0.0);
        self.apfdc += weight * apfdc(order).unwrap_or(0.0);
        self.napfd += weight * napfd_with_budget(order, budget).unwrap_or(0.0);
    }
}

/// Replays `rows` cycle by cycle (ascending `Cycle`).
///
/// Before each cycle the planner sees only the history of earlier cycles (never the current
/// verdicts or durations, nor `LastResults`), orders the cycle's tests, the order is scored
/// with the real verdicts and durations, and then the cycle's results join the history.
/// A test that appears in several rows of one cycle (several builds) is one test of that
/// cycle: it failed if any of its rows failed, and its duration is the sum.
pub fn replay(rows: &[RetecsRow], config: &PlannerConfig) -> Result<ReplayReport, ReplayError> {
    let mut cycles: BTreeMap<i64, Vec<CycleTest>> = BTreeMap::new();
    let mut index: HashMap<(i64, &str), usize> = HashMap::new();
    for row in rows {
        let tests = cycles.entry(row.cycle).or_default();
        match index.get(&(row.cycle, row.name.as_str())) {
            Some(&i) => {
                tests[i].duration_secs += row.duration_secs;
                tests[i].failed |= row.failed;
            }
            None => {
                index.insert((row.cycle, row.name.as_str()), tests.len());
                tests.push(CycleTest {
                    name: row.name.clone(),
                    duration_secs: row.duration_secs,
                    failed: row.failed,
                });
            }
        }
    }

    let no_services = BTreeMap::new();
    let mut history: Vec<TestHistoryRecord> = Vec::new();
    let mut stats: HashMap<String, Stats> = HashMap::new();
    let mut rngs: Vec<StdRng> = (0..RANDOM_SEEDS).map(StdRng::seed_from_u64).collect();
    let mut sums = [Sums::default(); Strategy::ALL.len()];
    let mut failing_cycles = 0usize;

    for (run_id, (&cycle, tests)) in cycles.iter().enumerate() {
        let failing = tests.iter().any(|t| t.failed);
        if failing {
            failing_cycles += 1;
            let outcome = |i: &usize| CycleOutcome {
                failed: tests[*i].failed,
                duration_secs: tests[*i].duration_secs,
            };
            let scored = |order: &[usize]| order.iter().map(outcome).collect::<Vec<_>>();
            let budget = BUDGET_SHARE * tests.iter().map(|t| t.duration_secs).sum::<f64>();

            let candidates: Vec<TestCandidate> = tests
                .iter()
                .map(|t| TestCandidate::new(t.name.clone()))
                .collect();
            let estimates = estimate(&candidates, &history, &no_services, config)
                .map_err(|source| ReplayError::Plan { cycle, source })?;
            let planner = prioritise(&estimates);
            sums[0].add(&scored(&planner), budget, 1.0);

            for rng in &mut rngs {
                let mut order: Vec<usize> = (0..tests.len()).collect();
                order.shuffle(rng);
                sums[1].add(&scored(&order), budget, 1.0 / RANDOM_SEEDS as f64);
            }

            let file: Vec<usize> = (0..tests.len()).collect();
            sums[2].add(&scored(&file), budget, 1.0);

            let known = |i: usize| stats.get(tests[i].name.as_str());
            let last_duration = |i: usize| known(i).map_or(0.0, |s| s.last_duration);
            let mut shortest = file.clone();
            shortest.sort_by(|&a, &b| {
                last_duration(a)
                    .total_cmp(&last_duration(b))
                    .then(a.cmp(&b))
            });
            sums[3].add(&scored(&shortest), budget, 1.0);

            let rate = |i: usize| {
                known(i).map_or(0.0, |s| f64::from(s.failures) / f64::from(s.runs.max(1)))
            };
            let last_failed = |i: usize| known(i).is_some_and(|s| s.last_failed);
            let mut heuristic = file.clone();
            heuristic.sort_by(|&a, &b| {
                last_failed(b)
                    .cmp(&last_failed(a))
                    .then(rate(b).total_cmp(&rate(a)))
                    .then(last_duration(a).total_cmp(&last_duration(b)))
                    .then(a.cmp(&b))
            });
            sums[4].add(&scored(&heuristic), budget, 1.0);

            let mut by_rate = (0..tests.len()).collect::<Vec<usize>>();
            by_rate.sort_by(|&a, &b| {
                rate(b)
                    .total_cmp(&rate(a))
                    .then(last_duration(a).total_cmp(&last_duration(b)))
                    .then(a.cmp(&b))
            });
            sums[5].add(&scored(&by_rate), budget, 1.0);

            let mut oracle = file;
            oracle.sort_by(|&a, &b| {
                tests[b]
                    .failed
                    .cmp(&tests[a].failed)
                    .then(tests[a].duration_secs.total_cmp(&tests[b].duration_secs))
                    .then(a.cmp(&b))
            });
            sums[6].add(&scored(&oracle), budget, 1.0);
        }

        for test in tests {
            history.push(TestHistoryRecord {
                test: test.name.clone(),
                run_id: run_id as u64,
                timestamp_ms: None,
                duration_secs: test.duration_secs,
                outcome: if test.failed {
                    TestOutcome::Failed
                } else {
                    TestOutcome::Passed
                },
                retries: 0,
            });
            let s = stats.entry(test.name.clone()).or_default();
            s.runs += 1;
            s.failures += u32::from(test.failed);
            s.last_failed = test.failed;
            s.last_duration = test.duration_secs;
        }
    }

    let denominator = failing_cycles.max(1) as f64;
    let scores = Strategy::ALL
        .iter()
        .zip(sums)
        .map(|(&strategy, s)| StrategyScores {
            strategy,
            apfd: s.apfd / denominator,
            apfdc: s.apfdc / denominator,
            napfd_half_budget: s.napfd / denominator,
        })
        .collect();
    Ok(ReplayReport {
        rows: rows.len(),
        tests: stats.len(),
        cycles: cycles.len(),
        failing_cycles,
        scores,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 40 tests over 30 cycles, file order by name. Tests 31 and 37 fail in every cycle from
    /// the 3rd on; test 5 fails once in cycle 10; all take 1 s except test 0 (0.1 s).
    fn consistent_failures() -> Vec<RetecsRow> {
        let mut rows = Vec::new();
        for cycle in 1..=30i64 {
            for t in 0..40 {
                let failed = ((t == 31 || t == 37) && cycle >= 3) || (t == 5 && cycle == 10);
                rows.push(RetecsRow {
                    line: rows.len() + 2,
                    id: (rows.len() + 1).to_string(),
                    name: format!("t{t:02}"),
                    build_id: None,
                    duration_secs: if t == 0 { 0.1 } else { 1.0 },
                    last_run: String::new(),
                    failed,
                    cycle,
                });
            }
        }
        rows
    }

    #[test]
    fn planner_beats_random_on_consistently_failing_tests() {
        let report = replay(&consistent_failures(), &PlannerConfig::default()).unwrap();
        assert_eq!(report.cycles, 30);
        assert_eq!(report.failing_cycles, 28);
        let score = |s: Strategy| {
            report
                .scores
                .iter()
                .find(|x| x.strategy == s)
                .unwrap()
                .clone()
        };
        let (planner, random) = (score(Strategy::Planner), score(Strategy::Random));
        // after the first failing cycle the two failing tests lead: APFD = 1 - 3/80 + 1/80
        assert!(planner.apfd > 0.9, "{planner:?}");
        assert!(random.apfd < 0.65, "{random:?}");
        assert!(planner.apfdc > random.apfdc + 0.2, "{planner:?} {random:?}");
        assert!(planner.napfd_half_budget > random.napfd_half_budget + 0.2);
        let oracle = score(Strategy::Oracle);
        assert!(oracle.apfd >= planner.apfd);
    }

    #[test]
    fn replay_never_sees_the_current_cycle() {
        // A test that fails only in the very first cycle cannot be ranked by its failure then:
        // the planner orders the first cycle with no history, so all three tie and the name
        // decides (a, b, c): the failing test is 3rd of 3, APFD = 1 - 3/(3*1) + 1/(2*3) = 1/6.
        let rows: Vec<RetecsRow> = ["a", "b", "c"]
            .iter()
            .enumerate()
            .map(|(i, name)| RetecsRow {
                line: i + 2,
                id: i.to_string(),
                name: name.to_string(),
                build_id: None,
                duration_secs: 1.0,
                last_run: String::new(),
                failed: *name == "c",
                cycle: 1,
            })
            .collect();
        let report = replay(&rows, &PlannerConfig::default()).unwrap();
        let planner = &report.scores[0];
        assert!((planner.apfd - (1.0 / 6.0)).abs() < 1e-12, "{planner:?}");
    }
}
