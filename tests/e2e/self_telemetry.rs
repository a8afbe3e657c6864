//! clnrm's own traces, exported by the standard `OTEL_*` variables to a real OTLP receiver (the
//! one suites use, here on loopback): the span tree of a harness run (`otel-fixture`) and of a
//! suite run (`clnrm run`), one trace for the processes of one nextest run, `TRACEPARENT` from
//! the environment, the system under test inside the test's trace, nothing (and no exporter
//! thread) when nothing is configured, and a collector that is down or never answers.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use clnrm::telemetry::{AttrValue, Receiver, Span, SpanKind, SpanStatus};

use crate::support::ScratchDir;

const FIXTURE: &str = env!("CARGO_BIN_EXE_otel-fixture");
const CLNRM: &str = env!("CARGO_BIN_EXE_clnrm-under-test");
const SUT: &str = env!("CARGO_BIN_EXE_otel-sut");

/// `bin` with none of the caller's OTLP, trace or nextest variables: only `envs`.
fn run(bin: &str, dir: &ScratchDir, args: &[&str], envs: &[(&str, &str)]) -> (Output, Duration) {
    let mut cmd = Command::new(bin);
    for (key, _) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        if key_text.starts_with("NEXTEST")
            || key_text.starts_with("OTEL_")
            || key_text == "TRACEPARENT"
            || key_text == "TRACESTATE"
        {
            cmd.env_remove(key);
        }
    }
    cmd.args(args)
        .env("FIXTURE_DIR", &dir.0)
        .env("CLNRM_HISTORY", dir.0.join("history.db"))
        .env("OTEL_SUT", SUT);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let clock = Instant::now();
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
    (output, clock.elapsed())
}

fn text(output: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A receiver on loopback, in a runtime of its own.
fn receiver() -> (tokio::runtime::Runtime, Receiver) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let receiver = runtime
        .block_on(Receiver::start("127.0.0.1".parse().expect("ip")))
        .expect("the receiver starts");
    (runtime, receiver)
}

/// What arrived: the process flushed before it exited, so a short quiet time is enough.
fn received(runtime: &tokio::runtime::Runtime, receiver: &Receiver) -> Vec<Span> {
    runtime.block_on(receiver.settle(Duration::from_millis(200), Duration::from_secs(3)));
    receiver.spans()
}

fn named<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span `{name}` among {:#?}", names(spans)))
}

fn names(spans: &[Span]) -> Vec<String> {
    spans
        .iter()
        .map(|s| format!("{} <- {} ({})", s.name, s.parent_span_id, s.span_id))
        .collect()
}

fn attr(span: &Span, key: &str) -> String {
    match span.attrs.get(key) {
        Some(AttrValue::String(s)) => s.clone(),
        Some(other) => other.as_text(),
        None => panic!("span `{}` has no `{key}`: {:#?}", span.name, span.attrs),
    }
}

fn children<'a>(spans: &'a [Span], parent: &Span, name: &str) -> Vec<&'a Span> {
    spans
        .iter()
        .filter(|s| s.parent_span_id == parent.span_id && s.name == name)
        .collect()
}

