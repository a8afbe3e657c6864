//! clnrm's own traces over OTLP, configured by the standard variables only.
//!
//! Export is on when an endpoint is set (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_ENDPOINT`), `OTEL_SDK_DISABLED` is not `true` and `OTEL_TRACES_EXPORTER`
//! is unset or `otlp`. Otherwise no OpenTelemetry layer is installed: no thread, no cost. The
//! protocol is `OTEL_EXPORTER_OTLP_{TRACES_,}PROTOCOL`: `http/protobuf` (the default),
//! `http/json` or `grpc` (tonic, plain-text h2: the generic endpoint is used as it is, e.g.
//! `http://localhost:4317`); headers (gRPC metadata for `grpc`) and compression are read by
//! the exporter from their usual variables, `_TIMEOUT` by clnrm (capped at [`FLUSH_BOUND`]),
//! the resource from `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES` (service name `clnrm`
//! unless they name one), plus the CI context ([`ci_attributes`]).
//!
//! [`flush`] ends the export: every span is sent before the process exits, and a collector that
//! is down or slow delays the end by at most [`FLUSH_BOUND`]. Whatever goes wrong is said once,
//! on one line; it never fails a run.
//!
//! Logs the same way ([`logs_config_from`]: `OTEL_EXPORTER_OTLP_LOGS_*`, `OTEL_LOGS_EXPORTER`):
//! clnrm's own `tracing` events (INFO and up) as OTLP log records, each tied to its span; and
//! metrics ([`metrics_config_from`], [`crate::telemetry::metrics`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{
    Protocol, RetryPolicy, WithExportConfig as _, WithHttpConfig as _, WithTonicConfig as _,
};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter, SdkLoggerProvider};
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter};

/// How long the end of a process may wait for its spans to be delivered.
pub const FLUSH_BOUND: Duration = Duration::from_secs(2);

/// What the environment asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportConfig {
    /// The traces endpoint as configured (the generic one gets `/v1/traces` appended over
    /// HTTP; gRPC uses it as it is).
    pub endpoint: String,
    /// `http/protobuf`, `http/json` or `grpc`.
    pub protocol: String,
    /// `OTEL_EXPORTER_OTLP_{SIGNAL_,}TIMEOUT` (10 s by default), capped at [`FLUSH_BOUND`]: one
    /// export never outlasts the end of the process.
    pub timeout: Duration,
}

