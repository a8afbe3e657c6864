//! Running a cargo test target the way a developer does, `cargo test -p PACKAGE --test BINARY`,
//! with its output going straight to the terminal and its results coming back through the JSON
//! report its harness writes (`CLNRM_JSON`).
//!
//! The harness does the rest itself: it orders the tests by the planner from the target's
//! history, keeps shard K of N (`--partition`) and appends the run to the history store. This
//! module only builds the command, tells a build failure apart from failing tests, and reads the
//! report back.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::plan::Partition;
use crate::report::{RunRecord, read_json};
use crate::{Error, Result};

/// How to run a cargo test target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetOptions {
    /// Tests running at once (`--test-threads`); `None`: the harness's default, one per core.
    pub test_threads: Option<usize>,
    /// Run only shard K of N of the planned tests (`--partition K/N`).
    pub partition: Option<Partition>,
    /// The history store the harness reads and appends to (`CLNRM_HISTORY`); `None`: its default.
    pub history: Option<PathBuf>,
}

/// A cargo test target that could not be run to a report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TargetRunError {
    /// The history names a target that is not an integration test target.
    #[error(
        "`{target}` is not a cargo test target named `package::binary`: ai-orchestrate runs \
         `cargo test -p PACKAGE --test BINARY`"
    )]
    NotATestTarget {
        /// The target as the history names it.
        target: String,
    },
    /// cargo could not be started.
    #[error("failed to run `{command}`")]
    Spawn {
        /// The command line.
        command: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The test binary did not compile (cargo's errors were printed above); no test ran.
    #[error(
        "the test target `{target}` did not build: `{command}` exited with {status}; no test ran"
    )]
    Build {
        /// `package::binary`.
        target: String,
        /// The build command line.
        command: String,
        /// How it exited.
        status: String,
    },
    /// The test binary ran but left no report: it crashed, refused its arguments, or is not a
    /// clnrm harness.
    #[error(
        "`{command}` exited with {status} and wrote no report to `{}`: the test binary stopped \
         before the end of its run, or is not a clnrm harness (`clnrm::main!()`)",
        report.display()
    )]
    NoReport {
        /// The command line.
        command: String,
        /// How it exited.
        status: String,
        /// Where the report was expected.
        report: PathBuf,
    },
    /// The report shows no failing test, yet the run did not succeed.
    #[error("`{command}` exited with {status} although its report shows no failing test")]
    Exited {
        /// The command line.
        command: String,
        /// How it exited.
        status: String,
    },
}

/// `package::binary` split, or an error when `target` is not an integration test target (a
/// library's unit tests or a `[[bin]]`, as nextest names them: `package`, `package::bin/name`).
pub(crate) fn split_target(target: &str) -> Result<(&str, &str)> {
    match target.split_once("::") {
        Some((package, binary))
            if !package.is_empty()
                && !binary.is_empty()
                && !binary.contains(['/', ':', ' '])
                && !package.contains(' ') =>
        {
            Ok((package, binary))
        }
        _ => Err(Error::other(TargetRunError::NotATestTarget {
            target: target.to_owned(),
        })),
    }
}

/// The cargo to run: `CARGO` when set (clnrm run by cargo, or from a test), else `cargo`.
fn cargo_program() -> OsString {
    std::env::var_os("CARGO")
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| OsString::from("cargo"))
}

/// The arguments after `cargo`: `test -p PACKAGE --test BINARY`, then `--no-run` to build only,
/// or the harness's own flags after `--`.
pub(crate) fn cargo_args(
    package: &str,
    binary: &str,
    options: &TargetOptions,
    build_only: bool,
) -> Vec<String> {
    let mut args: Vec<String> = ["test", "-p", package, "--test", binary]
        .map(str::to_owned)
        .to_vec();
    if build_only {
        args.push("--no-run".to_owned());
        return args;
    }
    // The planned order even when the environment says `CLNRM_ORDER=file`: the order the
    // orchestrator printed is the order that runs.
    args.extend(["--", "--order", "planned"].map(str::to_owned));
    if let Some(threads) = options.test_threads {
        args.extend(["--test-threads".to_owned(), threads.max(1).to_string()]);
    }
    if let Some(partition) = options.partition {
        args.extend(["--partition".to_owned(), partition.to_string()]);
    }
    args
}

/// Is `key` a variable cargo or nextest set for the process that started clnrm (`cargo run`,
/// a test), which the `cargo test` it starts must not inherit? nextest's would make the harness
/// record under nextest's binary id and refuse `--partition`; the package's own
/// (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*`, …) are tracked by some build scripts (ring's), so
/// inheriting them rebuilds those crates and everything above them, back and forth with every
/// build from a plain shell.
fn inherited_from_a_runner(key: &str) -> bool {
    const PER_PACKAGE: [&str; 8] = [
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_MANIFEST_LINKS",
        "CARGO_CRATE_NAME",
        "CARGO_BIN_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "CARGO_RUSTC_CURRENT_DIR",
    ];
    key.starts_with("NEXTEST")
        || key.starts_with("CARGO_PKG_")
        || key.starts_with("CARGO_BIN_EXE_")
        || PER_PACKAGE.contains(&key)
}

