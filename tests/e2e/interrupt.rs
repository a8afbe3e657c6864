//! Ctrl-C and SIGTERM at random points of `clnrm run` and of a harness binary: each interrupted
//! process exits 130 / 143, leaves no container or network of its own behind, reports what it
//! cut short as interrupted (never as a failure), and records the run as interrupted, which the
//! planner's reads leave out.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use clnrm::docker::{Owner, labels};
use clnrm::history::HistoryStore;

use crate::support::{Spawned, containers_owned_by, scratch};

const CLNRM: &str = env!("CARGO_BIN_EXE_clnrm-under-test");
const FIXTURE: &str = env!("CARGO_BIN_EXE_interrupt-fixture");

/// Networks clnrm labelled as owned by process `pid`.
async fn networks_owned_by(pid: u32) -> Vec<String> {
    use clnrm::docker::bollard::query_parameters::ListNetworksOptions;
    let docker = clnrm::docker::connect().await.expect("docker reachable");
    let filters = HashMap::from([("label".to_owned(), vec![labels::MANAGED.to_owned()])]);
    docker
        .list_networks(Some(ListNetworksOptions {
            filters: Some(filters),
        }))
        .await
        .expect("list networks")
        .into_iter()
        .filter(|n| {
            n.labels
                .as_ref()
                .and_then(|l| l.get(labels::OWNER))
                .and_then(|o| Owner::parse(o))
                .is_some_and(|o| o.pid == pid)
        })
        .filter_map(|n| n.name)
        .collect()
}

/// `n` delays between `lo` and `hi`, different on every run (printed with the results).
fn random_delays(n: usize, lo: Duration, hi: Duration) -> Vec<Duration> {
    let mut state = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(7, |d| d.as_nanos() as u64)
        | 1;
    (0..n)
        .map(|_| {
            // xorshift64
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let span = (hi - lo).as_millis() as u64;
            lo + Duration::from_millis(state % span.max(1))
        })
        .collect()
}

/// One interruption: what was sent when, and what it left.
#[derive(Debug)]
struct Round {
    signal: &'static str,
    after: Duration,
    /// From the signal to the exit.
    took: Duration,
    exit: Option<i32>,
    containers: usize,
    networks: usize,
    /// For each container left: its name, state and creation time against the exit, and the
    /// round's transcript (to find where a survivor comes from).
    leftovers: Vec<String>,
}

impl Round {
    fn expected_exit(&self) -> i32 {
        if self.signal == "TERM" { 143 } else { 130 }
    }
}

/// Five SIGTERMs and five SIGINTs, alternating, each `delays[i]` after the start of `start()`.
async fn soak(
    what: &str,
    delays: &[Duration],
    start: impl Fn(usize) -> Spawned,
    check: impl Fn(usize, &Round, &str),
) -> Vec<Round> {
    let mut rounds = Vec::new();
    for (i, after) in delays.iter().enumerate() {
        let signal = if i % 2 == 0 { "TERM" } else { "INT" };
        let mut child = start(i);
        let pid = child.id();
        std::thread::sleep(*after);
        child.signal(signal);
        let t0 = Instant::now();
        let exit = child.wait_exit(Duration::from_secs(60));
        let exited_at = std::time::SystemTime::now();
        let left = containers_owned_by(pid).await;
        let mut leftovers = Vec::new();
        for id in &left {
            leftovers.push(describe_leftover(id, exited_at).await);
        }
        if !left.is_empty() {
            leftovers.push(format!("transcript:\n{}", child.transcript()));
        }
        let round = Round {
            signal,
            after: *after,
            took: t0.elapsed(),
            exit,
            containers: left.len(),
            networks: networks_owned_by(pid).await.len(),
            leftovers,
        };
        eprintln!(
            "{what}: SIG{} after {:.2} s: exit {:?} {:.2} s later, {} container(s) and {} \
             network(s) left",
            round.signal,
            round.after.as_secs_f64(),
            round.exit,
            round.took.as_secs_f64(),
            round.containers,
            round.networks
        );
        check(i, &round, &child.transcript());
        rounds.push(round);
    }
    for round in &rounds {
        assert_eq!(
            (round.exit, round.containers, round.networks),
            (Some(round.expected_exit()), 0, 0),
            "{what}: every interruption exits 128 + signal and leaves nothing: {rounds:#?}\n\
             what was left:\n{}",
            round.leftovers.join("\n")
        );
    }
    rounds
}

