//! How clnrm scales with the number of tests: the same test (a few queries on Postgres and
//! Redis, `tests/generated/`) generated 500 times, run N = 14, 100 and 500 at a time the clnrm
//! way (`tests/scale.rs`: one Postgres and one Redis for the binary, each test in a database and
//! a logical database of its own) and the usual way (`tests/scale_usual.rs`: every test starts
//! its own Postgres and Redis).
//!
//! `cargo run -p clnrm-examples --bin bench-scale [-- THREADS [SAMPLE]]` (default 2 test threads;
//! SAMPLE, default 100, is the most tests the usual way runs: for a larger N it runs the first
//! SAMPLE tests and extrapolates its wall time linearly, which it says. A test of the usual way
//! starts its own two containers, so its cost per test does not depend on N).
//!
//! Printed per N and way: wall time of the test binary (pre-built, run directly, as in
//! `bench-harness`), the ratio usual / clnrm, for clnrm the lower bound (slowest service start +
//! sum of test bodies / threads, from the harness's JSON results) and the ratio to it, and the
//! peak memory of the test process (the largest `VmHWM` read from `/proc` every 50 ms) and of
//! its containers (the largest sum over the run's containers of `docker stats --no-stream`,
//! read in a loop, so about every 1-2 s: short runs get few samples). Runs record into a
//! temporary history (`CLNRM_HISTORY`), so the repository's history is untouched.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clnrm::docker::{Owner, labels};
use clnrm_examples::bench::{self, BuiltTest, lower_bound};

type BoxError = Box<dyn std::error::Error>;

const SIZES: [usize; 3] = [14, 100, 500];
/// The label `tests/usual/` gives its containers: the test process's id.
const USUAL_LABEL: &str = "dev.clnrm.usual-way";

/// One timed run of a test binary.
struct Measured {
    wall: Duration,
    tests: usize,
    process_peak_kib: u64,
    containers_peak_kib: u64,
    stats_samples: u64,
    /// clnrm only: the lower bound from its JSON results, or why there is none.
    lower_bound: Option<Result<f64, String>>,
}

