//! The registry's metrics over OTLP: configured by the standard variables
//! (`OTEL_EXPORTER_OTLP_{METRICS_,}ENDPOINT`, `_PROTOCOL` http/protobuf, http/json or grpc,
//! `_HEADERS`, `_TIMEOUT`, `OTEL_METRICS_EXPORTER`, `OTEL_SDK_DISABLED`), with the OpenTelemetry
//! names and units of [`Family`] and the registry's buckets. When configured, the process's
//! registry ([`super::global`]) also records into an SDK `MeterProvider` whose periodic reader
//! exports cumulative sums and histograms (every `OTEL_METRIC_EXPORT_INTERVAL`, 60 s by
//! default, and once more at [`flush_otlp`]). Unset: no provider, no thread, one atomic load
//! per recorded value. The labels are the registry's (`suite`, `outcome`, `plugin`, ...):
//! never a run or trace id.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram, MeterProvider as _};
use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _, WithTonicConfig as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};

use super::registry::{Family, Kind};
use crate::telemetry::export::{
    FLUSH_BOUND, metrics_config_from, otlp_exporter, resource, warn_once,
};

/// One instrument per family.
struct Instruments {
    counters: Vec<(Family, Counter<u64>)>,
    histograms: Vec<(Family, Histogram<f64>)>,
}

static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();
static PROVIDER: Mutex<Option<SdkMeterProvider>> = Mutex::new(None);
static ENDPOINT: OnceLock<String> = OnceLock::new();

/// Installs the OTLP metrics export the environment asks for (once per process; nothing when
/// it asks for none; something it cannot do is said once and exports nothing).
pub fn install_otlp_from_env() {
    if INSTRUMENTS.get().is_some() {
        return;
    }
    let get = |k: &str| std::env::var(k).ok();
    let config = match metrics_config_from(&get) {
        Ok(Some(config)) => config,
        Ok(None) => return,
        Err(why) => {
            warn_once(&format!("{why}: no metrics are exported"));
            return;
        }
    };
    let exporter = otlp_exporter!(opentelemetry_otlp::MetricExporter, &config);
    let exporter = match exporter {
        Ok(exporter) => exporter,
        Err(e) => {
            warn_once(&format!(
                "cannot export metrics to {}: {e}",
                config.endpoint
            ));
            return;
        }
    };
    let _ = ENDPOINT.set(config.endpoint.clone());
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(WarnOnFailure(exporter)).build())
        .with_resource(resource(&get))
        .build();
    let meter = provider.meter("clnrm");
    let mut instruments = Instruments {
        counters: Vec::new(),
        histograms: Vec::new(),
    };
    for family in Family::ALL {
        match family.kind() {
            Kind::Counter => instruments.counters.push((
                family,
                meter
                    .u64_counter(family.otel_name())
                    .with_unit(family.unit())
                    .with_description(family.help())
                    .build(),
            )),
            Kind::Histogram => instruments.histograms.push((
                family,
                meter
                    .f64_histogram(family.otel_name())
                    .with_unit(family.unit())
                    .with_description(family.help())
                    .with_boundaries(family.bounds().to_vec())
                    .build(),
            )),
        }
    }
    *PROVIDER.lock().unwrap_or_else(|p| p.into_inner()) = Some(provider);
    let _ = INSTRUMENTS.set(instruments);
}

/// Records one value of `family` (a count for a counter, seconds for a histogram) when the
/// export is installed.
pub(super) fn record(family: Family, labels: [&str; 2], value: f64) {
    let Some(instruments) = INSTRUMENTS.get() else {
        return;
    };
    let names = family.label_names();
    let attrs: Vec<KeyValue> = names
        .iter()
        .zip(labels)
        .map(|(name, value)| KeyValue::new(*name, value.to_owned()))
        .collect();
    if let Some((_, counter)) = instruments.counters.iter().find(|(f, _)| *f == family) {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        counter.add(value.round() as u64, &attrs);
    } else if let Some((_, histogram)) = instruments.histograms.iter().find(|(f, _)| *f == family) {
        histogram.record(value, &attrs);
    }
}

/// Whether an OTLP metrics export is installed and not flushed yet.
pub fn otlp_pending() -> bool {
    PROVIDER.lock().unwrap_or_else(|p| p.into_inner()).is_some()
}

/// Exports what was recorded and stops the export; waits at most [`FLUSH_BOUND`]. Called by
/// [`crate::telemetry::flush`]; later calls do nothing.
pub fn flush_otlp() {
    let provider = PROVIDER.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(provider) = provider
        && let Err(e) = provider.shutdown_with_timeout(FLUSH_BOUND)
    {
        let endpoint = ENDPOINT.get().map_or("", String::as_str);
        warn_once(&format!(
            "metrics not delivered to {endpoint} within {} s ({e})",
            FLUSH_BOUND.as_secs_f64()
        ));
    }
}

/// The OTLP exporter, saying its first failure (once per process).
struct WarnOnFailure<E>(E);

impl<E: PushMetricExporter> PushMetricExporter for WarnOnFailure<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let result = self.0.export(metrics).await;
        if let Err(e) = &result {
            let endpoint = ENDPOINT.get().map_or("", String::as_str);
            warn_once(&format!("cannot deliver metrics to {endpoint} ({e})"));
        }
        result
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.0.temporality()
    }
}
