//! The chance to fail learned from the history itself: how often did a test fail right after
//! a given pattern of recent verdicts (new, last failed, failed-passed-passed, ...)?
//!
//! Every execution in the history is one observation: the pattern of the same test's verdicts
//! before it (up to `pattern_runs` of them, most recent first; "new" when it had none) and
//! whether it failed. The estimate for a pattern is smoothed towards the one of its shorter
//! pattern (a Dirichlet back-off: `(failures + m p_shorter) / (runs + m)`), the shortest
//! towards the history's overall failure rate (raised by `failure_persistence_prior` when the
//! last run failed), and that towards `new_test_failure_prior`. So the planner learns from the data how often new tests fail and
//! how sticky failures are, instead of assuming it: a history where a failing test keeps
//! failing ranks "failed last time" high, one where failures are one-off blips does not.

use super::model::{PlannerConfig, TestHistoryRecord, TestOutcome};

/// Deepest pattern accepted (2^(7+1) - 1 states).
pub(crate) const MAX_PATTERN_RUNS: usize = 7;

/// Counts of failures after each verdict pattern.
#[derive(Debug, Clone)]
pub(crate) struct PatternModel {
    depth: usize,
    smoothing: f64,
    root: f64,
    persistence: f64,
    /// Per state: (failure weight, executions). State 0 is "new"; a pattern of length k with
    /// bits b (bit 0 = most recent run, 1 = failed) is `2^k - 1 + b`.
    counts: Vec<(f64, f64)>,
}

/// A test's recent verdicts as the model sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pattern {
    /// How many verdicts the pattern holds (0: new test).
    pub(crate) len: usize,
    /// Bit i set: the (i+1)-th most recent run failed.
    pub(crate) bits: u32,
}

impl Pattern {
    /// The pattern of a test whose runs are `newest_first` (non-skipped), cut at `depth`.
    pub(crate) fn of(newest_first: &[&TestHistoryRecord], depth: usize) -> Self {
        let len = newest_first.len().min(depth);
        let bits = newest_first[..len]
            .iter()
            .enumerate()
            .filter(|(_, r)| is_bad(r.outcome))
            .fold(0u32, |bits, (i, _)| bits | (1 << i));
        Pattern { len, bits }
    }

    /// The same pattern cut to its `k` most recent runs.
    fn prefix(self, k: usize) -> Self {
        Pattern {
            len: k,
            bits: self.bits & ((1u32 << k) - 1),
        }
    }

    fn state(self) -> usize {
        (1usize << self.len) - 1 + self.bits as usize
    }

    /// Verdicts, most recent first: `F` failed (or passed only on retry), `P` passed.
    #[cfg(test)]
    pub(crate) fn describe(self) -> String {
        (0..self.len)
            .map(|i| if self.bits & (1 << i) != 0 { 'F' } else { 'P' })
            .collect()
    }
}

fn is_bad(outcome: TestOutcome) -> bool {
    matches!(outcome, TestOutcome::Failed | TestOutcome::Flaky)
}

