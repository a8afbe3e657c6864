//! Wall time of the shortener's integration tests the usual way (containers per test,
//! `tests/usual_way.rs`) against the clnrm way (services shared per binary, tests isolated
//! inside them, `tests/shortener.rs`): same test bodies, same images.
//!
//! `cargo run --release -p clnrm-examples --bin bench-harness [-- ROUNDS]` (default 3 rounds).
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
//! unavailable, never estimated.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

type BoxError = Box<dyn std::error::Error>;

const TARGETS: [&str; 2] = ["usual_way", "shortener"];

/// A built test binary.
struct Binary {
    target: &'static str,
    executable: PathBuf,
    /// The package directory: `cargo test` runs test binaries there, and clnrm finds
    /// `clnrm.toml` from there up.
    package_dir: PathBuf,
    tests: usize,
}

/// One timed execution.
struct Sample {
    wall: Duration,
    passed: bool,
}

fn main() -> Result<(), BoxError> {
    let rounds: usize = std::env::args().nth(1).map_or(Ok(3), |a| a.parse())?;
    if rounds == 0 {
        return Err("ROUNDS must be at least 1".into());
    }

    let mut binaries = Vec::new();
    for target in TARGETS {
        eprintln!("building --test {target} ...");
        match build(target) {
            Ok(binary) => binaries.push(binary),
            Err(e) => println!("{target}: not benchmarked, it does not build: {e}"),
        }
    }
    if binaries.is_empty() {
        return Err("no test binary built".into());
    }

    let json_dir = std::env::temp_dir().join(format!("clnrm-bench-harness-{}", std::process::id()));
    std::fs::create_dir_all(&json_dir)?;
    let mut samples: Vec<Vec<Sample>> = binaries.iter().map(|_| Vec::new()).collect();
    let mut lower_bounds = Vec::new();
    let mut lower_bound_missing = None;
    for round in 0..rounds {
        // Alternate the order so neither side always runs on a warmer (or busier) machine.
        let mut order: Vec<usize> = (0..binaries.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let binary = &binaries[i];
            let json = json_dir.join(format!("{}-{round}.json", binary.target));
            let sample = run(binary, (binary.target == "shortener").then_some(&json))?;
            eprintln!(
                "round {}/{rounds}: {:<10} {:>8.2} s{}",
                round + 1,
                binary.target,
                sample.wall.as_secs_f64(),
                if sample.passed { "" } else { "  FAILED" }
            );
            if binary.target == "shortener" {
                match lower_bound(&json) {
                    Ok(bound) => lower_bounds.push(bound),
                    Err(why) => lower_bound_missing = Some(why),
                }
            }
            samples[i].push(sample);
        }
    }
    let _ = std::fs::remove_dir_all(&json_dir);

    println!();
    println!(
        "wall time of the test binaries, {rounds} round(s), seconds (pre-built, run directly)"
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
        medians.push((binary.target, median));
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
            binary.target,
            binary.tests,
            walls[0].as_secs_f64(),
            median.as_secs_f64(),
            walls[walls.len() - 1].as_secs_f64(),
            all.join(", ")
        );
    }
    let median_of = |target| medians.iter().find(|(t, _)| *t == target).map(|m| m.1);
    match (median_of("usual_way"), median_of("shortener")) {
        (Some(usual), Some(clnrm)) => println!(
            "ratio usual_way / shortener (medians): {:.2}x",
            usual.as_secs_f64() / clnrm.as_secs_f64()
        ),
        _ => println!("ratio: unavailable (both binaries must build)"),
    }
    if let Some(bound) = lower_bounds
        .iter()
        .min_by(|a, b| a.total.total_cmp(&b.total))
    {
        println!(
            "lower bound for shortener: slowest service start {:.2} s + test bodies {:.2} s / {} threads = {:.2} s",
            bound.slowest_start, bound.test_sum, bound.threads, bound.total
        );
        if let Some(clnrm) = median_of("shortener") {
            println!(
                "shortener median vs lower bound: {:.2}x",
                clnrm.as_secs_f64() / bound.total
            );
        }
    } else {
        println!(
            "lower bound for shortener: unavailable ({})",
            lower_bound_missing
                .as_deref()
                .unwrap_or("the shortener binary did not run")
        );
    }
    if samples.iter().flatten().any(|s| !s.passed) {
        return Err("some runs failed; their times are marked (FAILED)".into());
    }
    Ok(())
}

