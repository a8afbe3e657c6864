//! OTLP trace export requests (protobuf or the spec's JSON encoding) into [`Span`]s.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message as _;

use super::span::{AttrValue, Span, SpanKind, SpanStatus};

/// A body that is not an OTLP trace export request.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not a protobuf `ExportTraceServiceRequest`.
    #[error("not an OTLP/protobuf trace export request")]
    Protobuf(#[source] prost::DecodeError),
    /// Not OTLP/JSON.
    #[error("not an OTLP/JSON trace export request")]
    Json(#[source] serde_json::Error),
}

/// Decodes an `application/x-protobuf` body.
pub fn decode_protobuf(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    let request = ExportTraceServiceRequest::decode(body).map_err(DecodeError::Protobuf)?;
    Ok(spans_of(request))
}

/// Decodes an `application/json` body (OTLP/JSON: hex ids, lowerCamelCase keys, enums as
/// integers, 64-bit integers as strings or numbers).
pub fn decode_json(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    let request: ExportTraceServiceRequest =
        serde_json::from_slice(body).map_err(DecodeError::Json)?;
    Ok(spans_of(request))
}

pub(crate) fn spans_of(request: ExportTraceServiceRequest) -> Vec<Span> {
    let mut out = Vec::new();
    for resource_spans in request.resource_spans {
        let service = resource_spans
            .resource
            .as_ref()
            .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
            .and_then(|kv| kv.value.as_ref())
            .map(|v| attr(v).as_text())
            .unwrap_or_default();
        for scope_spans in resource_spans.scope_spans {
            for span in scope_spans.spans {
                out.push(Span {
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    name: span.name,
                    kind: SpanKind::from_otlp(span.kind),
                    status: span
                        .status
                        .map_or(SpanStatus::Unset, |s| SpanStatus::from_otlp(s.code)),
                    service: service.clone(),
                    attrs: attrs(&span.attributes),
                    events: span.events.into_iter().map(|e| e.name).collect(),
                    links: span.links.iter().map(|l| hex(&l.span_id)).collect(),
                    start_ns: span.start_time_unix_nano,
                    end_ns: span.end_time_unix_nano,
                });
            }
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn attrs(list: &[KeyValue]) -> BTreeMap<String, AttrValue> {
    list.iter()
        .filter_map(|kv| Some((kv.key.clone(), attr(kv.value.as_ref()?))))
        .collect()
}

pub(crate) fn attr(value: &AnyValue) -> AttrValue {
    match &value.value {
        Some(any_value::Value::StringValue(s)) => AttrValue::String(s.clone()),
        Some(any_value::Value::BoolValue(b)) => AttrValue::Bool(*b),
        Some(any_value::Value::IntValue(i)) => AttrValue::Int(*i),
        Some(any_value::Value::DoubleValue(d)) => AttrValue::Double(*d),
        Some(any_value::Value::ArrayValue(a)) => AttrValue::Other(format!(
            "[{}]",
            a.values
                .iter()
                .map(|v| attr(v).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Some(other) => AttrValue::Other(format!("{other:?}")),
        None => AttrValue::Other(String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An OTLP/JSON body as the specification's example writes it.
    const JSON: &str = r#"{"resourceSpans":[{"resource":{"attributes":[
        {"key":"service.name","value":{"stringValue":"api"}}]},
      "scopeSpans":[{"scope":{"name":"t"},"spans":[
        {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
         "parentSpanId":"eee19b7ec3c1b173","name":"GET /orders","kind":2,
         "startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000",
         "attributes":[{"key":"http.response.status_code","value":{"intValue":"200"}},
                       {"key":"ok","value":{"boolValue":true}},
                       {"key":"ratio","value":{"doubleValue":0.5}}],
         "events":[{"timeUnixNano":"1544712660500000000","name":"cache.miss"}],
         "status":{"code":2,"message":"boom"}}]}]}]}"#;

    #[test]
    fn otlp_json_decodes_hex_ids_camel_case_and_string_integers() {
        let spans = decode_json(JSON.as_bytes()).expect("decodes");
        assert_eq!(spans.len(), 1);
        let span = &spans[0];
        assert_eq!(span.trace_id, "5b8efff798038103d269b633813fc60c");
        assert_eq!(span.span_id, "eee19b7ec3c1b174");
        assert_eq!(span.parent_span_id, "eee19b7ec3c1b173");
        assert_eq!(span.service, "api");
        assert_eq!(span.kind, SpanKind::Server);
        assert_eq!(span.status, SpanStatus::Error);
        assert_eq!(span.attrs["http.response.status_code"], AttrValue::Int(200));
        assert_eq!(span.attrs["ok"], AttrValue::Bool(true));
        assert_eq!(span.attrs["ratio"], AttrValue::Double(0.5));
        assert_eq!(span.events, vec!["cache.miss".to_owned()]);
        assert_eq!(span.duration_ms(), 1000.0);
    }

    #[test]
    fn protobuf_round_trips_through_the_generated_messages() {
        let request: ExportTraceServiceRequest =
            serde_json::from_str(JSON).expect("JSON into the proto types");
        let body = request.encode_to_vec();
        let spans = decode_protobuf(&body).expect("decodes");
        assert_eq!(spans, decode_json(JSON.as_bytes()).expect("decodes"));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode_json(b"{\"resourceSpans\": 3}").is_err());
        assert!(decode_protobuf(&[0xff, 0xff, 0xff]).is_err());
    }
}
