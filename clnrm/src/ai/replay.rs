//! The replay benchmark's LLM ablation (`clnrm replay --ai`): the planner's order, the
//! advisor's order and the two merged as the harness merges them, on the last scored cycles
//! of a CI history.
//!
//! Same information barrier as [`crate::plan::replay::replay`]: before each cycle the
//! planner and the advisor see only the executions of earlier cycles (the advisor gets the
//! harness's summary of them, [`super::run_advice::advisor_input`]). The advisor's latency
//! is charged to the cycle: the orders that wait for it start that much later, which lowers
//! their APFDc and lengthens their time to the first failure (APFD counts positions and is
//! unchanged). A call that fails, times out or is rejected leaves the planner's order, and
//! its latency is charged all the same.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

use super::advisor::advise_with;
use super::client::AiClient;
use super::config::AiConfig;
use super::error::AiError;
use super::run_advice::{advisor_input, merge_orders};
use crate::plan::replay::{
    CycleOutcome, ReplayCycle, RetecsRow, apfd, apfdc, first_failure_share, published_cycles,
};
use crate::plan::{PlanError, PlannerConfig, TestCandidate, estimate, prioritise};

/// Cycles `clnrm replay --ai` asks about unless told otherwise: a local model on a CPU takes
/// tens of seconds per answer.
pub const DEFAULT_AI_CYCLES: usize = 3;

/// The scores of one order of one cycle.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OrderScore {
    /// APFD (positions only).
    pub apfd: f64,
    /// APFDc with the advisor's latency charged where the order waited for it.
    pub apfdc: f64,
    /// Time until the first failure finished (latency included), share of the cycle's time
    /// (latency included).
    pub first_failure_share: f64,
}

/// What the advisor did in one cycle.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AiCycle {
    /// The `Cycle` value.
    pub cycle: i64,
    /// Items (executions) ordered.
    pub items: usize,
    /// Distinct tests, the advisor was asked about the first 50 of the planner's order.
    pub tests: usize,
    /// Seconds from asking to a usable answer or to giving up.
    pub latency_secs: f64,
    /// Sum of the cycle's real durations, seconds.
    pub cycle_secs: f64,
    /// The planner's order (no latency).
    pub plan: OrderScore,
    /// The advisor's order merged with the planner's (mean rank, as the harness does), or the
    /// planner's order after the wait when there was no usable advice.
    pub merged: OrderScore,
    /// The advisor's own order, or the planner's after the wait.
    pub advised: OrderScore,
    /// Why the planner's order stayed, when it did.
    pub notice: Option<String>,
}

/// The result of [`replay_ai`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AiAblation {
    /// The model that answered (the first one, when any did).
    pub model: Option<String>,
    /// Scored cycles of the history (published protocol).
    pub scored_cycles: usize,
    /// One entry per cycle asked about, in cycle order.
    pub cycles: Vec<AiCycle>,
}

impl AiAblation {
    /// Cycles with usable advice.
    pub fn answered(&self) -> usize {
        self.cycles.iter().filter(|c| c.notice.is_none()).count()
    }

    /// Mean of `f` over the cycles (0 without cycles).
    pub fn mean(&self, f: impl Fn(&AiCycle) -> f64) -> f64 {
        if self.cycles.is_empty() {
            return 0.0;
        }
        self.cycles.iter().map(f).sum::<f64>() / self.cycles.len() as f64
    }
}

