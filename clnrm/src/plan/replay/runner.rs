//! Cycle-by-cycle replay of the planner and the published baselines, under two protocols.

use std::collections::{BTreeMap, HashMap};

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::csv::RetecsRow;
use super::metrics::{CycleOutcome, apfd, apfdc, first_failure_share, napfd_with_budget};
use super::stats::{Wilcoxon, vargha_delaney_a12, wilcoxon_signed_rank};
use crate::plan::error::ReplayError;
use crate::plan::estimate::{estimate, set_priorities};
use crate::plan::model::{Objective, PlannerConfig, TestCandidate, TestHistoryRecord, TestOutcome};
use crate::plan::order::prioritise;

/// Seeds the random baseline is averaged over.
pub const RANDOM_SEEDS: u64 = 30;
/// NAPFD time budget as a share of the cycle's total duration.
const BUDGET_SHARE: f64 = 0.5;
/// Weights of the recency baseline over the last four verdicts, most recent first.
const RECENCY_WEIGHTS: [u32; 4] = [8, 4, 2, 1];

/// How a cycle is turned into the list of items to order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// The published one (RETECS, COLEMAN): one item per row (test execution), so a test run
    /// twice in a cycle is two items; cycles with at least one failure and two items scored.
    Published,
    /// One item per test and cycle (failed if any of its rows failed, duration the sum);
    /// every cycle with a failure scored.
    PerTest,
}

impl Protocol {
    /// Both, in report order.
    pub const ALL: [Protocol; 2] = [Protocol::Published, Protocol::PerTest];

    /// Title in the table.
    pub fn label(self) -> &'static str {
        match self {
            Protocol::Published => {
                "published protocol (one item per execution; cycles with >= 1 failure and >= 2 items)"
            }
            Protocol::PerTest => {
                "per-test protocol (one item per test and cycle; cycles with >= 1 failure)"
            }
        }
    }
}

/// An ordering strategy of the replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The clnrm planner with `--objective failures`: likely failures first.
    PlannerFailures,
    /// The clnrm planner with `--objective time` (the default): chance to fail per second.
    PlannerTime,
    /// The standard history heuristic: failed in its last execution first (a test never seen
    /// counts as failed), then higher Laplace-smoothed failure rate `(f + 1) / (n + 2)`, then
    /// shorter last duration (unseen: 0 s), then file order.
    Standard,
    /// Recency-weighted: `8 v1 + 4 v2 + 2 v3 + 1 v4` over the last four verdicts (1 = failed,
    /// most recent first; missing verdicts count 0), higher first, then shorter, then file order.
    Recency,
    /// Uniformly random, mean over [`RANDOM_SEEDS`] seeds.
    Random,
    /// Row order within the cycle.
    FileOrder,
    /// Shortest last known duration first (unseen tests count as 0 s), then file order.
    ShortestFirst,
    /// Upper bound that knows the verdicts: failing first, then shortest real duration.
    Oracle,
}

impl Strategy {
    /// All strategies, in table order.
    pub const ALL: [Strategy; 8] = [
        Strategy::PlannerFailures,
        Strategy::PlannerTime,
        Strategy::Standard,
        Strategy::Recency,
        Strategy::Random,
        Strategy::FileOrder,
        Strategy::ShortestFirst,
        Strategy::Oracle,
    ];

    /// Column label.
    pub fn label(self) -> &'static str {
        match self {
            Strategy::PlannerFailures => "plan:failures",
            Strategy::PlannerTime => "plan:time",
            Strategy::Standard => "lastfail+lapl",
            Strategy::Recency => "recency8421",
            Strategy::Random => "random(30)",
            Strategy::FileOrder => "file-order",
            Strategy::ShortestFirst => "shortest",
            Strategy::Oracle => "oracle",
        }
    }

    /// A baseline the planner is compared with (not the planner, not the oracle).
    pub fn is_baseline(self) -> bool {
        !matches!(
            self,
            Strategy::PlannerFailures | Strategy::PlannerTime | Strategy::Oracle
        )
    }
}

/// A metric of the comparison lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// APFD.
    Apfd,
    /// APFDc.
    Apfdc,
}