/// Builds `--test target` and finds its executable in cargo's JSON messages.
fn build(target: &'static str) -> Result<Binary, BoxError> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["test", "-p", "clnrm-examples", "--test", target, "--no-run"])
        .arg("--message-format=json")
        .output()?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first: Vec<&str> = stderr.lines().take(12).collect();
        return Err(format!(
            "cargo test --no-run exited with {}; first lines:\n{}",
            output.status,
            first.join("\n")
        )
        .into());
    }
    for line in String::from_utf8(output.stdout)?.lines() {
        let Ok(message) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if message["reason"] == "compiler-artifact"
            && message["target"]["name"] == target
            && message["profile"]["test"] == true
            && let (Some(executable), Some(manifest)) = (
                message["executable"].as_str(),
                message["manifest_path"].as_str(),
            )
        {
            let executable = PathBuf::from(executable);
            let package_dir = Path::new(manifest)
                .parent()
                .ok_or("manifest path has no parent")?
                .to_owned();
            let tests = count_tests(&executable, &package_dir)?;
            return Ok(Binary {
                target,
                executable,
                package_dir,
                tests,
            });
        }
    }
    Err(format!("cargo reported no executable for --test {target}").into())
}

/// Counts the binary's tests through the standard `--list` flag (`name: test` lines).
fn count_tests(executable: &Path, package_dir: &Path) -> Result<usize, BoxError> {
    let output = Command::new(executable)
        .arg("--list")
        .current_dir(package_dir)
        .stderr(Stdio::null())
        .output()?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| l.ends_with(": test"))
        .count())
}

/// Executes a test binary once, as `cargo test` would, and times it.
fn run(binary: &Binary, json: Option<&PathBuf>) -> Result<Sample, BoxError> {
    let mut command = Command::new(&binary.executable);
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
            binary.target,
            output.status,
            lines[lines.len().saturating_sub(30)..].join("\n"),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(Sample { wall, passed })
}

/// The lower bound of one clnrm run, in seconds.
struct LowerBound {
    slowest_start: f64,
    test_sum: f64,
    threads: usize,
    total: f64,
}

/// Reads the harness's JSON results; `Err` says why no lower bound can be given.
fn lower_bound(path: &Path) -> Result<LowerBound, String> {
    let text = std::fs::read_to_string(path).map_err(|_| {
        format!(
            "the harness wrote no JSON results to CLNRM_JSON={}",
            path.display()
        )
    })?;
    let results: Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
    let tests = results["tests"]
        .as_array()
        .filter(|t| !t.is_empty())
        .ok_or("the JSON results list no `tests`")?;
    let test_sum = tests
        .iter()
        .map(|t| {
            let duration =
                seconds(t, "duration").ok_or("a test has no `duration_ms`/`duration_secs`")?;
            let wait = seconds(t, "setup_wait")
                .ok_or("a test has no `setup_wait_secs`: its body cannot be told from its wait")?;
            Ok((duration - wait).max(0.0))
        })
        .sum::<Result<f64, &str>>()?;
    let services = results["services"]
        .as_array()
        .filter(|s| !s.is_empty())
        .ok_or("the JSON results list no `services` with start times")?;
    let slowest_start = services
        .iter()
        .map(|s| seconds(s, "start").ok_or("a service has no `start_ms`/`start_secs`"))
        .collect::<Result<Vec<f64>, _>>()?
        .into_iter()
        .fold(0.0, f64::max);
    let threads = results["test_threads"]
        .as_u64()
        .map(|t| t as usize)
        .or_else(|| std::env::var("RUST_TEST_THREADS").ok()?.parse().ok())
        .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
        .unwrap_or(1)
        .max(1);
    Ok(LowerBound {
        slowest_start,
        test_sum,
        threads,
        total: slowest_start + test_sum / threads as f64,
    })
}

/// `{prefix}_ms` or `{prefix}_secs` of a JSON object, in seconds.
fn seconds(object: &Value, prefix: &str) -> Option<f64> {
    object[format!("{prefix}_ms")]
        .as_f64()
        .map(|ms| ms / 1000.0)
        .or_else(|| object[format!("{prefix}_secs")].as_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_bound_is_slowest_start_plus_test_bodies_per_thread() {
        let path = std::env::temp_dir().join(format!("bench-harness-{}.json", std::process::id()));
        std::fs::write(
            &path,
            r#"{ "test_threads": 2,
                 "services": [ { "name": "db", "start_ms": 2000 }, { "name": "cache", "start_secs": 0.5 } ],
                 "tests": [ { "name": "a", "duration_ms": 500, "setup_wait_secs": 0.2 },
                            { "name": "b", "duration_secs": 0.1, "setup_wait_ms": 0 } ] }"#,
        )
        .unwrap();
        let bound = lower_bound(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(bound.threads, 2);
        assert!((bound.slowest_start - 2.0).abs() < 1e-9);
        assert!((bound.test_sum - 0.4).abs() < 1e-9);
        assert!((bound.total - 2.2).abs() < 1e-9);
    }

    #[test]
    fn missing_results_leave_the_lower_bound_unavailable() {
        let why = lower_bound(Path::new("/nonexistent/clnrm.json"))
            .err()
            .unwrap();
        assert!(why.contains("wrote no JSON results"), "{why}");
    }
}