fn main() -> Result<(), BoxError> {
    let threads: usize = std::env::args().nth(1).map_or(Ok(2), |a| a.parse())?;
    let sample: usize = std::env::args().nth(2).map_or(Ok(100), |a| a.parse())?;
    if threads == 0 || sample == 0 {
        return Err("THREADS and SAMPLE must be at least 1".into());
    }
    eprintln!("building --test scale and --test scale_usual ...");
    let clnrm = bench::build_test("scale")?;
    let usual = bench::build_test("scale_usual")?;
    let clnrm_names = bench::list_tests(&clnrm.executable, &clnrm.package_dir, true)?;
    let usual_names = bench::list_tests(&usual.executable, &usual.package_dir, true)?;
    if clnrm_names.len() < 500 || usual_names.len() < 500 {
        return Err(format!(
            "expected 500 generated tests each, found {} and {}",
            clnrm_names.len(),
            usual_names.len()
        )
        .into());
    }
    let scratch = std::env::temp_dir().join(format!("clnrm-bench-scale-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;

    let mut rows = Vec::new();
    for n in SIZES {
        eprintln!("N = {n}: clnrm ...");
        let json = scratch.join(format!("clnrm-{n}.json"));
        let ours = run(&clnrm, &clnrm_names, n, threads, Some(&json), &scratch)?;
        let usual_n = n.min(sample);
        eprintln!("N = {n}: usual way, {usual_n} tests ...");
        let theirs = run(&usual, &usual_names, usual_n, threads, None, &scratch)?;
        rows.push((n, ours, theirs));
    }
    let _ = std::fs::remove_dir_all(&scratch);

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!();
    println!(
        "{threads} test threads; load average at the end: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "{:>4}  {:>9} {:>11} {:>9} {:>10} {:>12}  {:>11} {:>10} {:>12}  {:>7}",
        "N",
        "clnrm s",
        "lower bnd s",
        "vs bound",
        "proc MiB",
        "contain. MiB",
        "usual s",
        "proc MiB",
        "contain. MiB",
        "ratio"
    );
    for (n, ours, theirs) in &rows {
        let bound = match &ours.lower_bound {
            Some(Ok(bound)) => format!("{bound:>11.2} {:>8.2}x", ours.wall.as_secs_f64() / bound),
            Some(Err(why)) => format!("unavailable: {why}"),
            None => "unavailable".to_owned(),
        };
        let usual_wall = theirs.wall.as_secs_f64() * *n as f64 / theirs.tests as f64;
        let extrapolated = if theirs.tests < *n {
            format!(" (extrapolated from {} tests)", theirs.tests)
        } else {
            String::new()
        };
        println!(
            "{n:>4}  {:>9.2} {bound} {:>10.1} {:>12.1}  {:>11.2} {:>10.1} {:>12.1}  {:>6.1}x{extrapolated}",
            ours.wall.as_secs_f64(),
            ours.process_peak_kib as f64 / 1024.0,
            ours.containers_peak_kib as f64 / 1024.0,
            usual_wall,
            theirs.process_peak_kib as f64 / 1024.0,
            theirs.containers_peak_kib as f64 / 1024.0,
            usual_wall / ours.wall.as_secs_f64(),
        );
    }
    println!(
        "container memory: peak of the sum over the run's containers, {} / {} / {} `docker stats` \
         samples (clnrm) and {} / {} / {} (usual) for N = 14 / 100 / 500",
        rows[0].1.stats_samples,
        rows[1].1.stats_samples,
        rows[2].1.stats_samples,
        rows[0].2.stats_samples,
        rows[1].2.stats_samples,
        rows[2].2.stats_samples,
    );
    Ok(())
}

/// Runs the first `n` of `names` in `binary` (`--ignored --exact`, the rest skipped) and
/// measures it.
fn run(
    binary: &BuiltTest,
    names: &[String],
    n: usize,
    threads: usize,
    json: Option<&PathBuf>,
    scratch: &Path,
) -> Result<Measured, BoxError> {
    let mut command = Command::new(&binary.executable);
    command
        .args([
            "--ignored",
            "--exact",
            "--test-threads",
            &threads.to_string(),
        ])
        .current_dir(&binary.package_dir)
        .env("CLNRM_HISTORY", scratch.join("history.db"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for skipped in &names[n..] {
        command.args(["--skip", skipped]);
    }
    if let Some(json) = json {
        let _ = std::fs::remove_file(json);
        command.env("CLNRM_JSON", json);
    }
    let start = Instant::now();
    let child = command.spawn()?;
    let pid = child.id();
    let done = Arc::new(AtomicBool::new(false));
    let containers_peak = Arc::new(AtomicU64::new(0));
    let stats_samples = Arc::new(AtomicU64::new(0));
    let watcher = {
        let (done, peak, samples) = (
            Arc::clone(&done),
            Arc::clone(&containers_peak),
            Arc::clone(&stats_samples),
        );
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if let Some(kib) = containers_memory_kib(pid) {
                    peak.fetch_max(kib, Ordering::Relaxed);
                    samples.fetch_add(1, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let mut process_peak_kib = 0;
    let status_path = format!("/proc/{pid}/status");
    let output = {
        let waiter = std::thread::spawn(move || child.wait_with_output());
        while !waiter.is_finished() {
            if let Some(kib) = vm_hwm_kib(&status_path) {
                process_peak_kib = process_peak_kib.max(kib);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        waiter.join().map_err(|_| "the waiting thread panicked")??
    };
    let wall = start.elapsed();
    done.store(true, Ordering::Relaxed);
    let _ = watcher.join();
    if !output.status.success() {
        let text = String::from_utf8_lossy(&output.stdout);
        let lines: Vec<&str> = text.lines().collect();
        return Err(format!(
            "{} with {n} tests failed ({}); last lines:\n{}\n{}",
            binary.executable.display(),
            output.status,
            lines[lines.len().saturating_sub(30)..].join("\n"),
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let summary = format!("{n} passed; 0 failed");
    if !String::from_utf8_lossy(&output.stdout).contains(&summary) {
        return Err(format!("the run of {n} tests did not say `{summary}`").into());
    }
    Ok(Measured {
        wall,
        tests: n,
        process_peak_kib,
        containers_peak_kib: containers_peak.load(Ordering::Relaxed),
        stats_samples: stats_samples.load(Ordering::Relaxed),
        lower_bound: json.map(|json| lower_bound(json).map(|b| b.total)),
    })
}

/// The process's peak resident set so far (`VmHWM`), in KiB.
fn vm_hwm_kib(status_path: &str) -> Option<u64> {
    std::fs::read_to_string(status_path)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// The memory in use by the containers of test process `pid` (clnrm's, labelled with it as
/// owner; the usual way's, labelled [`USUAL_LABEL`]), summed, in KiB; `None` when it has none.
fn containers_memory_kib(pid: u32) -> Option<u64> {
    let listed = Command::new("docker")
        .args([
            "ps",
            "--no-trunc",
            "--format",
            &format!(
                "{{{{.ID}}}} {{{{.Label \"{}\"}}}} {{{{.Label \"{USUAL_LABEL}\"}}}}",
                labels::OWNER
            ),
        ])
        .output()
        .ok()?;
    let ids: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let id = parts.next()?;
            let ours = parts.any(|label| {
                label == pid.to_string() || Owner::parse(label).is_some_and(|o| o.pid == pid)
            });
            ours.then(|| id.to_owned())
        })
        .collect();
    if ids.is_empty() {
        return None;
    }
    let stats = Command::new("docker")
        .args(["stats", "--no-stream", "--format", "{{.MemUsage}}"])
        .args(&ids)
        .output()
        .ok()?;
    let total: u64 = String::from_utf8_lossy(&stats.stdout)
        .lines()
        .filter_map(|l| parse_size_kib(l.split('/').next()?.trim()))
        .sum();
    Some(total)
}

/// `12.5MiB`, `1.2GiB`, `800KiB`, `512B` in KiB.
fn parse_size_kib(text: &str) -> Option<u64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.trim().parse().ok()?;
    let factor = match unit {
        "B" => 1.0 / 1024.0,
        "KiB" | "kB" => 1.0,
        "MiB" | "MB" => 1024.0,
        "GiB" | "GB" => 1024.0 * 1024.0,
        _ => return None,
    };
    Some((number * factor) as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_size_kib;

    #[test]
    fn docker_stats_sizes_are_read_in_kib() {
        assert_eq!(parse_size_kib("12.5MiB"), Some(12800));
        assert_eq!(parse_size_kib("1GiB"), Some(1024 * 1024));
        assert_eq!(parse_size_kib("800KiB"), Some(800));
        assert_eq!(parse_size_kib("n/a"), None);
    }
}
