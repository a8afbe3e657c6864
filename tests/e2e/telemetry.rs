//! Span expectations on real Docker: the `otel-sut` binary (real OTLP through the OpenTelemetry
//! SDK) runs inside a bookworm container of a suite, mounted from the build, and clnrm's
//! receiver checks what it really sent. Only `honest` passes; a step that only prints
//! "success" fails naming the first unmet expectation; an `otel = true` service that never
//! sends anything is an infrastructure error.

use std::time::Duration;

use crate::support::{ScratchDir, run_bin};

const CLNRM: &str = env!("CARGO_BIN_EXE_clnrm-under-test");
const SUT: &str = env!("CARGO_BIN_EXE_otel-sut");

/// Every kind of expectation, all met by `otel-sut honest --peer cache:6379`.
const EXPECTATIONS: &str = r#"
[[expect.span]]
id = "handle"
name = "handle order"
service = "app"
kind = "server"
attrs = { "http.request.method" = "GET", "http.response.status_code" = 200 }
attrs_re = { "http.route" = "^/orders/" }
absent = ["error.type"]
count = { min = 1, max = 1 }
duration_ms = { max = 10000 }

[[expect.span]]
id = "store"
name = "store.write"
parent = "handle"
events = ["file.verified"]
attrs = { "file.size" = 8 }

[[expect.span]]
name_re = "^conn"
kind = "client"
ancestor = "handle"

[[expect.order]]
before = "store"
after = "connect"

[expect.trace]
services = ["app"]
errors = 0
max_spans = 10
"#;

/// A suite whose one step runs `otel-sut MODE` in an `otel = true` service.
fn suite(name: &str, app_cmd: &str, step: &str, with_cache: bool, expect: &str) -> String {
    let cache = if with_cache {
        "[services.cache]\nplugin = \"redis\"\n"
    } else {
        ""
    };
    format!(
        r#"version = 1
[suite]
name = "{name}"

[services.app]
image = "debian:bookworm"
cmd = {app_cmd}
otel = true
[[services.app.volumes]]
host_path = "{SUT}"
container_path = "/usr/local/bin/otel-sut"
read_only = true

{cache}
[[steps]]
name = "order"
service = "app"
run = {step}
expect = {{ stdout = {{ contains = "success" }} }}
{expect}"#
    )
}

fn sut_step(mode: &str) -> String {
    format!(r#"["otel-sut", "{mode}", "--peer", "cache:6379"]"#)
}

const SERVE: &str = r#"["otel-sut", "serve"]"#;

#[test]
fn span_expectations_pass_only_for_the_honest_system_under_test() {
    let dir = ScratchDir::new("telemetry-modes");
    let hermetic_ok = format!("{EXPECTATIONS}\n[expect.hermetic]\nallow = [\"cache\"]\n");
    dir.write(
        "honest.clnrm.toml",
        &suite("honest", SERVE, &sut_step("honest"), true, &hermetic_ok),
    );
    for mode in ["lie", "wrong-attr", "no-propagation"] {
        dir.write(
            &format!("{mode}.clnrm.toml"),
            &suite(mode, SERVE, &sut_step(mode), true, EXPECTATIONS),
        );
    }
    dir.write(
        "outside.clnrm.toml",
        &suite(
            "outside",
            SERVE,
            &sut_step("honest"),
            true,
            "[expect.hermetic]\nallow = [\"app\"]\n",
        ),
    );
    dir.write(
        "silent.clnrm.toml",
        &suite(
            "silent",
            r#"["sleep", "infinity"]"#,
            r#"["echo", "success"]"#,
            false,
            "",
        ),
    );
    let json = dir.0.join("results.json");
    let output = run_bin(
        CLNRM,
        &[
            "run",
            dir.arg(),
            "--jobs",
            "2",
            "--json",
            json.to_str().expect("utf-8"),
        ],
        &[(
            "CLNRM_HISTORY",
            dir.0.join("history.db").to_str().expect("utf-8"),
        )],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&json)
            .unwrap_or_else(|e| panic!("no JSON report ({e}):\n{stdout}\n{stderr}")),
    )
    .expect("JSON report");
    let record = |suite: &str| -> (String, String) {
        let test = report["tests"]
            .as_array()
            .expect("tests")
            .iter()
            .find(|t| t["name"].as_str() == Some(&format!("{suite}::{suite}")))
            .unwrap_or_else(|| panic!("no record of {suite}:\n{report:#}"));
        (
            test["outcome"].as_str().unwrap_or_default().to_owned(),
            test["message"].as_str().unwrap_or_default().to_owned(),
        )
    };
    let mut wrong = Vec::new();
    let mut want = |suite: &str, outcome: &str, text: &str| {
        let (got, message) = record(suite);
        if got != outcome || !message.contains(text) {
            wrong.push(format!(
                "{suite}: want {outcome} with {text:?}, got {got}: {message}"
            ));
        }
    };
    want(
        "honest",
        "passed",
        "span expectations: ok expect.span[handle]: 1 matching span(s); ok expect.span[store]",
    );
    want("lie", "failed", "span expectations: expect.span[handle]");
    want(
        "wrong-attr",
        "failed",
        "span expectations: expect.span[handle].attrs.\"http.response.status_code\": expected 200, found 500",
    );
    // The scenario's trace as a tree: the SUT's child span under its server span.
    want("wrong-attr", "failed", "\n    handle order (app, server, ");
    want(
        "wrong-attr",
        "failed",
        "\n      store.write (app, internal, ",
    );
    want(
        "no-propagation",
        "failed",
        "span expectations: expect.span[handle].trace: expected a span in the scenario's trace",
    );
    want(
        "outside",
        "failed",
        "expect.hermetic.allow: expected destinations among [app] or loopback, found 1 outside: `connect`",
    );
    want(
        "silent",
        "infra_error",
        "OTLP from service `app` never reached clnrm",
    );
    assert!(wrong.is_empty(), "{}\nstdout:\n{stdout}", wrong.join("\n"));
    // Failures win over the infrastructure error: exit 1.
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
}

