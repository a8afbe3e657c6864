//! Per-test estimates: chance to fail, flakiness, expected duration, and why.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use serde::{Deserialize, Serialize};

use super::error::PlanError;
use super::model::{PlannerConfig, TestCandidate, TestHistoryRecord, TestOutcome, check_seconds};
use super::pattern::{Pattern, PatternModel};
use super::reason::{Kind, Reason};

/// What the planner believes about one test, with the reasons in words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct TestEstimate {
    /// Test name.
    pub name: String,
    /// Estimated chance that the next run fails, in [0, 1].
    pub failure_probability: f64,
    /// Flip rate over the recent runs (pass/fail changes and passes on retry), in [0, 1].
    pub flakiness: f64,
    /// Expected duration in seconds (median of the recent runs, or a default).
    pub expected_duration_secs: f64,
    /// Expected cost when ordering: duration plus this test's share of its services' start-up,
    /// floored at `min_cost_secs`.
    pub cost_secs: f64,
    /// Chance to fail per expected second: the ordering key (higher runs earlier).
    pub priority: f64,
    /// Non-skipped runs in the history.
    pub runs_seen: usize,
    /// Why, e.g. "failed 2 of last 5 runs", "new test" (put into words when displayed).
    pub reasons: Vec<Reason>,
}

/// Estimates every candidate's chance to fail and duration from the history.
///
/// Deterministic; history records may come in any order (they are ordered by run id, then
/// timestamp, then position). Records of tests that are not candidates still inform the global
/// failure rate and the default duration.
pub fn estimate(
    tests: &[TestCandidate],
    history: &[TestHistoryRecord],
    service_startup_secs: &BTreeMap<String, f64>,
    config: &PlannerConfig,
) -> Result<Vec<TestEstimate>, PlanError> {
    config.validate()?;
    for (index, record) in history.iter().enumerate() {
        // The message is only built for a bad value: this loop sees every history row.
        if !(record.duration_secs.is_finite() && record.duration_secs >= 0.0) {
            check_seconds(
                &format!("duration of history record {index} (`{}`)", record.test),
                record.duration_secs,
            )?;
        }
    }
    for (service, secs) in service_startup_secs {
        check_seconds(&format!("start-up estimate of service `{service}`"), *secs)?;
    }

    let runs = RunsByTest::of(history);
    // Every test's runs teach the model what follows each verdict pattern. Taken by name so
    // the sums, and so the plan, do not depend on the order of the history.
    let mut by_name: Vec<(&str, usize)> = runs.names.iter().map(|(n, &g)| (*n, g)).collect();
    by_name.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let model = PatternModel::learn(by_name.iter().map(|&(_, g)| runs.seen(g)), config);

    // Each test's median duration, once (NaN for a test whose runs were all skipped).
    let mut window = Vec::with_capacity(config.duration_window_runs.max(1));
    let durations: Vec<f64> = (0..runs.names.len())
        .map(|g| match runs.seen(g) {
            [] => f64::NAN,
            seen => median_duration(seen, config.duration_window_runs, &mut window),
        })
        .collect();
    // Default duration for unseen tests: the median of the known tests' medians.
    let mut medians: Vec<f64> = durations.iter().copied().filter(|d| !d.is_nan()).collect();
    let default_duration = if medians.is_empty() {
        config.default_duration_secs
    } else {
        median(&mut medians)
    };

    // Each service's start-up is shared by the candidates that need it.
    let mut users: BTreeMap<&str, usize> = BTreeMap::new();
    for test in tests {
        for service in dedup(&test.services) {
            *users.entry(service).or_default() += 1;
        }
    }

    let mut out: Vec<TestEstimate> = Vec::with_capacity(tests.len());
    for test in tests {
        let group = runs.names.get(test.name.as_str()).copied();
        let seen = group.map_or(&[][..], |g| runs.seen(g));
        let mut reasons = Vec::with_capacity(6);
        let (mut p, flakiness, duration) = if seen.is_empty() {
            let (p, after) = model.probability(Pattern::of(&[], model.depth()));
            reasons.push(Reason::new(if after > 0.0 {
                Kind::NewTest {
                    share: p,
                    first_runs: after,
                }
            } else {
                Kind::NewTestPrior { chance: p }
            }));
            reasons.push(Reason::new(Kind::NoDurationHistory {
                assumed_secs: default_duration,
            }));
            (p, 0.0, default_duration)
        } else {
            let stats = history_stats(seen, &model, config, &mut reasons);
            let d = durations[group.expect("a test with runs has a group")];
            reasons.push(Reason::new(Kind::MedianDuration {
                secs: d,
                runs: seen.len().min(config.duration_window_runs.max(1)),
            }));
            (stats.probability, stats.flakiness, d)
        };
        if test.source_changed == Some(true) {
            p += (1.0 - p) * config.source_changed_boost;
            reasons.push(Reason::new(Kind::SourceChanged));
        }
        let p = p.clamp(0.0, 1.0);

        let mut service_share = 0.0;
        let services = dedup(&test.services);
        for service in &services {
            let startup = service_startup_secs
                .get(*service)
                .copied()
                .unwrap_or(config.default_service_startup_secs);
            service_share += startup / users[service] as f64;
        }
        if !services.is_empty() {
            reasons.push(Reason::new(Kind::Services {
                names: services.join(", "),
                share_secs: service_share,
            }));
        }
        out.push(TestEstimate {
            name: test.name.clone(),
            failure_probability: p,
            flakiness,
            expected_duration_secs: duration,
            cost_secs: duration + service_share,
            priority: 0.0,
            runs_seen: seen.len(),
            reasons,
        });
    }
    // The cost floor depends on the typical candidate.
    let floor = if out.is_empty() {
        config.min_cost_secs
    } else {
        let mut costs: Vec<f64> = out.iter().map(|e| e.cost_secs).collect();
        config
            .min_cost_secs
            .max(config.min_cost_share_of_median * median(&mut costs))
    };
    for e in &mut out {
        e.cost_secs = e.cost_secs.max(floor);
    }
    set_priorities(&mut out, config);
    Ok(out)
}

