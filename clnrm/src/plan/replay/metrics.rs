//! Scores of a prioritised order: APFD, APFDc and NAPFD under a time budget.
//!
//! Every failing test counts as one fault (the convention of the RETECS and COLEMAN papers).
//! All functions take the tests in prioritised order and return `None` when the order holds no
//! failing test (such cycles are left out of the means).

/// A test of a replayed cycle, with its real result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CycleOutcome {
    /// It failed in this cycle.
    pub failed: bool,
    /// Its real duration in this cycle, seconds.
    pub duration_secs: f64,
}

/// Average Percentage of Faults Detected: `1 - sum(TF_i) / (n m) + 1 / (2n)`, with `TF_i` the
/// 1-based position of the i-th failing test, `n` tests and `m` failing tests.
pub fn apfd(order: &[CycleOutcome]) -> Option<f64> {
    let n = order.len() as f64;
    let positions: Vec<f64> = order
        .iter()
        .enumerate()
        .filter(|(_, t)| t.failed)
        .map(|(i, _)| (i + 1) as f64)
        .collect();
    if positions.is_empty() {
        return None;
    }
    let m = positions.len() as f64;
    Some(1.0 - positions.iter().sum::<f64>() / (n * m) + 1.0 / (2.0 * n))
}

/// Cost-cognizant APFD (Elbaum, Malishevsky and Rothermel 2001) with unit fault severities:
/// `sum_i (sum_{j >= TF_i} t_j - t_{TF_i} / 2) / (T m)`, `T` the total duration. When every
/// duration is zero the cost view carries no information and APFD is returned.
pub fn apfdc(order: &[CycleOutcome]) -> Option<f64> {
    let total: f64 = order.iter().map(|t| t.duration_secs).sum();
    if total <= 0.0 {
        return apfd(order);
    }
    let mut remaining = total; // sum of t_j for j >= the current position
    let mut sum = 0.0;
    let mut m = 0usize;
    for test in order {
        if test.failed {
            sum += remaining - test.duration_secs / 2.0;
            m += 1;
        }
        remaining -= test.duration_secs;
    }
    (m > 0).then(|| sum / (total * m as f64))
}

/// Normalised APFD (Qu et al. 2007) when only the tests that fit in `budget_secs` run.
///
/// Tests are taken in order and kept while they fit in the remaining budget; a test that does
/// not fit is skipped and the next one is tried (the RETECS/COLEMAN scheduling). With `p` the
/// share of failing tests that ran, `n` all tests of the cycle, `m` all failing tests and
/// `TF_i` the 1-based position of a detected failing test among the tests that ran:
/// `NAPFD = p - sum(TF_i) / (n m) + p / (2n)`; undetected failures add 0 to the sum.
pub fn napfd_with_budget(order: &[CycleOutcome], budget_secs: f64) -> Option<f64> {
    let n = order.len() as f64;
    let m = order.iter().filter(|t| t.failed).count() as f64;
    if m == 0.0 {
        return None;
    }
    let (mut used, mut position) = (0.0, 0usize);
    let (mut detected, mut tf_sum) = (0.0, 0.0);
    for test in order {
        if used + test.duration_secs <= budget_secs {
            used += test.duration_secs;
            position += 1;
            if test.failed {
                detected += 1.0;
                tf_sum += position as f64;
            }
        }
    }
    let p = detected / m;
    Some(p - tf_sum / (n * m) + p / (2.0 * n))
}

