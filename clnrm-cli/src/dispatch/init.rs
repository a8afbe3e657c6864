//! `clnrm init [DIR] [--force]`

use std::path::PathBuf;

use clap::Args;

use crate::CliError;

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Where to write the starter suite.
    #[arg(default_value = ".", value_name = "DIR")]
    dir: PathBuf,
    /// Overwrite an existing starter suite.
    #[arg(long)]
    force: bool,
}

pub(crate) fn run(args: InitArgs) -> Result<(), CliError> {
    let path = clnrm::suite::scaffold(&args.dir, args.force)?;
    println!("created {}", path.display());
    println!("next: clnrm validate {0} && clnrm run {0}", path.display());
    Ok(())
}
