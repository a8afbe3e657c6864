//! The in-process OTLP/HTTP receiver: `POST /v1/traces` with `application/x-protobuf` or
//! `application/json`, optionally gzip-compressed; 415 for any other content type. The same
//! port speaks OTLP/gRPC ([`grpc`]) and takes metrics ([`metrics`]: `POST /v1/metrics`).
//!
//! One per suite run that needs it, bound to one address (the run network's gateway, so the
//! run's containers reach it and nothing else does; never `0.0.0.0`).

use std::io::Read as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::decode::{decode_json, decode_protobuf};
use super::span::Span;

mod grpc;
mod metrics;

pub use metrics::{MetricPoint, PointValue};

/// A running receiver; stops when dropped.
#[derive(Debug)]
pub struct Receiver {
    addr: SocketAddr,
    store: Arc<Mutex<Store>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Debug, Default)]
struct Store {
    spans: Vec<Span>,
    metrics: Vec<MetricPoint>,
    /// Export requests that came over gRPC.
    grpc_exports: usize,
    /// The ASCII metadata those requests carried (`OTEL_EXPORTER_OTLP_HEADERS`).
    grpc_metadata: std::collections::BTreeSet<(String, String)>,
    last: Option<Instant>,
    /// Requests refused (bad content type or body), for diagnostics.
    refused: Vec<String>,
}

/// Bodies larger than this are refused (413); OTLP batches are far smaller.
const MAX_BODY: usize = 32 * 1024 * 1024;

