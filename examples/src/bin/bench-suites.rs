//! What `clnrm run` spends per suite outside its steps, on 1, 10 and 50 generated suites, next to
//! the usual way of running the same suites by hand with the Docker CLI.
//!
//! Each generated suite has one Redis service and one scenario of two command steps run inside
//! it (`redis-cli set`, then `redis-cli get` expecting the value). clnrm runs the folder with
//! `clnrm run DIR --jobs J --json`; the report gives every scenario's time, so the time outside
//! the steps is the wall time minus the scenarios' time (divided by the jobs). The usual way
//! does per suite what a careful shell script does: `docker network create`, `docker run -d`
//! the Redis image on it, `docker exec … redis-cli ping` until PONG, the two steps with `docker
//! exec`, `docker rm -f`, `docker network rm`, one suite after the other.
//!
//! `cargo build -p clnrm-cli && cargo run -p clnrm-examples --bin bench-suites [-- JOBS ROUNDS]`
//! (default 1 job, 1 round). The `clnrm` binary is the one next to this bench or `CLNRM_BIN`;
//! the Redis image is the repository's `clnrm-local/redis:7` (what `clnrm.toml` maps `redis:7`
//! to). Runs record into a temporary history, so the repository's history is untouched.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error>;

const IMAGE: &str = "clnrm-local/redis:7";
const COUNTS: [usize; 3] = [1, 10, 50];

fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let jobs: usize = args.next().map_or(Ok(1), |a| a.parse())?;
    let rounds: usize = args.next().map_or(Ok(1), |a| a.parse())?;
    if jobs == 0 || rounds == 0 {
        return Err("JOBS and ROUNDS must be at least 1".into());
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workspace = root.parent().ok_or("examples/ has no parent")?;
    let clnrm = clnrm_binary()?;
    println!("clnrm binary: {}", clnrm.display());
    println!("jobs: {jobs}, rounds: {rounds}, image: {IMAGE}");
    println!(
        "{:>6} {:>5} {:>10} {:>12} {:>14} {:>12} {:>14} {:>7}",
        "suites",
        "round",
        "clnrm s",
        "in steps s",
        "outside/suite",
        "usual s",
        "usual/suite",
        "usual÷"
    );
    for &n in &COUNTS {
        for round in 1..=rounds {
            let dir = tempdir(&format!("suites-{n}-{round}"))?;
            for i in 0..n {
                std::fs::write(dir.join(format!("s{i:03}.clnrm.toml")), suite(i))?;
            }
            // `clnrm.toml` of the repository maps the official image names to the local ones.
            std::fs::copy(workspace.join("clnrm.toml"), dir.join("clnrm.toml"))?;
            let json = dir.join("report.json");
            let t0 = Instant::now();
            let out = Command::new(&clnrm)
                .arg("run")
                .arg(&dir)
                .args(["--jobs", &jobs.to_string(), "--order", "file", "--json"])
                .arg(&json)
                .env("CLNRM_HISTORY", dir.join("history.db"))
                .stdout(Stdio::null())
                .output()?;
            let wall = t0.elapsed();
            if !out.status.success() {
                return Err(format!(
                    "clnrm run failed ({}):\n{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                )
                .into());
            }
            let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json)?)?;
            let tests = report["tests"].as_array().ok_or("no tests in the report")?;
            if tests.len() != n || tests.iter().any(|t| t["outcome"] != "passed") {
                return Err(format!("expected {n} passed scenarios, report: {report}").into());
            }
            let in_steps: f64 = tests
                .iter()
                .filter_map(|t| t["duration_secs"].as_f64())
                .sum();
            let outside = (wall.as_secs_f64() * jobs as f64 - in_steps) / n as f64;
            let usual = usual_way(n, round)?;
            println!(
                "{n:>6} {round:>5} {:>10.2} {in_steps:>12.2} {:>12.0}ms {:>12.2} {:>12.0}ms {:>6.2}x",
                wall.as_secs_f64(),
                outside * 1e3,
                usual.as_secs_f64(),
                usual.as_secs_f64() * 1e3 / n as f64,
                usual.as_secs_f64() / wall.as_secs_f64()
            );
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    Ok(())
}

fn suite(i: usize) -> String {
    format!(
        r#"version = 1

[suite]
name = "generated-{i:03}"

[services.cache]
plugin = "redis"
image = "redis:7"

[[scenarios]]
name = "set then get"

[[scenarios.steps]]
name = "set"
run = ["redis-cli", "set", "k{i}", "v{i}"]
service = "cache"
expect.stdout.contains = "OK"

[[scenarios.steps]]
name = "get"
run = ["redis-cli", "get", "k{i}"]
service = "cache"
expect.stdout.contains = "v{i}"
"#
    )
}

/// The same suites by hand, one after the other: network, container, readiness, the two steps,
/// removal.
fn usual_way(n: usize, round: usize) -> Result<Duration, BoxError> {
    let t0 = Instant::now();
    for i in 0..n {
        let name = format!("clnrm-bench-suites-{}-{round}-{i}", std::process::id());
        docker(&["network", "create", &name])?;
        let result = (|| -> Result<(), BoxError> {
            docker(&[
                "run",
                "-d",
                "--name",
                &name,
                "--network",
                &name,
                "--network-alias",
                "cache",
                IMAGE,
            ])?;
            let ready = Instant::now();
            while docker(&["exec", &name, "redis-cli", "ping"]).map(|o| o.trim().to_owned())
                != Ok("PONG".to_owned())
            {
                if ready.elapsed() > Duration::from_secs(60) {
                    return Err("redis not ready after 60 s".into());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let set = docker(&["exec", &name, "redis-cli", "set", &format!("k{i}"), "v"])?;
            let get = docker(&["exec", &name, "redis-cli", "get", &format!("k{i}")])?;
            if !set.contains("OK") || !get.contains('v') {
                return Err(format!("steps failed: {set:?} {get:?}").into());
            }
            Ok(())
        })();
        let _ = docker(&["rm", "-f", &name]);
        docker(&["network", "rm", &name])?;
        result?;
    }
    Ok(t0.elapsed())
}

fn docker(args: &[&str]) -> Result<String, String> {
    let out = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("docker {}: {e}", args.join(" ")))?;
    if !out.status.success() {
        return Err(format!(
            "docker {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn tempdir(name: &str) -> Result<PathBuf, BoxError> {
    let dir = std::env::temp_dir().join(format!("clnrm-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn clnrm_binary() -> Result<PathBuf, BoxError> {
    if let Some(path) = std::env::var_os("CLNRM_BIN") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe()?;
    let path = exe.with_file_name("clnrm");
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "no clnrm binary at {} (cargo build -p clnrm-cli first, or set CLNRM_BIN)",
            path.display()
        )
        .into())
    }
}
