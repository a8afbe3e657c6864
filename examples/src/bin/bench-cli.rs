//! Two figures of `clnrm run` on the example suites, each next to the usual way:
//!
//! 1. **Time to the first container**: from spawning `clnrm run examples/suites/<suite>` to
//!    Docker's `create` event of the first container it makes, next to the same for
//!    `docker run -d` of one of the suite's images (the Docker CLI's own latency, the floor).
//! 2. **Wall time of all example suites**, `--jobs 1` (sequential) against `--jobs 2`.
//!
//! `cargo build -p clnrm-cli && cargo run -p clnrm-examples --bin bench-cli [-- ROUNDS]`
//! (default 5 rounds; medians printed with min-max). The `clnrm` binary is the one next to this
//! bench (`target/<profile>/clnrm`) or `CLNRM_BIN`. Times come from Docker's event clock
//! (`timeNano`) against the wall clock at spawn, both on this machine. Runs record into a
//! temporary history (`CLNRM_HISTORY`), so the repository's history is untouched.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clnrm_examples::bench::clnrm_binary;

type BoxError = Box<dyn std::error::Error>;

/// The suite timed to its first container.
const FIRST_CONTAINER_SUITE: &str = "signup.clnrm.toml";
/// The image `docker run` starts for the baseline (the repository's `clnrm.toml` maps the
/// suite's `redis:7` to it).
const BASELINE_IMAGE: &str = "clnrm-local/redis:7";
const BENCH_LABEL: &str = "dev.clnrm.bench=first-container";

fn main() -> Result<(), BoxError> {
    let rounds: usize = std::env::args().nth(1).map_or(Ok(5), |a| a.parse())?;
    if rounds == 0 {
        return Err("ROUNDS must be at least 1".into());
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workspace = root.parent().ok_or("examples/ has no parent")?;
    let clnrm = clnrm_binary()?;
    let suites = root.join("suites");
    let history = std::env::temp_dir().join(format!("clnrm-bench-cli-{}.db", std::process::id()));
    println!("clnrm binary: {}", clnrm.display());
    println!("rounds: {rounds}");

    let mut first_clnrm = Vec::new();
    let mut first_docker = Vec::new();
    for round in 0..rounds {
        // Alternate which goes first so a warm cache favours neither.
        let order = if round % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for clnrm_turn in order {
            if clnrm_turn {
                let mut cmd = Command::new(&clnrm);
                cmd.arg("run")
                    .arg(suites.join(FIRST_CONTAINER_SUITE))
                    .current_dir(workspace)
                    .env("CLNRM_HISTORY", &history);
                first_clnrm.push(time_to_first_create("label=dev.clnrm.managed", cmd)?);
            } else {
                let mut cmd = Command::new("docker");
                cmd.args(["run", "-d", "--rm", "--label", BENCH_LABEL])
                    .args([BASELINE_IMAGE, "sleep", "1"]);
                first_docker.push(time_to_first_create(&format!("label={BENCH_LABEL}"), cmd)?);
            }
        }
    }

    let mut sequential = Vec::new();
    let mut parallel = Vec::new();
    for round in 0..rounds {
        let order = if round % 2 == 0 { [1, 2] } else { [2, 1] };
        for jobs in order {
            let t0 = Instant::now();
            let status = Command::new(&clnrm)
                .arg("run")
                .arg(&suites)
                .args(["--jobs", &jobs.to_string()])
                .current_dir(workspace)
                .env("CLNRM_HISTORY", &history)
                .stdout(Stdio::null())
                .status()?;
            let wall = t0.elapsed();
            if !status.success() {
                return Err(format!("clnrm run --jobs {jobs} failed: {status}").into());
            }
            if jobs == 1 {
                &mut sequential
            } else {
                &mut parallel
            }
            .push(wall);
        }
    }
    let _ = std::fs::remove_file(&history);

    println!();
    println!("time to the first container created (ms, median [min-max] of {rounds})");
    println!(
        "  clnrm run {FIRST_CONTAINER_SUITE:<24} {}",
        stats(&first_clnrm)
    );
    println!(
        "  docker run -d {BASELINE_IMAGE:<20} {}",
        stats(&first_docker)
    );
    println!();
    println!("wall time of examples/suites (ms, median [min-max] of {rounds})");
    println!("  --jobs 1 (sequential)  {}", stats(&sequential));
    println!("  --jobs 2               {}", stats(&parallel));
    let (s, p) = (median(&sequential), median(&parallel));
    println!(
        "  --jobs 2 takes {:.0} % of the sequential time",
        100.0 * p.as_secs_f64() / s.as_secs_f64()
    );
    Ok(())
}

/// Spawns `command` and returns how long after the spawn Docker reported creating the first
/// container matching `filter`; waits for the command to finish.
fn time_to_first_create(filter: &str, mut command: Command) -> Result<Duration, BoxError> {
    let mut events = Command::new("docker")
        .args(["events", "--filter", "event=create", "--filter", filter])
        .args(["--format", "{{.TimeNano}}"])
        .stdout(Stdio::piped())
        .spawn()?;
    // `docker events` prints nothing when it is subscribed; give it time to be.
    std::thread::sleep(Duration::from_millis(500));
    let spawned = SystemTime::now().duration_since(UNIX_EPOCH)?;
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = events.stdout.take().ok_or("docker events has no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let status = child.wait()?;
    // The event of a container the command made is out by the time the command ends.
    let created = rx.recv_timeout(Duration::from_secs(5));
    let _ = events.kill();
    let _ = events.wait();
    if !status.success() {
        return Err(format!("{command:?} failed: {status}").into());
    }
    let line = created.map_err(|_| format!("{command:?} created no container"))?;
    let nanos: u64 = line.trim().parse()?;
    Duration::from_nanos(nanos)
        .checked_sub(spawned)
        .ok_or_else(|| "the create event is older than the spawn".into())
}

fn median(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

fn stats(samples: &[Duration]) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let min = samples.iter().min().copied().unwrap_or_default();
    let max = samples.iter().max().copied().unwrap_or_default();
    format!(
        "{:8.0} [{:.0}-{:.0}]",
        ms(median(samples)),
        ms(min),
        ms(max)
    )
}
