//! `otel = true` services of `#[clnrm::test]` (`otel-span-fixture`): a shared `otel-sut http`
//! container sends its spans to clnrm's receiver; each test checks the spans of its own trace
//! with `TestContext::expect_spans`, under one process and under two processes of one nextest
//! run sharing the container; a lying service and an unmet expectation fail with their messages.

use std::process::Output;
use std::time::{Duration, Instant};

use clnrm::docker::labels;
use clnrm::telemetry::Receiver;

use crate::support::{ScratchDir, containers_with_label, run_bin};

const FIXTURE: &str = env!("CARGO_BIN_EXE_otel-span-fixture");
const SUT: &str = env!("CARGO_BIN_EXE_otel-sut");

fn text(output: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn fixture(dir: &ScratchDir, args: &[&str]) -> Output {
    let history = dir.0.join("history.db");
    run_bin(
        FIXTURE,
        args,
        &[
            ("OTEL_SUT", SUT),
            ("CLNRM_HISTORY", history.to_str().expect("utf-8")),
        ],
    )
}

#[test]
fn tests_sharing_an_otel_service_each_see_only_the_spans_of_their_own_trace() {
    let dir = ScratchDir::new("otel-harness-shared");
    // `two_requests` and `three_requests`, one container, at the same time.
    let output = fixture(&dir, &["requests", "--test-threads", "2"]);
    let said = text(&output);
    assert!(output.status.success(), "{said}");
    assert!(said.contains("2 passed"), "{said}");
    assert!(said.contains("verdict: ok expect.span[order]"), "{said}");
}

#[test]
fn a_lying_service_and_an_unmet_expectation_fail_with_what_was_expected() {
    let dir = ScratchDir::new("otel-harness-fail");
    let lying = fixture(&dir, &["--exact", "lying::says_success"]);
    let said = text(&lying);
    assert!(!lying.status.success(), "{said}");
    assert!(
        said.contains(
            "configuration problem: service `app` is declared `otel = true` but no span with service.name `app` reached clnrm's OTLP receiver"
        ),
        "{said}"
    );
    let wrong = fixture(&dir, &["--exact", "honest::expects_a_500"]);
    let said = text(&wrong);
    assert!(!wrong.status.success(), "{said}");
    assert!(
        said.contains("span expectations: expect.span[order]"),
        "{said}"
    );
    assert!(said.contains("http.response.status_code"), "{said}");
    assert!(!said.contains("configuration problem"), "{said}");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_processes_of_one_nextest_run_share_the_service_and_keep_their_spans_apart() {
    let dir = ScratchDir::new("otel-harness-nextest");
    // clnrm exports its own spans too: both processes are then in one trace (the run's), and
    // each test's spans are those under its attempt span.
    let own = Receiver::start("127.0.0.1".parse().expect("ip"))
        .await
        .expect("a receiver for clnrm's own spans");
    let own_endpoint = own.endpoint();
    // A stand-in for nextest: one process per test, both of one run (NEXTEST_RUN_ID), one after
    // the other: the second adopts the container and the receiver the first started, and its
    // trace (the run's) already holds the first one's spans, which it must not see.
    // A UUID, as nextest's: its 32 hex digits are the run's trace id.
    let run_id = format!(
        "{:08x}-7e57-4000-8000-{:012x}",
        std::process::id(),
        u64::from(std::process::id()) * 7907 + 29
    );
    let script = format!(
        "'{FIXTURE}' --exact honest::two_requests > '{0}/a' 2>&1; echo a=$?; \
         '{FIXTURE}' --exact honest::three_requests > '{0}/b' 2>&1; echo b=$?",
        dir.arg()
    );
    let history = dir.0.join("history.db");
    let output = run_bin(
        "sh",
        &["-c", &script],
        &[
            ("NEXTEST_RUN_ID", run_id.as_str()),
            ("NEXTEST", "1"),
            ("OTEL_SUT", SUT),
            ("CLNRM_HISTORY", history.to_str().expect("utf-8")),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", own_endpoint.as_str()),
        ],
    );
    let a = std::fs::read_to_string(dir.0.join("a")).unwrap_or_default();
    let b = std::fs::read_to_string(dir.0.join("b")).unwrap_or_default();
    let said = format!("{}\n--- a:\n{a}\n--- b:\n{b}", text(&output));
    assert!(said.contains("a=0") && said.contains("b=0"), "{said}");
    assert!(
        a.contains("verdict: ok expect.span[order]: 2 matching"),
        "{said}"
    );
    assert!(
        b.contains("verdict: ok expect.span[order]: 3 matching"),
        "{said}"
    );
    own.settle(Duration::from_millis(200), Duration::from_secs(3))
        .await;
    let traces: std::collections::BTreeSet<String> = own
        .spans()
        .into_iter()
        .filter(|s| s.name.starts_with("attempt"))
        .map(|s| s.trace_id)
        .collect();
    assert_eq!(
        traces.len(),
        1,
        "the two tests' attempts are in one trace: {traces:?}"
    );
    // The run belonged to the stand-in: once it ended, the reaper removes its containers.
    let run = format!(
        "nx-{}",
        run_id
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(12)
            .collect::<String>()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !containers_with_label(labels::RUN, &run).await.is_empty() {
        assert!(Instant::now() < deadline, "run {run} still has containers");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