impl Metric {
    /// Label.
    pub fn label(self) -> &'static str {
        match self {
            Metric::Apfd => "APFD",
            Metric::Apfdc => "APFDc",
        }
    }
}

/// Mean scores of one strategy over the scored cycles.
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
    /// Mean share of the cycle's time spent until the first failure finished (lower is
    /// better).
    pub first_failure_share: f64,
}

/// A planner variant against the best baseline of one metric, cycle by cycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct Comparison {
    /// The planner variant.
    pub planner_strategy: Strategy,
    /// The metric.
    pub metric: Metric,
    /// The baseline with the best mean of this metric.
    pub baseline: Strategy,
    /// Planner mean.
    pub planner: f64,
    /// Baseline mean.
    pub baseline_mean: f64,
    /// Cycles the planner scored higher, equal, lower.
    pub wins: usize,
    /// Cycles with equal scores.
    pub ties: usize,
    /// Cycles the planner scored lower.
    pub losses: usize,
    /// Paired Wilcoxon signed-rank test of planner against baseline.
    pub wilcoxon: Wilcoxon,
    /// Vargha–Delaney Â12 of planner against baseline (> 0.5: the planner tends to score higher).
    pub a12: f64,
}

/// The scores of one protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct ProtocolReport {
    /// The protocol.
    pub protocol: Protocol,
    /// Cycles scored.
    pub scored_cycles: usize,
    /// Items (executions or tests) in the scored cycles.
    pub scored_items: usize,
    /// One entry per strategy, in [`Strategy::ALL`] order.
    pub scores: Vec<StrategyScores>,
    /// Both planner variants against the best baseline of APFD and of APFDc.
    pub comparisons: Vec<Comparison>,
}

impl ProtocolReport {
    /// The scores of `strategy`.
    pub fn score(&self, strategy: Strategy) -> Option<&StrategyScores> {
        self.scores.iter().find(|s| s.strategy == strategy)
    }
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
    /// Share of the rows that failed.
    pub failing_row_share: f64,
    /// One report per protocol, in [`Protocol::ALL`] order.
    pub protocols: Vec<ProtocolReport>,
}

impl ReplayReport {
    /// The report of `protocol`.
    pub fn protocol(&self, protocol: Protocol) -> Option<&ProtocolReport> {
        self.protocols.iter().find(|p| p.protocol == protocol)
    }
}

/// APFD, APFDc, NAPFD at half budget, time to first failure share.
type Score = (f64, f64, f64, f64);

/// What the baselines know of a test: its executions so far (rows, in order).
#[derive(Default, Clone)]
struct Stats {
    runs: u32,
    failures: u32,
    /// Bit i: the (i+1)-th most recent execution failed.
    recent: u32,
    last_duration: f64,
}

/// An item to order: a row (published) or a test (per-test).
struct Item {
    /// Index of its test among the cycle's distinct names.
    test: usize,
    failed: bool,
    duration_secs: f64,
}

/// Per-cycle scores of every strategy: `[strategy][cycle] = (apfd, apfdc, napfd)`.
struct Tally {
    per_cycle: Vec<Vec<Score>>,
    items: usize,
}

impl Tally {
    fn new() -> Self {
        Tally {
            per_cycle: vec![Vec::new(); Strategy::ALL.len()],
            items: 0,
        }
    }
}

fn scores_of(order: &[usize], items: &[Item], budget: f64) -> Score {
    let outcomes: Vec<CycleOutcome> = order
        .iter()
        .map(|&i| CycleOutcome {
            failed: items[i].failed,
            duration_secs: items[i].duration_secs,
        })
        .collect();
    (
        apfd(&outcomes).unwrap_or(0.0),
        apfdc(&outcomes).unwrap_or(0.0),
        napfd_with_budget(&outcomes, budget).unwrap_or(0.0),
        first_failure_share(&outcomes).unwrap_or(1.0),
    )
}

