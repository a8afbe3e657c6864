//! An `otel = true` service that exports over OTLP/gRPC (`otel-sut` with
//! `OTEL_EXPORTER_OTLP_PROTOCOL=grpc` in its `env`): the suite's receiver speaks gRPC on the
//! endpoint it hands out, so the same span expectations hold for the honest mode and fail for
//! the lying one.

use crate::support::{ScratchDir, run_bin};

const CLNRM: &str = env!("CARGO_BIN_EXE_clnrm-under-test");
const SUT: &str = env!("CARGO_BIN_EXE_otel-sut");

fn suite(name: &str, mode: &str) -> String {
    format!(
        r#"version = 1
[suite]
name = "{name}"

[services.app]
image = "debian:bookworm"
cmd = ["otel-sut", "serve"]
otel = true
[services.app.env]
OTEL_EXPORTER_OTLP_PROTOCOL = "grpc"
[[services.app.volumes]]
host_path = "{SUT}"
container_path = "/usr/local/bin/otel-sut"
read_only = true

[[steps]]
name = "order"
service = "app"
run = ["otel-sut", "{mode}"]
expect = {{ stdout = {{ contains = "success" }} }}

[[expect.span]]
id = "handle"
name = "handle order"
service = "app"
kind = "server"
attrs = {{ "http.response.status_code" = 200 }}

[[expect.span]]
name = "store.write"
parent = "handle"
"#
    )
}

#[test]
fn a_service_exporting_over_grpc_meets_its_span_expectations_and_a_lying_one_fails() {
    let dir = ScratchDir::new("telemetry-grpc");
    dir.write("honest.clnrm.toml", &suite("honest", "honest"));
    dir.write("lie.clnrm.toml", &suite("lie", "lie"));
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
    let (outcome, message) = record("honest");
    assert_eq!(outcome, "passed", "{message}\n{stdout}\n{stderr}");
    assert!(
        message.contains("ok expect.span[handle]: 1 matching span(s)"),
        "{message}"
    );
    let (outcome, message) = record("lie");
    assert_eq!(outcome, "failed", "{message}\n{stdout}\n{stderr}");
    assert!(
        message.contains("span expectations: expect.span[handle]"),
        "{message}"
    );
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
}
