//! `clnrm validate PATH...`

use std::path::PathBuf;

use clap::Args;
use clnrm::suite::{DiagnosticKind, Severity, check_suite_file};

use crate::CliError;

#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// Suite files, or directories searched for `*.clnrm.toml`.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

/// Prints every diagnostic of every suite as `file:line:col: severity: message`; fails (exit 2)
/// when any is an error. Warnings do not fail.
pub(crate) fn run(args: ValidateArgs) -> Result<(), CliError> {
    let files = super::run::discover_printing_warnings(&args.paths)?;
    if files.is_empty() {
        return Err(CliError::Invalid(format!(
            "no `*{}` suite under {}",
            clnrm::suite::SUITE_EXTENSION,
            join_paths(&args.paths)
        )));
    }
    let registry = super::marketplace::registry();
    let known = registry.names();
    let (mut errors, mut warnings, mut bad_files) = (0, 0, 0);
    let mut kinds: std::collections::BTreeMap<DiagnosticKind, usize> = Default::default();
    for file in &files {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) => {
                println!("{}: error: cannot read: {e}", file.display());
                errors += 1;
                bad_files += 1;
                continue;
            }
        };
        let checked = check_suite_file(file, &text, &known);
        for d in &checked.diagnostics {
            println!("{d}");
            match d.severity {
                Severity::Error => errors += 1,
                Severity::Warning => {
                    warnings += 1;
                    *kinds.entry(d.kind).or_default() += 1;
                }
            }
        }
        bad_files += usize::from(checked.has_errors());
    }
    println!(
        "{} suite(s) checked: {} valid, {errors} error(s), {warnings} warning(s)",
        files.len(),
        files.len() - bad_files
    );
    if !kinds.is_empty() {
        let parts: Vec<String> = kinds
            .iter()
            .map(|(kind, n)| format!("{n} {}", kind.label()))
            .collect();
        println!("warnings by kind: {}", parts.join(", "));
    }
    if errors > 0 {
        Err(CliError::Invalid(format!(
            "{bad_files} of {} suite(s) have errors",
            files.len()
        )))
    } else {
        Ok(())
    }
}

pub(crate) fn join_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