#[test]
fn an_http_step_hands_its_trace_to_the_service_in_a_traceparent_header() {
    let dir = ScratchDir::new("telemetry-http");
    let file = dir.write(
        "http.clnrm.toml",
        &format!(
            r#"version = 1
[suite]
name = "http"

[services.api]
image = "debian:bookworm"
cmd = ["otel-sut", "http", "8080"]
ports = [8080]
wait_for = {{ tcp = 8080 }}
otel = true
[[services.api.volumes]]
host_path = "{SUT}"
container_path = "/usr/local/bin/otel-sut"
read_only = true

[[steps]]
name = "get order"
http = {{ service = "api", path = "/orders/7" }}
expect = {{ stdout = {{ contains = "success" }} }}

[[expect.span]]
name = "GET /orders/{{id}}"
service = "api"
kind = "server"
attrs = {{ "http.request.method" = "GET", "http.response.status_code" = 200 }}
attrs_re = {{ "url.path" = "^/orders/[0-9]+$" }}
count = 1
"#
        ),
    );
    let output = run_bin(
        CLNRM,
        &["run", file.to_str().expect("utf-8")],
        &[(
            "CLNRM_HISTORY",
            dir.0.join("history.db").to_str().expect("utf-8"),
        )],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("PASS http/http"), "{stdout}");
}

#[test]
fn the_sdk_exporter_reaches_the_receiver_with_the_parent_from_traceparent() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let receiver = clnrm::telemetry::Receiver::start("127.0.0.1".parse().expect("ip"))
            .await
            .expect("receiver starts");
        let trace = clnrm::telemetry::TraceContext::new();
        let step = trace.span_id();
        let endpoint = receiver.endpoint();
        let traceparent = trace.traceparent(&step);
        let output = tokio::task::spawn_blocking(move || {
            run_bin(
                SUT,
                &["honest"],
                &[
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
                    ("OTEL_SERVICE_NAME", "sut"),
                    ("OTEL_BSP_SCHEDULE_DELAY", "100"),
                    ("TRACEPARENT", traceparent.as_str()),
                ],
            )
        })
        .await
        .expect("joined");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "success");
        receiver
            .settle(Duration::from_millis(200), Duration::from_secs(5))
            .await;
        let spans = receiver.spans();
        let server = spans
            .iter()
            .find(|s| s.name == "handle order")
            .unwrap_or_else(|| panic!("no server span in {spans:#?}"));
        assert_eq!(server.trace_id, trace.trace_id());
        assert_eq!(server.parent_span_id, step, "parented by TRACEPARENT");
        assert_eq!(server.service, "sut");
        assert_eq!(server.kind, clnrm::telemetry::SpanKind::Server);
        assert_eq!(
            server.attrs["http.response.status_code"],
            clnrm::telemetry::AttrValue::Int(200)
        );
        let store = spans
            .iter()
            .find(|s| s.name == "store.write")
            .expect("child span");
        assert_eq!(store.parent_span_id, server.span_id);
        assert_eq!(store.events, vec!["file.verified".to_owned()]);
        // Sent == received: the SDK sent exactly these two.
        assert_eq!(spans.len(), 2, "{spans:#?}");
    });
}