/// A container left by an interrupted process: name, state, and when Docker created it
/// relative to the process's exit (after it: a creation request still in flight at exit).
async fn describe_leftover(id: &str, exited_at: std::time::SystemTime) -> String {
    let docker = clnrm::docker::connect().await.expect("docker reachable");
    match docker.inspect_container(id, None).await {
        Ok(c) => {
            let exited_ns = exited_at
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as i128);
            let created = c.created.map_or_else(
                || "creation time unknown".to_owned(),
                |t| {
                    let ms = (t.unix_timestamp_nanos() - exited_ns) / 1_000_000;
                    format!("created {ms} ms after the exit (negative: before)")
                },
            );
            let state = c.state.as_ref();
            format!(
                "{} {:?}: status {:?}, dead {:?}, running {:?}, {created}, labels {:?}",
                &id[..12.min(id.len())],
                c.name,
                state.and_then(|s| s.status),
                state.and_then(|s| s.dead),
                state.and_then(|s| s.running),
                c.config.and_then(|c| c.labels),
            )
        }
        Err(e) => format!("{id}: gone by the time it was inspected ({e})"),
    }
}

/// The checks every interrupted round shares: no invented failure, the interruption said, and the
/// JSON report written and marked interrupted. Returns the report.
fn interrupted_report(
    path: &std::path::Path,
    round: &Round,
    transcript: &str,
) -> serde_json::Value {
    assert_no_invented_failures(transcript);
    assert!(
        transcript.contains(&format!("interrupted by SIG{}", round.signal)),
        "says what it interrupted:\n{transcript}"
    );
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(path).expect("the JSON report of an interrupted run is written"),
    )
    .expect("valid JSON");
    assert_eq!(json["interrupted"], true, "{json:#}");
    json
}

