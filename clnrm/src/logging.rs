//! clnrm's own log lines (the `tracing` events of the engine), set up once for both front doors:
//! `CLNRM_LOG` filters them (default `warn`), and secrets are masked before they are written.

/// What is never shown unless `CLNRM_LOG` asks for it: testcontainers' complaint that it could not
/// remove a container on drop. It fires only when a container's start failed half-way (or its
/// future was dropped, as when a run is interrupted), and clnrm removes such leftovers itself (by
/// the run's label, and in the final sweep of an interrupted run), so the message is at best a
/// duplicate and at worst a false alarm ("409 removal already in progress": clnrm's own removal).
const DEFAULT_FILTER: &str = "warn,testcontainers::core::containers::async_container=off";

/// Installs the subscriber (once per process; later calls do nothing).
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CLNRM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_FILTER));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(crate::secrets::MaskingWriter)
        .try_init();
}