/// Replays the last `cycles` scored cycles (published protocol) of `rows` with the planner
/// (`planner`'s objective) and the advisor at `ai`. Never fails because of the advisor; an
/// error only for a planner constant out of range.
pub async fn replay_ai(
    rows: &[RetecsRow],
    planner: &PlannerConfig,
    ai: &AiConfig,
    cycles: usize,
) -> Result<AiAblation, PlanError> {
    planner.validate()?;
    let (history, scored) = published_cycles(rows);
    let first = scored.len().saturating_sub(cycles);
    let started = Instant::now();
    let client = tokio::time::timeout(ai.timeout, AiClient::connect(ai))
        .await
        .unwrap_or_else(|_| {
            Err(AiError::Timeout {
                url: ai.base_url.clone(),
                after: ai.timeout,
            })
        });
    // Connecting (backend detection, model choice) is paid once, by the first cycle.
    let mut connect_secs = started.elapsed().as_secs_f64();
    let mut model = None;
    let mut out = Vec::with_capacity(scored.len() - first);
    for cycle in &scored[first..] {
        let past = &history[..cycle.history_len];
        let candidates: Vec<TestCandidate> = cycle.tests.iter().map(TestCandidate::new).collect();
        let estimates = estimate(&candidates, past, &BTreeMap::new(), planner)?;
        let statistical: Vec<String> = prioritise(&estimates)
            .into_iter()
            .map(|i| cycle.tests[i].clone())
            .collect();

        let asked = Instant::now();
        let answer = match &client {
            Ok(client) => {
                let input = advisor_input(&statistical, past);
                tokio::time::timeout(ai.timeout, advise_with(client, &input))
                    .await
                    .unwrap_or_else(|_| {
                        Err(AiError::Timeout {
                            url: ai.base_url.clone(),
                            after: ai.timeout,
                        })
                    })
                    .map_err(|e| e.to_string())
            }
            Err(e) => Err(format!("no advisor: {e}")),
        };
        let latency_secs = asked.elapsed().as_secs_f64() + std::mem::take(&mut connect_secs);
        let (advised, merged, notice) = match answer {
            Ok(outcome) => match outcome.order {
                Some(advised) => match merge_orders(&statistical, &advised) {
                    Some(merged) => {
                        if model.is_none() {
                            model = outcome.model;
                        }
                        (advised, merged, None)
                    }
                    None => (
                        statistical.clone(),
                        statistical.clone(),
                        Some("advice rejected: not exactly the planned tests".to_owned()),
                    ),
                },
                None => (
                    statistical.clone(),
                    statistical.clone(),
                    Some("the advisor gave no order".to_owned()),
                ),
            },
            Err(notice) => (statistical.clone(), statistical.clone(), Some(notice)),
        };
        out.push(AiCycle {
            cycle: cycle.cycle,
            items: cycle.items.len(),
            tests: cycle.tests.len(),
            latency_secs,
            cycle_secs: cycle.items.iter().map(|(_, o)| o.duration_secs).sum(),
            plan: score(cycle, &statistical, 0.0),
            merged: score(cycle, &merged, latency_secs),
            advised: score(cycle, &advised, latency_secs),
            notice,
        });
    }
    Ok(AiAblation {
        model,
        scored_cycles: scored.len(),
        cycles: out,
    })
}

/// Scores the cycle's items in the order of `tests` (a test's rows together, in row order),
/// the run starting `wait_secs` late.
fn score(cycle: &ReplayCycle, tests: &[String], wait_secs: f64) -> OrderScore {
    let rank: BTreeMap<&str, usize> = tests
        .iter()
        .enumerate()
        .map(|(i, t)| (t.as_str(), i))
        .collect();
    let mut order: Vec<usize> = (0..cycle.items.len()).collect();
    order.sort_by_key(|&i| (rank[cycle.tests[cycle.items[i].0].as_str()], i));
    let outcomes: Vec<CycleOutcome> = order.iter().map(|&i| cycle.items[i].1).collect();
    // The wait is a leading stretch of time with no failure in it.
    let mut waited = Vec::with_capacity(outcomes.len() + 1);
    waited.push(CycleOutcome {
        failed: false,
        duration_secs: wait_secs,
    });
    waited.extend_from_slice(&outcomes);
    OrderScore {
        apfd: apfd(&outcomes).unwrap_or(0.0),
        apfdc: apfdc(&waited).unwrap_or(0.0),
        first_failure_share: first_failure_share(&waited).unwrap_or(1.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cycle: i64, name: &str, duration_secs: f64, failed: bool) -> RetecsRow {
        RetecsRow::of(cycle, name, duration_secs, failed)
    }

    #[test]
    fn the_wait_is_charged_to_apfdc_and_the_first_failure_but_not_to_apfd() {
        let (_, cycles) = published_cycles(&[
            row(1, "a", 1.0, false),
            row(1, "b", 3.0, true),
            row(1, "a", 1.0, false),
        ]);
        let order = ["b".to_owned(), "a".to_owned()];
        let prompt = score(&cycles[0], &order, 0.0);
        // b first: APFD 1 - 1/3 + 1/6; APFDc (5 - 1.5) / 5; first failure after 3 of 5 s
        assert!((prompt.apfd - (1.0 - 1.0 / 3.0 + 1.0 / 6.0)).abs() < 1e-12);
        assert!((prompt.apfdc - 0.7).abs() < 1e-12);
        assert!((prompt.first_failure_share - 0.6).abs() < 1e-12);
        let late = score(&cycles[0], &order, 5.0);
        assert_eq!(late.apfd, prompt.apfd);
        // after 5 s of waiting, 5 - 1.5 of the 10 s are still ahead of the failure
        assert!((late.apfdc - 3.5 / 10.0).abs() < 1e-12, "{late:?}");
        assert!((late.first_failure_share - 0.8).abs() < 1e-12, "{late:?}");
    }
}