/// Replays `rows` cycle by cycle (ascending `Cycle`, rows of a cycle in file order).
///
/// Before each cycle every strategy sees only the executions of earlier cycles (never the
/// current verdicts or durations, nor `LastResults` or `CalcPrio`, which the reader drops):
/// the planner as history records (one per row), the baselines as per-test counts. Each
/// orders the cycle's items under both protocols, the orders are scored with the real
/// verdicts and durations, and then every row of the cycle joins the history.
pub fn replay(rows: &[RetecsRow], config: &PlannerConfig) -> Result<ReplayReport, ReplayError> {
    let mut cycles: BTreeMap<i64, Vec<&RetecsRow>> = BTreeMap::new();
    for row in rows {
        cycles.entry(row.cycle).or_default().push(row);
    }

    let no_services = BTreeMap::new();
    let mut history: Vec<TestHistoryRecord> = Vec::with_capacity(rows.len());
    let mut stats: HashMap<&str, Stats> = HashMap::new();
    let mut rngs: Vec<StdRng> = (0..RANDOM_SEEDS).map(StdRng::seed_from_u64).collect();
    let mut tallies = [Tally::new(), Tally::new()];

    for (run_id, (&cycle, cycle_rows)) in cycles.iter().enumerate() {
        // Distinct tests in first-appearance order.
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut names: Vec<&str> = Vec::new();
        let row_test: Vec<usize> = cycle_rows
            .iter()
            .map(|row| {
                *index.entry(row.name.as_str()).or_insert_with(|| {
                    names.push(row.name.as_str());
                    names.len() - 1
                })
            })
            .collect();

        let published: Vec<Item> = cycle_rows
            .iter()
            .zip(&row_test)
            .map(|(row, &test)| Item {
                test,
                failed: row.failed,
                duration_secs: row.duration_secs,
            })
            .collect();
        let mut per_test: Vec<Item> = (0..names.len())
            .map(|test| Item {
                test,
                failed: false,
                duration_secs: 0.0,
            })
            .collect();
        for item in &published {
            per_test[item.test].failed |= item.failed;
            per_test[item.test].duration_secs += item.duration_secs;
        }

        let scored = [
            published.iter().any(|i| i.failed) && published.len() >= 2,
            per_test.iter().any(|i| i.failed),
        ];
        if scored.iter().any(|s| *s) {
            // Per-test keys (lower runs earlier), shared by every item of the test.
            let candidates: Vec<TestCandidate> =
                names.iter().map(|n| TestCandidate::new(*n)).collect();
            let estimates = estimate(&candidates, &history, &no_services, config)
                .map_err(|source| ReplayError::Plan { cycle, source })?;
            let mut estimates = estimates;
            let mut rank_for = |objective: Objective| {
                let config = PlannerConfig {
                    objective,
                    ..config.clone()
                };
                set_priorities(&mut estimates, &config);
                let mut rank = vec![0usize; names.len()];
                for (position, i) in prioritise(&estimates).into_iter().enumerate() {
                    rank[i] = position;
                }
                rank
            };
            let failures_rank = rank_for(Objective::Failures);
            let time_rank = rank_for(Objective::Time);
            let known: Vec<Option<&Stats>> = names.iter().map(|n| stats.get(n)).collect();
            let last_duration = |t: usize| known[t].map_or(0.0, |s| s.last_duration);
            // Standard: (not last failed, -laplace rate) with unseen = failed and rate 1/2.
            let standard_key = |t: usize| match known[t] {
                None => (false, -0.5),
                Some(s) => (
                    s.recent & 1 == 0,
                    -(f64::from(s.failures) + 1.0) / (f64::from(s.runs) + 2.0),
                ),
            };
            let recency_score = |t: usize| {
                known[t].map_or(0, |s| {
                    RECENCY_WEIGHTS
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| s.recent & (1 << i) != 0)
                        .map(|(_, w)| w)
                        .sum::<u32>()
                })
            };

            for (p, items) in [&published, &per_test].into_iter().enumerate() {
                if !scored[p] {
                    continue;
                }
                let tally = &mut tallies[p];
                tally.items += items.len();
                let budget = BUDGET_SHARE * items.iter().map(|i| i.duration_secs).sum::<f64>();
                let file: Vec<usize> = (0..items.len()).collect();
                let sorted = |cmp: &dyn Fn(&Item, &Item) -> std::cmp::Ordering| {
                    let mut order = file.clone();
                    order.sort_by(|&a, &b| cmp(&items[a], &items[b]).then(a.cmp(&b)));
                    order
                };
                let by_failures = sorted(&|a, b| failures_rank[a.test].cmp(&failures_rank[b.test]));
                let by_time = sorted(&|a, b| time_rank[a.test].cmp(&time_rank[b.test]));
                let standard = sorted(&|a, b| {
                    let (ka, kb) = (standard_key(a.test), standard_key(b.test));
                    ka.0.cmp(&kb.0)
                        .then(ka.1.total_cmp(&kb.1))
                        .then(last_duration(a.test).total_cmp(&last_duration(b.test)))
                });
                let recency = sorted(&|a, b| {
                    recency_score(b.test)
                        .cmp(&recency_score(a.test))
                        .then(last_duration(a.test).total_cmp(&last_duration(b.test)))
                });
                let shortest =
                    sorted(&|a, b| last_duration(a.test).total_cmp(&last_duration(b.test)));
                let oracle = sorted(&|a, b| {
                    b.failed
                        .cmp(&a.failed)
                        .then(a.duration_secs.total_cmp(&b.duration_secs))
                });
                let mut random = (0.0, 0.0, 0.0, 0.0);
                for rng in &mut rngs {
                    let mut order = file.clone();
                    order.shuffle(rng);
                    let s = scores_of(&order, items, budget);
                    random.0 += s.0 / RANDOM_SEEDS as f64;
                    random.1 += s.1 / RANDOM_SEEDS as f64;
                    random.2 += s.2 / RANDOM_SEEDS as f64;
                    random.3 += s.3 / RANDOM_SEEDS as f64;
                }
                for (s, strategy) in Strategy::ALL.iter().enumerate() {
                    let score = match strategy {
                        Strategy::PlannerFailures => scores_of(&by_failures, items, budget),
                        Strategy::PlannerTime => scores_of(&by_time, items, budget),
                        Strategy::Standard => scores_of(&standard, items, budget),
                        Strategy::Recency => scores_of(&recency, items, budget),
                        Strategy::Random => random,
                        Strategy::FileOrder => scores_of(&file, items, budget),
                        Strategy::ShortestFirst => scores_of(&shortest, items, budget),
                        Strategy::Oracle => scores_of(&oracle, items, budget),
                    };
                    tally.per_cycle[s].push(score);
                }
            }
        }

        for (seq, row) in cycle_rows.iter().enumerate() {
            history.push(history_record(row, run_id, seq));
            let s = stats.entry(row.name.as_str()).or_default();
            s.runs += 1;
            s.failures += u32::from(row.failed);
            s.recent = (s.recent << 1) | u32::from(row.failed);
            s.last_duration = row.duration_secs;
        }
    }

    let protocols = Protocol::ALL
        .iter()
        .zip(&tallies)
        .map(|(&protocol, tally)| protocol_report(protocol, tally))
        .collect();
    let failing = rows.iter().filter(|r| r.failed).count();
    Ok(ReplayReport {
        rows: rows.len(),
        tests: stats.len(),
        cycles: cycles.len(),
        failing_row_share: failing as f64 / rows.len().max(1) as f64,
        protocols,
    })
}