/// The trace export the environment asks for: `Ok(None)` when it asks for none, `Err` (a
/// sentence) when it asks for something this build cannot do (export then stays off).
pub fn config_from(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<ExportConfig>, String> {
    signal_config(get, "TRACES")
}

/// The same for logs (`OTEL_LOGS_EXPORTER`, `OTEL_EXPORTER_OTLP_LOGS_*`, `/v1/logs`).
pub fn logs_config_from(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ExportConfig>, String> {
    signal_config(get, "LOGS")
}

/// The same for metrics (`OTEL_METRICS_EXPORTER`, `OTEL_EXPORTER_OTLP_METRICS_*`, `/v1/metrics`).
pub fn metrics_config_from(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ExportConfig>, String> {
    signal_config(get, "METRICS")
}

/// One signal's export: `signal` is `TRACES`, `LOGS` or `METRICS`.
fn signal_config(
    get: &dyn Fn(&str) -> Option<String>,
    signal: &str,
) -> Result<Option<ExportConfig>, String> {
    let set = |k: &str| {
        get(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    if set("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Ok(None);
    }
    match set(&format!("OTEL_{signal}_EXPORTER")).as_deref() {
        None | Some("otlp") => {}
        Some("none") => return Ok(None),
        Some(other) => {
            return Err(format!(
                "OTEL_{signal}_EXPORTER={other} is not supported (only `otlp` and `none`)"
            ));
        }
    }
    let protocol = set(&format!("OTEL_EXPORTER_OTLP_{signal}_PROTOCOL"))
        .or_else(|| set("OTEL_EXPORTER_OTLP_PROTOCOL"))
        .unwrap_or_else(|| "http/protobuf".to_owned());
    let path = signal.to_ascii_lowercase();
    let Some(endpoint) = set(&format!("OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")).or_else(|| {
        set("OTEL_EXPORTER_OTLP_ENDPOINT").map(|e| {
            if protocol == "grpc" {
                e
            } else {
                format!("{}/v1/{path}", e.trim_end_matches('/'))
            }
        })
    }) else {
        return Ok(None);
    };
    if !matches!(protocol.as_str(), "http/protobuf" | "http/json" | "grpc") {
        return Err(format!(
            "OTEL_EXPORTER_OTLP_PROTOCOL={protocol} is not one of http/protobuf, http/json, grpc"
        ));
    }
    let timeout_var = [
        format!("OTEL_EXPORTER_OTLP_{signal}_TIMEOUT"),
        "OTEL_EXPORTER_OTLP_TIMEOUT".to_owned(),
    ]
    .into_iter()
    .find_map(|k| set(&k).map(|v| (k, v)));
    let timeout = match timeout_var {
        None => DEFAULT_TIMEOUT,
        Some((k, v)) => Duration::from_millis(
            v.parse()
                .map_err(|_| format!("{k}={v} is not a whole number of milliseconds"))?,
        ),
    };
    Ok(Some(ExportConfig {
        endpoint,
        protocol,
        timeout: timeout.min(FLUSH_BOUND),
    }))
}

/// The exporters' timeout when none is configured (the specification's 10 s).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The runtime of the gRPC exporters (tonic needs one; the batch processors export from their
/// own threads, outside any runtime): one worker thread, made on the first gRPC export and
/// never dropped (dropping a runtime inside another one panics).
fn grpc_runtime() -> Result<&'static tokio::runtime::Runtime, String> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("clnrm-otlp-grpc")
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the gRPC exporter's runtime: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// An exporter, run on the gRPC runtime when it is a tonic one.
#[derive(Debug)]
pub(crate) struct OnRuntime<E> {
    inner: E,
    runtime: Option<&'static tokio::runtime::Runtime>,
}

impl<E> OnRuntime<E> {
    /// Builds the exporter with `build` (inside the gRPC runtime for `grpc`: tonic's channel
    /// spawns its worker there).
    pub(crate) fn build<Err: std::fmt::Display>(
        config: &ExportConfig,
        build: impl FnOnce(&ExportConfig) -> Result<E, Err>,
    ) -> Result<OnRuntime<E>, String> {
        if config.protocol == "grpc" {
            let runtime = grpc_runtime()?;
            let _inside = runtime.enter();
            let inner = build(config).map_err(|e| e.to_string())?;
            Ok(OnRuntime {
                inner,
                runtime: Some(runtime),
            })
        } else {
            let inner = build(config).map_err(|e| e.to_string())?;
            Ok(OnRuntime {
                inner,
                runtime: None,
            })
        }
    }

    /// Runs `export` to its end: on the gRPC runtime (from a thread of its own when the caller
    /// is itself inside a runtime), or as it is.
    async fn run<F: std::future::Future<Output = OTelSdkResult> + Send>(
        &self,
        export: F,
    ) -> OTelSdkResult {
        let Some(runtime) = self.runtime else {
            return export.await;
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            std::thread::scope(|scope| {
                scope
                    .spawn(|| runtime.block_on(export))
                    .join()
                    .unwrap_or_else(|_| {
                        Err(opentelemetry_sdk::error::OTelSdkError::InternalFailure(
                            "the gRPC export panicked".to_owned(),
                        ))
                    })
            })
        } else {
            runtime.block_on(export)
        }
    }
}

impl<E: SpanExporter> SpanExporter for OnRuntime<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.run(self.inner.export(batch)).await
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}

impl<E: LogExporter> LogExporter for OnRuntime<E> {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        self.run(self.inner.export(batch)).await
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}

impl<E: PushMetricExporter> PushMetricExporter for OnRuntime<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        self.run(self.inner.export(metrics)).await
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

/// The providers of this process, until [`flush`] takes them.
static PROVIDER: Mutex<Option<SdkTracerProvider>> = Mutex::new(None);
static LOGGER: Mutex<Option<SdkLoggerProvider>> = Mutex::new(None);
/// Set by the first problem said: there is only ever one warning line.
static WARNED: AtomicBool = AtomicBool::new(false);
/// Where spans go, for the warning.
static ENDPOINT: OnceLock<String> = OnceLock::new();
/// Where log records go, for the warning.
static LOGS_ENDPOINT: OnceLock<String> = OnceLock::new();

pub(crate) fn warn_once(text: &str) {
    if !WARNED.swap(true, Ordering::SeqCst) {
        eprintln!("clnrm: warning: telemetry: {text}; the run's results are not affected");
    }
}

/// Builds the OTLP exporter `$exporter` (`opentelemetry_otlp::SpanExporter`, `LogExporter` or
/// `MetricExporter`) for `$config`: tonic for `grpc`, HTTP otherwise, with the endpoint, timeout
/// and retry policy resolved here. The three builders take the same steps but share no trait.
macro_rules! otlp_exporter {
    ($exporter:ty, $config:expr) => {
        $crate::telemetry::export::OnRuntime::build($config, |config| {
            let builder = <$exporter>::builder();
            if config.protocol == "grpc" {
                builder
                    .with_tonic()
                    .with_endpoint(config.endpoint.clone())
                    .with_timeout(config.timeout)
                    .with_retry_policy($crate::telemetry::export::retry_policy())
                    .build()
            } else {
                builder
                    .with_http()
                    .with_protocol($crate::telemetry::export::protocol(config))
                    .with_endpoint(config.endpoint.clone())
                    .with_timeout(config.timeout)
                    .with_retry_policy($crate::telemetry::export::retry_policy())
                    .build()
            }
        })
    };
}
pub(crate) use otlp_exporter;

/// A tracer exporting to what the environment configures, or `None` (nothing configured, or
/// something unsupported: said once).
pub(crate) fn tracer_from_env() -> Option<opentelemetry_sdk::trace::Tracer> {
    let get = |k: &str| std::env::var(k).ok();
    let config = match config_from(&get) {
        Ok(Some(config)) => config,
        Ok(None) => return None,
        Err(why) => {
            warn_once(&format!("{why}: no traces are exported"));
            return None;
        }
    };
    // The endpoint is resolved here (the crate would fall back to localhost without one).
    let exporter = otlp_exporter!(opentelemetry_otlp::SpanExporter, &config);
    let exporter = match exporter {
        Ok(exporter) => exporter,
        Err(e) => {
            warn_once(&format!("cannot export traces to {}: {e}", config.endpoint));
            return None;
        }
    };
    let _ = ENDPOINT.set(config.endpoint.clone());
    let provider = SdkTracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::builder(WarnOnFailure(exporter)).build())
        .with_resource(resource(&get))
        .build();
    let tracer = provider.tracer("clnrm");
    *PROVIDER.lock().unwrap_or_else(|p| p.into_inner()) = Some(provider);
    Some(tracer)
}

/// One quick retry: a collector that is down fails the export at once (one warning) instead of
/// holding the end of every test process for the whole flush bound, and a short refusal (a
/// 503, a dropped connection) still gets a second chance.
pub(crate) fn retry_policy() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_retries(1)
        .with_initial_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_millis(200))
}

/// `http/json` or `http/protobuf` (the HTTP exporters).
pub(crate) fn protocol(config: &ExportConfig) -> Protocol {
    if config.protocol == "http/json" {
        Protocol::HttpJson
    } else {
        Protocol::HttpBinary
    }
}

/// A logger provider exporting clnrm's `tracing` events as OTLP log records (each with the
/// trace and span it happened in), or `None`.
pub(crate) fn logger_from_env() -> Option<SdkLoggerProvider> {
    let get = |k: &str| std::env::var(k).ok();
    let config = match logs_config_from(&get) {
        Ok(Some(config)) => config,
        Ok(None) => return None,
        Err(why) => {
            warn_once(&format!("{why}: no logs are exported"));
            return None;
        }
    };
    let exporter = otlp_exporter!(opentelemetry_otlp::LogExporter, &config);
    let exporter = match exporter {
        Ok(exporter) => exporter,
        Err(e) => {
            warn_once(&format!("cannot export logs to {}: {e}", config.endpoint));
            return None;
        }
    };
    let _ = LOGS_ENDPOINT.set(config.endpoint.clone());
    let provider = SdkLoggerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource(&get))
        .build();
    *LOGGER.lock().unwrap_or_else(|p| p.into_inner()) = Some(provider.clone());
    Some(provider)
}

