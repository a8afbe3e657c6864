//! `clnrm replay FILE.csv [--config JSON] [--timing]` (or `--synthetic SEED`): scores the
//! planner (both objectives) on a CI history (`clnrm::plan::replay`) under the published and
//! the per-test protocol, one row per metric, one column per strategy, and compares it with
//! the best baseline (Wilcoxon signed-rank, Vargha–Delaney Â12); with `--ai`, the LLM
//! advisor's ablation on the last cycles (`clnrm::ai::replay`).

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use clnrm::ai::replay::{AiAblation, DEFAULT_AI_CYCLES, OrderScore, replay_ai};
use clnrm::plan::PlannerConfig;
use clnrm::plan::replay::{
    HistoryShape, PlannerTiming, ProtocolReport, ReplayReport, Strategy, StrategyScores,
    load_retecs_csv, replay, synthetic_history, time_planner,
};

use super::ai_common::{AiArgs, secs};
use crate::CliError;

/// Size of the synthetic input `--timing` plans.
const TIMING_TESTS: usize = 10_000;
const TIMING_HISTORY_ROWS: usize = 100_000;
/// Runs `--timing` takes the median of.
const TIMING_RUNS: usize = 5;

#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    /// A CI history in the RETECS CSV format, columns found by name: `Name`, `Duration`,
    /// `Verdict` and `Cycle` are needed (e.g. `Id;Name;Duration;CalcPrio;LastRun;Verdict;
    /// Cycle;LastResults`); `CalcPrio` and `LastResults` are never used.
    #[arg(value_name = "FILE.csv", required_unless_present = "synthetic")]
    file: Option<PathBuf>,
    /// Planner constants as a JSON object, e.g. '{"recency_half_life_runs": 3}'; fields left
    /// out keep their defaults.
    #[arg(long, value_name = "JSON")]
    config: Option<String>,
    /// Replay a synthetic history made from this seed instead of a file (300 cycles, a
    /// median of 24 tests per cycle, about 27 % failing executions, re-runs, new tests).
    #[arg(long, value_name = "SEED", conflicts_with = "file")]
    synthetic: Option<u64>,
    /// With `--synthetic`: multiply every failure chance (0.3 gives about 10 % failing
    /// executions, 1.6 about 36 %).
    #[arg(long, value_name = "F", requires = "synthetic", default_value_t = 1.0)]
    failure_scale: f64,
    /// Also time the planner on a synthetic input of 10 000 tests and 100 000 history rows.
    #[arg(long)]
    timing: bool,
    /// Also replay the last scored cycles with the LLM advisor (`CLNRM_AI_URL` or clnrm.toml's
    /// `[ai]`, or the `--ai-*` flags below): the planner's order, the advisor's and the two
    /// merged, the advisor seeing only earlier cycles and its latency charged to the cycle.
    #[arg(long)]
    ai: bool,
    /// With `--ai`: how many of the last scored cycles to ask about (a local model on a CPU
    /// takes tens of seconds per answer).
    #[arg(long, value_name = "N", requires = "ai", default_value_t = DEFAULT_AI_CYCLES)]
    ai_cycles: usize,
    #[command(flatten)]
    advisor: AiArgs,
}

type MetricOf = fn(&StrategyScores) -> f64;

const METRICS: [(&str, MetricOf); 4] = [
    ("APFD", |s| s.apfd),
    ("APFDc", |s| s.apfdc),
    ("NAPFD@50%", |s| s.napfd_half_budget),
    // time to the first failure, share of the cycle's time (lower is better)
    ("TTFF-share", |s| s.first_failure_share),
];

pub(crate) async fn run(args: ReplayArgs) -> Result<(), CliError> {
    let config = match &args.config {
        Some(json) => PlannerConfig::parse_json(json).map_err(clnrm::Error::from)?,
        None => PlannerConfig::default(),
    };
    let started = Instant::now();
    let (source, rows) = match (&args.file, args.synthetic) {
        (_, Some(seed)) => {
            let shape = HistoryShape {
                failure_scale: args.failure_scale,
                ..HistoryShape::default()
            };
            (
                format!(
                    "synthetic history (seed {seed}, failure scale {})",
                    args.failure_scale
                ),
                synthetic_history(seed, &shape),
            )
        }
        (Some(file), None) => (
            file.display().to_string(),
            load_retecs_csv(file).map_err(clnrm::Error::from)?,
        ),
        (None, None) => {
            return Err(CliError::Invalid(
                "replay needs a FILE.csv or --synthetic SEED".into(),
            ));
        }
    };
    let report = replay(&rows, &config).map_err(clnrm::Error::from)?;
    let replay_secs = started.elapsed().as_secs_f64();

    let mut out = io::stdout().lock();
    if !written(write_report(&mut out, &source, &report, replay_secs))? {
        return Ok(());
    }
    if args.timing {
        let timing = time_planner(TIMING_TESTS, TIMING_HISTORY_ROWS, TIMING_RUNS)
            .map_err(clnrm::Error::from)?;
        if !written(write_timing(&mut out, &timing))? {
            return Ok(());
        }
    }
    if args.ai {
        drop(out);
        let service = args.advisor.start_service().await?;
        let result = ai_ablation(&args, service.as_ref(), &rows, &config).await;
        AiArgs::stop_service(service).await;
        result?;
    }
    Ok(())
}

