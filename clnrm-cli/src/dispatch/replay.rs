//! `clnrm replay FILE.csv [--config JSON] [--timing]`: scores the planner on a public CI history
//! (`clnrm::plan::replay`) and prints one row per metric, one column per strategy.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use clnrm::plan::PlannerConfig;
use clnrm::plan::replay::{
    PlannerTiming, ReplayReport, Strategy, StrategyScores, load_retecs_csv, replay, time_planner,
};

use crate::CliError;

/// Size of the synthetic input `--timing` plans.
const TIMING_TESTS: usize = 10_000;
const TIMING_HISTORY_ROWS: usize = 100_000;
/// Runs `--timing` takes the median of.
const TIMING_RUNS: usize = 5;

#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    /// A CI history in the RETECS CSV format:
    /// `Id;Name;BuildId;Duration;CalcPrio;LastRun;Verdict;Cycle;LastResults` (BuildId optional).
    #[arg(value_name = "FILE.csv")]
    file: PathBuf,
    /// Planner constants as a JSON object, e.g. '{"recency_half_life_runs": 3}'; fields left
    /// out keep their defaults.
    #[arg(long, value_name = "JSON")]
    config: Option<String>,
    /// Also time the planner on a synthetic input of 10 000 tests and 100 000 history rows.
    #[arg(long)]
    timing: bool,
}

type Metric = fn(&StrategyScores) -> f64;

const METRICS: [(&str, Metric); 3] = [
    ("APFD", |s| s.apfd),
    ("APFDc", |s| s.apfdc),
    ("NAPFD@50%", |s| s.napfd_half_budget),
];

pub(crate) fn run(args: ReplayArgs) -> Result<(), CliError> {
    let config = match &args.config {
        Some(json) => PlannerConfig::parse_json(json).map_err(clnrm::Error::from)?,
        None => PlannerConfig::default(),
    };
    let started = Instant::now();
    let report = load_retecs_csv(&args.file)
        .and_then(|rows| replay(&rows, &config))
        .map_err(clnrm::Error::from)?;
    let replay_secs = started.elapsed().as_secs_f64();

    let mut out = io::stdout().lock();
    if !written(write_table(&mut out, &args.file, &report, replay_secs))? {
        return Ok(());
    }
    if args.timing {
        let timing = time_planner(TIMING_TESTS, TIMING_HISTORY_ROWS, TIMING_RUNS)
            .map_err(clnrm::Error::from)?;
        written(write_timing(&mut out, &timing))?;
    }
    Ok(())
}

/// `Ok(false)` when stdout was closed early (`clnrm replay x.csv | head -1`): stop quietly.
fn written(result: io::Result<()>) -> Result<bool, CliError> {
    match result {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(source) => Err(clnrm::Error::Io {
            action: "failed to write to",
            path: PathBuf::from("<stdout>"),
            source,
        }
        .into()),
    }
}

fn write_table(
    out: &mut impl Write,
    file: &Path,
    report: &ReplayReport,
    replay_secs: f64,
) -> io::Result<()> {
    writeln!(
        out,
        "{}: {} rows, {} tests, {} cycles, {} with failures (scored); replay took {:.2} s",
        file.display(),
        report.rows,
        report.tests,
        report.cycles,
        report.failing_cycles,
        replay_secs
    )?;
    write!(out, "{:<12}", "metric")?;
    for strategy in Strategy::ALL {
        write!(out, " {:>14}", strategy.label())?;
    }
    writeln!(out)?;
    for (name, get) in METRICS {
        write!(out, "{name:<12}")?;
        for strategy in Strategy::ALL {
            match report.scores.iter().find(|s| s.strategy == strategy) {
                Some(scores) => write!(out, " {:>14.4}", get(scores))?,
                None => write!(out, " {:>14}", "-")?,
            }
        }
        writeln!(out)?;
    }
    out.flush()
}

fn write_timing(out: &mut impl Write, timing: &PlannerTiming) -> io::Result<()> {
    writeln!(
        out,
        "planner on {} tests / {} history rows / {} threads: median {:.1} ms (min {:.1}, max {:.1}) \
         over {} runs; predicted wall {:.1} s",
        timing.tests,
        timing.history_rows,
        timing.threads,
        timing.median_ms(),
        timing.min_ms(),
        timing.max_ms(),
        timing.runs_ms.len(),
        timing.predicted_wall_secs
    )?;
    out.flush()
}
