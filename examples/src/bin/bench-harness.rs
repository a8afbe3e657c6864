//! Wall time of the shortener's integration tests the usual way (containers per test,
//! `tests/usual_way.rs`) against the clnrm way (services shared per binary, tests isolated
//! inside them, `tests/shortener.rs`): same test bodies, same images.
//!
//! `cargo run --release -p clnrm-examples --bin bench-harness [-- ROUNDS [THREADS]]` (default 3
//! rounds; THREADS, when given, is passed to both binaries as `--test-threads`).
//!
//! Both test binaries are built first (`cargo test --no-run`); each round then executes them
//! directly, alternating which goes first, so compilation and cargo's own start-up are not
//! timed. The clnrm run gets `CLNRM_JSON=<file>`; when the harness writes per-test durations
//! there, the bench prints the lower bound a perfect scheduler could reach:
//! slowest service start + (sum of test *bodies* / test threads), a body being a test's duration
//! less the time it waited for its services and isolation (`setup_wait_secs`): waiting is what a
//! better harness removes, so it is not part of the bound. The file is read as
//!
//! ```json
//! { "test_threads": 2,
//!   "services": [ { "name": "db", "start_ms": 2300.0 } ],
//!   "tests": [ { "name": "shorten_then_resolve_round_trips", "duration_ms": 95.0,
//!                "setup_wait_secs": 0.4 } ] }
//! ```
//!
//! (`*_secs` fields are accepted too). Without that file the lower bound is reported as
//! unavailable, never estimated. With `CLNRM_BENCH_BASELINE=<a shortener test binary built from
//! other sources>`, that binary runs too, as `before`, in the same rounds. From each test's `service_waits` (per service: `start_secs`,
//! waiting for the container, then `isolation_secs`, waiting for the test's own database or
//! logical database in it) the bench prints the median and 95th percentile of the isolation
//! wait per service, over all tests and over the tests that found the container already up.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clnrm_examples::bench::{self, LowerBound, lower_bound, quantile};
use serde_json::Value;

type BoxError = Box<dyn std::error::Error>;

const TARGETS: [&str; 2] = ["usual_way", "shortener"];

/// A built test binary.
struct Binary {
    /// The name printed: the target's, or `before` for [`BASELINE_ENV`].
    name: String,
    executable: PathBuf,
    /// The package directory: `cargo test` runs test binaries there, and clnrm finds
    /// `clnrm.toml` from there up.
    package_dir: PathBuf,
    tests: usize,
    /// A clnrm harness: it writes JSON results (`CLNRM_JSON`).
    clnrm: bool,
}

/// A shortener test binary built from other sources (an earlier commit), benchmarked in the same
/// rounds as `before`, so a change is measured against its baseline on the same machine load.
const BASELINE_ENV: &str = "CLNRM_BENCH_BASELINE";

/// One timed execution.
struct Sample {
    wall: Duration,
    passed: bool,
}

/// What the clnrm runs of one binary reported.
#[derive(Default)]
struct Reported {
    lower_bounds: Vec<LowerBound>,
    lower_bound_missing: Option<String>,
    waits: Vec<IsolationWait>,
}

