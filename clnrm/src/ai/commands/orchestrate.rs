//! `ai-orchestrate`: predict, plan, run the suites in the planned order, analyse the failures.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::analyse::{Analysis, analyse};
use super::optimize::{Optimization, optimize};
use super::predict::{Prediction, predict};
use super::workload::{WorkUnits, Workload};
use crate::Result;
use crate::ai::AiConfig;
use crate::docker::RunConfig;
use crate::history::HistoryStore;
use crate::plan::{Partition, RunOrder, select_suites};
use crate::report::{RunEvent, RunRecord};
use crate::suite::{RunOptions, SuiteSpec, run_suites};

/// What [`orchestrate`] reports as it goes.
#[derive(Debug)]
pub enum OrchestrateEvent<'a> {
    /// The risks, before anything runs.
    Predicted(&'a Prediction),
    /// The plan the run follows.
    Planned(&'a Optimization),
    /// Something happened in the run.
    Run(&'a RunEvent<'a>),
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
    let selection = select_suites(
        &names,
        &units.history,
        RunOrder::Planned,
        partition,
        options.jobs.max(1),
    )?;
    let mut slots: Vec<Option<(PathBuf, SuiteSpec)>> = suites.into_iter().map(Some).collect();
    let ordered: Vec<(PathBuf, SuiteSpec)> = selection
        .run
        .iter()
        .filter_map(|&i| slots[i].take())
        .collect();
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
