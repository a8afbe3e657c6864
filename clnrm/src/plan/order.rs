//! Ordering by chance to fail per expected second.
//!
//! Running tests in decreasing `p / cost` order minimises the expected time to the first
//! failure (Smith's rule for independent tests). Ties, and tests with no chance to fail at all,
//! fall back to shortest first, then to the name, so the order is total and deterministic.

use std::cmp::Ordering;

use super::estimate::TestEstimate;

/// Compares two estimates: higher priority first, then cheaper first, then by name.
pub fn priority_cmp(a: &TestEstimate, b: &TestEstimate) -> Ordering {
    b.priority
        .total_cmp(&a.priority)
        .then(a.cost_secs.total_cmp(&b.cost_secs))
        .then_with(|| a.name.cmp(&b.name))
}

/// Indices into `estimates` in run order.
pub fn prioritise(estimates: &[TestEstimate]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..estimates.len()).collect();
    sort_by_priority(&mut order, estimates);
    order
}

/// Sorts `indices` into `estimates` in run order.
pub(crate) fn sort_by_priority(indices: &mut [usize], estimates: &[TestEstimate]) {
    indices.sort_by(|&a, &b| priority_cmp(&estimates[a], &estimates[b]).then(a.cmp(&b)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est(name: &str, p: f64, cost: f64) -> TestEstimate {
        TestEstimate {
            name: name.into(),
            failure_probability: p,
            flakiness: 0.0,
            expected_duration_secs: cost,
            cost_secs: cost,
            priority: p / cost,
            runs_seen: 1,
            reasons: vec![],
        }
    }

    #[test]
    fn likely_cheap_failures_come_first_and_zero_probability_falls_back_to_shortest() {
        let e = vec![
            est("slow_sure", 0.9, 90.0),   // 0.01 per second
            est("quick_likely", 0.5, 1.0), // 0.5 per second
            est("never_long", 0.0, 5.0),
            est("never_short", 0.0, 1.0),
            est("tie_b", 0.2, 2.0), // 0.1 per second, same as tie_a
            est("tie_a", 0.1, 1.0),
        ];
        let names: Vec<&str> = prioritise(&e)
            .into_iter()
            .map(|i| e[i].name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "quick_likely",
                "tie_a",
                "tie_b",
                "slow_sure",
                "never_short",
                "never_long"
            ]
        );
    }
}