/// What an interrupted run must never print: failures it made up.
fn assert_no_invented_failures(transcript: &str) {
    for invented in [
        "FAIL ",
        "FAILED",
        "ERROR ",
        "409",
        "not ready after",
        "is not running",
        "panicked",
    ] {
        assert!(
            !transcript.contains(invented),
            "an interrupted run reported {invented:?}:\n{transcript}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn clnrm_run_interrupted_at_random_points_removes_everything_and_exits_130_or_143() {
    let dir = scratch("interrupt", "run");
    let suites = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/suites");
    let history = dir.join("history.db");
    let delays = random_delays(10, Duration::from_millis(300), Duration::from_millis(4500));
    soak(
        "clnrm run",
        &delays,
        |i| {
            let json = dir.join(format!("results-{i}.json"));
            Spawned::start(
                CLNRM,
                &[
                    "run",
                    suites,
                    "--jobs",
                    "2",
                    "--json",
                    json.to_str().unwrap(),
                ],
                &[("CLNRM_HISTORY", history.to_str().unwrap())],
            )
        },
        |i, round, transcript| {
            let json =
                interrupted_report(&dir.join(format!("results-{i}.json")), round, transcript);
            assert!(json["summary"]["interrupted"].as_u64().unwrap() > 0);
            assert_eq!(json["summary"]["failed"], 0, "{json:#}");
            assert_eq!(json["summary"]["infra_error"], 0, "{json:#}");
        },
    )
    .await;
    // A second Ctrl-C forces: the removal still happens, then the exit.
    let mut child = Spawned::start(
        CLNRM,
        &["run", suites, "--jobs", "2"],
        &[("CLNRM_HISTORY", history.to_str().unwrap())],
    );
    let pid = child.id();
    std::thread::sleep(Duration::from_millis(2500));
    child.signal("INT");
    std::thread::sleep(Duration::from_millis(50));
    child.signal("INT");
    let exit = child.wait_exit(Duration::from_secs(60));
    let left = (
        containers_owned_by(pid).await.len(),
        networks_owned_by(pid).await.len(),
    );
    eprintln!("clnrm run: SIGINT twice: exit {exit:?}, left {left:?}");
    assert_eq!((exit, left), (Some(130), (0, 0)), "{}", child.transcript());

    let store = HistoryStore::open(&history).expect("history opens");
    assert!(
        store.last_run_seq().unwrap().unwrap_or(0) >= 10,
        "every interrupted run is recorded"
    );
    assert!(
        store.records(None, 100).unwrap().is_empty(),
        "the planner's reads leave interrupted runs out"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_harness_binary_interrupted_at_random_points_removes_everything_and_exits_130_or_143() {
    let dir = scratch("interrupt", "harness");
    let history = dir.join("history.db");
    let delays = random_delays(10, Duration::from_millis(300), Duration::from_millis(4000));
    soak(
        "harness",
        &delays,
        |i| {
            let json = dir.join(format!("results-{i}.json"));
            Spawned::start(
                FIXTURE,
                &["--test-threads", "2"],
                &[
                    ("CLNRM_HISTORY", history.to_str().unwrap()),
                    ("CLNRM_JSON", json.to_str().unwrap()),
                ],
            )
        },
        |i, round, transcript| {
            let json =
                interrupted_report(&dir.join(format!("results-{i}.json")), round, transcript);
            assert_eq!(json["summary"]["failed"], 0, "{json:#}");
        },
    )
    .await;
    let store = HistoryStore::open(&history).expect("history opens");
    assert!(store.last_run_seq().unwrap().unwrap_or(0) >= 10);
    assert!(store.records(None, 100).unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_nextest_process_interrupted_exits_143_and_its_run_ends_with_nextest() {
    // A stand-in for the nextest process: a shell that starts one test process of a run (as
    // nextest does, with NEXTEST_RUN_ID) and waits for it.
    let dir = scratch("interrupt", "nextest");
    let run_id = format!("{:012x}", std::process::id() as u64 * 7919 + 17);
    let script = format!("'{FIXTURE}' --exact a & echo $!; wait $!; echo status=$?");
    let mut nextest = Spawned::start(
        "sh",
        &["-c", &script],
        &[
            ("NEXTEST_RUN_ID", run_id.as_str()),
            ("NEXTEST", "1"),
            ("CLNRM_HISTORY", dir.join("history.db").to_str().unwrap()),
        ],
    );
    let first = nextest.wait_for(0, "", Duration::from_secs(10));
    let child: u32 = nextest.since(first)[0]
        .trim()
        .parse()
        .expect("the test process's pid");
    // Stopped once its services are starting: the test still has its 1.5 s of work ahead (a
    // fixed sleep raced the process once Postgres started faster).
    let run = format!("nx-{run_id}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while crate::support::containers_with_label(labels::RUN, &run)
        .await
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "the test process started no container of {run} within 60 s: {}",
            nextest.transcript()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.to_string()])
        .status()
        .expect("kill");
    assert!(
        kill.success(),
        "the test process had ended before the signal"
    );
    nextest.wait_for(first, "status=143", Duration::from_secs(30));
    let said = nextest.transcript();
    assert!(said.contains("interrupted by SIGTERM"), "{said}");
    assert_no_invented_failures(&said);
    // The run belongs to nextest: once it ends, the run's reaper removes everything.
    assert_eq!(nextest.wait_exit(Duration::from_secs(10)), Some(0));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = crate::support::containers_with_label(labels::RUN, &run).await;
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} container(s) of {run} left after the nextest process ended",
            left.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_run_ends_and_exports_its_open_spans_as_interrupted() {
    let dir = scratch("interrupt", "otel");
    let receiver = clnrm::telemetry::Receiver::start("127.0.0.1".parse().expect("ip"))
        .await
        .expect("a receiver for clnrm's spans");
    let endpoint = receiver.endpoint();
    let mut child = Spawned::start(
        FIXTURE,
        &["--exact", "a"],
        &[
            ("CLNRM_HISTORY", dir.join("history.db").to_str().unwrap()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ],
    );
    // The run, suite, test and attempt spans open as soon as the test starts (before its
    // services are ready); the signal comes while they are.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.signal("INT");
    assert_eq!(child.wait_exit(Duration::from_secs(60)), Some(130));
    receiver
        .settle(Duration::from_millis(200), Duration::from_secs(3))
        .await;
    let spans = receiver.spans();
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    let named = |name: &str| {
        spans
            .iter()
            .find(|s| s.name == name || (name == "suite" && s.name.starts_with("suite ")))
            .unwrap_or_else(|| panic!("no span `{name}` among {names:?}\n{}", child.transcript()))
    };
    // The run and suite spans the harness ends itself, as aborted.
    for name in ["clnrm test", "suite"] {
        let span = named(name);
        assert_eq!(
            span.attrs.get("test.suite.run.status").map(|v| v.as_text()),
            Some("aborted".to_owned()),
            "{span:#?}"
        );
    }
    // The test and its attempt were still open: the interrupt path ended them.
    for name in ["test a", "attempt 1"] {
        let span = named(name);
        assert_eq!(
            span.attrs.get("clnrm.outcome").map(|v| v.as_text()),
            Some("interrupted".to_owned()),
            "{span:#?}"
        );
        assert_eq!(
            span.status,
            clnrm::telemetry::SpanStatus::Error,
            "{span:#?}"
        );
    }
}
