//! `clnrm run [PATH...]`

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;
use clnrm::history::{PLAN_RUNS, SUITES_TARGET};
use clnrm::plan::{Objective, Partition, RunOrder};
use clnrm::report::{RunEvent, RunRecord};
use clnrm::suite::{
    RunOptions, SuiteSpec, load_suite, run_suites, select_loaded_suites, suites_changed_since_green,
};

use crate::CliError;
use crate::reporter::{ProgressMode, Reporter};

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Suite files, or directories searched for `*.clnrm.toml` (default: the current directory).
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Suites running at once.
    #[arg(long, short = 'j', default_value_t = 2, value_name = "N")]
    jobs: usize,
    /// Start no further suite after the first failure.
    #[arg(long)]
    fail_fast: bool,
    /// Write the results as JSON to this file.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Write the results as JUnit XML to this file.
    #[arg(long, value_name = "PATH")]
    junit: Option<PathBuf>,
    /// Write the run's metrics to this file at exit, in the Prometheus text format (for
    /// node_exporter's textfile collector: name it `*.prom`).
    #[arg(long, value_name = "PATH")]
    metrics_file: Option<PathBuf>,
    /// Run only shard K of N: suites split by the time the history predicts (by count without
    /// history); the same history gives the same shards.
    #[arg(long, value_name = "K/N")]
    partition: Option<Partition>,
    /// `planned`: suites likely to fail first, then the shortest (from the history); `file`:
    /// the order given.
    #[arg(long, value_name = "ORDER", default_value_t = RunOrder::Planned)]
    order: RunOrder,
    /// What the planned order serves: `time` (the shortest wait for the first failure: chance
    /// to fail per expected second), `failures` (likeliest failures first, whatever they cost)
    /// or `balanced`.
    #[arg(long, value_name = "OBJECTIVE", default_value_t = Objective::Time)]
    objective: Objective,
    /// Show a live status area (running suites, counts, elapsed) redrawn in place on stderr.
    #[arg(long, value_enum, default_value_t, value_name = "WHEN")]
    progress: ProgressMode,
}

pub(crate) async fn run(args: RunArgs) -> Result<(), CliError> {
    let suites = load_all(&args.paths)?;
    // Suites in the planner's order (or as given), only shard K of N of them; scenarios keep
    // their order inside a suite, which may depend on it.
    let records = clnrm::history::HistoryStore::open(&history_path())
        .and_then(|store| store.plan_records(SUITES_TARGET, PLAN_RUNS))
        .unwrap_or_default();
    // A suite whose file changed since its last green run (git) counts as more likely to fail.
    let changed = if args.order == RunOrder::Planned {
        suites_changed_since_green(&suites, &records)
    } else {
        Vec::new()
    };
    let total = suites.len();
    let (suites, selection) = select_loaded_suites(
        suites,
        &changed,
        &records,
        args.order,
        args.objective,
        args.partition,
        args.jobs,
    )
    .map_err(clnrm::Error::from)?;
    if let Some(partition) = args.partition {
        println!(
            "shard {partition}: {} of {total} suite(s)",
            selection.run.len()
        );
    }
    let options = RunOptions {
        jobs: args.jobs,
        fail_fast: args.fail_fast,
    };
    let record = execute(suites, &options, args.progress).await?;
    append_history(&record);
    if let Some(path) = &args.json {
        clnrm::report::write_json(path, &record)?;
    }
    if let Some(path) = &args.junit {
        clnrm::report::write_junit(path, &record)?;
    }
    if let Some(path) = &args.metrics_file {
        let metrics = clnrm::telemetry::metrics::global().snapshot();
        clnrm::telemetry::metrics::write_metrics_file(path, &metrics, None)?;
    }

    println!("{}", summary_line(&record));
    verdict(&record)
}

/// The exit of a finished run: interrupted (130 / 143), tests failed (1), services did not start
/// (3), or success.
pub(crate) fn verdict(record: &RunRecord) -> Result<(), CliError> {
    let s = record.summary();
    if let Some(signal) = clnrm::interrupt::signal() {
        Err(CliError::Interrupted(signal))
    } else if s.failed + s.timed_out > 0 {
        Err(CliError::TestsFailed(format!(
            "{} test(s) failed",
            s.failed + s.timed_out
        )))
    } else if s.infra_error > 0 {
        Err(CliError::Environment(format!(
            "{} test(s) could not run: their services did not start or stopped running",
            s.infra_error
        )))
    } else {
        Ok(())
    }
}