#[test]
fn a_harness_run_exports_its_span_tree_with_the_sut_inside_the_tests_trace() {
    let dir = ScratchDir::new("self-telemetry-harness");
    let (runtime, receiver) = receiver();
    let endpoint = receiver.endpoint();
    let (output, _) = run(
        FIXTURE,
        &dir,
        &["--test-threads", "2", "--skip", "cache::"],
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)],
    );
    // `plain::fails` fails on purpose.
    assert_eq!(output.status.code(), Some(101), "{}", text(&output));
    let spans = received(&runtime, &receiver);

    let run_span = named(&spans, "clnrm test");
    assert_eq!(
        run_span.parent_span_id, "",
        "no TRACEPARENT: the run is the root"
    );
    assert_eq!(run_span.service, "clnrm");
    assert_eq!(attr(run_span, "clnrm.operation"), "run");
    assert_eq!(attr(run_span, "test.suite.run.status"), "failure");
    let suite = named(&spans, "suite clnrm-e2e::otel-fixture");
    assert_eq!(suite.parent_span_id, run_span.span_id);
    assert_eq!(attr(suite, "test.suite.name"), "clnrm-e2e::otel-fixture");
    assert_eq!(suite.status, SpanStatus::Error);
    assert!(spans.iter().all(|s| s.trace_id == run_span.trace_id));

    let test = |name: &str| {
        let span = named(&spans, &format!("test {name}"));
        assert_eq!(span.parent_span_id, suite.span_id, "{name}");
        assert_eq!(attr(span, "test.case.name"), name);
        assert_eq!(attr(span, "test.suite.name"), "clnrm-e2e::otel-fixture");
        span
    };
    let passes = test("plain::passes");
    assert_eq!(attr(passes, "test.case.result.status"), "pass");
    assert_eq!(attr(passes, "clnrm.test.outcome"), "pass");
    assert!(attr(passes, "code.file.path").ends_with("otel-fixture.rs"));
    assert_eq!(children(&spans, passes, "attempt 1").len(), 1);

    let flaky = test("plain::flaky");
    assert_eq!(attr(flaky, "test.case.result.status"), "pass");
    assert_eq!(attr(flaky, "clnrm.test.outcome"), "flaky");
    assert_eq!(attr(flaky, "clnrm.test.attempts"), "2");
    let first = children(&spans, flaky, "attempt 1");
    let second = children(&spans, flaky, "attempt 2");
    assert_eq!((first.len(), second.len()), (1, 1), "{:#?}", names(&spans));
    assert_eq!(attr(first[0], "clnrm.attempt.outcome"), "fail");
    assert_eq!(first[0].status, SpanStatus::Error);
    assert_eq!(attr(second[0], "clnrm.attempt.outcome"), "pass");

    let fails = test("plain::fails");
    assert_eq!(attr(fails, "test.case.result.status"), "fail");
    assert_eq!(attr(fails, "clnrm.test.outcome"), "fail");
    assert_eq!(attr(fails, "error.type"), "failure");
    assert_eq!(fails.status, SpanStatus::Error);

    // The system under test, called with `ctx.traceparent()`, sits under the test's attempt.
    let sut_test = test("sut::calls_the_sut");
    assert_eq!(attr(sut_test, "test.case.result.status"), "pass");
    let attempt = children(&spans, sut_test, "attempt 1")[0];
    let handled = named(&spans, "handle order");
    assert_eq!(handled.service, "sut");
    assert_eq!(handled.trace_id, run_span.trace_id);
    assert_eq!(handled.parent_span_id, attempt.span_id);
}

#[test]
fn http_json_is_exported_when_asked_for() {
    let dir = ScratchDir::new("self-telemetry-json");
    let (runtime, receiver) = receiver();
    let endpoint = receiver.endpoint();
    let (output, _) = run(
        FIXTURE,
        &dir,
        &["--exact", "plain::passes"],
        &[
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                &format!("{endpoint}/v1/traces"),
            ),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_SERVICE_NAME", "ci-tests"),
        ],
    );
    assert!(output.status.success(), "{}", text(&output));
    let spans = received(&runtime, &receiver);
    let test = named(&spans, "test plain::passes");
    assert_eq!(
        test.service, "ci-tests",
        "OTEL_SERVICE_NAME names the resource"
    );
    assert_eq!(
        test.parent_span_id,
        named(&spans, "suite clnrm-e2e::otel-fixture").span_id
    );
    assert!(receiver.refused().is_empty(), "{:?}", receiver.refused());
}