fn main() -> Result<(), BoxError> {
    let rounds: usize = std::env::args().nth(1).map_or(Ok(3), |a| a.parse())?;
    if rounds == 0 {
        return Err("ROUNDS must be at least 1".into());
    }
    let threads: Option<usize> = std::env::args().nth(2).map(|a| a.parse()).transpose()?;
    if threads == Some(0) {
        return Err("THREADS must be at least 1".into());
    }

    let mut binaries = Vec::new();
    for target in TARGETS {
        eprintln!("building --test {target} ...");
        match build(target) {
            Ok(binary) => binaries.push(binary),
            Err(e) => println!("{target}: not benchmarked, it does not build: {e}"),
        }
    }
    if let Some(baseline) = std::env::var_os(BASELINE_ENV) {
        let shortener = binaries
            .iter()
            .find(|b| b.name == "shortener")
            .ok_or("the shortener must build to compare it with a baseline")?;
        let executable = PathBuf::from(baseline);
        let package_dir = shortener.package_dir.clone();
        binaries.push(Binary {
            name: "before".to_owned(),
            tests: bench::list_tests(&executable, &package_dir, false)?.len(),
            executable,
            package_dir,
            clnrm: true,
        });
    }
    if binaries.is_empty() {
        return Err("no test binary built".into());
    }

    let json_dir = std::env::temp_dir().join(format!("clnrm-bench-harness-{}", std::process::id()));
    std::fs::create_dir_all(&json_dir)?;
    let mut samples: Vec<Vec<Sample>> = binaries.iter().map(|_| Vec::new()).collect();
    let mut reported: Vec<Reported> = binaries.iter().map(|_| Reported::default()).collect();
    for round in 0..rounds {
        // Alternate the order so neither side always runs on a warmer (or busier) machine.
        let mut order: Vec<usize> = (0..binaries.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let binary = &binaries[i];
            let json = json_dir.join(format!("{}-{round}.json", binary.name));
            let sample = run(binary, binary.clnrm.then_some(&json), threads)?;
            eprintln!(
                "round {}/{rounds}: {:<10} {:>8.2} s{}",
                round + 1,
                binary.name,
                sample.wall.as_secs_f64(),
                if sample.passed { "" } else { "  FAILED" }
            );
            if binary.clnrm {
                let reported = &mut reported[i];
                match lower_bound(&json) {
                    Ok(bound) => reported.lower_bounds.push(bound),
                    Err(why) => reported.lower_bound_missing = Some(why),
                }
                reported
                    .waits
                    .extend(isolation_waits(&json).unwrap_or_default());
            }
            samples[i].push(sample);
        }
    }
    let _ = std::fs::remove_dir_all(&json_dir);

    println!();
    println!(
        "wall time of the test binaries, {rounds} round(s), {}, seconds (pre-built, run directly)",
        threads.map_or("default test threads".to_owned(), |t| format!(
            "{t} test threads"
        ))
    );
    println!(
        "{:<10} {:>6} {:>8} {:>8} {:>8}  all rounds",
        "target", "tests", "min", "median", "max"
    );
    let mut medians = Vec::new();
    for (binary, samples) in binaries.iter().zip(&samples) {
        let mut walls: Vec<Duration> = samples.iter().map(|s| s.wall).collect();
        walls.sort();
        let median = walls[walls.len() / 2];
        medians.push((binary.name.as_str(), median));
        let all: Vec<String> = samples
            .iter()
            .map(|s| {
                format!(
                    "{:.2}{}",
                    s.wall.as_secs_f64(),
                    if s.passed { "" } else { " (FAILED)" }
                )
            })
            .collect();
        println!(
            "{:<10} {:>6} {:>8.2} {:>8.2} {:>8.2}  {}",
            binary.name,
            binary.tests,
            walls[0].as_secs_f64(),
            median.as_secs_f64(),
            walls[walls.len() - 1].as_secs_f64(),
            all.join(", ")
        );
    }
    let median_of = |name: &str| medians.iter().find(|(n, _)| *n == name).map(|m| m.1);
    for clnrm in binaries.iter().filter(|b| b.clnrm) {
        match (median_of("usual_way"), median_of(&clnrm.name)) {
            (Some(usual), Some(median)) => println!(
                "ratio usual_way / {} (medians): {:.2}x",
                clnrm.name,
                usual.as_secs_f64() / median.as_secs_f64()
            ),
            _ => println!("ratio: unavailable (both binaries must build)"),
        }
    }
    for (binary, reported) in binaries.iter().zip(&reported).filter(|(b, _)| b.clnrm) {
        println!("{}:", binary.name);
        if let Some(bound) = reported
            .lower_bounds
            .iter()
            .min_by(|a, b| a.total.total_cmp(&b.total))
        {
            println!(
                "  lower bound: slowest service start {:.2} s + test bodies {:.2} s / {} threads = {:.2} s",
                bound.slowest_start, bound.test_sum, bound.threads, bound.total
            );
            if let Some(median) = median_of(&binary.name) {
                println!(
                    "  median vs lower bound: {:.2}x",
                    median.as_secs_f64() / bound.total
                );
            }
        } else {
            println!(
                "  lower bound: unavailable ({})",
                reported
                    .lower_bound_missing
                    .as_deref()
                    .unwrap_or("the binary did not run")
            );
        }
        print_isolation_waits(&reported.waits);
    }
    if samples.iter().flatten().any(|s| !s.passed) {
        return Err("some runs failed; their times are marked (FAILED)".into());
    }
    Ok(())
}

