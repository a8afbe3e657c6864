//! Telemetry for one suite run: the receiver, the variables handed to `otel = true` services
//! and to steps, and the per-scenario verdict of the suite's span expectations.

use std::sync::Mutex;
use std::time::Duration;

use super::matcher::evaluate;
use super::propagation::{TraceContext, otel_env};
use super::receiver::Receiver;
use super::span::Span;
use crate::docker::RunEnv;
use crate::suite::{ServiceSpec as SuiteServiceSpec, SuiteSpec};

/// Quiet time that ends the settle after a scenario.
const QUIET: Duration = Duration::from_millis(300);
/// Default cap of the settle (`[expect] settle_ms`).
const DEFAULT_SETTLE: Duration = Duration::from_millis(2000);

/// A suite run's receiver and what it hands out.
#[derive(Debug)]
pub(crate) struct SuiteTelemetry {
    receiver: Receiver,
    run_id: String,
    /// `(service, its OTEL_SERVICE_NAME)` of every `otel = true` service.
    otel_services: Vec<(String, String)>,
    /// The trace of the services' containers (their start-up and background work).
    suite_trace: TraceContext,
    /// Trace ids of the scenarios so far: late spans of one never count for the next.
    scenario_traces: Mutex<Vec<String>>,
}

/// One scenario's trace and where its spans start in the receiver.
#[derive(Debug)]
pub(crate) struct ScenarioTelemetry {
    trace: TraceContext,
    mark: usize,
    /// When clnrm exports its own spans, the scenario runs in the run's exported trace (shared
    /// with the other scenarios): the span ids it handed to its steps (its exec spans' and its
    /// HTTP steps'), whose descendants are its spans.
    handed: Option<Mutex<Vec<String>>>,
}

/// Why a scenario's spans did not pass.
#[derive(Debug)]
pub(crate) enum SpanVerdict {
    /// An expectation did not hold: a test failure.
    Failed(String),
    /// An `otel = true` service never sent anything: configuration or infrastructure.
    Infra(String),
}

impl SuiteTelemetry {
    /// Whether `spec` needs a receiver: it has span expectations or an `otel = true` service.
    pub(crate) fn needed(spec: &SuiteSpec) -> bool {
        !spec.expect.is_empty() || spec.services.iter().any(|s| s.otel)
    }

    /// Starts the receiver on the run network's gateway and a free port.
    pub(crate) async fn start(env: &RunEnv, spec: &SuiteSpec) -> crate::Result<SuiteTelemetry> {
        let gateway = env.network_gateway().await?;
        let receiver = Receiver::start(gateway).await.map_err(|e| {
            crate::Error::other(format!(
                "cannot start the OTLP receiver on {gateway} (the gateway of network `{}`): {e}",
                env.network()
            ))
        })?;
        let otel_services = spec
            .services
            .iter()
            .filter(|s| s.otel)
            .map(|s| {
                let name = s.name.get_ref().clone();
                let service_name = s
                    .env
                    .get("OTEL_SERVICE_NAME")
                    .cloned()
                    .unwrap_or_else(|| name.clone());
                (name, service_name)
            })
            .collect();
        Ok(SuiteTelemetry {
            receiver,
            run_id: env.id().to_owned(),
            otel_services,
            suite_trace: TraceContext::new(),
            scenario_traces: Mutex::new(Vec::new()),
        })
    }

    /// `OTEL_EXPORTER_OTLP_ENDPOINT`: where the receiver listens.
    pub(crate) fn endpoint(&self) -> String {
        self.receiver.endpoint()
    }

    /// The variables an `otel = true` service's container gets (none for other services);
    /// the service's own `env` wins.
    pub(crate) fn service_env(&self, service: &SuiteServiceSpec) -> Vec<(String, String)> {
        if !service.otel {
            return Vec::new();
        }
        let user = |k: &str| service.env.contains_key(k);
        let mut env = otel_env(
            &self.endpoint(),
            service.name.get_ref(),
            &self.run_id,
            &user,
        );
        if !user("TRACEPARENT") {
            let span = self.suite_trace.span_id();
            env.push(("TRACEPARENT".into(), self.suite_trace.traceparent(&span)));
        }
        env
    }

    /// A new trace for a scenario that starts now; with `exported` (the `traceparent` of
    /// clnrm's exported scenario span), the exported trace, so the SUT's spans sit under the
    /// exec spans clnrm exports.
    pub(crate) fn scenario(&self, exported: Option<&str>) -> ScenarioTelemetry {
        let (trace, handed) = match exported.and_then(super::query::trace_id_of) {
            Some(trace_id) => (TraceContext::of(trace_id), Some(Mutex::new(Vec::new()))),
            None => {
                let trace = TraceContext::new();
                lock(&self.scenario_traces).push(trace.trace_id().to_owned());
                (trace, None)
            }
        };
        ScenarioTelemetry {
            trace,
            mark: self.receiver.mark(),
            handed,
        }
    }