/// Is clnrm exporting its traces in this process?
pub fn exporting() -> bool {
    PROVIDER.lock().unwrap_or_else(|p| p.into_inner()).is_some()
}

/// Sends every span, log record and metric still held and stops the export; waits at most [`FLUSH_BOUND`]. Called by
/// every front door before the process exits (and on Ctrl-C); later calls do nothing.
pub fn flush() {
    let logger = LOGGER.lock().unwrap_or_else(|p| p.into_inner()).take();
    let provider = PROVIDER.lock().unwrap_or_else(|p| p.into_inner()).take();
    // Both at once: the bound holds for the two together.
    std::thread::scope(|scope| {
        if let Some(logger) = logger {
            scope.spawn(move || {
                if let Err(e) = logger.shutdown_with_timeout(FLUSH_BOUND) {
                    let endpoint = LOGS_ENDPOINT.get().map_or("", String::as_str);
                    warn_once(&format!(
                        "log records not delivered to {endpoint} within {} s ({e})",
                        FLUSH_BOUND.as_secs_f64()
                    ));
                }
            });
        }
        if super::metrics::otlp_pending() {
            scope.spawn(super::metrics::flush_otlp);
        }
        if let Some(provider) = provider {
            flush_traces(&provider);
        }
    });
}

fn flush_traces(provider: &SdkTracerProvider) {
    if let Err(e) = provider.shutdown_with_timeout(FLUSH_BOUND) {
        let endpoint = ENDPOINT.get().map_or("", String::as_str);
        warn_once(&format!(
            "spans not delivered to {endpoint} within {} s ({e})",
            FLUSH_BOUND.as_secs_f64()
        ));
    }
}

