//! Time from the start of a run to its first reported failure: the planner's order against file
//! order, on the example suites (`examples/suites`) plus one suite that fails on purpose
//! (`examples/bench/seeded-failure.clnrm.toml`, discovered last).
//!
//! `cargo run --release -p clnrm-examples --bin bench-first-failure [-- RUNS [JOBS]]` (default
//! 3 runs, 1 suite at a time), from the repository root (its `clnrm.toml` maps the images).
//!
//! One warm-up run in file order records the failure in a fresh history (a temporary
//! directory); then each measured run alternates file and planned order, both through
//! `clnrm::plan::select_suites` and `clnrm::suite::run_suites`, as `clnrm run --order` does.
//! Measured runs are not recorded, so every planned run sees the same history.
//!
//! `cargo run --release -p clnrm-examples --bin bench-first-failure -- harness [RUNS [THREADS]]`
//! (default 3 runs, 2 test threads) does the same for a `cargo test` target: the shortener's
//! `#[clnrm::test]`s (`tests/shortener.rs`) with its one seeded failure, declared last and
//! ignored in normal runs, included here (`--include-ignored`). The binary is built first and
//! executed directly, as `cargo test` would; the warm-up run in file order records the failure
//! in a fresh history (`CLNRM_HISTORY`), and every measured run gets its own copy of that
//! history, so each planned run sees the same one. The first failure is the first
//! `test NAME ... FAILED` line on the binary's standard output; the LLM advisor is off
//! (`CLNRM_AI_URL` empty), so the order is the planner's alone.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clnrm::history::{HistoryStore, PLAN_RUNS, SUITES_TARGET};
use clnrm::plan::{Objective, RunOrder, TestHistoryRecord, select_suites};
use clnrm::report::{RunEvent, RunRecord};
use clnrm::suite::{RunOptions, SuiteSpec, discover_suites, load_suite, run_suites};
use clnrm::{Registry, RunConfig};
use clnrm_examples::bench::{BuiltTest, build_test, list_tests};

type Suites = Vec<(PathBuf, SuiteSpec)>;
/// Per order: each run's time to the first failure (if any) and its whole time.
type Samples = Vec<(RunOrder, Vec<Option<Duration>>, Vec<Duration>)>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("harness") {
        args.next();
        let runs: usize = args.next().map_or(Ok(3), |a| a.parse())?;
        let threads: usize = args.next().map_or(Ok(2), |a| a.parse())?;
        return harness(runs.max(1), threads.max(1));
    }
    let runs: usize = args.next().map_or(Ok(3), |a| a.parse())?;
    let jobs: usize = args.next().map_or(Ok(1), |a| a.parse())?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = discover_suites(&[root.join("suites"), root.join("bench")])?;
    let registry = Registry::builtin();
    let known = registry.names();
    let mut suites: Suites = Vec::new();
    for file in files {
        let loaded = load_suite(&file, &known)?;
        suites.push((file, loaded.spec));
    }
    let names: Vec<String> = suites
        .iter()
        .map(|(_, s)| s.name.get_ref().clone())
        .collect();
    println!("suites in file order: {}", names.join(", "));

    let dir =
        std::env::temp_dir().join(format!("clnrm-bench-first-failure-{}", std::process::id()));
    let store = HistoryStore::open(&dir.join("history.db"))?;
    let options = RunOptions {
        jobs,
        fail_fast: false,
    };
    let (warm, first, _) =
        timed_run(ordered(&suites, &[], RunOrder::File, jobs)?, &options).await?;
    store.append(&warm)?;
    println!(
        "warm-up (file order): {} scenario(s), {} failed, first failure after {}",
        warm.tests.len(),
        warm.summary().failed + warm.summary().timed_out,
        fmt(first)
    );
    let history = store.plan_records(SUITES_TARGET, PLAN_RUNS)?;

    let mut samples: Samples = vec![
        (RunOrder::File, Vec::new(), Vec::new()),
        (RunOrder::Planned, Vec::new(), Vec::new()),
    ];
    for run in 1..=runs {
        for (order, firsts, totals) in &mut samples {
            let plan = ordered(&suites, &history, *order, jobs)?;
            let sequence: Vec<String> =
                plan.iter().map(|(_, s)| s.name.get_ref().clone()).collect();
            let (_, first, total) = timed_run(plan, &options).await?;
            println!(
                "run {run} {order:>7}: first failure {:>8}, all done {:>8}  ({})",
                fmt(first),
                fmt(Some(total)),
                sequence.join(", ")
            );
            firsts.push(first);
            totals.push(total);
        }
    }
    println!();
    println!("median of {runs} run(s), {jobs} suite(s) at a time");
    summary(&samples, runs);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// The suites in `order` from `history`.
fn ordered(
    suites: &Suites,
    history: &[TestHistoryRecord],
    order: RunOrder,
    jobs: usize,
) -> Result<Suites, clnrm::plan::PlanError> {
    let names: Vec<&str> = suites
        .iter()
        .map(|(_, s)| s.name.get_ref().as_str())
        .collect();
    let selection = select_suites(&names, history, order, Objective::default(), None, jobs)?;
    Ok(selection.run.iter().map(|&i| suites[i].clone()).collect())
}

