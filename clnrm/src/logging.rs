//! clnrm's own log lines (the `tracing` events of the engine), set up once for both front doors:
//! `CLNRM_LOG` filters them (default `warn`), and secrets are masked before they are written.
//! When the environment configures OTLP export (`crate::telemetry::export`), clnrm's spans (and
//! its events, as log records) go there too; otherwise no OpenTelemetry layer is installed.

use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// What is never shown unless `CLNRM_LOG` asks for it: testcontainers' complaint that it could not
/// remove a container on drop. It fires only when a container's start failed half-way (or its
/// future was dropped, as when a run is interrupted), and clnrm removes such leftovers itself (by
/// the run's label, and in the final sweep of an interrupted run), so the message is at best a
/// duplicate and at worst a false alarm ("409 removal already in progress": clnrm's own removal).
const DEFAULT_FILTER: &str = "warn,testcontainers::core::containers::async_container=off";

/// Installs the subscriber (once per process; later calls do nothing).
pub fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_env("CLNRM_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_FILTER));
        let fmt = tracing_subscriber::fmt::layer().with_writer(crate::secrets::MaskingWriter);
        // clnrm's own spans and events (INFO and up), whatever `CLNRM_LOG` shows on the terminal.
        let own = || {
            tracing_subscriber::filter::Targets::new().with_target("clnrm", tracing::Level::INFO)
        };
        let spans = crate::telemetry::export::tracer_from_env().map(|tracer| {
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_location(false)
                .with_threads(false)
                .with_target(false)
                .with_level(false)
                .with_tracked_inactivity(false)
                .with_filter(own())
        });
        let logs = crate::telemetry::export::logger_from_env().map(|provider| {
            opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge::new(&provider)
                .with_filter(own())
        });
        crate::telemetry::metrics::install_otlp_from_env();
        let _ = tracing_subscriber::registry()
            .with(fmt.with_filter(filter))
            .with(spans)
            .with(logs)
            .try_init();
    });
}