/// Time to the first failure as a share of the cycle's total duration: the wall time a
/// developer waits (serially) until the first failing test has finished, over the time of the
/// whole cycle. Lower is better; `None` without a failing test. When every duration is zero,
/// the share of tests run until the first failure.
pub fn first_failure_share(order: &[CycleOutcome]) -> Option<f64> {
    let total: f64 = order.iter().map(|t| t.duration_secs).sum();
    let position = order.iter().position(|t| t.failed)?;
    if total <= 0.0 {
        return Some((position + 1) as f64 / order.len() as f64);
    }
    let waited: f64 = order[..=position].iter().map(|t| t.duration_secs).sum();
    Some(waited / total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(failed: bool, duration_secs: f64) -> CycleOutcome {
        CycleOutcome {
            failed,
            duration_secs,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    // The example order: pass 1 s, FAIL 2 s, pass 3 s, FAIL 4 s. n = 4, m = 2, T = 10.
    fn example() -> Vec<CycleOutcome> {
        vec![t(false, 1.0), t(true, 2.0), t(false, 3.0), t(true, 4.0)]
    }

    #[test]
    fn apfd_matches_the_hand_computation() {
        // TF = 2 and 4: 1 - (2 + 4) / (4 * 2) + 1 / (2 * 4) = 1 - 0.75 + 0.125 = 0.375
        assert!(close(apfd(&example()).unwrap(), 0.375));
        // failing first: TF = 1, 2: 1 - 3/8 + 1/8 = 0.75
        let best = [t(true, 2.0), t(true, 4.0), t(false, 1.0), t(false, 3.0)];
        assert!(close(apfd(&best).unwrap(), 0.75));
        // a single failing test alone: 1 - 1/1 + 1/2 = 0.5
        assert!(close(apfd(&[t(true, 1.0)]).unwrap(), 0.5));
        assert_eq!(apfd(&[t(false, 1.0)]), None);
    }

    #[test]
    fn apfdc_matches_the_hand_computation() {
        // fault at 2: t2 + t3 + t4 - t2/2 = 2 + 3 + 4 - 1 = 8
        // fault at 4: t4 - t4/2 = 2
        // (8 + 2) / (T * m) = 10 / (10 * 2) = 0.5
        assert!(close(apfdc(&example()).unwrap(), 0.5));
        // cheap failure first: F 1 s, pass 9 s: (10 - 0.5) / (10 * 1) = 0.95
        assert!(close(apfdc(&[t(true, 1.0), t(false, 9.0)]).unwrap(), 0.95));
        // zero durations fall back to APFD
        assert!(close(apfdc(&[t(false, 0.0), t(true, 0.0)]).unwrap(), 0.25));
    }

    #[test]
    fn first_failure_share_matches_the_hand_computation() {
        // pass 1 s, FAIL 2 s: 3 s of 10
        assert!(close(first_failure_share(&example()).unwrap(), 0.3));
        assert_eq!(first_failure_share(&[t(false, 1.0)]), None);
        // zero durations: the share of tests run, 2 of 2
        assert!(close(
            first_failure_share(&[t(false, 0.0), t(true, 0.0)]).unwrap(),
            1.0
        ));
    }

    #[test]
    fn napfd_matches_the_hand_computation() {
        // budget 5 s (half of 10): pass 1 s (used 1), FAIL 2 s (used 3), pass 3 s would make 6:
        // skipped, FAIL 4 s would make 7: skipped. Ran 2 tests, detected 1 of 2: p = 0.5,
        // TF = 2: 0.5 - 2 / (4 * 2) + 0.5 / (2 * 4) = 0.5 - 0.25 + 0.0625 = 0.3125
        assert!(close(napfd_with_budget(&example(), 5.0).unwrap(), 0.3125));
        // a short test later still runs when it fits: budget 4: pass 1 (1), FAIL 2 (3),
        // pass 3 skipped, FAIL 4 skipped -> same; budget 7: pass 1, F 2, pass 3 (6), F 4
        // skipped: p = 0.5, TF = 2 -> 0.3125
        assert!(close(napfd_with_budget(&example(), 7.0).unwrap(), 0.3125));
        // with the whole budget NAPFD equals APFD
        assert!(close(napfd_with_budget(&example(), 10.0).unwrap(), 0.375));
        // nothing fits: p = 0 -> 0
        assert!(close(napfd_with_budget(&example(), 0.5).unwrap(), 0.0));
    }
}