impl PatternModel {
    /// Learns from every test's runs, each given newest first (skipped runs left out).
    pub(crate) fn learn<'a>(
        newest_first_per_test: impl Iterator<Item = &'a [&'a TestHistoryRecord]>,
        config: &PlannerConfig,
    ) -> Self {
        let depth = config.pattern_runs.min(MAX_PATTERN_RUNS);
        let mut counts = vec![(0.0, 0.0); (1usize << (depth + 1)) - 1];
        let (mut failures, mut runs) = (0.0, 0.0);
        for seq in newest_first_per_test {
            let mut bits = 0u32; // bit 0 = the previous run
            for (j, record) in seq.iter().rev().enumerate() {
                let weight = record
                    .outcome
                    .failure_weight(config.flaky_outcome_weight)
                    .unwrap_or(0.0);
                failures += weight;
                runs += 1.0;
                let seen = Pattern {
                    len: j.min(depth),
                    bits: bits & ((1u32 << j.min(depth)) - 1),
                };
                if seen.len == 0 {
                    let c = &mut counts[0];
                    c.0 += weight;
                    c.1 += 1.0;
                } else {
                    for k in 1..=seen.len {
                        let c = &mut counts[seen.prefix(k).state()];
                        c.0 += weight;
                        c.1 += 1.0;
                    }
                }
                bits = (bits << 1) | u32::from(is_bad(record.outcome));
            }
        }
        let smoothing = config.pattern_smoothing;
        let root = (failures + smoothing * config.new_test_failure_prior) / (runs + smoothing);
        PatternModel {
            depth,
            smoothing,
            root,
            persistence: config.failure_persistence_prior,
            counts,
        }
    }

    /// Pattern length the model looks at.
    pub(crate) fn depth(&self) -> usize {
        self.depth
    }

    /// Chance to fail after `pattern`, and how many past executions followed exactly it.
    pub(crate) fn probability(&self, pattern: Pattern) -> (f64, f64) {
        let m = self.smoothing;
        let smooth = |state: usize, parent: f64| {
            let (f, n) = self.counts[state];
            if n + m > 0.0 {
                (f + m * parent) / (n + m)
            } else {
                parent
            }
        };
        if pattern.len == 0 {
            return (smooth(0, self.root), self.counts[0].1);
        }
        // Before the data says otherwise, a failure is assumed to make the next one likelier.
        let mut p = if pattern.bits & 1 == 1 {
            self.root + (1.0 - self.root) * self.persistence
        } else {
            self.root
        };
        for k in 1..=pattern.len {
            p = smooth(pattern.prefix(k).state(), p);
        }
        (p, self.counts[pattern.state()].1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(test: &str, run_id: u64, outcome: TestOutcome) -> TestHistoryRecord {
        TestHistoryRecord {
            test: test.into(),
            run_id,
            timestamp_ms: None,
            duration_secs: 1.0,
            outcome,
            retries: 0,
        }
    }

    #[test]
    fn sticky_failures_are_learned_from_the_data() {
        use TestOutcome::{Failed, Passed};
        // Two tests: one fails from run 3 on and keeps failing, one always passes.
        let sticky: Vec<TestHistoryRecord> = (1..=10)
            .map(|r| rec("s", r, if r >= 3 { Failed } else { Passed }))
            .collect();
        let clean: Vec<TestHistoryRecord> = (1..=10).map(|r| rec("c", r, Passed)).collect();
        // newest first, as the model takes them
        let (s, c): (Vec<&TestHistoryRecord>, Vec<&TestHistoryRecord>) =
            (sticky.iter().rev().collect(), clean.iter().rev().collect());
        let config = PlannerConfig::default();
        let model = PatternModel::learn([s.as_slice(), c.as_slice()].into_iter(), &config);
        let after_fail = model.probability(Pattern { len: 1, bits: 1 }).0;
        let after_pass = model.probability(Pattern { len: 1, bits: 0 }).0;
        assert!(after_fail > 0.8, "{after_fail}");
        assert!(after_pass < 0.15, "{after_pass}");
        // "new": both tests started with a pass, so a new test is below the overall rate
        let new = model.probability(Pattern { len: 0, bits: 0 });
        assert_eq!(new.1, 2.0);
        assert!(new.0 < 0.4, "{new:?}");
        assert_eq!(
            Pattern {
                len: 3,
                bits: 0b001
            }
            .describe(),
            "FPP"
        );
    }

    #[test]
    fn empty_history_gives_the_configured_prior() {
        let config = PlannerConfig::default();
        let model = PatternModel::learn(std::iter::empty(), &config);
        let (p, n) = model.probability(Pattern { len: 0, bits: 0 });
        assert!((p - config.new_test_failure_prior).abs() < 1e-12);
        assert_eq!(n, 0.0);
    }
}
