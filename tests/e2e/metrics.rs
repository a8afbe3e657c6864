//! Metrics, read by real Prometheus tools: the `--metrics-file` of a harness run and of
//! `clnrm run` must pass `promtool check metrics` (Debian's `prometheus` package, installed by
//! `scripts/setup.sh`) and agree with the run's JSON report; `clnrm watch --metrics-addr` is
//! scraped by a real `prometheus` server and the values are read back from its HTTP API.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{ScratchDir, Spawned, run_bin};

const CLNRM: &str = env!("CARGO_BIN_EXE_clnrm-under-test");
const FIXTURE: &str = env!("CARGO_BIN_EXE_harness-fixture");

/// Redis started once, each scenario in a logical database of its own; one scenario passes,
/// the other fails (its output is `OK`, not `nope`).
const SUITE: &str = r#"version = 1
[suite]
name = "counted"

[services.cache]
plugin = "redis"
image = "redis:7"
isolation = "database"

[[scenarios]]
name = "sets a key"
[[scenarios.steps]]
name = "set"
shell = 'redis-cli -n "$CLNRM_CACHE_DB" set k v'
service = "cache"
expect.stdout.contains = "OK"

[[scenarios]]
name = "expects the wrong answer"
[[scenarios.steps]]
name = "set"
shell = 'redis-cli -n "$CLNRM_CACHE_DB" set k v'
service = "cache"
expect.stdout.contains = "nope"
"#;

/// `promtool check metrics` on `text`: the exposition parses, and passes its lint
/// (names, units, `_total`, HELP). Fails with promtool's words when it does not.
fn promtool_accepts(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("promtool is needed (Debian's `prometheus`; scripts/setup.sh installs it): {e}")
        });
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool ends");
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics refused the file:\n{}{}\n--- the file ---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The value of the sample line `name{labels}` (labels exactly as written, in order).
fn sample(text: &str, series: &str) -> f64 {
    let prefix = format!("{series} ");
    let line = text
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no sample {series} in:\n{text}"));
    line[prefix.len()..]
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("not a number: {line}"))
}

/// Sample lines of `name` (a whole family name, e.g. `clnrm_test_runs_total`).
fn samples<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("the JSON report")).expect("JSON")
}

