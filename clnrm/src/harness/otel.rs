//! A test's trace and the spans its `otel = true` services sent in it.
//!
//! The test's `traceparent` is its attempt span's when clnrm exports its own traces (a trace
//! shared by the whole run: the test's spans are those under its attempt span); otherwise, when
//! it has `otel = true` services, a new trace of the attempt's own. Either way the spans the
//! services send for the test's requests are the test's alone.

use crate::engine::SharedServices;
use crate::engine::otel::service_name;
use crate::telemetry::query::{SpanQuery, SpanSource, span_id_of, trace_id_of};
use crate::telemetry::{TraceContext, tree};

use super::spec::TestSpec;

/// The attempt's `traceparent` and, with `otel = true` services, where their spans are.
pub(super) async fn test_trace(
    pool: &SharedServices,
    spec: &TestSpec,
    span: &tracing::Span,
) -> Result<(Option<String>, Option<SpanSource>), String> {
    let exported = tree::traceparent(span);
    let services: Vec<(String, String)> = spec
        .services
        .iter()
        .filter(|s| s.spec.otel)
        .map(|s| (s.local.clone(), service_name(&s.spec)))
        .collect();
    if services.is_empty() {
        return Ok((exported, None));
    }
    // clnrm's exported trace is the whole run's (every process of a nextest run): the test's
    // spans are those under its attempt span. Its own trace is the test's alone.
    let shared_trace = exported.is_some();
    let traceparent = exported.unwrap_or_else(|| {
        let trace = TraceContext::new();
        trace.traceparent(&trace.span_id())
    });
    let (Some(trace_id), Some(span_id)) = (trace_id_of(&traceparent), span_id_of(&traceparent))
    else {
        return Err(format!("not a W3C traceparent: {traceparent}"));
    };
    let query = SpanQuery {
        trace_id: trace_id.to_owned(),
        parent: shared_trace.then(|| span_id.to_owned()),
    };
    let sink = pool.otel().await?;
    let source = SpanSource {
        endpoint: sink.endpoint.clone(),
        query,
        services,
    };
    Ok((Some(traceparent), Some(source)))
}