/// Sets every estimate's ordering key for `config`'s objective: chance to fail per blended
/// cost, the blend being `(1 - share)` of the candidates' mean cost plus `share` of the
/// test's own (share 0 for `failures`, 1 for `time`).
pub(crate) fn set_priorities(estimates: &mut [TestEstimate], config: &PlannerConfig) {
    let share = config.own_cost_share();
    let mean_cost = if estimates.is_empty() {
        0.0
    } else {
        estimates.iter().map(|e| e.cost_secs).sum::<f64>() / estimates.len() as f64
    };
    for e in estimates {
        let cost = (1.0 - share) * mean_cost + share * e.cost_secs;
        e.priority = if cost > 0.0 {
            e.failure_probability / cost
        } else {
            e.failure_probability
        };
    }
}

struct HistoryStats {
    probability: f64,
    flakiness: f64,
}

/// `seen` is newest first and non-empty. The chance to fail is the test's own recency-weighted
/// failure rate, pulled towards what the history says follows its recent verdict pattern
/// with `prior_strength` pseudo-runs.
fn history_stats(
    seen: &[&TestHistoryRecord],
    model: &PatternModel,
    config: &PlannerConfig,
    reasons: &mut Vec<Reason>,
) -> HistoryStats {
    let decay = 0.5f64.powf(1.0 / config.recency_half_life_runs);
    let mut weight = 1.0;
    let (mut weighted_failures, mut weights) = (0.0, 0.0);
    for record in seen {
        let f = record
            .outcome
            .failure_weight(config.flaky_outcome_weight)
            .unwrap_or(0.0);
        weighted_failures += weight * f;
        weights += weight;
        weight *= decay;
    }
    let pattern = Pattern::of(seen, model.depth());
    let (pattern_p, after) = model.probability(pattern);
    let probability =
        (weighted_failures + config.prior_strength * pattern_p) / (weights + config.prior_strength);

    let window = &seen[..seen.len().min(config.flip_window_runs.max(1))];
    let is_bad = |r: &&TestHistoryRecord| r.outcome != TestOutcome::Passed;
    let transitions = window
        .windows(2)
        .filter(|w| is_bad(&w[0]) != is_bad(&w[1]))
        .count();
    let failed = window
        .iter()
        .filter(|r| r.outcome == TestOutcome::Failed)
        .count();
    let flaky = window
        .iter()
        .filter(|r| r.outcome == TestOutcome::Flaky)
        .count();
    let flakiness = ((transitions + flaky) as f64 / window.len() as f64).min(1.0);

    let n = window.len();
    if failed > 0 {
        reasons.push(Reason::new(Kind::FailedOfLast { failed, of: n }));
    }
    if flaky > 0 {
        reasons.push(Reason::new(Kind::RetriedOfLast { flaky, of: n }));
    }
    if failed == 0 && flaky == 0 {
        reasons.push(Reason::new(
            match seen.iter().position(|r| r.outcome != TestOutcome::Passed) {
                Some(ago) => Kind::LastFailedAgo { runs: ago + 1 },
                None => Kind::PassedAll { runs: seen.len() },
            },
        ));
    }
    if pattern.len > 0 && after > 0.0 {
        reasons.push(Reason::new(Kind::AfterPattern {
            share: pattern_p,
            runs: after,
            len: pattern.len,
            bits: pattern.bits,
        }));
    }
    if transitions >= 2 {
        reasons.push(Reason::new(Kind::Flipped {
            times: transitions,
            of: n,
        }));
    }
    HistoryStats {
        probability,
        flakiness,
    }
}

