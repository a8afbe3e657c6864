//! What runs and in which order: the planner's order or file order, and only shard K of N.
//!
//! One function, [`select`], shared by the harness (`--partition`, `--order`) and `clnrm run`,
//! so both front ends shard and order the same way. Shards come from [`super::plan`]: balanced
//! by predicted time from the history, and by count when there is no history (every test then
//! has the same predicted time). The same tests and history always give the same shards.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::error::PlanError;
use super::model::{
    Objective, PlanInput, PlannerConfig, TestCandidate, TestHistoryRecord, TestOutcome,
};
use super::planner::{TestPlan, plan};
use super::shard::Partition;

/// The order tests run in: `--order planned|file`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOrder {
    /// Likely failures first, then the shortest: chance to fail per expected second.
    #[default]
    Planned,
    /// The order the tests are declared or discovered in.
    File,
}

impl RunOrder {
    /// Parses `planned` or `file` (case-insensitive).
    pub fn parse(value: &str) -> Result<Self, PlanError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "planned" => Ok(RunOrder::Planned),
            "file" => Ok(RunOrder::File),
            _ => Err(PlanError::InvalidOrder {
                given: value.to_owned(),
            }),
        }
    }
}

impl fmt::Display for RunOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            RunOrder::Planned => "planned",
            RunOrder::File => "file",
        })
    }
}

impl FromStr for RunOrder {
    type Err = PlanError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The outcome of [`select`]: indices into the candidates.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// The candidates to run (all of them, or shard K's), in run order.
    pub run: Vec<usize>,
    /// The candidates of the other shards, in file order.
    pub other_shards: Vec<usize>,
    /// The plan behind the choice: estimates and reasons, lanes, shard sizes.
    pub plan: TestPlan,
}

/// Orders `tests` (given in file order) by `order` (a planned order serving `objective`) and
/// keeps shard `partition` of them.
///
/// Every candidate lands in exactly one of [`Selection::run`] and [`Selection::other_shards`].
/// `threads` only shapes the predicted lanes in [`Selection::plan`].
pub fn select(
    tests: &[TestCandidate],
    history: &[TestHistoryRecord],
    order: RunOrder,
    objective: Objective,
    partition: Option<Partition>,
    threads: usize,
) -> Result<Selection, PlanError> {
    let plan = plan(&PlanInput {
        tests: tests.to_vec(),
        history: history.to_vec(),
        service_startup_secs: BTreeMap::new(),
        threads: threads.max(1),
        partition,
        config: PlannerConfig {
            objective,
            ..PlannerConfig::default()
        },
    })?;
    let index: HashMap<&str, usize> = tests
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.as_str(), i))
        .collect();
    let mut run: Vec<usize> = plan
        .tests
        .iter()
        .filter_map(|t| index.get(t.name.as_str()).copied())
        .collect();
    if order == RunOrder::File {
        run.sort_unstable();
    }
    let mut in_shard = vec![false; tests.len()];
    for &i in &run {
        in_shard[i] = true;
    }
    let other_shards = (0..tests.len()).filter(|&i| !in_shard[i]).collect();
    Ok(Selection {
        run,
        other_shards,
        plan,
    })
}

/// [`select`] for whole suites whose history is kept per scenario (`suite::scenario`): the
/// scenarios' records are folded into their suite's ([`suite_history`]). A suite name given
/// twice (two files, one name) keeps its history on the first; the second is planned as new.
pub fn select_suites(
    suites: &[&str],
    scenario_history: &[TestHistoryRecord],
    order: RunOrder,
    objective: Objective,
    partition: Option<Partition>,
    threads: usize,
) -> Result<Selection, PlanError> {
    select_suites_changed(
        suites,
        &[],
        scenario_history,
        order,
        objective,
        partition,
        threads,
    )
}

/// [`select_suites`] knowing whether each suite's file changed since its last green run:
/// `source_changed[i]` is suite `i`'s (missing entries: unknown).
pub fn select_suites_changed(
    suites: &[&str],
    source_changed: &[Option<bool>],
    scenario_history: &[TestHistoryRecord],
    order: RunOrder,
    objective: Objective,
    partition: Option<Partition>,
    threads: usize,
) -> Result<Selection, PlanError> {
    let mut seen = std::collections::HashSet::new();
    let tests: Vec<TestCandidate> = suites
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut candidate = if seen.insert(*name) {
                TestCandidate::new(*name)
            } else {
                TestCandidate::new(format!("{name} (suite {})", i + 1))
            };
            candidate.source_changed = source_changed.get(i).copied().flatten();
            candidate
        })
        .collect();
    let history = suite_history(suites, scenario_history);
    select(&tests, &history, order, objective, partition, threads)
}