#[test]
fn grpc_is_exported_when_asked_for_with_the_same_tree() {
    let dir = ScratchDir::new("self-telemetry-grpc");
    let (runtime, receiver) = receiver();
    let endpoint = receiver.endpoint();
    let (output, _) = run(
        FIXTURE,
        &dir,
        &["--exact", "plain::passes"],
        &[
            // The generic endpoint, used as it is over gRPC (no `/v1/traces`).
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=ci"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "1500"),
        ],
    );
    assert!(output.status.success(), "{}", text(&output));
    let spans = received(&runtime, &receiver);
    assert!(
        receiver.grpc_exports() > 0,
        "the spans came over gRPC: {}",
        text(&output)
    );
    assert!(
        receiver
            .grpc_metadata()
            .contains(&("x-tenant".to_owned(), "ci".to_owned())),
        "OTEL_EXPORTER_OTLP_HEADERS as gRPC metadata: {:?}",
        receiver.grpc_metadata()
    );
    let run_span = named(&spans, "clnrm test");
    let suite = named(&spans, "suite clnrm-e2e::otel-fixture");
    let test = named(&spans, "test plain::passes");
    assert_eq!(suite.parent_span_id, run_span.span_id);
    assert_eq!(test.parent_span_id, suite.span_id);
    assert_eq!(test.trace_id, run_span.trace_id);
    assert_eq!(test.service, "clnrm");
    assert_eq!(attr(test, "test.case.result.status"), "pass");
    assert!(receiver.refused().is_empty(), "{:?}", receiver.refused());
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains("warning: telemetry"),
        "{}",
        text(&output)
    );
}

fn threads(dir: &ScratchDir) -> String {
    std::fs::read_to_string(dir.0.join("threads")).expect("the fixture wrote its threads")
}

#[test]
fn nothing_configured_or_disabled_means_no_export_and_no_exporter_thread() {
    let (runtime, receiver) = receiver();
    let endpoint = receiver.endpoint();
    // Configured: the batch exporter's thread exists (so its absence below means something).
    let on = ScratchDir::new("self-telemetry-on");
    let (output, _) = run(
        FIXTURE,
        &on,
        &["--exact", "plain::threads"],
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)],
    );
    assert!(output.status.success(), "{}", text(&output));
    assert!(threads(&on).contains("OpenTelemetry"), "{}", threads(&on));
    let exported = received(&runtime, &receiver).len();
    assert!(exported > 0);

    let off = ScratchDir::new("self-telemetry-off");
    let (output, _) = run(FIXTURE, &off, &["--exact", "plain::threads"], &[]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        !threads(&off).contains("OpenTelemetry"),
        "{}",
        threads(&off)
    );

    let disabled = ScratchDir::new("self-telemetry-disabled");
    let (output, _) = run(
        FIXTURE,
        &disabled,
        &["--exact", "plain::threads"],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_SDK_DISABLED", "true"),
        ],
    );
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        !threads(&disabled).contains("OpenTelemetry"),
        "{}",
        threads(&disabled)
    );
    assert_eq!(
        received(&runtime, &receiver).len(),
        exported,
        "nothing more arrived"
    );
}

/// The run passes, says one warning line, and ends within the flush bound (2 s) although the
/// exporter's own timeout (30 s here) would wait much longer.
fn collector_trouble(dir: &ScratchDir, endpoint: &str, protocol: &str) {
    let (output, took) = run(
        FIXTURE,
        dir,
        &["--exact", "plain::passes"],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "30000"),
        ],
    );
    assert!(output.status.success(), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("warning: telemetry"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", text(&output));
    assert!(warnings[0].contains(endpoint), "{}", warnings[0]);
    assert!(
        took < Duration::from_secs(12),
        "the run took {took:?}: the wait for the collector is not bounded"
    );
}

#[test]
fn a_collector_that_is_down_costs_one_warning_and_a_bounded_wait() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    // The listener is dropped: nothing listens there.
    for protocol in ["http/protobuf", "grpc"] {
        collector_trouble(
            &ScratchDir::new("self-telemetry-down"),
            &format!("http://127.0.0.1:{port}"),
            protocol,
        );
    }
}