/// A row as the history the planner sees: run `run_id` (the cycle's rank), in row order.
fn history_record(row: &RetecsRow, run_id: usize, seq: usize) -> TestHistoryRecord {
    TestHistoryRecord {
        test: row.name.clone(),
        run_id: run_id as u64,
        timestamp_ms: Some(seq as i64),
        duration_secs: row.duration_secs,
        outcome: if row.failed {
            TestOutcome::Failed
        } else {
            TestOutcome::Passed
        },
        retries: 0,
    }
}

/// A cycle scored under the published protocol, as a strategy meets it: the history before
/// it and the items to order.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayCycle {
    /// The `Cycle` value.
    pub cycle: i64,
    /// The history before this cycle is `history[..history_len]` of [`published_cycles`].
    pub history_len: usize,
    /// Distinct tests of the cycle in first-appearance order.
    pub tests: Vec<String>,
    /// One item per row, in row order: the index of its test in `tests` and its real verdict
    /// and duration (for scoring only).
    pub items: Vec<(usize, CycleOutcome)>,
}

/// The whole history as [`replay`] builds it (one record per row, cycles in ascending order)
/// and the cycles the published protocol scores (at least one failure and two rows), for
/// strategies that run outside [`replay`], such as the LLM advisor's ablation.
pub fn published_cycles(rows: &[RetecsRow]) -> (Vec<TestHistoryRecord>, Vec<ReplayCycle>) {
    let mut cycles: BTreeMap<i64, Vec<&RetecsRow>> = BTreeMap::new();
    for row in rows {
        cycles.entry(row.cycle).or_default().push(row);
    }
    let mut history = Vec::with_capacity(rows.len());
    let mut scored = Vec::new();
    for (run_id, (&cycle, cycle_rows)) in cycles.iter().enumerate() {
        if cycle_rows.len() >= 2 && cycle_rows.iter().any(|r| r.failed) {
            let mut index: HashMap<&str, usize> = HashMap::new();
            let mut tests: Vec<String> = Vec::new();
            let items = cycle_rows
                .iter()
                .map(|row| {
                    let test = *index.entry(row.name.as_str()).or_insert_with(|| {
                        tests.push(row.name.clone());
                        tests.len() - 1
                    });
                    let outcome = CycleOutcome {
                        failed: row.failed,
                        duration_secs: row.duration_secs,
                    };
                    (test, outcome)
                })
                .collect();
            scored.push(ReplayCycle {
                cycle,
                history_len: history.len(),
                tests,
                items,
            });
        }
        for (seq, row) in cycle_rows.iter().enumerate() {
            history.push(history_record(row, run_id, seq));
        }
    }
    (history, scored)
}

