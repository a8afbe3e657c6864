//! `clnrm ai-predict [PATH...] [--target NAME]`

use clap::Args;
use clnrm::ai::commands::{Prediction, predict};

use super::ai_common::{AiArgs, WorkloadArgs, load_units, open_history, percent, secs};
use crate::CliError;

#[derive(Debug, Args)]
pub(crate) struct PredictArgs {
    #[command(flatten)]
    workload: WorkloadArgs,
    #[command(flatten)]
    ai: AiArgs,
    /// Print the prediction as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(args: PredictArgs) -> Result<(), CliError> {
    let store = open_history();
    let units = load_units(&args.workload, store.as_ref())?;
    let service = args.ai.start_service().await?;
    let config = args.ai.config(service.as_ref())?;
    let prediction = predict(&units, config.as_ref()).await?;
    for notice in args
        .ai
        .skipped_notice()
        .into_iter()
        .chain(prediction.notice.as_deref())
    {
        eprintln!("{notice}");
    }
    if args.json {
        println!("{}", prediction.to_json());
    } else {
        print_prediction(&prediction);
    }
    AiArgs::stop_service(service).await;
    Ok(())
}

pub(crate) fn print_prediction(prediction: &Prediction) {
    let by = match &prediction.model {
        Some(model) => format!("statistics and LLM `{model}`"),
        None => "statistics".to_owned(),
    };
    println!(
        "risk of {} test(s) of {}, riskiest first ({by}):",
        prediction.tests.len(),
        prediction.target
    );
    for test in &prediction.tests {
        println!(
            "{}  {}  ({}, {} run(s) seen)",
            percent(test.failure_probability),
            test.name,
            secs(test.expected_duration_secs),
            test.runs_seen
        );
        println!("       {}", test.reasons.join("; "));
        if let Some(risk) = test.llm_risk {
            println!(
                "       LLM {}: {}",
                percent(risk).trim_start(),
                test.llm_rationale.as_deref().unwrap_or("")
            );
        }
    }
    if let Some(order) = &prediction.llm_order {
        println!("LLM order: {}", order.join(", "));
    }
}