async fn ai_ablation(
    args: &ReplayArgs,
    service: Option<&clnrm::ai::service::AdvisorService>,
    rows: &[clnrm::plan::replay::RetecsRow],
    config: &PlannerConfig,
) -> Result<(), CliError> {
    let Some(ai) = args.advisor.config(service)? else {
        if let Some(notice) = args.advisor.skipped_notice() {
            eprintln!("{notice}");
        }
        return Ok(());
    };
    eprintln!(
        "clnrm: asking the advisor at {} about the last {} scored cycles (each call bounded by {})",
        ai.base_url,
        args.ai_cycles,
        secs(ai.timeout.as_secs_f64())
    );
    let ablation = replay_ai(rows, config, &ai, args.ai_cycles)
        .await
        .map_err(clnrm::Error::from)?;
    written(write_ablation(&mut io::stdout().lock(), &ablation, config)).map(|_| ())
}

fn write_ablation(
    out: &mut impl Write,
    ablation: &AiAblation,
    config: &PlannerConfig,
) -> io::Result<()> {
    writeln!(out)?;
    let model = ablation.model.as_deref().map_or_else(
        || "no model answered".to_owned(),
        |m| format!("model `{m}`"),
    );
    let mut latencies: Vec<f64> = ablation.cycles.iter().map(|c| c.latency_secs).collect();
    latencies.sort_by(f64::total_cmp);
    let median = latencies
        .get(latencies.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(0.0);
    writeln!(
        out,
        "LLM ablation (published protocol, plan:{}): last {} of {} scored cycles, {model}, \
         {} of {} answered; advisor latency median {} (charged to its orders)",
        config.objective,
        ablation.cycles.len(),
        ablation.scored_cycles,
        ablation.answered(),
        ablation.cycles.len(),
        secs(median)
    )?;
    writeln!(
        out,
        "{:>8} {:>6} {:>9} {:>9} {:>21} {:>23} {:>21}",
        "cycle",
        "items",
        "cycle",
        "latency",
        "plan APFD/APFDc/TTFF",
        "plan+ai APFD/APFDc/TTFF",
        "ai APFD/APFDc/TTFF"
    )?;
    let cell =
        |s: &OrderScore| format!("{:.3}/{:.3}/{:.3}", s.apfd, s.apfdc, s.first_failure_share);
    for c in &ablation.cycles {
        writeln!(
            out,
            "{:>8} {:>6} {:>9} {:>9} {:>21} {:>23} {:>21}{}",
            c.cycle,
            c.items,
            secs(c.cycle_secs),
            secs(c.latency_secs),
            cell(&c.plan),
            cell(&c.merged),
            cell(&c.advised),
            c.notice
                .as_deref()
                .map(|n| format!("  (planner's order: {n})"))
                .unwrap_or_default()
        )?;
    }
    let mean = |f: fn(&clnrm::ai::replay::AiCycle) -> &OrderScore| OrderScore {
        apfd: ablation.mean(|c| f(c).apfd),
        apfdc: ablation.mean(|c| f(c).apfdc),
        first_failure_share: ablation.mean(|c| f(c).first_failure_share),
    };
    writeln!(
        out,
        "{:>8} {:>6} {:>9} {:>9} {:>21} {:>23} {:>21}",
        "mean",
        "",
        "",
        secs(ablation.mean(|c| c.latency_secs)),
        cell(&mean(|c| &c.plan)),
        cell(&mean(|c| &c.merged)),
        cell(&mean(|c| &c.advised))
    )?;
    out.flush()
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

fn write_report(
    out: &mut impl Write,
    source: &str,
    report: &ReplayReport,
    replay_secs: f64,
) -> io::Result<()> {
    writeln!(
        out,
        "{source}: {} rows ({:.1} % failing), {} tests, {} cycles; replay took {:.2} s",
        report.rows,
        report.failing_row_share * 100.0,
        report.tests,
        report.cycles,
        replay_secs
    )?;
    for protocol in &report.protocols {
        write_protocol(out, protocol)?;
    }
    out.flush()
}

fn write_protocol(out: &mut impl Write, report: &ProtocolReport) -> io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "{}: {} cycles, {} items scored",
        report.protocol.label(),
        report.scored_cycles,
        report.scored_items
    )?;
    write!(out, "{:<12}", "metric")?;
    for strategy in Strategy::ALL {
        write!(out, " {:>13}", strategy.label())?;
    }
    writeln!(out)?;
    for (name, get) in METRICS {
        write!(out, "{name:<12}")?;
        for strategy in Strategy::ALL {
            match report.score(strategy) {
                Some(scores) => write!(out, " {:>13.4}", get(scores))?,
                None => write!(out, " {:>13}", "-")?,
            }
        }
        writeln!(out)?;
    }
    for c in &report.comparisons {
        let w = &c.wilcoxon;
        writeln!(
            out,
            "{:<6} {} {:.4} vs best baseline {} {:.4} ({:+.4}): {} cycles better, {} equal, \
             {} worse; Wilcoxon signed-rank n = {}, W+ = {:.1}, W- = {:.1}, z = {:.2}, p = {:.2e}; \
             A12 = {:.3}",
            format!("{}:", c.metric.label()),
            c.planner_strategy.label(),
            c.planner,
            c.baseline.label(),
            c.baseline_mean,
            c.planner - c.baseline_mean,
            c.wins,
            c.ties,
            c.losses,
            w.n,
            w.w_plus,
            w.w_minus,
            w.z,
            w.p_value,
            c.a12
        )?;
    }
    Ok(())
}

fn write_timing(out: &mut impl Write, timing: &PlannerTiming) -> io::Result<()> {
    let cpu = timing
        .median_cpu_ms()
        .map(|ms| format!(", CPU median {ms:.1} ms"))
        .unwrap_or_default();
    writeln!(
        out,
        "planner on {} tests / {} history rows / {} threads: median {:.1} ms (min {:.1}, max {:.1}) \
         over {} runs{cpu}; predicted wall {:.1} s",
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
