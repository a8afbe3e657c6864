//! `ai-orchestrate`: predict, plan, run in the planned order, analyse the failures, for TOML
//! suites ([`orchestrate`]) or a cargo test target ([`orchestrate_target`]).

use std::path::{Path, PathBuf};

use serde_json::json;

use super::analyse::{Analysis, analyse};
use super::cargo_target::{TargetOptions, run_target};
use super::optimize::{Optimization, optimize};
use super::predict::{Prediction, predict};
use super::workload::{WorkUnits, Workload};
use crate::Result;
use crate::ai::AiConfig;
use crate::docker::RunConfig;
use crate::history::HistoryStore;
use crate::plan::{Objective, Partition, RunOrder};
use crate::report::{RunEvent, RunRecord};
use crate::suite::{RunOptions, SuiteSpec, run_suites, select_loaded_suites};

/// What [`orchestrate`] reports as it goes.
#[derive(Debug)]
pub enum OrchestrateEvent<'a> {
    /// The risks, before anything runs.
    Predicted(&'a Prediction),
    /// The plan the run follows.
    Planned(&'a Optimization),
    /// Something happened in the run of suites.
    Run(&'a RunEvent<'a>),
    /// A cargo test target was built and its tests start now, with this command line; their
    /// output goes straight to the terminal.
    Running(&'a str),
    /// The failures, grouped.
    Analysed(&'a Analysis),
}

/// Everything one orchestrated run produced.
#[derive(Debug, Clone)]
pub struct Orchestration {
    /// The risks before the run.
    pub prediction: Prediction,
    /// The plan it followed.
    pub plan: Optimization,
    /// The run.
    pub record: RunRecord,
    /// Its failures, grouped by likely cause.
    pub analysis: Analysis,
}

impl Orchestration {
    /// The run's JSON report (as `clnrm run --json` writes it) with `prediction`, `plan` and
    /// `analysis` added.
    pub fn to_json(&self) -> serde_json::Value {
        let mut report = crate::report::json(&self.record);
        report["prediction"] = json!(self.prediction);
        report["plan"] = json!(self.plan);
        report["analysis"] = json!(self.analysis);
        report
    }

    /// Writes [`Orchestration::to_json`] to `path` (atomically).
    pub fn write_json(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(&self.to_json()).unwrap_or_default();
        crate::report::write_atomically(path, text.as_bytes())
    }
}

/// Predicts the risks of `suites`' scenarios, plans the suites (only shard `partition`, if
/// given), runs them in the planned order, records the run in `store`, and groups its
/// failures. With `ai`, the LLM adds its rationale and insights; without it, or when it does
/// not answer, everything is statistical and the notices say so.
pub async fn orchestrate(
    suites: Vec<(PathBuf, SuiteSpec)>,
    store: Option<&HistoryStore>,
    ai: Option<&AiConfig>,
    config: RunConfig,
    options: &RunOptions,
    partition: Option<Partition>,
    on_event: &(dyn Fn(&OrchestrateEvent<'_>) + Sync),
) -> Result<Orchestration> {
    let units = WorkUnits::load(store, &Workload::Suites(suites.clone()))?;
    let prediction = predict(&units, ai).await?;
    on_event(&OrchestrateEvent::Predicted(&prediction));
    let plan = optimize(&units, options.jobs.max(1), None)?;
    on_event(&OrchestrateEvent::Planned(&plan));

    let names: Vec<&str> = units.suites.iter().map(String::as_str).collect();
    let (ordered, _) = select_loaded_suites(
        suites,
        &units.changed_of(&names),
        &units.history,
        RunOrder::Planned,
        Objective::default(),
        partition,
        options.jobs.max(1),
    )?;
    let record = run_suites(ordered, config, options, &|event| {
        on_event(&OrchestrateEvent::Run(event));
    })
    .await?;
    if let Some(store) = store
        && let Err(e) = store.append(&record)
    {
        tracing::warn!("the run was not added to the history: {e:?}");
    }
    let analysis = analyse(&record, ai).await;
    on_event(&OrchestrateEvent::Analysed(&analysis));
    Ok(Orchestration {
        prediction,
        plan,
        record,
        analysis,
    })
}

/// Predicts the risks of the tests of the cargo test target `name` (`package::binary`, or the
/// binary alone when unique) from its history, plans them, then builds and runs the target with
/// `cargo test -p PACKAGE --test BINARY`, its output inherited. Its harness orders the tests by
/// the planner from the same history, keeps shard `options.partition`, and records the run in
/// the history itself (so it is not recorded here). The run comes back through the harness's
/// JSON report and its failures are grouped as for suites.
///
/// A name the history does not know is an error listing the known targets; a target that does
/// not build is [`super::TargetRunError::Build`], not a run with failures.
pub async fn orchestrate_target(
    name: &str,
    store: Option<&HistoryStore>,
    ai: Option<&AiConfig>,
    options: &TargetOptions,
    on_event: &(dyn Fn(&OrchestrateEvent<'_>) + Sync),
) -> Result<Orchestration> {
    let units = WorkUnits::load(store, &Workload::Target(name.to_owned()))?;
    super::cargo_target::split_target(&units.target)?;
    let prediction = predict(&units, ai).await?;
    on_event(&OrchestrateEvent::Predicted(&prediction));
    let lanes = options.test_threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let plan = optimize(&units, lanes.max(1), None)?;
    on_event(&OrchestrateEvent::Planned(&plan));
    let mut options = options.clone();
    if options.history.is_none() {
        options.history = store.map(|s| s.path().to_path_buf());
    }
    let record = run_target(&units.target, &options, |command| {
        on_event(&OrchestrateEvent::Running(command));
    })
    .await?;
    let analysis = analyse(&record, ai).await;
    on_event(&OrchestrateEvent::Analysed(&analysis));
    Ok(Orchestration {
        prediction,
        plan,
        record,
        analysis,
    })
}
