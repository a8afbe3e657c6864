//! Telemetry: clnrm's own span tree ([`tree`]) and its OTLP export ([`export`], configured by the
//! standard `OTEL_*` variables); and telemetry of the systems under test: an OTLP receiver per suite run, the environment that
//! points `otel = true` services and command steps at it, and span expectations evaluated
//! against the spans they really sent.
//!
//! - [`Receiver`] accepts OTLP/HTTP (`POST /v1/traces`, protobuf or JSON, gzip or not) and
//!   OTLP/gRPC on one address and keeps every span with its resource's `service.name` (and
//!   every metric data point, [`MetricPoint`]).
//! - [`decode_protobuf`] / [`decode_json`] turn an export request into [`Span`]s.
//! - [`TraceContext`] makes trace and span ids and the W3C `traceparent` values handed to
//!   services and steps ([`otel_env`]).
//! - [`SpanExpectations`] is what a suite says (`[[expect.span]]`, `[[expect.order]]`,
//!   `[expect.trace]`, `[expect.hermetic]`); [`evaluate`] checks it against a scenario's spans
//!   and names the first rule that does not hold, with the nearest misses.

mod decode;
mod expect;
pub mod export;
mod matcher;
pub mod metrics;
pub mod open;
mod propagation;
pub(crate) mod query;
mod receiver;
mod span;
mod suite;
pub mod tree;

pub use decode::{DecodeError, decode_json, decode_protobuf};
pub use expect::{
    AttrExpect, Bounds, HermeticExpect, OrderExpect, SpanExpect, SpanExpectations, TraceExpect,
};
pub use export::flush;
pub use matcher::{Evaluation, RuleResult, evaluate, trace_tree};
pub use propagation::{TraceContext, otel_env};
pub use receiver::{MetricPoint, PointValue, Receiver};
pub use span::{AttrValue, Span, SpanKind, SpanStatus};
pub(crate) use suite::{ScenarioTelemetry, SpanVerdict, SuiteTelemetry};