/// Runs `suites`; the record, when the first failure was reported, and the whole time.
async fn timed_run(
    suites: Suites,
    options: &RunOptions,
) -> Result<(RunRecord, Option<Duration>, Duration), clnrm::Error> {
    let first: Mutex<Option<Duration>> = Mutex::new(None);
    let t0 = Instant::now();
    let record = run_suites(suites, RunConfig::from_env()?, options, &|event| {
        if let RunEvent::ScenarioFinished(r) = event
            && r.outcome.is_failure()
        {
            let mut first = first.lock().unwrap_or_else(|p| p.into_inner());
            first.get_or_insert(t0.elapsed());
        }
    })
    .await?;
    let total = t0.elapsed();
    let first = *first.lock().unwrap_or_else(|p| p.into_inner());
    Ok((record, first, total))
}

/// The `harness` mode: time to first failure of a `cargo test` target, file vs planned order.
fn harness(runs: usize, threads: usize) -> Result<(), Box<dyn std::error::Error>> {
    let target = "shortener";
    let binary = build_test(target)?;
    let tests = list_tests(&binary.executable, &binary.package_dir, false)?.len()
        + list_tests(&binary.executable, &binary.package_dir, true)?.len();
    let dir = std::env::temp_dir().join(format!(
        "clnrm-bench-first-failure-harness-{}",
        std::process::id()
    ));
    let warm = dir.join("warm").join("history.db");
    std::fs::create_dir_all(warm.parent().expect("a parent"))?;
    let first_run = timed_test_run(&binary, &warm, RunOrder::File, threads)?;
    println!("target {target} ({tests} tests with the seeded failure, {threads} test threads)");
    println!(
        "warm-up (file order): {} failed, first failure after {}, all done {}",
        first_run.failed,
        fmt(first_run.first),
        fmt(Some(first_run.total))
    );
    if first_run.failed == 0 {
        return Err("the warm-up run had no failure: the seeded test did not run".into());
    }
    let mut samples: Samples = vec![
        (RunOrder::File, Vec::new(), Vec::new()),
        (RunOrder::Planned, Vec::new(), Vec::new()),
    ];
    for run in 1..=runs {
        for (order, firsts, totals) in &mut samples {
            let history = dir.join(format!("run-{run}-{order}")).join("history.db");
            copy_history(&warm, &history)?;
            let sample = timed_test_run(&binary, &history, *order, threads)?;
            println!(
                "run {run} {order:>7}: first failure {:>8}, all done {:>8}, first to fail: {}",
                fmt(sample.first),
                fmt(Some(sample.total)),
                sample.first_failed.as_deref().unwrap_or("none")
            );
            firsts.push(sample.first);
            totals.push(sample.total);
        }
    }
    println!();
    println!("median of {runs} run(s), {threads} test thread(s)");
    summary(&samples, runs);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// One execution of a test binary.
struct TestRunSample {
    /// When the first `... FAILED` line came.
    first: Option<Duration>,
    /// The test it named.
    first_failed: Option<String>,
    /// Failed tests.
    failed: usize,
    /// Until the process exited.
    total: Duration,
}

/// Runs `binary` with the ignored tests included, in `order`, on the history at `history`.
fn timed_test_run(
    binary: &BuiltTest,
    history: &Path,
    order: RunOrder,
    threads: usize,
) -> Result<TestRunSample, Box<dyn std::error::Error>> {
    let mut command = std::process::Command::new(&binary.executable);
    command
        .current_dir(&binary.package_dir)
        .args(["--include-ignored", "--test-threads", &threads.to_string()])
        .env("CLNRM_HISTORY", history)
        .env("CLNRM_ORDER", order.to_string())
        .env("CLNRM_AI_URL", "")
        .env_remove("CLNRM_JSON")
        .env_remove("CLNRM_JUNIT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let t0 = Instant::now();
    let mut child = command.spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (mut first, mut first_failed, mut failed) = (None, None, 0);
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        if let Some(name) = line
            .strip_prefix("test ")
            .and_then(|l| l.strip_suffix(" ... FAILED"))
        {
            failed += 1;
            if first.is_none() {
                first = Some(t0.elapsed());
                first_failed = Some(name.trim_end().to_owned());
            }
        }
    }
    let status = child.wait()?;
    let total = t0.elapsed();
    if status.success() != (failed == 0) {
        return Err(format!("{status} with {failed} failed test line(s)").into());
    }
    Ok(TestRunSample {
        first,
        first_failed,
        failed,
        total,
    })
}

/// Copies a history database (and SQLite's side files, when there are any) to `to`.
fn copy_history(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to.parent().expect("a parent"))?;
    std::fs::copy(from, to)?;
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", from.display()));
        if side.exists() {
            std::fs::copy(&side, format!("{}{suffix}", to.display()))?;
        }
    }
    Ok(())
}

/// The median table of both orders.
fn summary(samples: &Samples, runs: usize) {
    println!(
        "{:<8} {:>22} {:>12}",
        "order", "time to first failure", "whole run"
    );
    for (order, firsts, totals) in samples {
        let mut firsts: Vec<Duration> = firsts.iter().flatten().copied().collect();
        let missing = runs - firsts.len();
        let mut totals = totals.clone();
        println!(
            "{:<8} {:>22} {:>12}{}",
            order.to_string(),
            fmt(median(&mut firsts)),
            fmt(median(&mut totals)),
            if missing > 0 {
                format!("  ({missing} run(s) without a failure)")
            } else {
                String::new()
            }
        );
    }
}

fn median(values: &mut [Duration]) -> Option<Duration> {
    values.sort();
    match values.len() {
        0 => None,
        n if n % 2 == 1 => Some(values[n / 2]),
        n => Some((values[n / 2 - 1] + values[n / 2]) / 2),
    }
}

fn fmt(d: Option<Duration>) -> String {
    match d {
        Some(d) => format!("{:.2} s", d.as_secs_f64()),
        None => "none".to_owned(),
    }
}