impl Receiver {
    /// Starts a receiver on `ip` and a free port.
    pub async fn start(ip: IpAddr) -> std::io::Result<Receiver> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(ip, 0)).await?;
        let addr = listener.local_addr()?;
        let store = Arc::new(Mutex::new(Store::default()));
        let app = Router::new()
            .route("/v1/traces", post(traces))
            .route("/v1/spans", get(query))
            .route("/v1/metrics", post(metrics::http))
            .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
            .with_state(Arc::clone(&store))
            .merge(grpc::router(&store));
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!("OTLP receiver stopped: {e}");
            }
        });
        Ok(Receiver { addr, store, task })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR:PORT`, the value of `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many spans arrived so far; a mark for [`Receiver::spans_since`].
    pub fn mark(&self) -> usize {
        lock(&self.store).spans.len()
    }

    /// Every span received so far, in arrival order.
    pub fn spans(&self) -> Vec<Span> {
        lock(&self.store).spans.clone()
    }

    /// The spans that arrived after `mark`.
    pub fn spans_since(&self, mark: usize) -> Vec<Span> {
        let store = lock(&self.store);
        store.spans.get(mark..).unwrap_or_default().to_vec()
    }

    /// Requests it refused, with why (at most the last 10).
    pub fn refused(&self) -> Vec<String> {
        lock(&self.store).refused.clone()
    }

    /// Waits until no span arrived for `quiet`, at most `cap`: exporters send in batches, a
    /// little after the work they describe.
    pub async fn settle(&self, quiet: Duration, cap: Duration) {
        let start = Instant::now();
        loop {
            let last = lock(&self.store).last.map_or(start, |l| l.max(start));
            let now = Instant::now();
            if now.duration_since(last) >= quiet || now.duration_since(start) >= cap {
                return;
            }
            let wake = (last + quiet).min(start + cap);
            tokio::time::sleep(
                wake.saturating_duration_since(now)
                    .max(Duration::from_millis(10)),
            )
            .await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(store: &Mutex<Store>) -> std::sync::MutexGuard<'_, Store> {
    store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn traces(
    State(store): State<Arc<Mutex<Store>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (json, body) = match read_body(&store, &headers, &body) {
        Ok(read) => read,
        Err(refused) => return refused.into_response(),
    };
    let decoded = if json {
        decode_json(&body)
    } else {
        decode_protobuf(&body)
    };
    match decoded {
        Ok(spans) => {
            let mut s = lock(&store);
            s.spans.extend(spans);
            s.last = Some(Instant::now());
            drop(s);
            accepted(json)
        }
        Err(e) => {
            let why = format!("{e}: {}", e.source_text());
            refuse(&store, &why);
            (StatusCode::BAD_REQUEST, why).into_response()
        }
    }
}

/// An OTLP/HTTP body: whether it is JSON (else protobuf) and its bytes, gunzipped; or the
/// refusal (415 for another content type or encoding, 400 for bad gzip).
fn read_body(
    store: &Mutex<Store>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(bool, Vec<u8>), (StatusCode, String)> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let json = match content_type.as_str() {
        "application/x-protobuf" | "application/protobuf" => false,
        "application/json" => true,
        other => {
            let why = format!("unsupported content type {other:?}");
            refuse(store, &why);
            return Err((StatusCode::UNSUPPORTED_MEDIA_TYPE, why));
        }
    };
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    match encoding.as_str() {
        "identity" | "" => Ok((json, body.to_vec())),
        "gzip" => {
            let mut out = Vec::new();
            let read = flate2::read::GzDecoder::new(&body[..])
                .take(MAX_BODY as u64 * 4)
                .read_to_end(&mut out);
            if let Err(e) = read {
                let why = format!("bad gzip body: {e}");
                refuse(store, &why);
                return Err((StatusCode::BAD_REQUEST, why));
            }
            Ok((json, out))
        }
        other => {
            let why = format!("unsupported content encoding {other:?}");
            refuse(store, &why);
            Err((StatusCode::UNSUPPORTED_MEDIA_TYPE, why))
        }
    }
}

/// An empty export response in the request's encoding.
fn accepted(json: bool) -> Response {
    if json {
        ([(header::CONTENT_TYPE, "application/json")], "{}").into_response()
    } else {
        (
            [(header::CONTENT_TYPE, "application/x-protobuf")],
            Vec::<u8>::new(),
        )
            .into_response()
    }
}

/// `GET /v1/spans?trace_id=T[&parent=S]`: the spans of one trace (under span `S`), for the
/// test processes that share the receiver (see [`super::query`]).
async fn query(
    State(store): State<Arc<Mutex<Store>>>,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> Response {
    let q = super::query::SpanQuery::parse(q.as_deref().unwrap_or(""));
    let s = lock(&store);
    axum::Json(super::query::SpanAnswer::of(&s.spans, &s.refused, &q)).into_response()
}

fn refuse(store: &Mutex<Store>, why: &str) {
    let mut s = lock(store);
    if s.refused.len() >= 10 {
        s.refused.remove(0);
    }
    s.refused.push(why.to_owned());
}

impl super::decode::DecodeError {
    fn source_text(&self) -> String {
        match self {
            Self::Protobuf(e) => e.to_string(),
            Self::Json(e) => e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    const JSON: &str = r#"{"resourceSpans":[{"resource":{"attributes":[
        {"key":"service.name","value":{"stringValue":"api"}}]},
      "scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c",
        "spanId":"eee19b7ec3c1b174","name":"work","kind":1,
        "startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#;

    async fn post(
        receiver: &Receiver,
        content_type: &str,
        encoding: Option<&str>,
        body: Vec<u8>,
    ) -> u16 {
        let mut request = reqwest::Client::new()
            .post(format!("{}/v1/traces", receiver.endpoint()))
            .header("content-type", content_type)
            .body(body);
        if let Some(encoding) = encoding {
            request = request.header("content-encoding", encoding);
        }
        request
            .send()
            .await
            .expect("receiver answers")
            .status()
            .as_u16()
    }

    #[tokio::test]
    async fn json_gzip_and_protobuf_are_stored_and_other_types_get_415() {
        let receiver = Receiver::start("127.0.0.1".parse().expect("ip"))
            .await
            .expect("starts");
        assert_eq!(
            post(&receiver, "application/json", None, JSON.into()).await,
            200
        );
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(JSON.as_bytes()).expect("gzip");
        let gz = gz.finish().expect("gzip");
        assert_eq!(
            post(&receiver, "application/json", Some("gzip"), gz).await,
            200
        );
        let proto = {
            use prost::Message as _;
            let request: opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest =
                serde_json::from_str(JSON).expect("proto types");
            request.encode_to_vec()
        };
        assert_eq!(
            post(&receiver, "application/x-protobuf", None, proto).await,
            200
        );
        assert_eq!(
            post(&receiver, "text/plain", None, b"hi".to_vec()).await,
            415
        );
        assert_eq!(
            post(&receiver, "application/json", None, b"{nope".to_vec()).await,
            400
        );
        receiver
            .settle(Duration::from_millis(50), Duration::from_secs(1))
            .await;
        let spans = receiver.spans();
        assert_eq!(spans.len(), 3, "{spans:#?}");
        assert!(spans.iter().all(|s| s.service == "api" && s.name == "work"));
        assert_eq!(receiver.spans_since(2).len(), 1);
        let refused = receiver.refused();
        assert!(refused[0].contains("text/plain"), "{refused:?}");
        assert!(refused[1].contains("OTLP/JSON"), "{refused:?}");
    }
}
