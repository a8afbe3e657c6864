//! The suite side: a `chaos` step injected into a scenario's [`ChaosSession`], now or in the
//! background (`after`), for a while (`duration`) or until the scenario ends.

use std::time::Duration;

use super::{Chaos, ChaosSession, FaultGuard};
use crate::suite::{ChaosFault, ChaosStepSpec};

fn name(step: &ChaosStepSpec) -> String {
    match step.fault.get_ref() {
        ChaosFault::Pause => "pause".to_owned(),
        ChaosFault::Kill => format!("kill {}", signal(step)),
        ChaosFault::Stop => "stop".to_owned(),
        ChaosFault::Restart => "restart".to_owned(),
        ChaosFault::Partition => "partition".to_owned(),
        ChaosFault::Down => "down".to_owned(),
        ChaosFault::Toxic => step
            .toxic
            .as_ref()
            .map_or_else(|| "toxic".to_owned(), |t| t.describe()),
    }
}

fn signal(step: &ChaosStepSpec) -> &str {
    step.signal.as_deref().unwrap_or("SIGKILL")
}

async fn inject_now(chaos: &Chaos, step: &ChaosStepSpec) -> crate::Result<Option<FaultGuard>> {
    Ok(Some(match step.fault.get_ref() {
        ChaosFault::Pause => chaos.pause().await?,
        ChaosFault::Kill => chaos.kill(signal(step)).await?,
        ChaosFault::Stop => chaos.stop(Duration::from_secs(1)).await?,
        ChaosFault::Partition => chaos.partition().await?,
        ChaosFault::Down => chaos.down().await?,
        ChaosFault::Toxic => match &step.toxic {
            Some(toxic) => chaos.toxic(toxic.clone()).await?,
            None => return Ok(None),
        },
        ChaosFault::Restart => {
            chaos.restart().await?;
            return Ok(None);
        }
    }))
}

fn keep(guard: Option<FaultGuard>, duration: Option<Duration>) {
    match (guard, duration) {
        (Some(guard), Some(d)) => guard.for_duration(d),
        (Some(guard), None) => guard.until_end(),
        (None, _) => {}
    }
}

/// Runs a `chaos` step: injects its fault (or schedules it), leaving it to heal after its
/// `duration` or at the end of the scenario.
pub(crate) async fn run_step(session: &ChaosSession, step: &ChaosStepSpec) -> Result<(), String> {
    let mut chaos = session
        .chaos(step.service.get_ref())
        .map_err(|e| e.to_string())?;
    if step.allow_damage {
        chaos = chaos.allow_damage();
    }
    match step.after {
        None => {
            let guard = inject_now(&chaos, step).await.map_err(|e| e.to_string())?;
            keep(guard, step.duration);
        }
        Some(after) => {
            let (session, step) = (session.clone(), step.clone());
            session.clone().schedule(after, move || async move {
                match inject_now(&chaos, &step).await {
                    Ok(guard) => keep(guard, step.duration),
                    Err(e) => {
                        session.record_failure(step.service.get_ref(), &name(&step), &e.to_string())
                    }
                }
            });
        }
    }
    Ok(())
}
