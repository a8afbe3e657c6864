//! clnrm's own span tree, made by the engine functions both front doors run through:
//!
//! ```text
//! clnrm run                 clnrm.operation=run, clnrm.run.id, test.suite.run.status
//! └─ suite <name>           test.suite.name, test.suite.run.status
//!    ├─ start <service>     clnrm.service.name, container.image.name, container.id, error.type
//!    │  └─ health <service>
//!    ├─ test <case>         test.case.name, test.case.result.status, clnrm.test.outcome, ...
//!    │  ├─ attempt <n>      clnrm.attempt, clnrm.attempt.outcome (links to shared services' starts)
//!    │  │  ...
//!    │  └─ step <name>      (suites) clnrm.step.name, clnrm.step.index
//!    │     └─ attempt <n>
//!    │        └─ exec <service>   CLIENT: container.id, process.command_args, process.exit.code
//!    └─ stop <service>
//! ```
//!
//! These are `tracing` spans (target `clnrm::…`, level INFO): with no export configured the
//! OpenTelemetry layer is not installed and they cost what a disabled span costs.
//!
//! The run span's parent comes from the environment: `TRACEPARENT` (a CI job's span) wins;
//! under `cargo nextest run`, whose processes each run one test, every process's run span gets
//! one remote parent derived from `NEXTEST_RUN_ID`, so the whole nextest run is one trace.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};
use sha2::Digest as _;
use tracing::Span;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::report::Outcome;

/// The parent the environment gives the run: `TRACEPARENT` (with `TRACESTATE`), else one made
/// from `NEXTEST_RUN_ID` (its UUID is the trace id), else none.
pub fn root_parent(get: &dyn Fn(&str) -> Option<String>) -> Option<opentelemetry::Context> {
    if let Some(traceparent) = get("TRACEPARENT").filter(|v| !v.trim().is_empty()) {
        let mut carrier =
            HashMap::from([("traceparent".to_owned(), traceparent.trim().to_owned())]);
        if let Some(state) = get("TRACESTATE") {
            carrier.insert("tracestate".to_owned(), state);
        }
        let cx = opentelemetry_sdk::propagation::TraceContextPropagator::new().extract(&carrier);
        if cx.span().span_context().is_valid() {
            return Some(cx);
        }
    }
    let run_id = get("NEXTEST_RUN_ID")?;
    let hex: String = run_id.chars().filter(char::is_ascii_hexdigit).collect();
    let trace_id = u128::from_str_radix(hex.get(..32)?, 16)
        .ok()
        .filter(|t| *t != 0)?;
    // The run itself has no process of its own: its span id is a stable name for it, the same
    // in every process of the run.
    let digest = sha2::Sha256::digest(run_id.as_bytes());
    let span_id = u64::from_be_bytes(digest[..8].try_into().ok()?).max(1);
    let context = SpanContext::new(
        TraceId::from(trace_id),
        SpanId::from(span_id),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    Some(opentelemetry::Context::new().with_remote_span_context(context))
}

/// The run: `operation` is the front door (`test` for a harness binary, `run`, `watch`, ...).
pub fn run(operation: &str, run_id: &str) -> Span {
    let span = tracing::info_span!(
        "run",
        otel.name = %format_args!("clnrm {operation}"),
        clnrm.operation = "run",
        clnrm.command = operation,
        clnrm.run.id = run_id,
        test.suite.run.status = Empty,
        otel.status_code = Empty,
    );
    if let Some(parent) = root_parent(&|k| std::env::var(k).ok()) {
        let _ = span.set_parent(parent);
    }
    super::open::opened(&span, false);
    span
}

/// A suite: a test binary, or a TOML suite.
pub fn suite(parent: &Span, name: &str) -> Span {
    let span = tracing::info_span!(
        parent: parent,
        "suite",
        otel.name = %format_args!("suite {name}"),
        clnrm.operation = "suite",
        test.suite.name = name,
        test.suite.run.status = Empty,
        otel.status_code = Empty,
    );
    super::open::opened(&span, false);
    span
}

/// `test.suite.run.status` of a suite (or run) from its cases' outcomes.
pub fn finish_suite<'a>(span: &Span, outcomes: impl IntoIterator<Item = &'a Outcome>) {
    super::open::closed(span);
    let mut status = "success";
    let mut any = false;
    let mut all_skipped = true;
    for outcome in outcomes {
        any = true;
        match outcome {
            Outcome::Passed | Outcome::Flaky => all_skipped = false,
            Outcome::Ignored => {}
            Outcome::Interrupted => {
                all_skipped = false;
                status = "aborted";
            }
            Outcome::TimedOut if status == "success" => {
                all_skipped = false;
                status = "timed_out";
            }
            Outcome::Failed | Outcome::InfraError | Outcome::TimedOut => {
                all_skipped = false;
                if status != "aborted" {
                    status = "failure";
                }
            }
        }
    }
    if any && all_skipped {
        status = "skipped";
    }
    span.record("test.suite.run.status", status);
    if matches!(status, "failure" | "timed_out") {
        span.record("otel.status_code", "error");
    }
}

