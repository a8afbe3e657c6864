//! `clnrm list [PATH...]`

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;
use clnrm::suite::{Action, Command, HttpSpec, ServiceSpec, StepSpec, Target};

use crate::CliError;

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Suite files, or directories searched for `*.clnrm.toml` (default: the current directory).
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
}

/// Prints each suite with its services, scenarios and steps, as parsed. Suites with errors are
/// reported on stderr and make the command fail (exit 2) after the others are listed.
pub(crate) fn run(args: ListArgs) -> Result<(), CliError> {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths
    };
    let files = super::run::discover_printing_warnings(&paths)?;
    let registry = super::marketplace::registry();
    let known = registry.names();
    let (mut failed, mut scenarios) = (0, 0);
    for file in &files {
        let loaded = match clnrm::suite::load_suite(file, &known) {
            Ok(loaded) => loaded,
            Err(e) => {
                eprintln!("{e}");
                for d in e.diagnostics() {
                    eprintln!("  {d}");
                }
                failed += 1;
                continue;
            }
        };
        let spec = &loaded.spec;
        scenarios += spec.scenarios.len();
        println!("suite {} ({})", spec.name.get_ref(), file.display());
        for service in &spec.services {
            println!("  service {}", describe_service(service));
        }
        for scenario in &spec.scenarios {
            println!(
                "  scenario {} ({} step(s))",
                scenario.name.get_ref(),
                scenario.steps.len()
            );
            for step in &scenario.steps {
                println!("    step {}", describe_step(step));
            }
        }
    }
    println!(
        "{} suite(s), {scenarios} scenario(s){}",
        files.len() - failed,
        if failed > 0 {
            format!(", {failed} with errors")
        } else {
            String::new()
        }
    );
    if failed > 0 {
        Err(CliError::Invalid(format!(
            "{failed} of {} suite(s) have errors; see `clnrm validate`",
            files.len()
        )))
    } else {
        Ok(())
    }
}

fn describe_service(service: &ServiceSpec) -> String {
    let mut out = format!(
        "{}: plugin {}",
        service.name.get_ref(),
        service.plugin.get_ref()
    );
    if let Some(image) = &service.image {
        let _ = write!(out, ", image {}", image.get_ref());
    }
    if !service.depends_on.is_empty() {
        let deps: Vec<&str> = service
            .depends_on
            .iter()
            .map(|d| d.get_ref().as_str())
            .collect();
        let _ = write!(out, ", depends on {}", deps.join(", "));
    }
    out
}

fn describe_step(step: &StepSpec) -> String {
    let action = match &step.action {
        Action::Exec(exec) => {
            let command = match exec.command.get_ref() {
                Command::Argv(argv) => format!("run {argv:?}"),
                Command::Shell(script) => format!("shell {script:?}"),
            };
            let target = match &exec.target {
                Target::Service(name) => format!("in service {}", name.get_ref()),
                Target::Image(image) => format!("in a fresh {} container", image.get_ref()),
            };
            format!("{command} {target}")
        }
        Action::Http(http) => describe_http(http),
        Action::Surql(surql) => format!("surql on service {}", surql.service.get_ref()),
        Action::Chaos(chaos) => format!(
            "chaos {:?} on service {}",
            chaos.fault.get_ref(),
            chaos.service.get_ref()
        ),
    };
    format!("{}: {action}", step.name.get_ref())
}

fn describe_http(http: &HttpSpec) -> String {
    let port = http
        .port
        .as_ref()
        .map(|p| format!(":{}", p.get_ref()))
        .unwrap_or_default();
    format!(
        "http {} {} on {}{port}",
        http.method,
        http.path,
        http.service.get_ref()
    )
}