#[test]
fn a_harness_runs_metrics_file_passes_promtool_and_agrees_with_its_json_report() {
    let dir = ScratchDir::new("metrics-harness");
    let prom = dir.0.join("out/clnrm.prom");
    let report = dir.0.join("report.json");
    let out = run_bin(
        FIXTURE,
        &[
            "isolation::pg::",
            "--test-threads",
            "2",
            "--metrics-file",
            prom.to_str().expect("utf-8"),
            "--json",
            report.to_str().expect("utf-8"),
        ],
        &[
            ("FIXTURE_DIR", dir.arg()),
            ("CLNRM_HISTORY", &format!("{}/history.db", dir.arg())),
        ],
    );
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    let text = std::fs::read_to_string(&prom).expect("the metrics file");
    promtool_accepts(&text);

    let report = json(&report);
    let suite = report["target"].as_str().expect("target");
    let tests = report["tests"].as_array().expect("tests");
    assert_eq!(tests.len(), 2, "{report:#}");
    let runs = |outcome: &str| {
        sample(
            &text,
            &format!(r#"clnrm_test_runs_total{{suite="{suite}",outcome="{outcome}"}}"#),
        )
    };
    assert_eq!(runs("pass"), report["summary"]["passed"].as_f64().unwrap());
    assert_eq!(samples(&text, "clnrm_test_runs_total").len(), 1, "{text}");
    let durations: f64 = tests
        .iter()
        .map(|t| t["duration_secs"].as_f64().unwrap())
        .sum();
    let labels = format!(r#"suite="{suite}",outcome="pass""#);
    assert_eq!(
        sample(
            &text,
            &format!("clnrm_test_duration_seconds_count{{{labels}}}")
        ),
        2.0
    );
    assert!(
        close(
            sample(
                &text,
                &format!("clnrm_test_duration_seconds_sum{{{labels}}}")
            ),
            durations
        ),
        "the durations of the JSON report add up to the histogram's sum:\n{text}"
    );

    // The shared Postgres started once; the JSON report says how long it took.
    let services = report["services"].as_array().expect("services");
    assert_eq!(services.len(), 1, "{report:#}");
    let name = services[0]["name"].as_str().unwrap();
    let service = format!(r#"plugin="postgres",service="{name}""#);
    assert_eq!(
        sample(
            &text,
            &format!("clnrm_service_start_seconds_count{{{service}}}")
        ),
        1.0
    );
    assert!(close(
        sample(
            &text,
            &format!("clnrm_service_start_seconds_sum{{{service}}}")
        ),
        services[0]["start_secs"].as_f64().unwrap()
    ));
    let health = sample(
        &text,
        &format!("clnrm_service_health_check_seconds_sum{{{service}}}"),
    );
    assert!(
        health > 0.0 && health <= services[0]["start_secs"].as_f64().unwrap(),
        "the readiness checks are part of the start:\n{text}"
    );
    // Each test waited for a database of its own, as the JSON report says per test.
    let isolation: f64 = tests
        .iter()
        .map(|t| t["service_waits"][0]["isolation_secs"].as_f64().unwrap())
        .sum();
    let db = r#"plugin="postgres",isolation="database""#;
    assert_eq!(
        sample(
            &text,
            &format!("clnrm_isolation_wait_seconds_count{{{db}}}")
        ),
        2.0
    );
    assert!(close(
        sample(&text, &format!("clnrm_isolation_wait_seconds_sum{{{db}}}")),
        isolation
    ));
    // Nothing like a run id or a test name is a label.
    assert!(!text.contains(report["run_id"].as_str().unwrap()), "{text}");
    assert!(!text.contains("isolation::pg::a"), "{text}");
}

#[test]
fn the_processes_of_one_nextest_run_add_up_in_one_metrics_file() {
    let dir = ScratchDir::new("metrics-nextest");
    let prom = format!("{}/clnrm.prom", dir.arg());
    let history = format!("{}/history.db", dir.arg());
    // What nextest does: one process per test, all with the run's id.
    let test = |name: &str, run_id: &str| {
        run_bin(
            FIXTURE,
            &["--exact", name],
            &[
                ("FIXTURE_DIR", dir.arg()),
                ("CLNRM_HISTORY", &history),
                ("CLNRM_METRICS_FILE", &prom),
                ("NEXTEST_RUN_ID", run_id),
            ],
        )
    };
    let suite = r#"suite="clnrm-e2e::harness-fixture""#;
    let runs = |text: &str, outcome: &str| {
        sample(
            text,
            &format!(r#"clnrm_test_runs_total{{{suite},outcome="{outcome}"}}"#),
        )
    };
    assert!(test("basic::passes", "run-a").status.success());
    assert!(test("basic::sync_without_ctx", "run-a").status.success());
    assert!(!test("basic::fails_with_message", "run-a").status.success());
    let text = std::fs::read_to_string(&prom).expect("the metrics file");
    promtool_accepts(&text);
    assert_eq!(
        (runs(&text, "pass"), runs(&text, "fail")),
        (2.0, 1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!(r#"clnrm_test_duration_seconds_count{{{suite},outcome="pass"}}"#)
        ),
        2.0
    );
    // The next run starts over.
    assert!(test("basic::passes", "run-b").status.success());
    let text = std::fs::read_to_string(&prom).expect("the metrics file");
    assert_eq!(runs(&text, "pass"), 1.0, "{text}");
    assert_eq!(samples(&text, "clnrm_test_runs_total").len(), 1, "{text}");
}

#[test]
fn clnrm_runs_metrics_file_passes_promtool_and_agrees_with_its_json_report_and_otlp() {
    let dir = ScratchDir::new("metrics-run");
    let suite = dir.write("counted.clnrm.toml", SUITE);
    let prom = format!("{}/clnrm.prom", dir.arg());
    let report = format!("{}/report.json", dir.arg());
    // The same run exports its metrics over OTLP/gRPC to clnrm's receiver on loopback.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let receiver = runtime
        .block_on(clnrm::telemetry::Receiver::start(
            "127.0.0.1".parse().expect("ip"),
        ))
        .expect("the receiver starts");
    let otlp = receiver.endpoint();
    let out = run_bin(
        CLNRM,
        &[
            "run",
            suite.to_str().unwrap(),
            "--metrics-file",
            &prom,
            "--json",
            &report,
        ],
        &[
            ("CLNRM_HISTORY", &format!("{}/history.db", dir.arg())),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", &otlp),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc"),
        ],
    );
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "one scenario fails:\n{said}");
    let text = std::fs::read_to_string(&prom).expect("the metrics file");
    runtime.block_on(receiver.settle(Duration::from_millis(200), Duration::from_secs(3)));
    otlp_agrees_with_the_file(&receiver.metrics(), &text);
    promtool_accepts(&text);
    let report = json(Path::new(&report));
    let summary = &report["summary"];
    let runs = |outcome: &str| {
        sample(
            &text,
            &format!(r#"clnrm_test_runs_total{{suite="counted",outcome="{outcome}"}}"#),
        )
    };
    assert_eq!(runs("pass"), summary["passed"].as_f64().unwrap());
    assert_eq!(runs("fail"), summary["failed"].as_f64().unwrap());
    assert_eq!((runs("pass"), runs("fail")), (1.0, 1.0));
    let by_outcome: BTreeMap<&str, f64> =
        report["tests"]
            .as_array()
            .unwrap()
            .iter()
            .fold(BTreeMap::new(), |mut sums, t| {
                let outcome = match t["outcome"].as_str().unwrap() {
                    "passed" => "pass",
                    "failed" => "fail",
                    other => panic!("unexpected outcome {other}"),
                };
                *sums.entry(outcome).or_default() += t["duration_secs"].as_f64().unwrap();
                sums
            });
    for (outcome, secs) in by_outcome {
        let sum = sample(
            &text,
            &format!(r#"clnrm_test_duration_seconds_sum{{suite="counted",outcome="{outcome}"}}"#),
        );
        assert!(close(sum, secs), "{outcome}: {sum} vs {secs}\n{text}");
    }
    let cache = r#"plugin="redis",service="cache""#;
    assert_eq!(
        sample(
            &text,
            &format!("clnrm_service_start_seconds_count{{{cache}}}")
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            &format!("clnrm_service_health_check_seconds_count{{{cache}}}")
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            r#"clnrm_isolation_wait_seconds_count{plugin="redis",isolation="logical_db"}"#
        ),
        2.0,
        "a logical database per scenario"
    );
}

/// Every counter and histogram count that arrived over OTLP is the file's value of the same
/// series (the OTel name maps to the Prometheus one, the attributes to the labels).
fn otlp_agrees_with_the_file(points: &[clnrm::telemetry::MetricPoint], text: &str) {
    use clnrm::telemetry::PointValue;
    use clnrm::telemetry::metrics::Family;
    assert!(
        points.len() >= 5,
        "runs, durations, start, health, isolation: {points:#?}"
    );
    for point in points {
        let family = Family::ALL
            .into_iter()
            .find(|f| f.otel_name() == point.name)
            .unwrap_or_else(|| panic!("not one of clnrm's metrics: {point:#?}"));
        assert_eq!(point.unit, family.unit(), "{point:#?}");
        let labels = family
            .label_names()
            .iter()
            .map(|l| format!(r#"{l}="{}""#, point.attrs.get(*l).expect("label")))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(point.attrs.len(), family.label_names().len(), "{point:#?}");
        let (series, value) = match &point.value {
            PointValue::Sum { value, .. } => (format!("{}{{{labels}}}", family.name()), *value),
            #[allow(clippy::cast_precision_loss)]
            PointValue::Histogram { count, .. } => (
                format!("{}_count{{{labels}}}", family.name()),
                *count as f64,
            ),
            other => panic!("{other:?}"),
        };
        assert_eq!(value, sample(text, &series), "{series}");
    }
}

#[test]
fn watch_refuses_a_metrics_address_it_cannot_serve() {
    let out = run_bin(CLNRM, &["watch", "--metrics-addr", "localhost"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("invalid value 'localhost' for '--metrics-addr <ADDR>'"),
        "{stderr}"
    );
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = ScratchDir::new("metrics-addr-taken");
    let out = run_bin(CLNRM, &["watch", dir.arg(), "--metrics-addr", &addr], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("--metrics-addr {addr}: cannot listen there")),
        "{stderr}"
    );
}

/// A free port on the loopback interface (free a moment ago).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Debian's `prometheus`, scraping one target every second; killed when dropped.
struct Prometheus {
    child: std::process::Child,
    base: String,
    log: std::path::PathBuf,
}

impl Prometheus {
    fn start(dir: &ScratchDir, target: &str) -> Prometheus {
        let config = dir.write(
            "prometheus.yml",
            &format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - \
                 job_name: clnrm\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        );
        let port = free_port();
        let log = dir.0.join("prometheus.log");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}/data", dir.arg()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).expect("log file"))
            .stderr(std::fs::File::create(dir.0.join("prometheus.err")).expect("log file"))
            .spawn()
            .unwrap_or_else(|e| {
                panic!("prometheus is needed (Debian's package; scripts/setup.sh installs it): {e}")
            });
        Prometheus {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log: dir.0.join("prometheus.err"),
        }
    }

    /// The instant vector of `query`: (labels, value) per series; empty until scraped.
    async fn query(&self, query: &str) -> Option<Vec<(BTreeMap<String, String>, f64)>> {
        let answer: Value = reqwest::Client::new()
            .get(format!("{}/api/v1/query", self.base))
            .query(&[("query", query)])
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        assert_eq!(answer["status"], "success", "{answer:#}");
        let result = answer["data"]["result"].as_array()?;
        Some(
            result
                .iter()
                .map(|r| {
                    let labels = r["metric"]
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                        .collect();
                    let value = r["value"][1].as_str().unwrap().parse().unwrap();
                    (labels, value)
                })
                .collect(),
        )
    }

    /// Waits (at most `timeout`) until `query` gives `want` series, and returns them.
    async fn wait_for(
        &self,
        query: &str,
        want: usize,
        timeout: Duration,
    ) -> Vec<(BTreeMap<String, String>, f64)> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.query(query).await.unwrap_or_default();
            if got.len() == want {
                return got;
            }
            if Instant::now() > deadline {
                panic!(
                    "prometheus gave {got:?} for {query} after {timeout:?}; its log:\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_watch_and_reads_back_the_runs_it_made() {
    let dir = ScratchDir::new("metrics-prometheus");
    dir.write("suites/counted.clnrm.toml", SUITE);
    let suites = format!("{}/suites", dir.arg());
    let history = format!("{}/history.db", dir.arg());
    let mut watch = Spawned::start(
        CLNRM,
        &["watch", &suites, "--metrics-addr", "127.0.0.1:0"],
        &[("CLNRM_HISTORY", &history)],
    );
    let at = watch.wait_for(0, "watch: metrics at http://", Duration::from_secs(30));
    let url = watch.since(at)[0].clone();
    let target = url
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("an address in {url:?}"))
        .to_owned();
    // The first round: one scenario passes, one fails.
    watch.wait_for(at, "1 passed, 1 failed", Duration::from_secs(180));

    let prometheus = Prometheus::start(&dir, &target);
    let timeout = Duration::from_secs(60);
    let runs = prometheus
        .wait_for("clnrm_test_runs_total", 2, timeout)
        .await;
    let mut seen: Vec<(String, f64)> = runs
        .iter()
        .map(|(labels, value)| {
            let keys: Vec<&str> = labels.keys().map(String::as_str).collect();
            assert_eq!(
                keys,
                ["__name__", "instance", "job", "outcome", "suite"],
                "no other label (no run id): {labels:?}"
            );
            assert_eq!(labels["suite"], "counted");
            assert_eq!(labels["instance"], target);
            (labels["outcome"].clone(), *value)
        })
        .collect();
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(seen, [("fail".to_owned(), 1.0), ("pass".to_owned(), 1.0)]);
    let durations = prometheus
        .wait_for("clnrm_test_duration_seconds_count", 2, timeout)
        .await;
    assert!(durations.iter().all(|(_, n)| *n == 1.0), "{durations:?}");
    let starts = prometheus
        .wait_for(
            r#"clnrm_service_start_seconds_count{plugin="redis",service="cache"}"#,
            1,
            timeout,
        )
        .await;
    assert_eq!(starts[0].1, 1.0);
    let waits = prometheus
        .wait_for(
            r#"clnrm_isolation_wait_seconds_count{plugin="redis",isolation="logical_db"}"#,
            1,
            timeout,
        )
        .await;
    assert_eq!(waits[0].1, 2.0);

    // A second round (the suite changed) adds to the counts Prometheus reads.
    let mark = watch.mark();
    dir.write("suites/counted.clnrm.toml", &format!("{SUITE}\n# again\n"));
    watch.wait_for(mark, "1 passed, 1 failed", Duration::from_secs(180));
    let deadline = Instant::now() + timeout;
    loop {
        let total = prometheus
            .query("sum(clnrm_test_runs_total)")
            .await
            .unwrap_or_default();
        if total.first().is_some_and(|(_, n)| *n == 4.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "prometheus never saw 4 runs: {total:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    watch.signal("TERM");
    watch.wait_exit(Duration::from_secs(60));
}