/// A test of a harness binary or a scenario of a suite.
pub fn case(parent: &Span, suite: &str, name: &str) -> Span {
    let span = tracing::info_span!(
        parent: parent,
        "test",
        otel.name = %format_args!("test {name}"),
        clnrm.operation = "test",
        test.suite.name = suite,
        test.case.name = name,
        test.case.result.status = Empty,
        clnrm.test.outcome = Empty,
        clnrm.test.attempts = Empty,
        error.type = Empty,
        otel.status_code = Empty,
        otel.status_description = Empty,
        code.file.path = Empty,
        code.line.number = Empty,
    );
    super::open::opened(&span, true);
    span
}

/// Where a test is declared.
pub fn case_location(span: &Span, file: &str, line: u32) {
    span.record("code.file.path", file);
    span.record("code.line.number", line);
}

/// `clnrm.test.outcome`: pass, fail, flaky, skip, timeout, error (infrastructure), interrupted.
pub fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "pass",
        Outcome::Failed => "fail",
        Outcome::Flaky => "flaky",
        Outcome::Ignored => "skip",
        Outcome::TimedOut => "timeout",
        Outcome::InfraError => "error",
        Outcome::Interrupted => "interrupted",
    }
}

/// Records how a test (or scenario) ended: `test.case.result.status` (pass|fail; none for a
/// skip or an interruption, which semconv cannot say), `clnrm.test.outcome`, the attempts, and
/// for a failure `error.type` and the ERROR status with the message's first line.
pub fn finish_case(span: &Span, outcome: Outcome, attempts: u32, message: Option<&str>) {
    super::open::closed(span);
    span.in_scope(|| {
        tracing::info!(outcome = outcome_name(outcome), attempts, "test finished");
    });
    span.record("clnrm.test.outcome", outcome_name(outcome));
    span.record("clnrm.test.attempts", attempts);
    match outcome {
        Outcome::Passed | Outcome::Flaky => {
            span.record("test.case.result.status", "pass");
        }
        Outcome::Failed | Outcome::TimedOut | Outcome::InfraError => {
            span.record("test.case.result.status", "fail");
            span.record("error.type", error_type(outcome));
            span.record("otel.status_code", "error");
            let first = message.and_then(|m| m.lines().next()).unwrap_or_default();
            span.record(
                "otel.status_description",
                crate::secrets::mask(first).as_ref(),
            );
        }
        Outcome::Ignored | Outcome::Interrupted => {}
    }
}

fn error_type(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::TimedOut => "timeout",
        Outcome::InfraError => "infrastructure",
        _ => "failure",
    }
}

/// One attempt of a test or step (made by the engine's attempt loop).
pub fn attempt(number: u32) -> Span {
    let span = tracing::info_span!(
        "attempt",
        otel.name = %format_args!("attempt {number}"),
        clnrm.operation = "attempt",
        clnrm.attempt = number,
        clnrm.attempt.outcome = Empty,
        error.type = Empty,
        otel.status_code = Empty,
    );
    super::open::opened(&span, true);
    span
}

/// How one attempt ended: `pass`, `fail`, `timeout` or `error` (infrastructure).
pub fn finish_attempt(span: &Span, outcome: &str) {
    super::open::closed(span);
    span.record("clnrm.attempt.outcome", outcome);
    if outcome != "pass" {
        span.record("error.type", outcome);
        span.record("otel.status_code", "error");
    }
}

/// A step of a scenario.
pub fn step(name: &str, index: usize) -> Span {
    tracing::info_span!(
        "step",
        otel.name = %format_args!("step {name}"),
        clnrm.operation = "step",
        clnrm.step.name = name,
        clnrm.step.index = index,
    )
}

/// A command run in a service's container.
pub fn exec(service: &str, container_id: &str, argv: &[String]) -> Span {
    tracing::info_span!(
        "exec",
        otel.name = %format_args!("exec {service}"),
        otel.kind = "client",
        clnrm.operation = "exec",
        clnrm.service.name = service,
        container.id = container_id,
        process.command_args = %crate::secrets::mask(&format!("{argv:?}")),
        process.exit.code = Empty,
        otel.status_code = Empty,
    )
}

