//! `clnrm ai-optimize [PATH...] [--target NAME] [--shards N]`

use clap::Args;
use clnrm::ai::commands::{Optimization, optimize_with_advice};

use super::ai_common::{AiArgs, WorkloadArgs, load_units, open_history, percent, secs};
use crate::CliError;

#[derive(Debug, Args)]
pub(crate) struct OptimizeArgs {
    #[command(flatten)]
    workload: WorkloadArgs,
    #[command(flatten)]
    ai: AiArgs,
    /// Lanes running at once (default: 2 for suites, like `run`; the CPUs for a target).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
    /// Also split the plan into N shards, as `--partition K/N` does.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    shards: Option<u16>,
    /// Print the plan as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(args: OptimizeArgs) -> Result<(), CliError> {
    let store = open_history();
    let units = load_units(&args.workload, store.as_ref())?;
    let jobs = match args.jobs {
        Some(n) => usize::from(n),
        None if args.workload.target.is_some() => {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        }
        None => 2,
    };
    let service = args.ai.start_service().await?;
    let config = args.ai.config(service.as_ref())?;
    let plan = optimize_with_advice(&units, jobs, args.shards.map(usize::from), config.as_ref())?;
    for line in args
        .ai
        .skipped_notice()
        .into_iter()
        .chain(plan.advice.as_deref())
    {
        eprintln!("{line}");
    }
    if args.json {
        println!("{}", plan.to_json());
    } else {
        print_plan(&plan);
    }
    AiArgs::stop_service(service).await;
    Ok(())
}

pub(crate) fn print_plan(plan: &Optimization) {
    let p = &plan.plan;
    println!(
        "plan of {} {}(s) of {} on {} lane(s): predicted {} against {} in file order ({} sooner)",
        p.tests.len(),
        plan.unit,
        plan.target,
        p.threads,
        secs(p.predicted_wall_secs),
        secs(p.file_order_wall_secs),
        secs(plan.saved_secs())
    );
    for test in &p.tests {
        println!(
            "{:>4}. lane {}  {:>8} – {:<8} {}  {}  ({})",
            test.position,
            test.lane + 1,
            secs(test.predicted_start_secs),
            secs(test.predicted_end_secs),
            percent(test.estimate.failure_probability),
            test.name,
            clnrm::plan::join_reasons(&test.estimate.reasons, "; ")
        );
    }
    for shard in &plan.shards {
        println!(
            "shard {}/{}: {} {}(s), {}: {}",
            shard.index,
            plan.shards.len(),
            shard.units.len(),
            plan.unit,
            secs(shard.predicted_secs),
            shard.units.join(", ")
        );
    }
}