/// The history of `suites` from their scenarios' (`suite::scenario`, [`group_history`]); a
/// scenario belongs to the suite with the longest matching name.
pub fn suite_history(
    suites: &[&str],
    scenario_history: &[TestHistoryRecord],
) -> Vec<TestHistoryRecord> {
    group_history(scenario_history, |test| {
        suites
            .iter()
            .filter(|s| {
                test.strip_prefix(**s)
                    .is_some_and(|rest| rest.starts_with("::"))
            })
            .max_by_key(|s| s.len())
            .map(|s| (*s).to_owned())
    })
}

/// Folds the history of parts into the history of the units they belong to, e.g. scenarios
/// `suite::scenario` into suites: per unit and run, the durations add up, retries add up, and
/// the outcome is the worst (failed, then flaky, then passed; skipped only when every part was).
/// Records `unit_of` maps to `None` are left out.
pub fn group_history(
    records: &[TestHistoryRecord],
    unit_of: impl Fn(&str) -> Option<String>,
) -> Vec<TestHistoryRecord> {
    let mut units: BTreeMap<(u64, String), TestHistoryRecord> = BTreeMap::new();
    for record in records {
        let Some(unit) = unit_of(&record.test) else {
            continue;
        };
        let entry = units
            .entry((record.run_id, unit.clone()))
            .or_insert_with(|| TestHistoryRecord {
                test: unit,
                run_id: record.run_id,
                timestamp_ms: record.timestamp_ms,
                duration_secs: 0.0,
                outcome: TestOutcome::Skipped,
                retries: 0,
            });
        entry.duration_secs += record.duration_secs;
        entry.retries += record.retries;
        entry.timestamp_ms = match (entry.timestamp_ms, record.timestamp_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        entry.outcome = worst(entry.outcome, record.outcome);
    }
    units.into_values().collect()
}

fn worst(a: TestOutcome, b: TestOutcome) -> TestOutcome {
    let rank = |o| match o {
        TestOutcome::Skipped => 0,
        TestOutcome::Passed => 1,
        TestOutcome::Flaky => 2,
        TestOutcome::Failed => 3,
    };
    if rank(b) > rank(a) { b } else { a }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidates(names: &[&str]) -> Vec<TestCandidate> {
        names.iter().map(|n| TestCandidate::new(*n)).collect()
    }

    fn record(test: &str, run_id: u64, secs: f64, outcome: TestOutcome) -> TestHistoryRecord {
        TestHistoryRecord {
            test: test.into(),
            run_id,
            timestamp_ms: None,
            duration_secs: secs,
            outcome,
            retries: 0,
        }
    }

    fn names<'a>(tests: &'a [TestCandidate], indices: &[usize]) -> Vec<&'a str> {
        indices.iter().map(|&i| tests[i].name.as_str()).collect()
    }

    #[test]
    fn order_parses_planned_and_file_and_names_what_is_expected_otherwise() {
        assert_eq!(RunOrder::parse("planned").unwrap(), RunOrder::Planned);
        assert_eq!(RunOrder::parse("File").unwrap(), RunOrder::File);
        assert_eq!(
            RunOrder::parse("random").unwrap_err().to_string(),
            "invalid order `random`: expected `planned` (likely failures first) or `file`"
        );
    }

    #[test]
    fn without_history_shards_are_balanced_by_count_and_cover_every_test_once() {
        let tests = candidates(&["a", "b", "c", "d", "e", "f", "g"]);
        let mut seen = vec![0; tests.len()];
        let mut sizes = Vec::new();
        for k in 1..=3 {
            let partition = Partition::new(k, 3).unwrap();
            let s = select(
                &tests,
                &[],
                RunOrder::File,
                Objective::default(),
                Some(partition),
                1,
            )
            .unwrap();
            let again = select(
                &tests,
                &[],
                RunOrder::File,
                Objective::default(),
                Some(partition),
                1,
            )
            .unwrap();
            assert_eq!(s, again, "the same input gives the same shard");
            assert_eq!(s.run.len() + s.other_shards.len(), tests.len());
            for &i in &s.run {
                seen[i] += 1;
            }
            sizes.push(s.run.len());
        }
        assert_eq!(
            seen,
            vec![1; tests.len()],
            "every test in exactly one shard"
        );
        assert_eq!(sizes, [3, 2, 2]);
    }

    #[test]
    fn shards_are_balanced_by_predicted_time_from_the_history() {
        let tests = candidates(&["long", "s1", "s2", "s3"]);
        let history = vec![
            record("long", 1, 30.0, TestOutcome::Passed),
            record("s1", 1, 1.0, TestOutcome::Passed),
            record("s2", 1, 1.0, TestOutcome::Passed),
            record("s3", 1, 1.0, TestOutcome::Passed),
        ];
        let first = Partition::new(1, 2).unwrap();
        let s = select(
            &tests,
            &history,
            RunOrder::File,
            Objective::default(),
            Some(first),
            1,
        )
        .unwrap();
        assert_eq!(names(&tests, &s.run), ["long"]);
        assert_eq!(names(&tests, &s.other_shards), ["s1", "s2", "s3"]);
    }

    #[test]
    fn planned_order_puts_the_recent_failure_first_and_file_order_keeps_the_declaration() {
        let tests = candidates(&["a", "b", "c"]);
        let history = vec![
            record("a", 1, 1.0, TestOutcome::Passed),
            record("b", 1, 1.0, TestOutcome::Passed),
            record("c", 1, 1.0, TestOutcome::Failed),
        ];
        let planned = select(
            &tests,
            &history,
            RunOrder::Planned,
            Objective::default(),
            None,
            2,
        )
        .unwrap();
        assert_eq!(names(&tests, &planned.run)[0], "c");
        assert!(planned.other_shards.is_empty());
        let file = select(
            &tests,
            &history,
            RunOrder::File,
            Objective::default(),
            None,
            2,
        )
        .unwrap();
        assert_eq!(names(&tests, &file.run), ["a", "b", "c"]);
    }

    #[test]
    fn suites_are_ordered_by_the_history_of_their_scenarios() {
        let history = vec![
            record("api::health", 1, 1.0, TestOutcome::Passed),
            record("db::migrate", 1, 1.0, TestOutcome::Passed),
            record("db::query", 1, 1.0, TestOutcome::Failed),
            record("unknown::x", 1, 1.0, TestOutcome::Failed),
        ];
        let suites = ["api", "db", "new"];
        let s = select_suites(
            &suites,
            &history,
            RunOrder::Planned,
            Objective::default(),
            None,
            1,
        )
        .unwrap();
        let order: Vec<&str> = s.run.iter().map(|&i| suites[i]).collect();
        assert_eq!(
            order[0], "db",
            "the suite with a failing scenario runs first"
        );
        assert_eq!(s.run.len(), 3);
        let dup = select_suites(
            &["a", "a"],
            &[],
            RunOrder::File,
            Objective::default(),
            None,
            1,
        )
        .unwrap();
        assert_eq!(dup.run, [0, 1], "a repeated suite name is no error");
    }

    #[test]
    fn a_suite_whose_source_changed_runs_before_an_otherwise_equal_one() {
        let history = vec![
            record("alpha::x", 1, 1.0, TestOutcome::Passed),
            record("beta::x", 1, 1.0, TestOutcome::Passed),
        ];
        let suites = ["alpha", "beta"];
        let changed = [Some(false), Some(true)];
        let s = select_suites_changed(
            &suites,
            &changed,
            &history,
            RunOrder::Planned,
            Objective::default(),
            None,
            1,
        )
        .unwrap();
        let order: Vec<&str> = s.run.iter().map(|&i| suites[i]).collect();
        assert_eq!(order, ["beta", "alpha"]);
        let beta = s.plan.tests.iter().find(|t| t.name == "beta").unwrap();
        assert!(
            beta.estimate
                .reasons
                .iter()
                .any(|r| r == "source changed since last green run"),
            "{:?}",
            beta.estimate.reasons
        );
    }

    #[test]
    fn scenario_history_folds_into_suites_with_the_worst_outcome_and_summed_time() {
        let history = vec![
            record("s::one", 1, 1.0, TestOutcome::Passed),
            record("s::two", 1, 2.0, TestOutcome::Failed),
            record("t::one", 1, 0.5, TestOutcome::Skipped),
            record("s::one", 2, 1.5, TestOutcome::Flaky),
            record("loose", 2, 9.0, TestOutcome::Failed),
        ];
        let suites = group_history(&history, |t| t.split_once("::").map(|(s, _)| s.into()));
        let view: Vec<(&str, u64, f64, TestOutcome)> = suites
            .iter()
            .map(|r| (r.test.as_str(), r.run_id, r.duration_secs, r.outcome))
            .collect();
        assert_eq!(
            view,
            [
                ("s", 1, 3.0, TestOutcome::Failed),
                ("t", 1, 0.5, TestOutcome::Skipped),
                ("s", 2, 1.5, TestOutcome::Flaky),
            ]
        );
    }
}
