//! Planning: estimate each test's chance to fail and its duration from the run history, order
//! the tests so failures show up first, lay them out on parallel lanes counting service
//! start-up, and split them into shards balanced by predicted time.
//!
//! Everything here is pure and deterministic: the same [`PlanInput`] always gives the same
//! [`TestPlan`]. The history store (SQLite) lives elsewhere and hands records in.
//!
//! Responsibilities, one file each:
//! - `model`: the input types ([`TestCandidate`], [`TestHistoryRecord`], [`PlanInput`], ...)
//! - `estimate`: per-test failure probability, flakiness and duration ([`estimate`])
//! - `reason`: why a test got its estimate, put into words only when shown ([`Reason`])
//! - `pattern`: the chance to fail after a pattern of recent verdicts, learned from the history
//! - `order`: ordering by chance to fail per (blended) expected second ([`prioritise`])
//! - `schedule`: list-scheduling of the ordered tests on lanes ([`simulate_lanes`])
//! - `shard`: `--partition K/N` parsing and time-balanced sharding ([`Partition`], [`shard`])
//! - `planner`: the whole pipeline ([`plan`])
//! - `select`: what a run runs and in which order, shared by the harness and the CLI
//!   ([`select`], [`RunOrder`], [`group_history`])
//! - [`replay`]: the replay benchmark over RETECS-format CI histories (APFD, APFDc, NAPFD)

mod error;
mod estimate;
mod model;
mod order;
mod pattern;
mod planner;
mod reason;
pub mod replay;
mod schedule;
mod select;
mod shard;

pub use error::{PlanError, ReplayError};
pub use estimate::{TestEstimate, estimate};
pub use model::{
    Objective, PlanInput, PlannerConfig, TestCandidate, TestHistoryRecord, TestOutcome,
};
pub use order::{prioritise, priority_cmp};
pub use planner::{PlannedTest, ShardSummary, TestPlan, plan, reorder_plan};
pub use reason::{Reason, join_reasons};
pub use schedule::{Lane, LaneJob, LaneLayout, ScheduledTest, simulate_lanes, simulate_wall_secs};
pub use select::{
    RunOrder, Selection, group_history, select, select_suites, select_suites_changed, suite_history,
};
pub use shard::{Partition, shard};

#[cfg(test)]
mod planner_tests;
