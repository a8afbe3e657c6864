//! Metrics at the receiver: `POST /v1/metrics` (protobuf or JSON, gzip or not) and the gRPC
//! `MetricsService`, each data point kept with its metric's name, unit and attributes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use prost::Message as _;

use super::{Receiver, Store, accepted, lock, read_body, refuse};
use crate::telemetry::decode::attr;

/// One data point of a metric that arrived over OTLP.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricPoint {
    /// The resource's `service.name`.
    pub service: String,
    /// The metric's name (`clnrm.test.runs`).
    pub name: String,
    /// Its unit (`s`, `{test}`).
    pub unit: String,
    /// The point's attributes, as text.
    pub attrs: BTreeMap<String, String>,
    /// What it says.
    pub value: PointValue,
}

/// The value of a [`MetricPoint`].
#[derive(Debug, Clone, PartialEq)]
pub enum PointValue {
    /// A sum (a counter when monotonic).
    Sum {
        /// The value.
        value: f64,
        /// Whether it only grows.
        monotonic: bool,
    },
    /// A gauge.
    Gauge(f64),
    /// An explicit-bucket histogram.
    Histogram {
        /// Observations.
        count: u64,
        /// Their sum, when sent.
        sum: Option<f64>,
        /// The buckets' upper bounds.
        bounds: Vec<f64>,
        /// Observations per bucket (one more than `bounds`).
        bucket_counts: Vec<u64>,
    },
    /// A kind this receiver does not unpack (exponential histogram, summary).
    Other,
}

impl Receiver {
    /// Every metric data point received so far, in arrival order.
    pub fn metrics(&self) -> Vec<MetricPoint> {
        lock(&self.store).metrics.clone()
    }
}

/// The data points of an export request.
pub(crate) fn points_of(request: ExportMetricsServiceRequest) -> Vec<MetricPoint> {
    let mut out = Vec::new();
    for resource_metrics in request.resource_metrics {
        let service = resource_metrics
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| kv.value.as_ref())
            .map(|v| attr(v).as_text())
            .unwrap_or_default();
        for metric in resource_metrics
            .scope_metrics
            .into_iter()
            .flat_map(|s| s.metrics)
        {
            let mut point = |attrs: &[opentelemetry_proto::tonic::common::v1::KeyValue],
                             value: PointValue| {
                out.push(MetricPoint {
                    service: service.clone(),
                    name: metric.name.clone(),
                    unit: metric.unit.clone(),
                    attrs: attrs
                        .iter()
                        .map(|kv| {
                            let value = kv.value.as_ref().map(|v| attr(v).as_text());
                            (kv.key.clone(), value.unwrap_or_default())
                        })
                        .collect(),
                    value,
                });
            };
            let number = |v: Option<number_data_point::Value>| match v {
                Some(number_data_point::Value::AsDouble(d)) => d,
                #[allow(clippy::cast_precision_loss)]
                Some(number_data_point::Value::AsInt(i)) => i as f64,
                None => 0.0,
            };
            match &metric.data {
                Some(metric::Data::Sum(sum)) => {
                    for p in &sum.data_points {
                        let value = PointValue::Sum {
                            value: number(p.value),
                            monotonic: sum.is_monotonic,
                        };
                        point(&p.attributes, value);
                    }
                }
                Some(metric::Data::Gauge(gauge)) => {
                    for p in &gauge.data_points {
                        point(&p.attributes, PointValue::Gauge(number(p.value)));
                    }
                }
                Some(metric::Data::Histogram(histogram)) => {
                    for p in &histogram.data_points {
                        let value = PointValue::Histogram {
                            count: p.count,
                            sum: p.sum,
                            bounds: p.explicit_bounds.clone(),
                            bucket_counts: p.bucket_counts.clone(),
                        };
                        point(&p.attributes, value);
                    }
                }
                Some(_) | None => point(&[], PointValue::Other),
            }
        }
    }
    out
}

/// `POST /v1/metrics`.
pub(super) async fn http(
    State(store): State<Arc<Mutex<Store>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (json, body) = match read_body(&store, &headers, &body) {
        Ok(read) => read,
        Err(refused) => return refused.into_response(),
    };
    let decoded = if json {
        serde_json::from_slice::<ExportMetricsServiceRequest>(&body).map_err(|e| e.to_string())
    } else {
        ExportMetricsServiceRequest::decode(&body[..]).map_err(|e| e.to_string())
    };
    match decoded {
        Ok(request) => {
            let points = points_of(request);
            let mut s = lock(&store);
            s.metrics.extend(points);
            s.last = Some(Instant::now());
            drop(s);
            accepted(json)
        }
        Err(e) => {
            let why = format!("not an OTLP metrics export request: {e}");
            refuse(&store, &why);
            (StatusCode::BAD_REQUEST, why).into_response()
        }
    }
}
