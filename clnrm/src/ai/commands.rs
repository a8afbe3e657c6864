//! What `clnrm ai-predict`, `ai-optimize` and `ai-orchestrate` do; the CLI only formats.
//!
//! They work on a [`Workload`]: the scenarios of TOML suites (history under
//! [`crate::history::SUITES_TARGET`], units named `suite::scenario`) or the tests of a cargo test
//! target (`--target NAME`, read from that target's history).
//!
//! - `workload`: [`Workload`] and [`WorkUnits`], the tests and their history
//! - `predict`: each test's risk with the statistical reasons and, when an LLM answered, its
//!   rationale ([`predict`])
//! - `optimize`: the plan, order, lanes, shards and predicted wall time ([`optimize`])
//! - `analyse`: failures grouped by likely cause, statistically by message similarity and, when
//!   an LLM answered, with its insights ([`analyse`], [`group_failures`])
//! - `orchestrate`: predict, plan, run the suites in the planned order, analyse ([`orchestrate`]);
//!   the same for a cargo test target, run with `cargo test` ([`orchestrate_target`])
//! - `cargo_target`: building and running a cargo test target, reading back its JSON report
//!   ([`TargetOptions`], [`TargetRunError`])
//!
//! The LLM is never needed: without one every command gives its statistical answer and a
//! one-line notice.

mod analyse;
mod cargo_target;
mod optimize;
mod orchestrate;
mod predict;
mod workload;

pub use analyse::{Analysis, FailureGroup, GroupSource, analyse, group_failures};
pub use cargo_target::{TargetOptions, TargetRunError};
pub use optimize::{Optimization, ShardPlan, optimize, optimize_with_advice};
pub use orchestrate::{OrchestrateEvent, Orchestration, orchestrate, orchestrate_target};
pub use predict::{Prediction, TestRisk, predict};
pub use workload::{WorkUnits, Workload};