/// The history grouped by test: each test's non-skipped runs, newest first, in one flat array
/// (the planner sees every history row once; one map lookup per row and no list per test).
struct RunsByTest<'a> {
    /// Test name → its group.
    names: FxHashMap<&'a str, usize>,
    /// Group `g`'s runs are `rows[start[g]..start[g + 1]]`.
    start: Vec<usize>,
    rows: Vec<&'a TestHistoryRecord>,
}

impl<'a> RunsByTest<'a> {
    fn of(history: &'a [TestHistoryRecord]) -> Self {
        let mut names: FxHashMap<&str, usize> = FxHashMap::default();
        let group_of_row: Vec<usize> = history
            .iter()
            .map(|record| {
                let next = names.len();
                *names.entry(record.test.as_str()).or_insert(next)
            })
            .collect();
        // Counting sort by group: each group's row indices, ascending.
        let mut start = vec![0usize; names.len() + 1];
        for &g in &group_of_row {
            start[g + 1] += 1;
        }
        for g in 0..names.len() {
            start[g + 1] += start[g];
        }
        let mut fill = start.clone();
        let mut indices = vec![0usize; history.len()];
        for (i, &g) in group_of_row.iter().enumerate() {
            indices[fill[g]] = i;
            fill[g] += 1;
        }
        let mut rows = Vec::with_capacity(history.len());
        let mut kept_start = Vec::with_capacity(start.len());
        kept_start.push(0);
        for g in 0..names.len() {
            let group = &mut indices[start[g]..start[g + 1]];
            // Oldest first, then reversed: a store or a replay hands records in mostly in time
            // order, which is then only confirmed (keys are unique: same order as sorting
            // newest first).
            let older = |a: &usize, b: &usize| {
                let (ra, rb) = (&history[*a], &history[*b]);
                ra.run_id
                    .cmp(&rb.run_id)
                    .then(ra.timestamp_ms.cmp(&rb.timestamp_ms))
                    .then(a.cmp(b))
            };
            if !group.is_sorted_by(|a, b| older(a, b).is_le()) {
                group.sort_by(older);
            }
            rows.extend(
                group
                    .iter()
                    .rev()
                    .map(|&i| &history[i])
                    .filter(|r| r.outcome != TestOutcome::Skipped),
            );
            kept_start.push(rows.len());
        }
        RunsByTest {
            names,
            start: kept_start,
            rows,
        }
    }

    /// Group `g`'s non-skipped runs, newest first.
    fn seen(&self, g: usize) -> &[&'a TestHistoryRecord] {
        &self.rows[self.start[g]..self.start[g + 1]]
    }
}

fn median_duration(seen: &[&TestHistoryRecord], window: usize, scratch: &mut Vec<f64>) -> f64 {
    scratch.clear();
    scratch.extend(seen.iter().take(window.max(1)).map(|r| r.duration_secs));
    median(scratch)
}

/// Median of a non-empty slice (mean of the two middle values for even lengths).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