/// The resource: `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES` (service `clnrm` unless they
/// name one), clnrm's version and the CI context.
pub(crate) fn resource(get: &dyn Fn(&str) -> Option<String>) -> opentelemetry_sdk::Resource {
    let named = get("OTEL_SERVICE_NAME").is_some_and(|v| !v.trim().is_empty())
        || get("OTEL_RESOURCE_ATTRIBUTES").is_some_and(|v| {
            v.split(',')
                .any(|kv| kv.trim().starts_with("service.name="))
        });
    let mut builder = opentelemetry_sdk::Resource::builder();
    if !named {
        builder = builder.with_service_name("clnrm");
    }
    builder
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .with_attributes(
            ci_attributes(get)
                .into_iter()
                .map(|(k, v)| KeyValue::new(k, v)),
        )
        .build()
}

/// The CI context from the usual variables (GitHub Actions, GitLab CI, Buildkite, Jenkins,
/// CircleCI): `cicd.pipeline.name`, `cicd.pipeline.run.id`, `cicd.pipeline.run.url.full`,
/// `vcs.ref.head.revision`, `vcs.ref.head.name`, `vcs.repository.url.full`, `cicd.system`
/// (clnrm's own key: which CI).
pub fn ci_attributes(get: &dyn Fn(&str) -> Option<String>) -> Vec<(&'static str, String)> {
    let v = |k: &str| get(k).filter(|v| !v.is_empty());
    let mut out = Vec::new();
    let mut put = |key: &'static str, value: Option<String>| {
        if let Some(value) = value {
            out.push((key, value));
        }
    };
    if v("GITHUB_ACTIONS").is_some() {
        put("cicd.system", Some("github_actions".to_owned()));
        put("cicd.pipeline.name", v("GITHUB_WORKFLOW"));
        put("cicd.pipeline.run.id", v("GITHUB_RUN_ID"));
        let repo_url = match (v("GITHUB_SERVER_URL"), v("GITHUB_REPOSITORY")) {
            (Some(server), Some(repo)) => Some(format!("{server}/{repo}")),
            _ => None,
        };
        put(
            "cicd.pipeline.run.url.full",
            repo_url
                .as_ref()
                .zip(v("GITHUB_RUN_ID"))
                .map(|(repo, id)| format!("{repo}/actions/runs/{id}")),
        );
        put("vcs.repository.url.full", repo_url);
        put("vcs.ref.head.revision", v("GITHUB_SHA"));
        put(
            "vcs.ref.head.name",
            v("GITHUB_HEAD_REF").or_else(|| v("GITHUB_REF_NAME")),
        );
    } else if v("GITLAB_CI").is_some() {
        put("cicd.system", Some("gitlab".to_owned()));
        put("cicd.pipeline.name", v("CI_PROJECT_PATH"));
        put("cicd.pipeline.run.id", v("CI_PIPELINE_ID"));
        put("cicd.pipeline.run.url.full", v("CI_PIPELINE_URL"));
        put("vcs.repository.url.full", v("CI_PROJECT_URL"));
        put("vcs.ref.head.revision", v("CI_COMMIT_SHA"));
        put("vcs.ref.head.name", v("CI_COMMIT_REF_NAME"));
    } else if v("BUILDKITE").is_some() {
        put("cicd.system", Some("buildkite".to_owned()));
        put("cicd.pipeline.name", v("BUILDKITE_PIPELINE_SLUG"));
        put("cicd.pipeline.run.id", v("BUILDKITE_BUILD_ID"));
        put("cicd.pipeline.run.url.full", v("BUILDKITE_BUILD_URL"));
        put("vcs.repository.url.full", v("BUILDKITE_REPO"));
        put("vcs.ref.head.revision", v("BUILDKITE_COMMIT"));
        put("vcs.ref.head.name", v("BUILDKITE_BRANCH"));
    } else if v("JENKINS_URL").is_some() {
        put("cicd.system", Some("jenkins".to_owned()));
        put("cicd.pipeline.name", v("JOB_NAME"));
        put("cicd.pipeline.run.id", v("BUILD_ID"));
        put("cicd.pipeline.run.url.full", v("BUILD_URL"));
        put("vcs.repository.url.full", v("GIT_URL"));
        put("vcs.ref.head.revision", v("GIT_COMMIT"));
        put("vcs.ref.head.name", v("GIT_BRANCH"));
    } else if v("CIRCLECI").is_some() {
        put("cicd.system", Some("circleci".to_owned()));
        put("cicd.pipeline.name", v("CIRCLE_PROJECT_REPONAME"));
        put("cicd.pipeline.run.id", v("CIRCLE_WORKFLOW_ID"));
        put("cicd.pipeline.run.url.full", v("CIRCLE_BUILD_URL"));
        put("vcs.repository.url.full", v("CIRCLE_REPOSITORY_URL"));
        put("vcs.ref.head.revision", v("CIRCLE_SHA1"));
        put("vcs.ref.head.name", v("CIRCLE_BRANCH"));
    }
    out
}

