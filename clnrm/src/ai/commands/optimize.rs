//! `ai-optimize`: the plan a run follows, its lanes and shards, against file order.

use serde::Serialize;

use super::workload::WorkUnits;
use crate::Result;
use crate::plan::{RunOrder, TestCandidate, TestPlan, select, select_suites_changed, shard};

/// One shard of the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShardPlan {
    /// K, 1-based.
    pub index: usize,
    /// Its units, in run order.
    pub units: Vec<String>,
    /// Sum of their predicted durations.
    pub predicted_secs: f64,
}

/// The result of [`optimize`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Optimization {
    /// The history target.
    pub target: String,
    /// What is ordered and sharded: `suite` or `test`.
    pub unit: &'static str,
    /// Every unit in run order, with lanes and the predicted wall time against file order.
    pub plan: TestPlan,
    /// The units of each shard, as `--partition K/N` splits them (empty without `shards`).
    pub shards: Vec<ShardPlan>,
}

impl Optimization {
    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// How much sooner the planned order is predicted to finish than file order, in seconds.
    pub fn saved_secs(&self) -> f64 {
        self.plan.file_order_wall_secs - self.plan.predicted_wall_secs
    }
}

/// Plans `units` on `threads` lanes, the way `clnrm run` (suites) or the harness (a target)
/// orders them, and splits the plan into `shards` shards when asked.
pub fn optimize(units: &WorkUnits, threads: usize, shards: Option<usize>) -> Result<Optimization> {
    let selection = if units.suites.is_empty() {
        let tests: Vec<TestCandidate> = units
            .tests
            .iter()
            .map(|name| TestCandidate {
                source_changed: units.source_changed.get(name).copied(),
                ..TestCandidate::new(name)
            })
            .collect();
        select(&tests, &units.history, RunOrder::Planned, None, threads)?
    } else {
        let names: Vec<&str> = units.suites.iter().map(String::as_str).collect();
        let changed = units.changed_of(&names);
        select_suites_changed(
            &names,
            &changed,
            &units.history,
            RunOrder::Planned,
            None,
            threads,
        )?
    };
    let plan = selection.plan;
    let shards = match shards {
        Some(count) if count >= 1 => {
            let costs: Vec<(&str, f64)> = plan
                .tests
                .iter()
                .map(|t| (t.name.as_str(), t.estimate.expected_duration_secs))
                .collect();
            let assignment = shard(&costs, count);
            (0..count)
                .map(|k| {
                    let members: Vec<usize> =
                        (0..costs.len()).filter(|&i| assignment[i] == k).collect();
                    ShardPlan {
                        index: k + 1,
                        units: members.iter().map(|&i| costs[i].0.to_owned()).collect(),
                        predicted_secs: members.iter().map(|&i| costs[i].1).sum(),
                    }
                })
                .collect()
        }
        _ => Vec::new(),
    };
    Ok(Optimization {
        target: units.target.clone(),
        unit: units.unit_kind(),
        plan,
        shards,
    })
}