/// The exit code of an `exec`.
pub fn finish_exec(span: &Span, exit_code: i64) {
    span.record("process.exit.code", exit_code);
}

/// A service's start (its container created and ready).
pub fn service_start(service: &str, plugin: &str, image: &str) -> Span {
    tracing::info_span!(
        "start",
        otel.name = %format_args!("start {service}"),
        clnrm.operation = "start",
        clnrm.service.name = service,
        clnrm.service.plugin = plugin,
        container.image.name = image,
        container.runtime.name = "docker",
        container.id = Empty,
        container.name = Empty,
        error.type = Empty,
        otel.status_code = Empty,
    )
}

/// The wait for a container's readiness checks.
pub fn health(service: &str, checks: usize) -> Span {
    tracing::info_span!(
        "health",
        otel.name = %format_args!("health {service}"),
        clnrm.operation = "health",
        clnrm.service.name = service,
        clnrm.health_check.count = checks,
        otel.status_code = Empty,
    )
}

/// A service's stop.
pub fn service_stop(service: &str) -> Span {
    tracing::info_span!(
        "stop",
        otel.name = %format_args!("stop {service}"),
        clnrm.operation = "stop",
        clnrm.service.name = service,
    )
}

/// Marks `span` as failed with `error_type`.
pub fn failed(span: &Span, error_type: &str) {
    span.record("error.type", error_type);
    span.record("otel.status_code", "error");
}

/// The context of `span` when it is exported (for links and `traceparent`s), else `None`.
pub fn span_context(span: &Span) -> Option<SpanContext> {
    let cx = span.context();
    let context = cx.span().span_context().clone();
    context.is_valid().then_some(context)
}

/// The W3C `traceparent` of `span` (`00-TRACE-SPAN-01`) when it is exported.
pub fn traceparent(span: &Span) -> Option<String> {
    span_context(span).map(|c| {
        format!(
            "00-{}-{}-{:02x}",
            c.trace_id(),
            c.span_id(),
            c.trace_flags().to_u8()
        )
    })
}

