//! What the benchmark binaries share: building a test target of this package without running
//! it, so that compilation and cargo's own start-up are never timed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// A built test binary of `clnrm-examples`.
pub struct TestBinary {
    /// The `[[test]]` target's name.
    pub target: String,
    /// The executable cargo built.
    pub executable: PathBuf,
    /// The package directory: `cargo test` runs test binaries there, and clnrm finds
    /// `clnrm.toml` from there up.
    pub package_dir: PathBuf,
}

impl TestBinary {
    /// A command for the binary as `cargo test` would start it (in the package directory).
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.executable);
        command.current_dir(&self.package_dir);
        command
    }

    /// The binary's tests through the standard `--list` flag (`name: test` lines), ignored
    /// ones included when `include_ignored`.
    pub fn count_tests(&self, include_ignored: bool) -> std::io::Result<usize> {
        let mut command = self.command();
        command.arg("--list").stderr(Stdio::null());
        if include_ignored {
            command.arg("--include-ignored");
        }
        let output = command.output()?;
        Ok(String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|l| l.ends_with(": test"))
            .count())
    }
}

/// Builds `cargo test -p clnrm-examples --test TARGET --no-run` and finds the executable in
/// cargo's JSON messages; a build failure is an error with cargo's first lines.
pub fn build_test_binary(target: &str) -> Result<TestBinary, Box<dyn std::error::Error>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["test", "-p", "clnrm-examples", "--test", target, "--no-run"])
        .arg("--message-format=json")
        .output()?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first: Vec<&str> = stderr.lines().take(12).collect();
        return Err(format!(
            "cargo test --no-run exited with {}; first lines:\n{}",
            output.status,
            first.join("\n")
        )
        .into());
    }
    for line in String::from_utf8(output.stdout)?.lines() {
        let Ok(message) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if message["reason"] == "compiler-artifact"
            && message["target"]["name"] == target
            && message["profile"]["test"] == true
            && let (Some(executable), Some(manifest)) = (
                message["executable"].as_str(),
                message["manifest_path"].as_str(),
            )
        {
            let package_dir = Path::new(manifest)
                .parent()
                .ok_or("manifest path has no parent")?
                .to_owned();
            return Ok(TestBinary {
                target: target.to_owned(),
                executable: PathBuf::from(executable),
                package_dir,
            });
        }
    }
    Err(format!("cargo reported no executable for --test {target}").into())
}
