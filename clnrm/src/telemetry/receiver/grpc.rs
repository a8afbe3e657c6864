//! OTLP/gRPC on the receiver's own port: `TraceService/Export` and `MetricsService/Export`
//! (tonic services from `opentelemetry-proto`), served by the same server as OTLP/HTTP (HTTP/1
//! and prior-knowledge HTTP/2 on one listener), so one endpoint serves every protocol.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};

use super::metrics::points_of;
use super::{MAX_BODY, Receiver, Store, lock};
use crate::telemetry::decode::spans_of;

impl Receiver {
    /// How many export requests (traces or metrics) came over gRPC.
    pub fn grpc_exports(&self) -> usize {
        lock(&self.store).grpc_exports
    }

    /// The ASCII metadata of those requests, once each (`x-tenant`, `ci`).
    pub fn grpc_metadata(&self) -> Vec<(String, String)> {
        lock(&self.store).grpc_metadata.iter().cloned().collect()
    }
}

/// Counts a gRPC export and keeps its ASCII metadata.
fn seen(store: &mut Store, metadata: &tonic::metadata::MetadataMap) {
    store.grpc_exports += 1;
    for entry in metadata.iter() {
        if let tonic::metadata::KeyAndValueRef::Ascii(key, value) = entry
            && let Ok(value) = value.to_str()
        {
            store
                .grpc_metadata
                .insert((key.as_str().to_owned(), value.to_owned()));
        }
    }
}

/// The gRPC services, as routes to merge into the receiver's router.
pub(super) fn router(store: &Arc<Mutex<Store>>) -> axum::Router {
    tonic::service::Routes::new(
        TraceServiceServer::new(Traces(Arc::clone(store))).max_decoding_message_size(MAX_BODY),
    )
    .add_service(
        MetricsServiceServer::new(Metrics(Arc::clone(store))).max_decoding_message_size(MAX_BODY),
    )
    .into_axum_router()
}

struct Traces(Arc<Mutex<Store>>);

#[tonic::async_trait]
impl TraceService for Traces {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut store = lock(&self.0);
        seen(&mut store, request.metadata());
        store.spans.extend(spans_of(request.into_inner()));
        store.last = Some(Instant::now());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

struct Metrics(Arc<Mutex<Store>>);

#[tonic::async_trait]
impl MetricsService for Metrics {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let mut store = lock(&self.0);
        seen(&mut store, request.metadata());
        store.metrics.extend(points_of(request.into_inner()));
        store.last = Some(Instant::now());
        Ok(tonic::Response::new(ExportMetricsServiceResponse {
            partial_success: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;

    use super::*;
    use crate::telemetry::PointValue;

    const TRACES: &str = r#"{"resourceSpans":[{"resource":{"attributes":[
        {"key":"service.name","value":{"stringValue":"api"}}]},
      "scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c",
        "spanId":"eee19b7ec3c1b174","name":"work","kind":2,
        "startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#;

    const METRICS: &str = r#"{"resourceMetrics":[{"resource":{"attributes":[
        {"key":"service.name","value":{"stringValue":"api"}}]},
      "scopeMetrics":[{"metrics":[
        {"name":"runs","unit":"{test}","sum":{"aggregationTemporality":2,"isMonotonic":true,
          "dataPoints":[{"attributes":[{"key":"outcome","value":{"stringValue":"pass"}}],
            "asInt":"2"}]}},
        {"name":"took","unit":"s","histogram":{"aggregationTemporality":2,
          "dataPoints":[{"count":"3","sum":1.5,"explicitBounds":[0.5,1.0],
            "bucketCounts":["1","1","1"]}]}}]}]}]}"#;

    #[tokio::test]
    async fn grpc_and_http_share_one_port_for_traces_and_metrics() {
        let receiver = Receiver::start("127.0.0.1".parse().expect("ip"))
            .await
            .expect("starts");
        let traces: ExportTraceServiceRequest = serde_json::from_str(TRACES).expect("traces");
        TraceServiceClient::connect(receiver.endpoint())
            .await
            .expect("connects over h2")
            .export(traces)
            .await
            .expect("TraceService/Export answers");
        let metrics: ExportMetricsServiceRequest = serde_json::from_str(METRICS).expect("metrics");
        MetricsServiceClient::connect(receiver.endpoint())
            .await
            .expect("connects over h2")
            .export(metrics)
            .await
            .expect("MetricsService/Export answers");
        let over_http = reqwest::Client::new()
            .post(format!("{}/v1/metrics", receiver.endpoint()))
            .header("content-type", "application/json")
            .body(METRICS)
            .send()
            .await
            .expect("HTTP/1 on the same port");
        assert_eq!(over_http.status().as_u16(), 200);
        assert_eq!(receiver.grpc_exports(), 2);
        let spans = receiver.spans();
        assert_eq!(spans.len(), 1, "{spans:#?}");
        assert_eq!(
            (spans[0].service.as_str(), spans[0].name.as_str()),
            ("api", "work")
        );
        let points = receiver.metrics();
        assert_eq!(
            points.len(),
            4,
            "two points, by gRPC and by HTTP: {points:#?}"
        );
        assert_eq!(points[0].name, "runs");
        assert_eq!(points[0].unit, "{test}");
        assert_eq!(points[0].service, "api");
        assert_eq!(
            points[0].attrs.get("outcome").map(String::as_str),
            Some("pass")
        );
        assert_eq!(
            points[0].value,
            PointValue::Sum {
                value: 2.0,
                monotonic: true
            }
        );
        assert_eq!(
            points[1].value,
            PointValue::Histogram {
                count: 3,
                sum: Some(1.5),
                bounds: vec![0.5, 1.0],
                bucket_counts: vec![1, 1, 1]
            }
        );
        assert_eq!(points[2..], points[..2]);
    }
}
