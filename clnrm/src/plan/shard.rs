//! `--partition K/N` and splitting tests into shards balanced by predicted time.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::error::PlanError;

/// Shard `index` (1-based) of `count`, as in `--partition 2/4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Partition {
    index: usize,
    count: usize,
}

impl Partition {
    /// Shard `index` of `count`; needs `1 <= index <= count`.
    pub fn new(index: usize, count: usize) -> Result<Self, PlanError> {
        let spec = format!("{index}/{count}");
        if count == 0 {
            return Err(invalid(&spec, "the number of shards N must be at least 1"));
        }
        if index == 0 || index > count {
            return Err(invalid(
                &spec,
                &format!("K must be between 1 and {count} (K is 1-based)"),
            ));
        }
        Ok(Self { index, count })
    }

    /// Parses `K/N`.
    pub fn parse(spec: &str) -> Result<Self, PlanError> {
        let (k, n) = spec
            .split_once('/')
            .ok_or_else(|| invalid(spec, "expected `K/N`, e.g. `2/4`"))?;
        let k: usize = k
            .trim()
            .parse()
            .map_err(|_| invalid(spec, "K is not a whole number"))?;
        let n: usize = n
            .trim()
            .parse()
            .map_err(|_| invalid(spec, "N is not a whole number"))?;
        Self::new(k, n).map_err(|e| match e {
            PlanError::InvalidPartition { reason, .. } => invalid(spec, &reason),
            other => other,
        })
    }

    /// K, 1-based.
    pub fn index(&self) -> usize {
        self.index
    }

    /// N.
    pub fn count(&self) -> usize {
        self.count
    }
}

fn invalid(spec: &str, reason: &str) -> PlanError {
    PlanError::InvalidPartition {
        spec: spec.to_string(),
        reason: reason.to_string(),
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Partition {
    type Err = PlanError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Partition {
    type Error = PlanError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Partition> for String {
    fn from(p: Partition) -> String {
        p.to_string()
    }
}

/// Assigns each test (name, predicted seconds) to one of `count` shards, 0-based.
///
/// Longest processing time first: tests sorted by predicted time (longest first, then by
/// name) each go to the shard with the least predicted time so far (then fewest tests, then
/// lowest index). The busiest shard then exceeds the least busy one by at most the longest
/// single test. `count` 0 is treated as 1.
pub fn shard(tests: &[(&str, f64)], count: usize) -> Vec<usize> {
    let count = count.max(1);
    let mut order: Vec<usize> = (0..tests.len()).collect();
    order.sort_by(|&a, &b| {
        tests[b]
            .1
            .total_cmp(&tests[a].1)
            .then_with(|| tests[a].0.cmp(tests[b].0))
            .then(a.cmp(&b))
    });
    let mut load = vec![0.0f64; count];
    let mut sizes = vec![0usize; count];
    let mut assignment = vec![0usize; tests.len()];
    for i in order {
        let target = (0..count)
            .min_by(|&a, &b| {
                load[a]
                    .total_cmp(&load[b])
                    .then(sizes[a].cmp(&sizes[b]))
                    .then(a.cmp(&b))
            })
            .unwrap_or(0);
        load[target] += tests[i].1;
        sizes[target] += 1;
        assignment[i] = target;
    }
    assignment
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_parses_and_rejects_out_of_bounds_with_reasons() {
        assert_eq!(
            Partition::parse("2/4").unwrap(),
            Partition::new(2, 4).unwrap()
        );
        assert_eq!(
            Partition::parse("0/3").unwrap_err().to_string(),
            "invalid partition `0/3`: K must be between 1 and 3 (K is 1-based)"
        );
        assert_eq!(
            Partition::parse("4/3").unwrap_err().to_string(),
            "invalid partition `4/3`: K must be between 1 and 3 (K is 1-based)"
        );
        assert_eq!(
            Partition::parse("1/0").unwrap_err().to_string(),
            "invalid partition `1/0`: the number of shards N must be at least 1"
        );
        assert_eq!(
            Partition::parse("3").unwrap_err().to_string(),
            "invalid partition `3`: expected `K/N`, e.g. `2/4`"
        );
        assert_eq!(
            Partition::parse("a/2").unwrap_err().to_string(),
            "invalid partition `a/2`: K is not a whole number"
        );
    }

    #[test]
    fn partition_round_trips_through_serde_as_a_string() {
        let p = Partition::new(1, 2).unwrap();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, "\"1/2\"");
        assert_eq!(serde_json::from_str::<Partition>(&json).unwrap(), p);
        assert!(serde_json::from_str::<Partition>("\"3/2\"").is_err());
    }

    #[test]
    fn longest_tests_are_spread_first() {
        let tests = [("a", 10.0), ("b", 7.0), ("c", 5.0), ("d", 3.0), ("e", 2.0)];
        // LPT: a->0 (10), b->1 (7), c->1 (12), d->0 (13), e->1 (14): loads 13 and 14.
        assert_eq!(shard(&tests, 2), [0, 1, 1, 0, 1]);
    }
}