/// Discovers and loads every suite under `paths` (the current directory when empty); any
/// invalid suite prints its diagnostics and fails the command (exit 2) before anything runs.
pub(crate) fn load_all(paths: &[PathBuf]) -> Result<Vec<(PathBuf, SuiteSpec)>, CliError> {
    let paths = if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths.to_vec()
    };
    let files = discover_printing_warnings(&paths)?;
    if files.is_empty() {
        return Err(CliError::Invalid(format!(
            "no `*{}` suite under {}",
            clnrm::suite::SUITE_EXTENSION,
            super::validate::join_paths(&paths)
        )));
    }
    let registry = super::marketplace::registry();
    let known = registry.names();
    let mut suites = Vec::new();
    let mut invalid = 0;
    for file in &files {
        match load_printing_problems(file, &known) {
            Some(spec) => suites.push((file.clone(), spec)),
            None => invalid += 1,
        }
    }
    if invalid > 0 {
        return Err(CliError::Invalid(format!(
            "{invalid} of {} suite(s) have errors; nothing was run",
            files.len()
        )));
    }
    Ok(suites)
}

/// The suite files under `paths`, printing what discovery passed over (FIFOs, link loops).
pub(crate) fn discover_printing_warnings(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    let found = clnrm::suite::discover(paths).map_err(clnrm::Error::from)?;
    for warning in &found.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(found.files)
}

/// Loads one suite file, printing its warnings, or its diagnostics when it has errors (`None`).
pub(crate) fn load_printing_problems(file: &Path, known: &[&str]) -> Option<SuiteSpec> {
    match load_suite(file, known) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("{w}");
            }
            Some(loaded.spec)
        }
        Err(e) => {
            eprintln!("{e}");
            for d in e.diagnostics() {
                eprintln!("{d}");
            }
            None
        }
    }
}

/// Prints a finished scenario as its plain result line (for callers without a live area).
pub(crate) fn print_event(event: &RunEvent<'_>) {
    if let RunEvent::ScenarioFinished(record) = event {
        println!("{}", crate::progress::result_line(record));
    }
}

/// Runs loaded suites with the configuration of the current directory, printing results as they
/// come (live status area per `progress`).
pub(crate) async fn execute(
    suites: Vec<(PathBuf, SuiteSpec)>,
    options: &RunOptions,
    progress: ProgressMode,
) -> Result<RunRecord, CliError> {
    let config = clnrm::RunConfig::from_env()?;
    let scenarios = suites.iter().map(|(_, spec)| spec.scenarios.len()).sum();
    let reporter = Reporter::new(progress, suites.len(), scenarios);
    let on_event = |event: &RunEvent<'_>| reporter.event(event);
    let run = run_suites(suites, config, options, &on_event);
    Ok(reporter.drive(run).await?)
}

/// The history file of runs started here (`CLNRM_HISTORY`, else under `target/`).
pub(crate) fn history_path() -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    clnrm::history::default_history_path(&cwd, |k| std::env::var(k).ok())
}

/// Appends `record` to the history; a failure is a warning, the results stand.
pub(crate) fn append_history(record: &RunRecord) {
    if let Err(e) =
        clnrm::history::HistoryStore::open(&history_path()).and_then(|store| store.append(record))
    {
        eprintln!("warning: results not recorded in the history: {e:?}");
    }
}

/// `3 passed, 1 failed, 1 flaky (12.3 s)`.
pub(crate) fn summary_line(record: &RunRecord) -> String {
    let s = record.summary();
    let mut line = format!(
        "{} passed, {} failed",
        s.passed + s.flaky,
        s.failed + s.timed_out
    );
    for (count, what) in [
        (s.flaky, "flaky"),
        (s.infra_error, "infrastructure error(s)"),
        (s.ignored, "not run"),
        (s.interrupted, "interrupted"),
    ] {
        if count > 0 {
            let _ = write!(line, ", {count} {what}");
        }
    }
    let _ = write!(line, " ({:.1} s)", record.duration.as_secs_f64());
    line
}
