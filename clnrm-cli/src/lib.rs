//! The `clnrm` command: argument parsing, terminal output and exit codes. All behaviour lives in
//! the `clnrm` library.

mod dispatch;
mod error;
pub mod exit_codes;
mod progress;
mod reporter;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use error::CliError;

/// Hermetic integration tests against real services.
#[derive(Debug, Parser)]
#[command(name = "clnrm", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Set a variable of `*.clnrm.toml.tera` templates (over their `[vars]` and
    /// `CLNRM_VAR_<NAME>`); repeatable.
    #[arg(long = "var", global = true, value_name = "NAME=VALUE", value_parser = parse_var)]
    vars: Vec<(String, String)>,
}

fn parse_var(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_owned(), value.to_owned()))
        }
        _ => Err(format!("expected NAME=VALUE, found `{text}`")),
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Manage the containers clnrm started.
    Services {
        #[command(subcommand)]
        command: dispatch::services::ServicesCommand,
    },
    /// List the service plugins: name, version, image, source.
    Plugins,
    /// Plugin marketplace: search, info, install, uninstall, list, update, outdated, publish,
    /// review, keys and folder indexes. Exit 2 on bad input or a refused package/index
    /// (integrity, signature, rollback, expiry), 3 on a download error.
    Marketplace {
        #[command(subcommand)]
        command: dispatch::marketplace::MarketplaceCommand,
    },
    /// Replay the planner on a CI history (RETECS CSV) and print APFD, APFDc and NAPFD per
    /// ordering strategy.
    Replay(dispatch::replay::ReplayArgs),
    /// Check suite files (`*.clnrm.toml`) and print every problem as `file:line:col: severity:
    /// message`; exit 2 when any is an error (warnings do not fail).
    Validate(dispatch::validate::ValidateArgs),
    /// Run TOML suites on Docker: PASS/FAIL per scenario, a summary; exit 0 all passed, 1 a
    /// failure, 2 bad input, 3 Docker unreachable or services that did not start.
    Run(dispatch::run::RunArgs),
    /// Run TOML suites, then re-run those a file change affects (the suite file, or any other
    /// file of its directory) until Ctrl-C / SIGTERM; invalid suites print their diagnostics and
    /// wait for the next change.
    Watch(dispatch::watch::WatchArgs),
    /// List suites with their services, scenarios and steps.
    List(dispatch::list::ListArgs),
    /// Write a starter suite (`smoke.clnrm.toml`) that validates and runs as written; an
    /// existing one is kept unless `--force`.
    Init(dispatch::init::InitArgs),
    /// Each test's chance to fail with the reasons: statistics from the history and, when an
    /// LLM answers, its risk and rationale (without one: statistics and a one-line notice).
    AiPredict(dispatch::ai_predict::PredictArgs),
    /// The plan: order (likely failures first), lanes, shards, predicted wall time against
    /// file order.
    AiOptimize(dispatch::ai_optimize::OptimizeArgs),
    /// Predict, plan, run the suites (or a cargo test target) in the planned order, then group
    /// the failures by likely cause (with LLM insights when available); exit codes as `run`.
    AiOrchestrate(dispatch::ai_orchestrate::OrchestrateArgs),
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit_codes::USAGE
            } else {
                exit_codes::OK
            });
        }
    };
    clnrm::logging::init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit_codes::ENVIRONMENT);
        }
    };
    clnrm::suite::set_template_vars(cli.vars.into_iter().collect());
    // Commands that start containers stop cleanly on Ctrl-C / SIGTERM: they stop starting work,
    // report what was cut short, record the run as interrupted, and `clnrm::interrupt::finish`
    // removes every container and network of the process before exiting 130 / 143.
    let starts_containers = matches!(
        cli.command,
        Command::Run(_) | Command::Watch(_) | Command::AiOrchestrate(_)
    );
    let hold = starts_containers.then(|| {
        clnrm::interrupt::install();
        clnrm::interrupt::hold()
    });
    let result = runtime.block_on(async {
        match cli.command {
            Command::Services { command } => dispatch::services::run(command).await,
            Command::Plugins => dispatch::plugins::run().await,
            Command::Marketplace { command } => dispatch::marketplace::run(command).await,
            Command::Replay(args) => dispatch::replay::run(args).await,
            Command::Validate(args) => dispatch::validate::run(args),
            Command::List(args) => dispatch::list::run(args),
            Command::Init(args) => dispatch::init::run(args),
            Command::Run(args) => dispatch::run::run(args).await,
            Command::AiPredict(args) => dispatch::ai_predict::run(args).await,
            Command::AiOptimize(args) => dispatch::ai_optimize::run(args).await,
            Command::AiOrchestrate(args) => dispatch::ai_orchestrate::run(args).await,
            Command::Watch(args) => dispatch::watch::run(args).await,
        }
    });
    drop(hold);
    if clnrm::interrupt::signal().is_none() {
        // Every span is delivered before the process exits (bounded; `finish` does it on a
        // signal).
        clnrm::telemetry::flush();
    }
    if let Some(signal) = clnrm::interrupt::signal() {
        match &result {
            Err(CliError::Interrupted(_) | CliError::Clnrm(clnrm::Error::Interrupted(_))) => {}
            Err(CliError::Clnrm(inner)) => eprintln!("error: {inner:?}"),
            Err(other) => eprintln!("error: {other}"),
            Ok(()) => {}
        }
        // The runtime is not dropped: that would wait for tasks the interrupt left blocked.
        clnrm::interrupt::finish(signal);
    }
    match result {
        Ok(()) => ExitCode::from(exit_codes::OK),
        Err(e) => {
            match &e {
                // The library's Debug prints the message with its causes.
                CliError::Clnrm(inner) => eprintln!("error: {inner:?}"),
                other => eprintln!("error: {other}"),
            }
            ExitCode::from(e.exit_code())
        }
    }
}
