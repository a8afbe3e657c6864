//! The planning pipeline: estimate, shard, order, lay out on lanes.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::error::PlanError;
use super::estimate::{TestEstimate, estimate};
use super::model::PlanInput;
use super::order::sort_by_priority;
use super::schedule::{Lane, LaneJob, simulate_lanes, simulate_wall_secs};
use super::shard::{Partition, shard};

/// One test in the plan, in run order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct PlannedTest {
    /// 1-based position in the run order.
    pub position: usize,
    /// Test name.
    pub name: String,
    /// Services it needs.
    pub services: Vec<String>,
    /// 0-based lane it is predicted to run on.
    pub lane: usize,
    /// Predicted start, seconds from the start of the run.
    pub predicted_start_secs: f64,
    /// Predicted end.
    pub predicted_end_secs: f64,
    /// The estimates and reasons behind its position.
    pub estimate: TestEstimate,
}

/// One shard of a partitioned plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct ShardSummary {
    /// K, 1-based.
    pub index: usize,
    /// Tests in the shard.
    pub test_count: usize,
    /// Sum of the shard's predicted test durations.
    pub predicted_secs: f64,
}

/// A resolved, ordered plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct TestPlan {
    /// Lanes used.
    pub threads: usize,
    /// The shard this plan runs, if partitioned.
    pub partition: Option<Partition>,
    /// Every selected test exactly once, in run order.
    pub tests: Vec<PlannedTest>,
    /// The lane layout of `tests`.
    pub lanes: Vec<Lane>,
    /// Predicted wall time of this order on the lanes.
    pub predicted_wall_secs: f64,
    /// Predicted wall time of the file order on the same lanes, for comparison.
    pub file_order_wall_secs: f64,
    /// All shards (empty without a partition).
    pub shards: Vec<ShardSummary>,
}

/// Plans a run: estimates every test, keeps shard K of N if asked, orders by chance to fail
/// per expected second and lays the order out on `threads` lanes.
pub fn plan(input: &PlanInput) -> Result<TestPlan, PlanError> {
    if input.threads == 0 {
        return Err(PlanError::NoThreads);
    }
    let mut names = HashSet::with_capacity(input.tests.len());
    for test in &input.tests {
        if !names.insert(test.name.as_str()) {
            return Err(PlanError::DuplicateTest {
                name: test.name.clone(),
            });
        }
    }
    let estimates = estimate(
        &input.tests,
        &input.history,
        &input.service_startup_secs,
        &input.config,
    )?;

    let (selected, shards): (Vec<usize>, Vec<ShardSummary>) = match input.partition {
        None => ((0..input.tests.len()).collect(), Vec::new()),
        Some(partition) => {
            let costs: Vec<(&str, f64)> = estimates
                .iter()
                .map(|e| (e.name.as_str(), e.expected_duration_secs))
                .collect();
            let assignment = shard(&costs, partition.count());
            let mut shards: Vec<ShardSummary> = (1..=partition.count())
                .map(|index| ShardSummary {
                    index,
                    test_count: 0,
                    predicted_secs: 0.0,
                })
                .collect();
            for (i, &s) in assignment.iter().enumerate() {
                shards[s].test_count += 1;
                shards[s].predicted_secs += costs[i].1;
            }
            let selected = (0..input.tests.len())
                .filter(|&i| assignment[i] == partition.index() - 1)
                .collect();
            (selected, shards)
        }
    };

    let mut run_order = selected.clone();
    sort_by_priority(&mut run_order, &estimates);

    let jobs = |order: &[usize]| -> Vec<LaneJob<'_>> {
        order
            .iter()
            .map(|&i| LaneJob {
                name: &input.tests[i].name,
                duration_secs: estimates[i].expected_duration_secs,
                services: &input.tests[i].services,
            })
            .collect()
    };
    let startup = &input.service_startup_secs;
    let default_startup = input.config.default_service_startup_secs;
    let layout = simulate_lanes(&jobs(&run_order), input.threads, startup, default_startup);
    let file_order_wall_secs =
        simulate_wall_secs(&jobs(&selected), input.threads, startup, default_startup);

    // Each selected estimate moves into its planned test (no copy of the reasons).
    let mut estimates: Vec<Option<TestEstimate>> = estimates.into_iter().map(Some).collect();
    let tests = run_order
        .iter()
        .zip(&layout.scheduled)
        .enumerate()
        .map(|(position, (&i, slot))| PlannedTest {
            position: position + 1,
            name: input.tests[i].name.clone(),
            services: input.tests[i].services.clone(),
            lane: slot.lane,
            predicted_start_secs: slot.start_secs,
            predicted_end_secs: slot.end_secs,
            estimate: estimates[i].take().expect("every test is planned once"),
        })
        .collect();

    Ok(TestPlan {
        threads: input.threads,
        partition: input.partition,
        tests,
        lanes: layout.lanes,
        predicted_wall_secs: layout.wall_secs,
        file_order_wall_secs,
        shards,
    })
}

/// `plan` run in `order` (every test of the plan exactly once, else `None`), laid out again
/// on the same number of lanes; the file-order wall time and the shards stay.
pub fn reorder_plan(
    plan: &TestPlan,
    order: &[String],
    service_startup_secs: &std::collections::BTreeMap<String, f64>,
    default_startup_secs: f64,
) -> Option<TestPlan> {
    if order.len() != plan.tests.len() {
        return None;
    }
    let by_name: std::collections::HashMap<&str, &PlannedTest> =
        plan.tests.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut seen = HashSet::with_capacity(order.len());
    let mut tests: Vec<&PlannedTest> = Vec::with_capacity(order.len());
    for name in order {
        if !seen.insert(name.as_str()) {
            return None;
        }
        tests.push(by_name.get(name.as_str())?);
    }
    let jobs: Vec<LaneJob<'_>> = tests
        .iter()
        .map(|t| LaneJob {
            name: &t.name,
            duration_secs: t.estimate.expected_duration_secs,
            services: &t.services,
        })
        .collect();
    let layout = simulate_lanes(
        &jobs,
        plan.threads,
        service_startup_secs,
        default_startup_secs,
    );
    let tests = tests
        .iter()
        .zip(&layout.scheduled)
        .enumerate()
        .map(|(position, (t, slot))| PlannedTest {
            position: position + 1,
            lane: slot.lane,
            predicted_start_secs: slot.start_secs,
            predicted_end_secs: slot.end_secs,
            ..(*t).clone()
        })
        .collect();
    Some(TestPlan {
        tests,
        lanes: layout.lanes,
        predicted_wall_secs: layout.wall_secs,
        ..plan.clone()
    })
}