/// Links `span` to the start span of a service it uses (a shared one started elsewhere).
pub fn link(span: &Span, started: &SpanContext) {
    span.add_link(started.clone());
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
    use tracing::Instrument as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;
    use crate::engine::{Attempt, Policy, execute};

    #[test]
    fn traceparent_from_the_environment_wins_and_nextest_runs_share_a_trace() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let ci = root_parent(&env(&[
            (
                "TRACEPARENT",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ),
            ("NEXTEST_RUN_ID", "f2a1c3e4-1111-2222-3333-444455556666"),
        ]))
        .unwrap();
        let ci = ci.span().span_context().clone();
        assert_eq!(
            ci.trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        assert_eq!(ci.span_id().to_string(), "b7ad6b7169203331");
        let run = env(&[("NEXTEST_RUN_ID", "f2a1c3e4-1111-2222-3333-444455556666")]);
        let a = root_parent(&run).unwrap().span().span_context().clone();
        let b = root_parent(&run).unwrap().span().span_context().clone();
        assert_eq!(a.trace_id().to_string(), "f2a1c3e4111122223333444455556666");
        assert_eq!(a, b, "every process of one nextest run has the same parent");
        assert!(root_parent(&env(&[("TRACEPARENT", "garbage")])).is_none());
        assert!(root_parent(&env(&[])).is_none());
    }

    /// Fails its first attempt, passes the second.
    struct FlakyOnce(u32);

    impl Attempt for FlakyOnce {
        type Prepared = ();

        async fn prepare(&mut self) -> Result<(), String> {
            Ok(())
        }

        async fn run(&mut self, (): &()) -> Result<(), String> {
            self.0 += 1;
            if self.0 == 1 {
                Err("first try fails".to_owned())
            } else {
                let argv = ["psql".to_owned(), "postgres://u:hunter2@db/app".to_owned()];
                let exec = exec("db", "c0ffee", &argv);
                finish_exec(&exec, 0);
                Ok(())
            }
        }

        async fn finish(&mut self, (): (), _: Option<&mut crate::engine::Failure>) {}
    }

    fn attr(span: &SpanData, key: &str) -> Option<String> {
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.to_string())
    }

    /// The tree of a flaky test through the engine's attempt loop, exported in memory.
    #[test]
    fn the_engine_makes_run_suite_test_attempt_spans_with_their_attributes() {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("clnrm")));
        tracing::subscriber::with_default(subscriber, || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let run_span = run("test", "r-1");
            let suite_span = suite(&run_span, "bin");
            let case_span = case(&suite_span, "bin", "m::t");
            let policy = Policy {
                retries: 1,
                timeout: None,
            };
            let done = rt.block_on(
                async { execute(policy, &mut FlakyOnce(0)).await }.instrument(case_span.clone()),
            );
            finish_case(&case_span, done.verdict, done.attempts, None);
            finish_suite(&suite_span, [&done.verdict]);
            finish_suite(&run_span, [&done.verdict]);
        });
        provider.force_flush().unwrap();
        let spans = exporter.get_finished_spans().unwrap();
        let named = |n: &str| {
            spans
                .iter()
                .find(|s| s.name == n)
                .unwrap_or_else(|| panic!("no span {n}: {spans:#?}"))
        };
        let run_span = named("clnrm test");
        let suite_span = named("suite bin");
        let test_span = named("test m::t");
        let first = named("attempt 1");
        let second = named("attempt 2");
        let exec_span = named("exec db");
        assert_eq!(suite_span.parent_span_id, run_span.span_context.span_id());
        assert_eq!(test_span.parent_span_id, suite_span.span_context.span_id());
        assert_eq!(first.parent_span_id, test_span.span_context.span_id());
        assert_eq!(second.parent_span_id, test_span.span_context.span_id());
        assert_eq!(exec_span.parent_span_id, second.span_context.span_id());
        assert_eq!(exec_span.span_kind, opentelemetry::trace::SpanKind::Client);
        assert_eq!(attr(exec_span, "process.exit.code").as_deref(), Some("0"));
        let args = attr(exec_span, "process.command_args").unwrap_or_default();
        assert!(
            args.contains("psql") && !args.contains("hunter2"),
            "the URL password is masked: {args}"
        );
        assert_eq!(attr(test_span, "test.case.name").as_deref(), Some("m::t"));
        assert_eq!(
            attr(test_span, "test.case.result.status").as_deref(),
            Some("pass")
        );
        assert_eq!(
            attr(test_span, "clnrm.test.outcome").as_deref(),
            Some("flaky")
        );
        assert_eq!(attr(test_span, "clnrm.test.attempts").as_deref(), Some("2"));
        assert_eq!(
            attr(first, "clnrm.attempt.outcome").as_deref(),
            Some("fail")
        );
        assert_eq!(
            first.status,
            opentelemetry::trace::Status::error(""),
            "a failed attempt is an error"
        );
        assert_eq!(
            attr(second, "clnrm.attempt.outcome").as_deref(),
            Some("pass")
        );
        assert_eq!(
            attr(suite_span, "test.suite.run.status").as_deref(),
            Some("success")
        );
        assert_eq!(attr(run_span, "clnrm.run.id").as_deref(), Some("r-1"));
    }

    #[test]
    fn a_failed_case_is_an_error_with_its_type_and_first_line() {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("clnrm")));
        tracing::subscriber::with_default(subscriber, || {
            let suite_span = suite(&Span::none(), "s");
            let timed_out = case(&suite_span, "s", "s::slow");
            finish_case(&timed_out, Outcome::TimedOut, 2, Some("timed out\nmore"));
            drop(timed_out);
            let skipped = case(&suite_span, "s", "s::skipped");
            finish_case(&skipped, Outcome::Ignored, 0, None);
            drop(skipped);
            finish_suite(&suite_span, [&Outcome::TimedOut, &Outcome::Ignored]);
        });
        provider.force_flush().unwrap();
        let spans = exporter.get_finished_spans().unwrap();
        let slow = spans.iter().find(|s| s.name == "test s::slow").unwrap();
        assert_eq!(
            attr(slow, "test.case.result.status").as_deref(),
            Some("fail")
        );
        assert_eq!(attr(slow, "clnrm.test.outcome").as_deref(), Some("timeout"));
        assert_eq!(attr(slow, "error.type").as_deref(), Some("timeout"));
        assert_eq!(
            slow.status,
            opentelemetry::trace::Status::error("timed out")
        );
        let skipped = spans.iter().find(|s| s.name == "test s::skipped").unwrap();
        assert_eq!(attr(skipped, "test.case.result.status"), None);
        assert_eq!(attr(skipped, "clnrm.test.outcome").as_deref(), Some("skip"));
        let suite_span = spans.iter().find(|s| s.name == "suite s").unwrap();
        assert_eq!(
            attr(suite_span, "test.suite.run.status").as_deref(),
            Some("timed_out")
        );
    }
}
