//! Replay benchmark: runs the planner over a public CI history cycle by cycle and scores the
//! orders it gives (APFD, APFDc, NAPFD) next to simple baselines.
//!
//! - `csv`: the RETECS CSV format ([`parse_retecs_csv`], [`load_retecs_csv`])
//! - `metrics`: the scores ([`apfd`], [`apfdc`], [`napfd_with_budget`],
//!   [`first_failure_share`])
//! - `runner`: the replay under both protocols and its baselines ([`replay`], [`ReplayReport`])
//! - `stats`: Wilcoxon signed-rank and Vargha–Delaney Â12 ([`wilcoxon_signed_rank`],
//!   [`vargha_delaney_a12`])
//! - `synthetic`: a deterministic large input and the planner timed on it
//!   ([`synthetic_plan_input`], [`time_planner`]), and synthetic CI histories
//!   ([`synthetic_history`])

mod csv;
mod metrics;
mod runner;
mod stats;
mod synthetic;

pub use csv::{RetecsRow, load_retecs_csv, parse_retecs_csv};
pub use metrics::{CycleOutcome, apfd, apfdc, first_failure_share, napfd_with_budget};
pub use runner::{
    Comparison, Metric, Protocol, ProtocolReport, RANDOM_SEEDS, ReplayCycle, ReplayReport,
    Strategy, StrategyScores, published_cycles, replay,
};
pub use stats::{Wilcoxon, vargha_delaney_a12, wilcoxon_signed_rank};
pub use synthetic::{
    HistoryShape, PlannerTiming, synthetic_history, synthetic_plan_input, time_planner,
};
