//! Metrics of clnrm's own runs, kept in one registry and read in two forms: Prometheus text
//! (`--metrics-file`, `clnrm watch --metrics-addr`) and a plain [`Snapshot`] of series, the
//! shape an OTLP metrics exporter maps onto its data points.
//!
//! | Prometheus name | kind | labels | fed from |
//! |---|---|---|---|
//! | `clnrm_test_runs_total` | counter | `suite`, `outcome` | every finished test or scenario |
//! | `clnrm_test_duration_seconds` | histogram | `suite`, `outcome` | the same, when it ran to a verdict |
//! | `clnrm_service_start_seconds` | histogram | `plugin`, `service` | [`Registry::start_all`](crate::Registry::start_all) |
//! | `clnrm_service_health_check_seconds` | histogram | `plugin`, `service` | its readiness checks |
//! | `clnrm_isolation_wait_seconds` | histogram | `plugin`, `isolation` | the engine's per-test namespaces |
//!
//! `outcome` is `pass`, `fail`, `flaky`, `skip`, `timeout`, `infra_error` or `interrupted`.
//! `suite` is a TOML suite's name or a test binary (`package::binary`); there is no test-name
//! label: test names grow with the code base and, times outcomes times buckets, would make
//! thousands of series (per-test durations are in the JSON and JUnit reports and the history).
//! No run id or trace id is ever a label.
//!
//! The engine feeds [`global`], the registry of the process: a `clnrm run` or a test binary is
//! one run, and `clnrm watch` serves the sum of its rounds. With an OTLP endpoint configured,
//! the same values go out over OTLP too ([`install_otlp_from_env`], OTel names and units).

mod file;
mod otlp;
mod registry;
mod serve;
mod text;

pub use file::write_metrics_file;
pub use otlp::{flush_otlp, install_otlp_from_env, otlp_pending};
pub use registry::{
    Family, Histogram, Kind, Metrics, Series, Snapshot, Value, global, outcome_label,
};
pub use serve::{CONTENT_TYPE, MetricsServer};
pub use text::{TextError, parse_text, prometheus_text};