#[test]
fn a_collector_that_never_answers_costs_one_warning_and_a_bounded_wait() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    // Accepts every connection and never answers.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.extend(stream.ok());
        }
    });
    for protocol in ["http/protobuf", "grpc"] {
        collector_trouble(
            &ScratchDir::new("self-telemetry-silent"),
            &format!("http://127.0.0.1:{port}"),
            protocol,
        );
    }
}

#[test]
fn the_processes_of_one_nextest_run_share_a_trace_and_traceparent_wins() {
    let (runtime, receiver) = receiver();
    let endpoint = receiver.endpoint();
    let run_id = "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f";
    for test in ["plain::passes", "plain::threads"] {
        let dir = ScratchDir::new("self-telemetry-nextest");
        let (output, _) = run(
            FIXTURE,
            &dir,
            &["--exact", test],
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
                ("NEXTEST_RUN_ID", run_id),
            ],
        );
        assert!(output.status.success(), "{}", text(&output));
    }
    let spans = received(&runtime, &receiver);
    let runs: Vec<&Span> = spans.iter().filter(|s| s.name == "clnrm test").collect();
    assert_eq!(runs.len(), 2, "{:#?}", names(&spans));
    assert_eq!(runs[0].trace_id, "6f1c2d3e4a5b4c6d8e9f0a1b2c3d4e5f");
    assert_eq!(runs[1].trace_id, runs[0].trace_id);
    assert_ne!(runs[0].parent_span_id, "");
    assert_eq!(runs[0].parent_span_id, runs[1].parent_span_id);
    assert_eq!(attr(runs[0], "clnrm.run.id"), run_id);

    // A CI job's TRACEPARENT parents the run, even under nextest.
    let (runtime, receiver) = self::receiver();
    let endpoint = receiver.endpoint();
    let dir = ScratchDir::new("self-telemetry-traceparent");
    let (output, _) = run(
        FIXTURE,
        &dir,
        &["--exact", "plain::passes"],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("NEXTEST_RUN_ID", run_id),
            (
                "TRACEPARENT",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ),
        ],
    );
    assert!(output.status.success(), "{}", text(&output));
    let spans = received(&runtime, &receiver);
    let run_span = named(&spans, "clnrm test");
    assert_eq!(run_span.trace_id, "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(run_span.parent_span_id, "b7ad6b7169203331");
}

#[test]
fn shared_service_starts_are_spans_the_tests_using_them_link_to() {
    let dir = ScratchDir::new("self-telemetry-services");
    let (runtime, receiver) = receiver();
    let endpoint = receiver.endpoint();
    let (output, _) = run(
        FIXTURE,
        &dir,
        &["cache::"],
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)],
    );
    assert!(output.status.success(), "{}", text(&output));
    let spans = received(&runtime, &receiver);
    let starts: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name.starts_with("start "))
        .collect();
    assert_eq!(starts.len(), 1, "one shared redis: {:#?}", names(&spans));
    let start = starts[0];
    assert_eq!(attr(start, "clnrm.service.plugin"), "redis");
    assert_eq!(attr(start, "container.runtime.name"), "docker");
    assert!(!attr(start, "container.id").is_empty());
    let health = spans
        .iter()
        .find(|s| s.name.starts_with("health ") && s.parent_span_id == start.span_id)
        .unwrap_or_else(|| panic!("no health span under the start: {:#?}", names(&spans)));
    assert_eq!(health.status, SpanStatus::Unset);
    for name in ["cache::first", "cache::second"] {
        let test = named(&spans, &format!("test {name}"));
        let attempt = children(&spans, test, "attempt 1")[0];
        assert_eq!(
            attempt.links,
            vec![start.span_id.clone()],
            "{name} links to the start of the redis it used"
        );
    }
    assert!(
        spans.iter().any(|s| s.name.starts_with("stop ")),
        "{:#?}",
        names(&spans)
    );
}

