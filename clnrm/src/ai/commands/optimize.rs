//! `ai-optimize`: the plan a run follows, its lanes and shards, against file order.

use serde::Serialize;

use super::workload::WorkUnits;
use crate::Result;
use std::collections::BTreeMap;

use crate::ai::AiConfig;
use crate::ai::run_advice::{advice_key, advisor_input, consult};
use crate::plan::{
    Objective, PlannerConfig, RunOrder, TestCandidate, TestPlan, reorder_plan, select,
    select_suites_changed, shard,
};

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
    /// What the order used, in one line (cached or fresh LLM advice, or statistics only and
    /// why); `None` when the advisor was not asked.
    pub advice: Option<String>,
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
    optimize_with_advice(units, threads, shards, None)
}

/// [`optimize`], with the order merged with the LLM advisor's when `ai` is given (a valid
/// answer is applied and cached like in a test run, keyed by history state and units; the
/// whole `ai.timeout` is the budget, as the user asked for it) and the lanes laid out again.
pub fn optimize_with_advice(
    units: &WorkUnits,
    threads: usize,
    shards: Option<usize>,
    ai: Option<&AiConfig>,
) -> Result<Optimization> {
    let selection = if units.suites.is_empty() {
        let tests: Vec<TestCandidate> = units
            .tests
            .iter()
            .map(|name| TestCandidate {
                source_changed: units.source_changed.get(name).copied(),
                ..TestCandidate::new(name)
            })
            .collect();
        select(
            &tests,
            &units.history,
            RunOrder::Planned,
            Objective::default(),
            None,
            threads,
        )?
    } else {
        let names: Vec<&str> = units.suites.iter().map(String::as_str).collect();
        let changed = units.changed_of(&names);
        select_suites_changed(
            &names,
            &changed,
            &units.history,
            RunOrder::Planned,
            Objective::default(),
            None,
            threads,
        )?
    };
    let mut plan = selection.plan;
    let mut advice = None;
    if let Some(config) = ai {
        let names: Vec<String> = plan.tests.iter().map(|t| t.name.clone()).collect();
        let key = advice_key(&names, &units.history);
        let input = advisor_input(&names, &units.history);
        let dir = crate::history::default_history_path(
            &std::env::current_dir().unwrap_or_default(),
            |k| std::env::var(k).ok(),
        )
        .parent()
        .map(|d| d.join("advice"))
        .unwrap_or_else(|| "advice".into());
        let consultation = consult(config, &dir, &key, names, input, config.timeout);
        if let Some(reordered) = reorder_plan(
            &plan,
            &consultation.order,
            &BTreeMap::new(),
            PlannerConfig::default().default_service_startup_secs,
        ) {
            plan = reordered;
        }
        advice = Some(consultation.line());
    }
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
        advice,
    })
}