fn dedup(services: &[String]) -> Vec<&str> {
    let mut out: Vec<&str> = services.iter().map(String::as_str).collect();
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(
        test: &str,
        run_id: u64,
        duration_secs: f64,
        outcome: TestOutcome,
    ) -> TestHistoryRecord {
        TestHistoryRecord {
            test: test.into(),
            run_id,
            timestamp_ms: None,
            duration_secs,
            outcome,
            retries: 0,
        }
    }

    fn estimates(tests: &[TestCandidate], history: &[TestHistoryRecord]) -> Vec<TestEstimate> {
        estimate(tests, history, &BTreeMap::new(), &PlannerConfig::default()).unwrap()
    }

    #[test]
    fn recent_failures_raise_the_chance_to_fail_above_a_clean_test() {
        let mut history = Vec::new();
        for run in 1..=5 {
            history.push(record("clean", run, 1.0, TestOutcome::Passed));
            let outcome = if run >= 4 {
                TestOutcome::Failed
            } else {
                TestOutcome::Passed
            };
            history.push(record("broken", run, 1.0, outcome));
        }
        let e = estimates(
            &[TestCandidate::new("clean"), TestCandidate::new("broken")],
            &history,
        );
        assert!(e[1].failure_probability > 0.3, "{e:?}");
        assert!(
            e[1].failure_probability > 2.0 * e[0].failure_probability,
            "{e:?}"
        );
        assert!(
            e[1].reasons.iter().any(|r| r == "failed 2 of last 5 runs"),
            "{:?}",
            e[1].reasons
        );
        assert!(
            e[0].reasons.iter().any(|r| r == "passed all 5 runs"),
            "{:?}",
            e[0].reasons
        );
    }

    #[test]
    fn new_test_gets_the_prior_and_the_median_duration_of_the_others() {
        let history = vec![
            record("a", 1, 1.0, TestOutcome::Passed),
            record("b", 1, 3.0, TestOutcome::Passed),
            record("c", 1, 100.0, TestOutcome::Passed),
        ];
        let e = estimates(&[TestCandidate::new("fresh")], &history);
        // three first runs, none failed: the overall rate (0 of 3, pulled towards the 20 %
        // prior with 2 pseudo-runs) is 0.08, and the first-run rate pulled towards it 0.032
        assert!((e[0].failure_probability - 0.032).abs() < 1e-12, "{e:?}");
        assert_eq!(e[0].expected_duration_secs, 3.0);
        assert_eq!(
            e[0].reasons[0],
            "new test: 3 % of the 3 first runs in the history failed"
        );
        // with no history at all, the configured prior
        let e = estimates(&[TestCandidate::new("fresh")], &[]);
        assert_eq!(
            e[0].failure_probability,
            PlannerConfig::default().new_test_failure_prior
        );
    }

    #[test]
    fn duration_is_the_median_so_one_outlier_does_not_move_it() {
        let history: Vec<_> = [1.0, 1.2, 0.9, 60.0, 1.1]
            .iter()
            .enumerate()
            .map(|(i, d)| record("t", i as u64, *d, TestOutcome::Passed))
            .collect();
        let e = estimates(&[TestCandidate::new("t")], &history);
        assert_eq!(e[0].expected_duration_secs, 1.1);
    }

    #[test]
    fn changed_source_is_boosted_and_said() {
        let history = vec![record("t", 1, 1.0, TestOutcome::Passed)];
        let plain = estimates(&[TestCandidate::new("t")], &history)[0].failure_probability;
        let changed = TestCandidate {
            source_changed: Some(true),
            ..TestCandidate::new("t")
        };
        let e = &estimates(&[changed], &history)[0];
        assert!(e.failure_probability > plain);
        assert!(
            e.reasons
                .iter()
                .any(|r| r == "source changed since last green run")
        );
    }

    #[test]
    fn flip_flopping_test_is_flakier_than_a_steady_one() {
        let mut history = Vec::new();
        for run in 1..=10u64 {
            let flip = if run % 2 == 0 {
                TestOutcome::Failed
            } else {
                TestOutcome::Passed
            };
            history.push(record("flip", run, 1.0, flip));
            history.push(record("steady", run, 1.0, TestOutcome::Passed));
        }
        history.push(record("retry", 10, 1.0, TestOutcome::Flaky));
        let e = estimates(
            &[
                TestCandidate::new("flip"),
                TestCandidate::new("steady"),
                TestCandidate::new("retry"),
            ],
            &history,
        );
        assert!(e[0].flakiness > 0.8, "{e:?}");
        assert_eq!(e[1].flakiness, 0.0);
        assert!(
            e[2].reasons
                .iter()
                .any(|r| r.to_string().starts_with("passed only on retry")),
            "{:?}",
            e[2].reasons
        );
    }

    #[test]
    fn negative_duration_in_history_is_an_error_naming_the_record() {
        let history = vec![record("t", 1, -1.0, TestOutcome::Passed)];
        let err = estimate(
            &[TestCandidate::new("t")],
            &history,
            &BTreeMap::new(),
            &PlannerConfig::default(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "duration of history record 0 (`t`) is -1; expected a finite number of seconds >= 0"
        );
    }
}