fn protocol_report(protocol: Protocol, tally: &Tally) -> ProtocolReport {
    let cycles = tally.per_cycle[0].len();
    let mean = |values: &[Score], f: fn(&Score) -> f64| {
        values.iter().map(f).sum::<f64>() / cycles.max(1) as f64
    };
    let scores: Vec<StrategyScores> = Strategy::ALL
        .iter()
        .zip(&tally.per_cycle)
        .map(|(&strategy, values)| StrategyScores {
            strategy,
            apfd: mean(values, |s| s.0),
            apfdc: mean(values, |s| s.1),
            napfd_half_budget: mean(values, |s| s.2),
            first_failure_share: mean(values, |s| s.3),
        })
        .collect();
    let mut comparisons = Vec::new();
    for (planner_index, planner_strategy) in Strategy::ALL
        .iter()
        .enumerate()
        .filter(|(_, s)| matches!(s, Strategy::PlannerFailures | Strategy::PlannerTime))
    {
        for metric in [Metric::Apfd, Metric::Apfdc] {
            let get = |s: &StrategyScores| match metric {
                Metric::Apfd => s.apfd,
                Metric::Apfdc => s.apfdc,
            };
            let pick = |v: &Score| match metric {
                Metric::Apfd => v.0,
                Metric::Apfdc => v.1,
            };
            let Some((best, best_scores)) = scores
                .iter()
                .enumerate()
                .filter(|(_, s)| s.strategy.is_baseline())
                .max_by(|a, b| get(a.1).total_cmp(&get(b.1)).then(b.0.cmp(&a.0)))
            else {
                continue;
            };
            let planner: Vec<f64> = tally.per_cycle[planner_index].iter().map(pick).collect();
            let baseline: Vec<f64> = tally.per_cycle[best].iter().map(pick).collect();
            let (mut wins, mut ties, mut losses) = (0, 0, 0);
            for (p, b) in planner.iter().zip(&baseline) {
                if (p - b).abs() <= 1e-12 {
                    ties += 1;
                } else if p > b {
                    wins += 1;
                } else {
                    losses += 1;
                }
            }
            comparisons.push(Comparison {
                planner_strategy: *planner_strategy,
                metric,
                baseline: best_scores.strategy,
                planner: get(&scores[planner_index]),
                baseline_mean: get(best_scores),
                wins,
                ties,
                losses,
                wilcoxon: wilcoxon_signed_rank(&planner, &baseline),
                a12: vargha_delaney_a12(&planner, &baseline),
            });
        }
    }
    ProtocolReport {
        protocol,
        scored_cycles: cycles,
        scored_items: tally.items,
        scores,
        comparisons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cycle: i64, name: &str, duration_secs: f64, failed: bool) -> RetecsRow {
        RetecsRow::of(cycle, name, duration_secs, failed)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    fn apfd_of(report: &ReplayReport, protocol: Protocol, strategy: Strategy) -> f64 {
        report
            .protocol(protocol)
            .unwrap()
            .score(strategy)
            .unwrap()
            .apfd
    }

    #[test]
    fn baselines_give_the_hand_computed_orders() {
        let rows = vec![
            // cycle 1, nothing known: every heuristic keeps file order a, b, c (b at 2 of 3);
            // APFD = 1 - 2/3 + 1/6 = 0.5; the oracle puts b first: 1 - 1/3 + 1/6 = 5/6
            row(1, "a", 1.0, false),
            row(1, "b", 2.0, true),
            row(1, "c", 3.0, false),
            // cycle 2, file order c, a, d (new), b; failing: c, d
            row(2, "c", 3.0, true),
            row(2, "a", 1.0, false),
            row(2, "d", 0.5, true),
            row(2, "b", 2.0, false),
        ];
        let report = replay(&rows, &PlannerConfig::default()).unwrap();
        let p = Protocol::Published;
        // standard: last failed first (b; d unseen counts as failed), by Laplace rate
        // b 2/3 > d 1/2, then a and c (1/3 each) by duration: b, d, a, c -> failures at 2, 4:
        // 1 - 6/8 + 1/8 = 0.375
        assert!(close(
            apfd_of(&report, p, Strategy::Standard),
            (0.5 + 0.375) / 2.0
        ));
        // recency: b scores 8, the rest 0, then shortest (d unseen = 0 s): b, d, a, c
        assert!(close(
            apfd_of(&report, p, Strategy::Recency),
            (0.5 + 0.375) / 2.0
        ));
        // shortest: d (0), a (1), b (2), c (3) -> failures at 1, 4: 1 - 5/8 + 1/8 = 0.5
        assert!(close(apfd_of(&report, p, Strategy::ShortestFirst), 0.5));
        // file order: c, a, d, b -> failures at 1, 3: 1 - 4/8 + 1/8 = 0.625
        assert!(close(
            apfd_of(&report, p, Strategy::FileOrder),
            (0.5 + 0.625) / 2.0
        ));
        // oracle: d, c -> 1, 2: 1 - 3/8 + 1/8 = 0.75
        assert!(close(
            apfd_of(&report, p, Strategy::Oracle),
            (5.0 / 6.0 + 0.75) / 2.0
        ));
        assert_eq!(report.protocol(p).unwrap().scored_cycles, 2);
    }

    #[test]
    fn standard_and_recency_differ_on_an_old_failure() {
        // x failed 5 cycles ago and passed since; y always passed and is shorter. In the
        // last cycle y fails. Standard: neither failed last, x has the higher Laplace rate
        // (2/7 > 1/7): x, y -> APFD 1 - 2/2 + 1/4 = 0.25. Recency: both score 0 over the last
        // four verdicts, so shorter first: y, x -> 1 - 1/2 + 1/4 = 0.75.
        let mut rows = Vec::new();
        for cycle in 1..=5 {
            rows.push(row(cycle, "x", 2.0, cycle == 1));
            rows.push(row(cycle, "y", 1.0, false));
        }
        rows.push(row(6, "x", 2.0, false));
        rows.push(row(6, "y", 1.0, true));
        let report = replay(&rows, &PlannerConfig::default()).unwrap();
        let published = report.protocol(Protocol::Published).unwrap();
        // cycle 1 (x fails, nothing known: file order x, y -> 0.75) and cycle 6 are scored
        assert_eq!(published.scored_cycles, 2);
        let p = Protocol::Published;
        assert!(close(
            apfd_of(&report, p, Strategy::Standard),
            (0.75 + 0.25) / 2.0
        ));
        assert!(close(
            apfd_of(&report, p, Strategy::Recency),
            (0.75 + 0.75) / 2.0
        ));
    }

    #[test]
    fn protocols_differ_on_reruns_and_single_item_cycles() {
        let rows = vec![
            // a lone failing row: per-test scores it, the published protocol needs 2 items
            row(1, "a", 1.0, true),
            // a rerun of b: two items under the published protocol, one test under per-test
            row(2, "b", 1.0, true),
            row(2, "b", 1.0, false),
        ];
        let report = replay(&rows, &PlannerConfig::default()).unwrap();
        let published = report.protocol(Protocol::Published).unwrap();
        let per_test = report.protocol(Protocol::PerTest).unwrap();
        assert_eq!((published.scored_cycles, published.scored_items), (1, 2));
        assert_eq!((per_test.scored_cycles, per_test.scored_items), (2, 2));
        assert_eq!(report.tests, 2);
        assert!(close(report.failing_row_share, 2.0 / 3.0));
    }

    /// 40 tests over 30 cycles, file order by name. Tests 31 and 37 fail in every cycle from
    /// the 3rd on; test 5 fails once in cycle 10; all take 1 s except test 0 (0.1 s).
    fn consistent_failures() -> Vec<RetecsRow> {
        let mut rows = Vec::new();
        for cycle in 1..=30i64 {
            for t in 0..40 {
                let failed = ((t == 31 || t == 37) && cycle >= 3) || (t == 5 && cycle == 10);
                let duration = if t == 0 { 0.1 } else { 1.0 };
                rows.push(row(cycle, &format!("t{t:02}"), duration, failed));
            }
        }
        rows
    }

    #[test]
    fn planner_beats_random_and_comparisons_are_paired_over_the_same_cycles() {
        let report = replay(&consistent_failures(), &PlannerConfig::default()).unwrap();
        assert_eq!(report.cycles, 30);
        let published = report.protocol(Protocol::Published).unwrap();
        assert_eq!(published.scored_cycles, 28);
        let planner = published.score(Strategy::PlannerFailures).unwrap();
        let random = published.score(Strategy::Random).unwrap();
        assert!(planner.apfd > 0.9, "{planner:?}");
        assert!(random.apfd < 0.65, "{random:?}");
        assert!(planner.napfd_half_budget > random.napfd_half_budget + 0.2);
        assert!(published.score(Strategy::Oracle).unwrap().apfd >= planner.apfd);
        assert_eq!(published.comparisons.len(), 4);
        for c in &published.comparisons {
            assert!(c.baseline.is_baseline());
            assert_eq!(c.wins + c.ties + c.losses, 28);
            assert!((0.0..=1.0).contains(&c.a12) && (0.0..=1.0).contains(&c.wilcoxon.p_value));
        }
    }

    #[test]
    fn published_cycles_hold_the_history_before_each_scored_cycle() {
        let rows = vec![
            row(1, "a", 1.0, true),
            row(2, "a", 1.0, false),
            row(2, "b", 2.0, true),
            row(2, "a", 1.5, true),
            row(3, "b", 1.0, false),
            row(3, "a", 1.0, false),
        ];
        let (history, cycles) = published_cycles(&rows);
        assert_eq!(history.len(), 6);
        // cycle 1 has one row, cycle 3 no failure: only cycle 2 is scored
        assert_eq!(cycles.len(), 1);
        let c = &cycles[0];
        assert_eq!((c.cycle, c.history_len), (2, 1));
        assert_eq!(c.tests, ["a", "b"]);
        let items: Vec<(usize, bool)> = c.items.iter().map(|(t, o)| (*t, o.failed)).collect();
        assert_eq!(items, [(0, false), (1, true), (0, true)]);
        assert_eq!(history[0].test, "a");
        assert_eq!(history[0].outcome, TestOutcome::Failed);
    }

    #[test]
    fn replay_never_sees_the_current_cycle() {
        // A test that fails only in the very first cycle cannot be ranked by its failure then:
        // with no history all three tie and the order stays a, b, c: the failing test is 3rd
        // of 3, APFD = 1 - 3/(3*1) + 1/(2*3) = 1/6.
        let rows: Vec<RetecsRow> = ["a", "b", "c"]
            .iter()
            .map(|name| row(1, name, 1.0, *name == "c"))
            .collect();
        let report = replay(&rows, &PlannerConfig::default()).unwrap();
        let planner = apfd_of(&report, Protocol::Published, Strategy::PlannerFailures);
        assert!(close(planner, 1.0 / 6.0), "{planner}");
    }
}
