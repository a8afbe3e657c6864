//! What clnrm's own traces cost: wall time of the example suites (`clnrm run examples/suites`)
//! and of the shortener's tests (the `shortener` test binary, as `cargo test` runs it) with
//! telemetry off (no `OTEL_*` variable), on with a local receiver (clnrm's OTLP receiver in this
//! process on loopback; over http/protobuf, and over gRPC with `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`),
//! and on with a dead endpoint (a closed port; http/protobuf and gRPC); each mode's median with
//! min-max and its ratio to "off". Modes take turns within each round, in a rotating order.
//!
//! `cargo build -p clnrm-cli && cargo run -p clnrm-examples --bin bench-telemetry [-- ROUNDS]`
//! (default 3). The `clnrm` binary is the one next to this bench or `CLNRM_BIN`. Runs record into
//! a temporary history (`CLNRM_HISTORY`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clnrm::telemetry::Receiver;
use clnrm_examples::bench::{build_test, clnrm_binary, quantile};

type BoxError = Box<dyn std::error::Error>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Off,
    Local,
    LocalGrpc,
    Dead,
    DeadGrpc,
}

impl Mode {
    const ALL: [Mode; 5] = [
        Mode::Off,
        Mode::Local,
        Mode::LocalGrpc,
        Mode::Dead,
        Mode::DeadGrpc,
    ];

    fn name(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Local => "on, local receiver",
            Mode::LocalGrpc => "on, local, grpc",
            Mode::Dead => "on, dead endpoint",
            Mode::DeadGrpc => "on, dead, grpc",
        }
    }

    fn local(self) -> bool {
        matches!(self, Mode::Local | Mode::LocalGrpc)
    }

    /// `OTEL_EXPORTER_OTLP_PROTOCOL`.
    fn protocol(self) -> &'static str {
        match self {
            Mode::LocalGrpc | Mode::DeadGrpc => "grpc",
            _ => "http/protobuf",
        }
    }
}

/// One thing timed: a program, its arguments and directory.
struct Workload {
    name: &'static str,
    program: PathBuf,
    args: Vec<String>,
    dir: PathBuf,
}

fn main() -> Result<(), BoxError> {
    let rounds: usize = std::env::args().nth(1).map_or(Ok(3), |a| a.parse())?;
    if rounds == 0 {
        return Err("ROUNDS must be at least 1".into());
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workspace = root.parent().ok_or("examples/ has no parent")?;
    let clnrm = clnrm_binary()?;
    let shortener = build_test("shortener")?;
    let workloads = [
        Workload {
            name: "clnrm run examples/suites",
            program: clnrm.clone(),
            args: vec!["run".to_owned(), root.join("suites").display().to_string()],
            dir: workspace.to_owned(),
        },
        Workload {
            name: "shortener tests (cargo test)",
            program: shortener.executable,
            args: Vec::new(),
            dir: shortener.package_dir,
        },
    ];
    let runtime = tokio::runtime::Runtime::new()?;
    let receiver = runtime.block_on(Receiver::start("127.0.0.1".parse()?))?;
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        format!("http://{}", listener.local_addr()?)
    };
    let history =
        std::env::temp_dir().join(format!("clnrm-bench-telemetry-{}.db", std::process::id()));
    println!("clnrm binary: {}", clnrm.display());
    println!(
        "rounds: {rounds}; local receiver {}; dead endpoint {dead}",
        receiver.endpoint()
    );

    let mut failed = false;
    for workload in &workloads {
        // samples[mode] = wall times; spans received per local run (http, grpc).
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); Mode::ALL.len()];
        let mut spans = Vec::new();
        let mut grpc_spans = Vec::new();
        for round in 0..rounds {
            for turn in 0..Mode::ALL.len() {
                let index = (round + turn) % Mode::ALL.len();
                let mode = Mode::ALL[index];
                let endpoint = match mode {
                    Mode::Off => None,
                    Mode::Local | Mode::LocalGrpc => Some(receiver.endpoint()),
                    Mode::Dead | Mode::DeadGrpc => Some(dead.clone()),
                };
                let before = receiver.spans().len();
                let (wall, passed) = run(
                    workload,
                    endpoint.as_deref().map(|e| (e, mode.protocol())),
                    &history,
                )?;
                if mode.local() {
                    runtime.block_on(
                        receiver.settle(Duration::from_millis(200), Duration::from_secs(2)),
                    );
                    let received = receiver.spans().len() - before;
                    if mode == Mode::Local {
                        spans.push(received);
                    } else {
                        grpc_spans.push(received);
                    }
                }
                if !passed {
                    failed = true;
                    println!(
                        "  {} ({}) round {round}: FAILED",
                        workload.name,
                        mode.name()
                    );
                }
                samples[index].push(wall.as_secs_f64());
            }
        }
        println!("\n{}", workload.name);
        let off = quantile(&mut samples[0].clone(), 0.5);
        for (mode, times) in Mode::ALL.iter().zip(&mut samples) {
            let median = quantile(times, 0.5);
            println!(
                "  {:<20} median {:>6.2} s (min {:.2}, max {:.2})  {:.3}x off",
                mode.name(),
                median,
                times[0],
                times[times.len() - 1],
                median / off
            );
        }
        println!("  spans received per local run: http {spans:?}, grpc {grpc_spans:?}");
    }
    let _ = std::fs::remove_file(&history);
    if failed {
        return Err("some runs failed".into());
    }
    Ok(())
}

/// Runs `workload` once with `endpoint` as `OTEL_EXPORTER_OTLP_ENDPOINT` and its protocol as
/// `OTEL_EXPORTER_OTLP_PROTOCOL` (none: no `OTEL_*` variable at all); its wall time and
/// whether it passed.
fn run(
    workload: &Workload,
    endpoint: Option<(&str, &str)>,
    history: &Path,
) -> Result<(Duration, bool), BoxError> {
    let mut command = Command::new(&workload.program);
    command
        .args(&workload.args)
        .current_dir(&workload.dir)
        .env("CLNRM_HISTORY", history)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("OTEL_") {
            command.env_remove(key);
        }
    }
    if let Some((endpoint, protocol)) = endpoint {
        command
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol);
    }
    let clock = Instant::now();
    let status = command.status()?;
    Ok((clock.elapsed(), status.success()))
}