    /// The variables of one command step running in `service` (a step-image container when
    /// `None`): `TRACEPARENT` with a span id of the step's own, and the OTLP variables when the
    /// service is `otel = true`.
    pub(crate) fn step_env(
        &self,
        scenario: &ScenarioTelemetry,
        service: Option<&SuiteServiceSpec>,
        exec_span: Option<String>,
    ) -> Vec<(String, String)> {
        let mut env = Vec::new();
        if let Some(service) = service.filter(|s| s.otel) {
            let user = |k: &str| service.env.contains_key(k);
            env = otel_env(
                &self.endpoint(),
                service.name.get_ref(),
                &self.run_id,
                &user,
            );
        }
        let traceparent = match (exec_span, &scenario.handed) {
            // The exported exec span's, when it is in the scenario's trace.
            (Some(exec), Some(handed))
                if super::query::trace_id_of(&exec) == Some(scenario.trace.trace_id()) =>
            {
                if let Some(span) = super::query::span_id_of(&exec) {
                    lock(handed).push(span.to_owned());
                }
                exec
            }
            _ => self.traceparent(scenario),
        };
        env.push(("TRACEPARENT".into(), traceparent));
        env
    }

    /// A `traceparent` for one step of `scenario` (also the header of HTTP steps).
    pub(crate) fn traceparent(&self, scenario: &ScenarioTelemetry) -> String {
        let span = scenario.trace.span_id();
        if let Some(handed) = &scenario.handed {
            lock(handed).push(span.clone());
        }
        scenario.trace.traceparent(&span)
    }

    /// Waits for late spans, then checks the suite's expectations against the scenario's;
    /// `Ok` carries every rule's verdict (`ok expect.span[x]: 1 matching span(s); ...`).
    pub(crate) async fn verdict(
        &self,
        scenario: &ScenarioTelemetry,
        spec: &SuiteSpec,
    ) -> Result<String, SpanVerdict> {
        let cap = spec
            .expect
            .settle_ms
            .map_or(DEFAULT_SETTLE, Duration::from_millis);
        self.receiver.settle(QUIET, cap).await;
        let all = self.receiver.spans();
        for (service, service_name) in &self.otel_services {
            if !all.iter().any(|s| &s.service == service_name) {
                let refused = self.receiver.refused();
                let refused = if refused.is_empty() {
                    String::new()
                } else {
                    format!("; requests refused: {}", refused.join("; "))
                };
                return Err(SpanVerdict::Infra(format!(
                    "OTLP from service `{service}` never reached clnrm: no span with service.name `{service_name}` arrived at {} (given to it as OTEL_EXPORTER_OTLP_ENDPOINT){refused}; does it export traces over OTLP (HTTP or gRPC: both are served there)?",
                    self.endpoint()
                )));
            }
        }
        let spans = self.scenario_spans(scenario);
        let evaluation = evaluate(&spec.expect, scenario.trace.trace_id(), &spans);
        match super::query::failure_text(&evaluation, &spans, scenario.trace.trace_id()) {
            None => Ok(evaluation
                .results
                .iter()
                .map(|r| format!("ok {}: {}", r.rule, r.message))
                .collect::<Vec<_>>()
                .join("; ")),
            Some(failure) => Err(SpanVerdict::Failed(failure)),
        }
    }

    /// The scenario's spans: everything that arrived since it started, but spans of other
    /// scenarios' traces.
    fn scenario_spans(&self, scenario: &ScenarioTelemetry) -> Vec<Span> {
        let others: Vec<String> = lock(&self.scenario_traces)
            .iter()
            .filter(|t| t.as_str() != scenario.trace.trace_id())
            .cloned()
            .collect();
        let spans = self
            .receiver
            .spans_since(scenario.mark)
            .into_iter()
            .filter(|s| !others.contains(&s.trace_id))
            .collect::<Vec<_>>();
        own_spans(spans, scenario)
    }
}

/// In a trace shared with other scenarios (clnrm's exported run trace), the spans of
/// `scenario`: those under a span id it handed out. Spans of other traces stay (they show as
/// near misses).
fn own_spans(spans: Vec<Span>, scenario: &ScenarioTelemetry) -> Vec<Span> {
    let Some(handed) = &scenario.handed else {
        return spans;
    };
    let trace = scenario.trace.trace_id();
    let (in_trace, others): (Vec<Span>, Vec<Span>) =
        spans.into_iter().partition(|s| s.trace_id == trace);
    let mut own = super::query::descendants(&in_trace, &lock(handed));
    own.extend(others);
    own
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
