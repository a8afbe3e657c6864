//! `clnrm services ...`

use clap::Subcommand;

use crate::CliError;

#[derive(Debug, Subcommand)]
pub(crate) enum ServicesCommand {
    /// Remove containers and networks of clnrm runs whose process is gone, and list them.
    Gc,
}

pub(crate) async fn run(command: ServicesCommand) -> Result<(), CliError> {
    match command {
        ServicesCommand::Gc => {
            let docker = clnrm::docker::connect().await?;
            let report = clnrm::docker::gc_dead_runs(&docker).await?;
            for c in &report.containers {
                println!(
                    "removed container {} ({}) of run {} service {} (owner {} is gone)",
                    c.id, c.name, c.run, c.service, c.owner
                );
            }
            for n in &report.networks {
                println!("removed network {n}");
            }
            println!(
                "gc: removed {} container(s) and {} network(s) of dead runs",
                report.containers.len(),
                report.networks.len()
            );
            Ok(())
        }
    }
}