/// The OTLP exporter, saying its first failure (once per process).
#[derive(Debug)]
struct WarnOnFailure<E>(E);

impl<E: SpanExporter> SpanExporter for WarnOnFailure<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let result = self.0.export(batch).await;
        if let Err(e) = &result {
            let endpoint = ENDPOINT.get().map_or("", String::as_str);
            warn_once(&format!("cannot deliver spans to {endpoint} ({e})"));
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.0.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Option<ExportConfig>, String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        config_from(&|k| map.get(k).cloned())
    }

    #[test]
    fn nothing_configured_or_disabled_means_no_export() {
        assert_eq!(config(&[]), Ok(None));
        assert_eq!(
            config(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]),
            Ok(None),
            "a protocol alone configures nothing"
        );
        assert_eq!(
            config(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
                ("OTEL_SDK_DISABLED", "TRUE")
            ]),
            Ok(None)
        );
        assert_eq!(
            config(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
                ("OTEL_TRACES_EXPORTER", "none")
            ]),
            Ok(None)
        );
    }

    #[test]
    fn the_generic_endpoint_gets_the_traces_path_and_the_signal_one_wins_verbatim() {
        let generic = config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4318/")]).unwrap();
        assert_eq!(
            generic,
            Some(ExportConfig {
                endpoint: "http://h:4318/v1/traces".to_owned(),
                protocol: "http/protobuf".to_owned(),
                timeout: FLUSH_BOUND,
            })
        );
        let both = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:1/x"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(both.endpoint, "http://t:1/x");
        assert_eq!(both.protocol, "http/json");
    }

    #[test]
    fn logs_have_their_own_variables_and_path() {
        let logs = logs_config_from(&|k| match k {
            "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://h:4318".to_owned()),
            "OTEL_TRACES_EXPORTER" => Some("none".to_owned()),
            _ => None,
        });
        assert_eq!(
            logs.unwrap().unwrap().endpoint,
            "http://h:4318/v1/logs",
            "the traces exporter variable does not turn logs off"
        );
        let off = logs_config_from(&|k| match k {
            "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://h:4318".to_owned()),
            "OTEL_LOGS_EXPORTER" => Some("none".to_owned()),
            _ => None,
        });
        assert_eq!(off, Ok(None));
    }

    #[test]
    fn grpc_uses_the_generic_endpoint_as_it_is_and_the_timeout_is_capped() {
        let grpc = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "500"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(grpc.endpoint, "http://h:4317", "no /v1/traces over gRPC");
        assert_eq!(grpc.protocol, "grpc");
        assert_eq!(grpc.timeout, Duration::from_millis(500));
        let metrics = metrics_config_from(&|k| match k {
            "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://h:4318".to_owned()),
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL" => Some("http/json".to_owned()),
            "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT" => Some("30000".to_owned()),
            _ => None,
        })
        .unwrap()
        .unwrap();
        assert_eq!(metrics.endpoint, "http://h:4318/v1/metrics");
        assert_eq!(metrics.protocol, "http/json");
        assert_eq!(
            metrics.timeout, FLUSH_BOUND,
            "never longer than the flush bound"
        );
    }

    #[test]
    fn an_unsupported_protocol_exporter_or_timeout_is_said() {
        let thrift = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift"),
        ]);
        assert!(
            thrift
                .unwrap_err()
                .contains("thrift is not one of http/protobuf, http/json, grpc")
        );
        let console = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4317"),
            ("OTEL_TRACES_EXPORTER", "console"),
        ]);
        assert!(
            console
                .unwrap_err()
                .contains("OTEL_TRACES_EXPORTER=console")
        );
        let timeout = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2s"),
        ]);
        assert_eq!(
            timeout.unwrap_err(),
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=2s is not a whole number of milliseconds"
        );
    }

    #[test]
    fn ci_context_comes_from_the_usual_variables() {
        let vars: HashMap<&str, &str> = [
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_WORKFLOW", "ci"),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "o/r"),
            ("GITHUB_SHA", "abc"),
            ("GITHUB_REF_NAME", "main"),
        ]
        .into_iter()
        .collect();
        let attrs = ci_attributes(&|k| vars.get(k).map(|v| (*v).to_owned()));
        let get = |k: &str| {
            attrs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("cicd.pipeline.run.id"), Some("42"));
        assert_eq!(
            get("cicd.pipeline.run.url.full"),
            Some("https://github.com/o/r/actions/runs/42")
        );
        assert_eq!(get("vcs.ref.head.revision"), Some("abc"));
        assert_eq!(get("vcs.ref.head.name"), Some("main"));
        let gitlab: HashMap<&str, &str> = [
            ("GITLAB_CI", "true"),
            ("CI_PIPELINE_ID", "7"),
            ("CI_COMMIT_SHA", "def"),
        ]
        .into_iter()
        .collect();
        let attrs = ci_attributes(&|k| gitlab.get(k).map(|v| (*v).to_owned()));
        assert!(attrs.contains(&("cicd.pipeline.run.id", "7".to_owned())));
        assert!(attrs.contains(&("vcs.ref.head.revision", "def".to_owned())));
        assert!(ci_attributes(&|_| None).is_empty());
    }
}
