//! Replay benchmark: runs the planner over a public CI history cycle by cycle and scores the
//! orders it gives (APFD, APFDc, NAPFD) next to simple baselines.
//!
//! - `csv`: the RETECS CSV format ([`parse_retecs_csv`], [`load_retecs_csv`])
//! - `metrics`: the scores ([`apfd`], [`apfdc`], [`napfd_with_budget`])
//! - `runner`: the replay and its baselines ([`replay`], [`ReplayReport`])
//! - `synthetic`: a deterministic large input and the planner timed on it
//!   ([`synthetic_plan_input`], [`time_planner`])

mod csv;
mod metrics;
mod runner;
mod synthetic;

pub use csv::{RetecsRow, load_retecs_csv, parse_retecs_csv};
pub use metrics::{CycleOutcome, apfd, apfdc, napfd_with_budget};
pub use runner::{ReplayReport, Strategy, StrategyScores, replay};
pub use synthetic::{PlannerTiming, synthetic_plan_input, time_planner};