/// Builds `--test target` and counts its tests.
fn build(target: &'static str) -> Result<Binary, BoxError> {
    let built = bench::build_test(target)?;
    let tests = bench::list_tests(&built.executable, &built.package_dir, false)?.len();
    Ok(Binary {
        name: target.to_owned(),
        executable: built.executable,
        package_dir: built.package_dir,
        tests,
        clnrm: target == "shortener",
    })
}

/// Executes a test binary once, as `cargo test` would, and times it.
fn run(
    binary: &Binary,
    json: Option<&PathBuf>,
    threads: Option<usize>,
) -> Result<Sample, BoxError> {
    let mut command = Command::new(&binary.executable);
    if let Some(threads) = threads {
        command.args(["--test-threads", &threads.to_string()]);
    }
    command
        .current_dir(&binary.package_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(json) = json {
        let _ = std::fs::remove_file(json);
        command.env("CLNRM_JSON", json);
    }
    let start = Instant::now();
    let output = command.output()?;
    let wall = start.elapsed();
    let passed = output.status.success();
    if !passed {
        let text = String::from_utf8_lossy(&output.stdout);
        let lines: Vec<&str> = text.lines().collect();
        eprintln!(
            "{} failed ({}); last lines:\n{}\n{}",
            binary.name,
            output.status,
            lines[lines.len().saturating_sub(30)..].join("\n"),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(Sample { wall, passed })
}

/// One test's wait for its namespace in one service.
struct IsolationWait {
    service: String,
    /// Seconds waited for the namespace.
    isolation: f64,
    /// Whether the container was up when the test asked (it waited less than a millisecond).
    service_was_up: bool,
}

/// The isolation part of every test's `service_waits` in the harness's JSON results.
fn isolation_waits(path: &Path) -> Result<Vec<IsolationWait>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let results: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let mut waits = Vec::new();
    for test in results["tests"].as_array().into_iter().flatten() {
        for wait in test["service_waits"].as_array().into_iter().flatten() {
            let (Some(service), Some(start), Some(isolation)) = (
                wait["service"].as_str(),
                wait["start_secs"].as_f64(),
                wait["isolation_secs"].as_f64(),
            ) else {
                return Err(format!("a service wait without its parts: {wait}"));
            };
            waits.push(IsolationWait {
                service: service.to_owned(),
                isolation,
                service_was_up: start < 0.001,
            });
        }
    }
    Ok(waits)
}

/// Median and 95th percentile of the isolation wait per service, in milliseconds.
fn print_isolation_waits(waits: &[IsolationWait]) {
    if waits.is_empty() {
        println!("  isolation waits: unavailable (no `service_waits` in the JSON results)");
        return;
    }
    let mut services: Vec<&str> = waits.iter().map(|w| w.service.as_str()).collect();
    services.sort();
    services.dedup();
    println!("  isolation wait per service, all rounds, ms (p50 / p95 / max, number of tests)");
    for service in services {
        let line = |up_only: bool| {
            let mut values: Vec<f64> = waits
                .iter()
                .filter(|w| w.service == service && (w.service_was_up || !up_only))
                .map(|w| w.isolation * 1000.0)
                .collect();
            if values.is_empty() {
                return "none".to_owned();
            }
            let n = values.len();
            format!(
                "{:.1} / {:.1} / {:.1} (n={n})",
                quantile(&mut values, 0.5),
                quantile(&mut values, 0.95),
                quantile(&mut values, 1.0)
            )
        };
        println!(
            "    {service:<6} all tests: {}; tests that found the container up: {}",
            line(false),
            line(true)
        );
    }
}
