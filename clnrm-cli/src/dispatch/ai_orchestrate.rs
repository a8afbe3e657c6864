//! `clnrm ai-orchestrate [PATH...]`: predict, plan, run, analyse.

use std::path::PathBuf;

use clap::Args;
use clnrm::ai::commands::{Analysis, GroupSource, OrchestrateEvent, orchestrate};
use clnrm::plan::Partition;
use clnrm::suite::RunOptions;

use super::ai_common::{AiArgs, load_suites, open_history};
use crate::CliError;

#[derive(Debug, Args)]
pub(crate) struct OrchestrateArgs {
    /// Suite files, or directories searched for `*.clnrm.toml` (default: the current directory).
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Not supported: see the error it gives.
    #[arg(long, value_name = "NAME", hide = true)]
    target: Option<String>,
    /// Suites running at once.
    #[arg(long, short = 'j', default_value_t = 2, value_name = "N")]
    jobs: usize,
    /// Start no further suite after the first failure.
    #[arg(long)]
    fail_fast: bool,
    /// Run only shard K of N of the planned suites.
    #[arg(long, value_name = "K/N")]
    partition: Option<Partition>,
    /// Write the run, the prediction, the plan and the analysis as JSON to this file.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    #[command(flatten)]
    ai: AiArgs,
}

pub(crate) async fn run(args: OrchestrateArgs) -> Result<(), CliError> {
    if let Some(target) = &args.target {
        return Err(CliError::Invalid(format!(
            "ai-orchestrate runs TOML suites only, not the cargo test target `{target}`: cargo \
             builds and runs a test target, and its harness already runs the planned order and \
             records history; run it with `cargo test`, then `clnrm ai-predict --target {target}`"
        )));
    }
    let suites = load_suites(&args.paths)?;
    let store = open_history();
    let config = args.ai.config()?;
    if let Some(notice) = args.ai.skipped_notice() {
        eprintln!("{notice}");
    }
    let options = RunOptions {
        jobs: args.jobs,
        fail_fast: args.fail_fast,
    };
    let done = orchestrate(
        suites,
        store.as_ref(),
        config.as_ref(),
        clnrm::RunConfig::from_env()?,
        &options,
        args.partition,
        &print,
    )
    .await?;
    if let Some(path) = &args.json {
        done.write_json(path)?;
    }
    let s = done.record.summary();
    println!(
        "{} passed, {} failed ({:.1} s)",
        s.passed + s.flaky,
        s.failed + s.timed_out,
        done.record.duration.as_secs_f64()
    );
    if s.failed + s.timed_out > 0 {
        Err(CliError::TestsFailed(format!(
            "{} scenario(s) failed",
            s.failed + s.timed_out
        )))
    } else if s.infra_error > 0 {
        Err(CliError::Environment(format!(
            "{} scenario(s) could not run: their services did not start",
            s.infra_error
        )))
    } else {
        Ok(())
    }
}

fn print(event: &OrchestrateEvent<'_>) {
    match event {
        OrchestrateEvent::Predicted(prediction) => {
            if let Some(notice) = &prediction.notice {
                eprintln!("{notice}");
            }
            super::ai_predict::print_prediction(prediction);
        }
        OrchestrateEvent::Planned(plan) => super::ai_optimize::print_plan(plan),
        OrchestrateEvent::Run(event) => super::run::print_event(event),
        OrchestrateEvent::Analysed(analysis) => print_analysis(analysis),
    }
}

fn print_analysis(analysis: &Analysis) {
    if let Some(notice) = &analysis.notice {
        eprintln!("{notice}");
    }
    if analysis.failures == 0 {
        return;
    }
    println!(
        "{} failure(s) in {} group(s) by likely cause:",
        analysis.failures,
        analysis.groups.len()
    );
    for group in &analysis.groups {
        let by = match (group.source, &analysis.model) {
            (GroupSource::Llm, Some(model)) => format!("LLM `{model}`"),
            (GroupSource::Llm, None) => "LLM".to_owned(),
            (GroupSource::Statistics, _) => "similar messages".to_owned(),
        };
        println!("  {} × {} [{by}]", group.tests.len(), group.cause);
        println!("      tests: {}", group.tests.join(", "));
        if let Some(insight) = &group.insight {
            println!("      insight: {insight}");
        }
        if let Some(recommendation) = &group.recommendation {
            println!("      recommendation: {recommendation}");
        }
    }
}
