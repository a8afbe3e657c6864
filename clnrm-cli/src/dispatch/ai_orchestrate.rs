//! `clnrm ai-orchestrate [PATH...]` / `--target NAME`: predict, plan, run, analyse.

use std::path::PathBuf;

use clap::Args;
use clnrm::ai::commands::{
    Analysis, GroupSource, OrchestrateEvent, Orchestration, TargetOptions, TargetRunError,
    orchestrate, orchestrate_target,
};
use clnrm::plan::Partition;
use clnrm::suite::RunOptions;

use super::ai_common::{AiArgs, open_history};
use crate::CliError;

#[derive(Debug, Args)]
pub(crate) struct OrchestrateArgs {
    /// Suite files, or directories searched for `*.clnrm.toml` (default: the current directory).
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Run a cargo test target instead of suites: `package::binary` as its history names it,
    /// or the binary alone when unique (e.g. `shortener`). Its tests are predicted and planned
    /// from that history, then `cargo test -p PACKAGE --test BINARY` runs them (output shown
    /// as it comes; the harness orders them by the plan and records the run), and the failures
    /// are analysed. The target needs history: run it once with `cargo test` first.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["paths", "fail_fast"])]
    target: Option<String>,
    /// Suites running at once (default 2); with `--target`, the harness's `--test-threads`
    /// (default: one per core).
    #[arg(long, short = 'j', value_name = "N")]
    jobs: Option<usize>,
    /// Start no further suite after the first failure (suites only).
    #[arg(long)]
    fail_fast: bool,
    /// Run only shard K of N of the planned suites (of the target's tests with `--target`).
    #[arg(long, value_name = "K/N")]
    partition: Option<Partition>,
    /// Write the run, the prediction, the plan and the analysis as JSON to this file.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    #[command(flatten)]
    ai: AiArgs,
}

pub(crate) async fn run(args: OrchestrateArgs) -> Result<(), CliError> {
    let suites = match &args.target {
        Some(_) => Vec::new(),
        None => super::run::load_all(&args.paths)?,
    };
    let store = open_history();
    let service = args.ai.start_service().await?;
    let config = args.ai.config(service.as_ref())?;
    if let Some(notice) = args.ai.skipped_notice() {
        eprintln!("{notice}");
    }
    let done = match &args.target {
        Some(target) => {
            let options = TargetOptions {
                test_threads: args.jobs,
                partition: args.partition,
                history: None,
            };
            orchestrate_target(target, store.as_ref(), config.as_ref(), &options, &print)
                .await
                .map_err(target_error)?
        }
        None => {
            let options = RunOptions {
                jobs: args.jobs.unwrap_or(2),
                fail_fast: args.fail_fast,
            };
            orchestrate(
                suites,
                store.as_ref(),
                config.as_ref(),
                clnrm::RunConfig::from_env()?,
                &options,
                args.partition,
                &print,
            )
            .await?
        }
    };
    AiArgs::stop_service(service).await;
    finish(&args, &done)
}

/// A target that could not be started is the environment's problem (exit 3); one that does not
/// build, or leaves no report, is the input's (exit 2), never "tests failed".
fn target_error(error: clnrm::Error) -> CliError {
    if let clnrm::Error::Other(inner) = &error
        && let Some(TargetRunError::Spawn { .. }) = inner.downcast_ref::<TargetRunError>()
    {
        return CliError::Environment(format!("{error:?}"));
    }
    CliError::Clnrm(error)
}

/// Writes the report, prints the totals and maps them to the exit code.
fn finish(args: &OrchestrateArgs, done: &Orchestration) -> Result<(), CliError> {
    if let Some(path) = &args.json {
        done.write_json(path)?;
    }
    println!("{}", super::run::summary_line(&done.record));
    super::run::verdict(&done.record)
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
        OrchestrateEvent::Running(command) => println!("running `{command}`"),
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
