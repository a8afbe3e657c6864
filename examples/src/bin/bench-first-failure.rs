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

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clnrm::history::{HistoryStore, PLAN_RUNS, SUITES_TARGET};
use clnrm::plan::{Objective, RunOrder, TestHistoryRecord, select_suites};
use clnrm::report::{RunEvent, RunRecord};
use clnrm::suite::{RunOptions, SuiteSpec, discover_suites, load_suite, run_suites};
use clnrm::{Registry, RunConfig};

type Suites = Vec<(PathBuf, SuiteSpec)>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
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

    let mut samples: Vec<(RunOrder, Vec<Option<Duration>>, Vec<Duration>)> = vec![
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
    println!(
        "{:<8} {:>22} {:>12}",
        "order", "time to first failure", "whole run"
    );
    for (order, firsts, totals) in &samples {
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