#[test]
fn a_suite_run_exports_its_tree_and_hands_the_exec_span_to_the_command() {
    let dir = ScratchDir::new("self-telemetry-suite");
    let out = dir.0.join("out");
    std::fs::create_dir_all(&out).expect("out dir");
    let file = dir.write(
        "traced.clnrm.toml",
        &format!(
            r#"version = 1
[suite]
name = "traced"

[services.box]
image = "debian:bookworm"
cmd = ["sleep", "infinity"]
[[services.box.volumes]]
host_path = "{}"
container_path = "/out"

[[steps]]
name = "traceparent"
service = "box"
run = ["sh", "-c", "printf %s \"$TRACEPARENT\" > /out/traceparent"]

[[steps]]
name = "fails once"
service = "box"
run = ["sh", "-c", "test -e /out/again || {{ touch /out/again; exit 3; }}"]
retries = 1
"#,
            out.display()
        ),
    );
    let (runtime, receiver) = receiver();
    let endpoint = receiver.endpoint();
    let (output, _) = run(
        CLNRM,
        &dir,
        &["run", file.to_str().expect("utf-8")],
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let spans = received(&runtime, &receiver);
    let run_span = named(&spans, "clnrm run");
    assert_eq!(attr(run_span, "test.suite.run.status"), "success");
    let suite = named(&spans, "suite traced");
    assert_eq!(suite.parent_span_id, run_span.span_id);
    let start = named(&spans, "start box");
    assert_eq!(start.parent_span_id, suite.span_id);
    assert_eq!(attr(start, "container.image.name"), "debian:bookworm");
    let scenario = spans
        .iter()
        .find(|s| s.name.starts_with("test traced::"))
        .unwrap_or_else(|| panic!("no scenario span: {:#?}", names(&spans)));
    assert_eq!(scenario.parent_span_id, suite.span_id);
    assert_eq!(attr(scenario, "test.case.result.status"), "pass");
    assert_eq!(attr(scenario, "clnrm.test.outcome"), "flaky");
    let step = named(&spans, "step traceparent");
    assert_eq!(step.parent_span_id, scenario.span_id);
    assert_eq!(attr(step, "clnrm.step.index"), "0");
    let attempt = children(&spans, step, "attempt 1")[0];
    let exec = children(&spans, attempt, "exec box")[0];
    assert_eq!(exec.kind, SpanKind::Client);
    assert_eq!(attr(exec, "process.exit.code"), "0");
    assert_eq!(attr(exec, "container.id"), attr(start, "container.id"));
    let traceparent =
        std::fs::read_to_string(out.join("traceparent")).expect("the step wrote its TRACEPARENT");
    assert_eq!(
        traceparent,
        format!("00-{}-{}-01", exec.trace_id, exec.span_id),
        "the command got the exec span's context"
    );
    let retried = named(&spans, "step fails once");
    let first = children(&spans, retried, "attempt 1")[0];
    assert_eq!(attr(first, "clnrm.attempt.outcome"), "fail");
    let failed_exec = children(&spans, first, "exec box")[0];
    assert_eq!(attr(failed_exec, "process.exit.code"), "3");
    assert_eq!(children(&spans, retried, "attempt 2").len(), 1);
    assert!(
        spans
            .iter()
            .any(|s| s.name == "stop box" && s.parent_span_id == suite.span_id),
        "{:#?}",
        names(&spans)
    );
}

/// A minimal OTLP/HTTP logs endpoint: every request body, answered `200 {}`.
fn logs_endpoint() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/v1/logs", listener.local_addr().expect("addr"));
    let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = std::sync::Arc::clone(&bodies);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let kept = std::sync::Arc::clone(&kept);
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().expect("clone");
                let mut reader = BufReader::new(stream);
                loop {
                    let mut length = 0;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        if let Some((name, value)) = line.split_once(':')
                            && name.eq_ignore_ascii_case("content-length")
                        {
                            length = value.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    kept.lock()
                        .expect("lock")
                        .push(String::from_utf8_lossy(&body).into_owned());
                    let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
                    if writer.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, bodies)
}

#[test]
fn clnrm_events_are_exported_as_log_records_tied_to_their_spans() {
    let dir = ScratchDir::new("self-telemetry-logs");
    let (runtime, receiver) = receiver();
    let (logs_url, bodies) = logs_endpoint();
    let (output, _) = run(
        FIXTURE,
        &dir,
        &["--exact", "plain::passes"],
        &[
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                &format!("{}/v1/traces", receiver.endpoint()),
            ),
            ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", &logs_url),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ],
    );
    assert!(output.status.success(), "{}", text(&output));
    let spans = received(&runtime, &receiver);
    let test = named(&spans, "test plain::passes");
    let bodies = bodies.lock().expect("lock").clone();
    let mut records = Vec::new();
    for body in &bodies {
        let request: serde_json::Value = serde_json::from_str(body).expect("OTLP/JSON");
        for resource in request["resourceLogs"].as_array().into_iter().flatten() {
            for scope in resource["scopeLogs"].as_array().into_iter().flatten() {
                records.extend(
                    scope["logRecords"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .cloned(),
                );
            }
        }
    }
    let finished = records
        .iter()
        .find(|r| r["body"]["stringValue"] == "test finished")
        .unwrap_or_else(|| panic!("no `test finished` record in {bodies:#?}"));
    assert_eq!(finished["traceId"], test.trace_id.as_str());
    assert_eq!(finished["spanId"], test.span_id.as_str());
    assert_eq!(finished["severityText"], "INFO");
    let attributes = finished["attributes"].to_string();
    assert!(attributes.contains("\"outcome\""), "{attributes}");
}

#[test]
fn a_suite_with_span_expectations_hands_the_exported_exec_span_to_its_sut() {
    let dir = ScratchDir::new("self-telemetry-sut-exec");
    let out = dir.0.join("out");
    std::fs::create_dir_all(&out).expect("out dir");
    let file = dir.write(
        "sut.clnrm.toml",
        &format!(
            r#"version = 1
[suite]
name = "sut"

[services.app]
image = "debian:bookworm"
cmd = ["sleep", "infinity"]
otel = true
[[services.app.volumes]]
host_path = "{SUT}"
container_path = "/usr/local/bin/otel-sut"
read_only = true
[[services.app.volumes]]
host_path = "{}"
container_path = "/out"

[[steps]]
name = "order"
service = "app"
run = ["sh", "-c", "printf %s \"$TRACEPARENT\" > /out/traceparent && exec otel-sut honest"]
expect = {{ stdout = {{ contains = "success" }} }}

[[expect.span]]
id = "handle"
name = "handle order"
service = "app"
kind = "server"
count = 1

[[expect.span]]
name = "store.write"
parent = "handle"
"#,
            out.display()
        ),
    );
    let (runtime, receiver) = receiver();
    let endpoint = receiver.endpoint();
    let (output, _) = run(
        CLNRM,
        &dir,
        &["run", file.to_str().expect("utf-8")],
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let spans = received(&runtime, &receiver);
    let step = named(&spans, "step order");
    let attempt = children(&spans, step, "attempt 1")[0];
    let exec = children(&spans, attempt, "exec app")[0];
    // The SUT ran under the exported exec span, and its spans (checked by the suite's
    // expectations, in that trace and under that span) were the scenario's.
    let traceparent =
        std::fs::read_to_string(out.join("traceparent")).expect("the step wrote its TRACEPARENT");
    assert_eq!(
        traceparent,
        format!("00-{}-{}-01", exec.trace_id, exec.span_id),
        "the SUT got the exec span's context"
    );
}

/// The labels clnrm's metrics may carry: never a run, trace or test id.
const METRIC_LABELS: [&str; 5] = ["suite", "outcome", "plugin", "service", "isolation"];

#[test]
fn metrics_are_exported_over_otlp_with_otel_names_units_and_counts() {
    use clnrm::telemetry::PointValue;
    for protocol in ["grpc", "http/protobuf", "http/json"] {
        let dir = ScratchDir::new("self-telemetry-metrics");
        let (runtime, receiver) = receiver();
        let endpoint = receiver.endpoint();
        // `passes` and `threads` pass, `fails` fails.
        let (output, _) = run(
            FIXTURE,
            &dir,
            &["plain::", "--skip", "flaky", "--skip", "calls_the_sut"],
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
                ("OTEL_TRACES_EXPORTER", "none"),
                ("OTEL_LOGS_EXPORTER", "none"),
            ],
        );
        assert_eq!(output.status.code(), Some(101), "{}", text(&output));
        runtime.block_on(receiver.settle(Duration::from_millis(200), Duration::from_secs(3)));
        let points = receiver.metrics();
        assert!(
            receiver.spans().is_empty(),
            "{protocol}: traces are off, only metrics arrive"
        );
        assert_eq!(
            receiver.grpc_exports() > 0,
            protocol == "grpc",
            "{protocol}: {points:#?}"
        );
        let runs = |outcome: &str| {
            points
                .iter()
                .filter(|p| {
                    p.name == "clnrm.test.runs"
                        && p.attrs.get("suite").map(String::as_str)
                            == Some("clnrm-e2e::otel-fixture")
                        && p.attrs.get("outcome").map(String::as_str) == Some(outcome)
                })
                .map(|p| {
                    assert_eq!(p.unit, "{test}");
                    assert_eq!(p.service, "clnrm");
                    match p.value {
                        PointValue::Sum {
                            value,
                            monotonic: true,
                        } => value,
                        ref other => panic!("{protocol}: not a counter: {other:?}"),
                    }
                })
                .collect::<Vec<f64>>()
        };
        assert_eq!(runs("pass"), [2.0], "{protocol}: {points:#?}");
        assert_eq!(runs("fail"), [1.0], "{protocol}: {points:#?}");
        let durations: Vec<_> = points
            .iter()
            .filter(|p| p.name == "clnrm.test.duration")
            .collect();
        let observed: u64 = durations
            .iter()
            .map(|p| {
                assert_eq!(p.unit, "s");
                match &p.value {
                    PointValue::Histogram {
                        count,
                        bounds,
                        bucket_counts,
                        ..
                    } => {
                        assert_eq!(bounds.first(), Some(&0.005), "the registry's buckets");
                        assert_eq!(bucket_counts.len(), bounds.len() + 1);
                        *count
                    }
                    other => panic!("{protocol}: not a histogram: {other:?}"),
                }
            })
            .sum();
        assert_eq!(observed, 3, "{protocol}: {durations:#?}");
        for point in &points {
            for key in point.attrs.keys() {
                assert!(
                    METRIC_LABELS.contains(&key.as_str()),
                    "{protocol}: `{}` has label `{key}`",
                    point.name
                );
            }
        }
        assert!(
            !String::from_utf8_lossy(&output.stderr).contains("warning: telemetry"),
            "{}",
            text(&output)
        );
    }
}

#[test]
fn no_metrics_are_exported_when_only_traces_are_configured_or_metrics_are_off() {
    let (runtime, receiver) = receiver();
    let endpoint = receiver.endpoint();
    let dir = ScratchDir::new("self-telemetry-no-metrics");
    let traces_only = format!("{endpoint}/v1/traces");
    for envs in [
        vec![("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces_only.as_str())],
        vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_METRICS_EXPORTER", "none"),
        ],
    ] {
        let (output, _) = run(FIXTURE, &dir, &["--exact", "plain::passes"], &envs);
        assert!(output.status.success(), "{}", text(&output));
    }
    let spans = received(&runtime, &receiver);
    assert!(!spans.is_empty(), "the traces arrived");
    assert!(
        receiver.metrics().is_empty(),
        "no metric: {:#?}",
        receiver.metrics()
    );
}