/// `cargo test -p …` as one line, for messages.
pub(crate) fn command_line(args: &[String]) -> String {
    let mut line = String::from("cargo");
    for arg in args {
        line.push(' ');
        line.push_str(arg);
    }
    line
}

/// Removes its file when dropped: the report is read once, then it is litter.
struct TempReport(PathBuf);

impl Drop for TempReport {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn temp_report() -> TempReport {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    TempReport(std::env::temp_dir().join(format!(
        "clnrm-orchestrate-{}-{nanos}.json",
        std::process::id()
    )))
}

fn status_text(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exit code {code}"),
        None => format!("{status}"),
    }
}

async fn cargo(args: &[String], envs: &[(&str, &Path)]) -> Result<ExitStatus> {
    let mut command = tokio::process::Command::new(cargo_program());
    command.args(args);
    for (key, _) in std::env::vars_os() {
        if inherited_from_a_runner(&key.to_string_lossy()) {
            command.env_remove(&key);
        }
    }
    for (key, value) in envs {
        command.env(key, value);
    }
    command.status().await.map_err(|source| {
        Error::other(TargetRunError::Spawn {
            command: command_line(args),
            source,
        })
    })
}

/// Builds `target` (`cargo test --no-run`), then runs it with `options`, its output inherited,
/// and reads back the report its harness wrote (a run without tests when it ran none and
/// succeeded: the harness then writes no report). `on_start` gets the command line just before
/// the tests start. A build failure is [`TargetRunError::Build`], not a test failure.
pub(crate) async fn run_target(
    target: &str,
    options: &TargetOptions,
    on_start: impl FnOnce(&str),
) -> Result<RunRecord> {
    let (package, binary) = split_target(target)?;
    let build = cargo_args(package, binary, options, true);
    let built = cargo(&build, &[]).await?;
    if !built.success() {
        return Err(Error::other(TargetRunError::Build {
            target: target.to_owned(),
            command: command_line(&build),
            status: status_text(built),
        }));
    }
    let report = temp_report();
    let _ = std::fs::remove_file(&report.0);
    let run = cargo_args(package, binary, options, false);
    let command = command_line(&run);
    on_start(&command);
    let mut envs: Vec<(&str, &Path)> = vec![("CLNRM_JSON", report.0.as_path())];
    if let Some(history) = &options.history {
        envs.push((crate::history::HISTORY_ENV, history.as_path()));
    }
    let started_at = SystemTime::now();
    let t0 = std::time::Instant::now();
    let status = cargo(&run, &envs).await?;
    if !report.0.is_file() && status.success() {
        // The harness writes no report when no test ran (an empty shard, a filter).
        return Ok(RunRecord {
            run_id: String::new(),
            target: target.to_owned(),
            started_at,
            duration: t0.elapsed(),
            tests: Vec::new(),
        });
    }
    if !report.0.is_file() {
        return Err(Error::other(TargetRunError::NoReport {
            command,
            status: status_text(status),
            report: report.0.clone(),
        }));
    }
    let record = read_json(&report.0)?;
    let s = record.summary();
    if !status.success() && s.failed + s.timed_out + s.infra_error == 0 {
        return Err(Error::other(TargetRunError::Exited {
            command,
            status: status_text(status),
        }));
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_target_splits_into_package_and_binary() {
        assert_eq!(
            split_target("clnrm-examples::shortener").unwrap(),
            ("clnrm-examples", "shortener")
        );
    }

    #[test]
    fn unit_tests_and_bins_are_not_test_targets() {
        for target in [
            "clnrm",
            "clnrm-e2e::bin/harness-fixture",
            "::x",
            "p::",
            "a::b::c",
        ] {
            let err = split_target(target).unwrap_err().to_string();
            assert_eq!(
                err,
                format!(
                    "`{target}` is not a cargo test target named `package::binary`: \
                     ai-orchestrate runs `cargo test -p PACKAGE --test BINARY`"
                )
            );
        }
    }

    #[test]
    fn the_variables_cargo_and_nextest_set_for_a_package_are_not_passed_on() {
        for key in [
            "CARGO_MANIFEST_DIR",
            "CARGO_PKG_NAME",
            "CARGO_BIN_EXE_clnrm",
            "NEXTEST_BINARY_ID",
            "NEXTEST",
        ] {
            assert!(inherited_from_a_runner(key), "{key}");
        }
        for key in [
            "CARGO",
            "CARGO_TARGET_DIR",
            "CARGO_HOME",
            "CARGO_INCREMENTAL",
            "PATH",
        ] {
            assert!(!inherited_from_a_runner(key), "{key}");
        }
    }

    #[test]
    fn the_run_passes_order_threads_and_partition_to_the_harness_after_the_separator() {
        let options = TargetOptions {
            test_threads: Some(3),
            partition: Some(Partition::new(1, 2).unwrap()),
            history: None,
        };
        assert_eq!(
            command_line(&cargo_args("pkg", "bin", &options, false)),
            "cargo test -p pkg --test bin -- --order planned --test-threads 3 --partition 1/2"
        );
        assert_eq!(
            command_line(&cargo_args("pkg", "bin", &options, true)),
            "cargo test -p pkg --test bin --no-run"
        );
        assert_eq!(
            command_line(&cargo_args("pkg", "bin", &TargetOptions::default(), false)),
            "cargo test -p pkg --test bin -- --order planned"
        );
    }
}
