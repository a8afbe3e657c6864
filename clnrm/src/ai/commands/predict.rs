//! `ai-predict`: each test's chance to fail with the statistical reasons, and the LLM's risk and
//! rationale when one answered.

use std::collections::BTreeMap;

use serde::Serialize;

use super::workload::WorkUnits;
use crate::Result;
use crate::ai::{AdvisorInput, AiConfig, LastOutcome, TestSummary, advise};
use crate::plan::{PlannerConfig, TestCandidate, TestOutcome, estimate, prioritise};

/// One test's predicted risk.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestRisk {
    /// Test name.
    pub name: String,
    /// The planner's chance that the next run fails, 0..=1.
    pub failure_probability: f64,
    /// Flip rate over the recent runs, 0..=1.
    pub flakiness: f64,
    /// Expected duration in seconds.
    pub expected_duration_secs: f64,
    /// Runs in the history.
    pub runs_seen: usize,
    /// The statistical reasons, in words.
    pub reasons: Vec<String>,
    /// The LLM's chance to fail, when it gave one.
    pub llm_risk: Option<f64>,
    /// The LLM's reason, when it gave one.
    pub llm_rationale: Option<String>,
}

/// The result of [`predict`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// The history target.
    pub target: String,
    /// Every test, riskiest first (by the planner's chance to fail, then name).
    pub tests: Vec<TestRisk>,
    /// The LLM's order of the tests, when it answered (validated: every test once).
    pub llm_order: Option<Vec<String>>,
    /// The model that answered.
    pub model: Option<String>,
    /// One line when the LLM was asked but gave no usable answer.
    pub notice: Option<String>,
}

impl Prediction {
    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// Estimates every test of `units` from its history and, with `ai`, asks the LLM advisor.
/// Never fails because of the LLM: its absence or a rejected answer only sets the notice.
pub async fn predict(units: &WorkUnits, ai: Option<&AiConfig>) -> Result<Prediction> {
    let candidates: Vec<TestCandidate> = units
        .tests
        .iter()
        .map(|name| TestCandidate {
            source_changed: units.source_changed.get(name).copied(),
            ..TestCandidate::new(name)
        })
        .collect();
    let estimates = estimate(
        &candidates,
        &units.history,
        &BTreeMap::new(),
        &PlannerConfig::default(),
    )?;
    let mut outcome = None;
    if let Some(config) = ai {
        let input = AdvisorInput {
            tests: prioritise(&estimates)
                .into_iter()
                .map(|i| summary(units, &estimates[i]))
                .collect(),
            changed_files: units.changed_files.clone(),
        };
        outcome = Some(advise(config, &input).await);
    }
    let mut tests: Vec<TestRisk> = estimates
        .into_iter()
        .map(|e| {
            let llm = outcome.as_ref().and_then(|o| o.risks.get(&e.name));
            TestRisk {
                llm_risk: llm.map(|r| r.risk),
                llm_rationale: llm.map(|r| r.rationale.clone()),
                name: e.name,
                failure_probability: e.failure_probability,
                flakiness: e.flakiness,
                expected_duration_secs: e.expected_duration_secs,
                runs_seen: e.runs_seen,
                reasons: e.reasons.iter().map(ToString::to_string).collect(),
            }
        })
        .collect();
    tests.sort_by(|a, b| {
        b.failure_probability
            .total_cmp(&a.failure_probability)
            .then_with(|| a.name.cmp(&b.name))
    });
    let (llm_order, model, notice) = match outcome {
        Some(o) => (o.order, o.model, o.notice),
        None => (None, None, None),
    };
    Ok(Prediction {
        target: units.target.clone(),
        tests,
        llm_order,
        model,
        notice,
    })
}

/// What the advisor is told about one test.
fn summary(units: &WorkUnits, estimate: &crate::plan::TestEstimate) -> TestSummary {
    let records: Vec<_> = units
        .history
        .iter()
        .filter(|r| r.test == estimate.name && r.outcome != TestOutcome::Skipped)
        .collect();
    let last = records
        .iter()
        .max_by_key(|r| (r.run_id, r.timestamp_ms))
        .map(|r| match r.outcome {
            TestOutcome::Passed => LastOutcome::Passed,
            TestOutcome::Failed => LastOutcome::Failed,
            TestOutcome::Flaky => LastOutcome::Flaky,
            TestOutcome::Skipped => LastOutcome::Skipped,
        });
    TestSummary {
        name: estimate.name.clone(),
        runs: u32::try_from(records.len()).unwrap_or(u32::MAX),
        failures: u32::try_from(
            records
                .iter()
                .filter(|r| r.outcome == TestOutcome::Failed)
                .count(),
        )
        .unwrap_or(u32::MAX),
        flip_rate: estimate.flakiness,
        median_ms: (estimate.expected_duration_secs * 1000.0).round() as u64,
        last_outcome: last,
        recent_failures: units
            .failures
            .get(&estimate.name)
            .cloned()
            .unwrap_or_default(),
    }
}
