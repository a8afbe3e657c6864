//! Helpers of the benchmarks in `src/bin/bench-*.rs`: building a test target, listing its
//! tests, and reading the harness's JSON results.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

type BoxError = Box<dyn std::error::Error>;

/// A test binary cargo built.
pub struct BuiltTest {
    /// The executable.
    pub executable: PathBuf,
    /// Its package's directory: `cargo test` runs test binaries there, and clnrm finds
    /// `clnrm.toml` from there up.
    pub package_dir: PathBuf,
}

/// Builds `cargo test -p clnrm-examples --test TARGET --no-run` and finds the executable in
/// cargo's JSON messages.
pub fn build_test(target: &str) -> Result<BuiltTest, BoxError> {
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
            return Ok(BuiltTest {
                executable: PathBuf::from(executable),
                package_dir,
            });
        }
    }
    Err(format!("cargo reported no executable for --test {target}").into())
}

/// The binary's tests through the standard `--list` flag (`name: test` lines), with `--ignored`
/// the ignored ones, in the binary's order.
pub fn list_tests(
    executable: &Path,
    package_dir: &Path,
    ignored: bool,
) -> Result<Vec<String>, BoxError> {
    let mut command = Command::new(executable);
    command.arg("--list");
    if ignored {
        command.arg("--ignored");
    }
    let output = command
        .current_dir(package_dir)
        .stderr(Stdio::null())
        .output()?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .map(str::to_owned)
        .collect())
}

/// The lower bound of one clnrm run, in seconds.
pub struct LowerBound {
    /// The slowest service's start-up.
    pub slowest_start: f64,
    /// The sum of the test bodies (durations less waits).
    pub test_sum: f64,
    /// Test threads.
    pub threads: usize,
    /// `slowest_start + test_sum / threads`.
    pub total: f64,
}

/// Reads the harness's JSON results; `Err` says why no lower bound can be given.
pub fn lower_bound(path: &Path) -> Result<LowerBound, String> {
    let text = std::fs::read_to_string(path).map_err(|_| {
        format!(
            "the harness wrote no JSON results to CLNRM_JSON={}",
            path.display()
        )
    })?;
    let results: Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
    let tests = results["tests"]
        .as_array()
        .filter(|t| !t.is_empty())
        .ok_or("the JSON results list no `tests`")?;
    let test_sum = tests
        .iter()
        .map(|t| {
            let duration =
                seconds(t, "duration").ok_or("a test has no `duration_ms`/`duration_secs`")?;
            let wait = seconds(t, "setup_wait")
                .ok_or("a test has no `setup_wait_secs`: its body cannot be told from its wait")?;
            Ok((duration - wait).max(0.0))
        })
        .sum::<Result<f64, &str>>()?;
    let services = results["services"]
        .as_array()
        .filter(|s| !s.is_empty())
        .ok_or("the JSON results list no `services` with start times")?;
    let slowest_start = services
        .iter()
        .map(|s| seconds(s, "start").ok_or("a service has no `start_ms`/`start_secs`"))
        .collect::<Result<Vec<f64>, _>>()?
        .into_iter()
        .fold(0.0, f64::max);
    let threads = results["test_threads"]
        .as_u64()
        .map(|t| t as usize)
        .or_else(|| std::env::var("RUST_TEST_THREADS").ok()?.parse().ok())
        .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
        .unwrap_or(1)
        .max(1);
    Ok(LowerBound {
        slowest_start,
        test_sum,
        threads,
        total: slowest_start + test_sum / threads as f64,
    })
}

/// The `clnrm` binary: `CLNRM_BIN`, else the one next to the running bench
/// (`target/<profile>/clnrm`, made by `cargo build -p clnrm-cli`).
pub fn clnrm_binary() -> Result<PathBuf, BoxError> {
    if let Some(bin) = std::env::var_os("CLNRM_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let exe = std::env::current_exe()?;
    let bin = exe
        .parent()
        .ok_or("the bench binary has no directory")?
        .join("clnrm");
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "{} does not exist: run `cargo build -p clnrm-cli` first or set CLNRM_BIN",
            bin.display()
        )
        .into())
    }
}

/// The `q` quantile (0..=1) of `values`, nearest rank.
pub fn quantile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

/// `{prefix}_ms` or `{prefix}_secs` of a JSON object, in seconds.
fn seconds(object: &Value, prefix: &str) -> Option<f64> {
    object[format!("{prefix}_ms")]
        .as_f64()
        .map(|ms| ms / 1000.0)
        .or_else(|| object[format!("{prefix}_secs")].as_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_bound_is_slowest_start_plus_test_bodies_per_thread() {
        let path =
            std::env::temp_dir().join(format!("bench-lower-bound-{}.json", std::process::id()));
        std::fs::write(
            &path,
            r#"{ "test_threads": 2,
                 "services": [ { "name": "db", "start_ms": 2000 }, { "name": "cache", "start_secs": 0.5 } ],
                 "tests": [ { "name": "a", "duration_ms": 500, "setup_wait_secs": 0.2 },
                            { "name": "b", "duration_secs": 0.1, "setup_wait_ms": 0 } ] }"#,
        )
        .unwrap();
        let bound = lower_bound(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(bound.threads, 2);
        assert!((bound.slowest_start - 2.0).abs() < 1e-9);
        assert!((bound.test_sum - 0.4).abs() < 1e-9);
        assert!((bound.total - 2.2).abs() < 1e-9);
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let mut values = vec![5.0, 1.0, 4.0, 2.0, 3.0];
        assert_eq!(quantile(&mut values, 0.5), 3.0);
        assert_eq!(quantile(&mut values, 0.95), 5.0);
        assert_eq!(quantile(&mut values, 0.0), 1.0);
    }

    #[test]
    fn missing_results_leave_the_lower_bound_unavailable() {
        let why = lower_bound(Path::new("/nonexistent/clnrm.json"))
            .err()
            .unwrap();
        assert!(why.contains("wrote no JSON results"), "{why}");
    }
}
