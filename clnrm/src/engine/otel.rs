//! The OTLP receiver of `otel = true` services in `#[clnrm::test]` runs.
//!
//! Shared services outlive the test that started them, and under `cargo nextest run` the
//! process that started one ends with its test while the others keep using the container. So
//! the receiver must live as long as the containers do, where every process can ask it:
//!
//! - under `cargo test` (one process): in this process, for its whole run;
//! - under nextest: in a detached copy of the test binary (like the reaper), started by the
//!   first process that needs it (under a file lock), that lives until the nextest process ends.
//!   Its address is written next to the shared services' records; the other processes read it.
//!
//! Either way the receiver binds the run network's gateway (the containers reach it, nothing
//! else does) and answers `GET /v1/spans?trace_id=T` (see [`crate::telemetry::query`]): each
//! test reads the spans of its own trace only, so tests sharing a service never see each
//! other's spans.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::pool::Share;
use crate::docker::RunEnv;
use crate::service::ServiceSpec;
use crate::telemetry::{Receiver, TraceContext, otel_env};

/// Set on the detached receiver process: `OWNER|IP|RECORD`.
pub(crate) const RECEIVER_ENV: &str = "CLNRM_OTLP_RECEIVER";

/// Where the run's `otel = true` services send their telemetry.
#[derive(Debug)]
pub(crate) struct OtelSink {
    /// `http://GATEWAY:PORT`.
    pub(crate) endpoint: String,
    run_id: String,
    /// The trace of the services' own start-up and background work (no test's).
    run_trace: TraceContext,
    /// The receiver, when it runs in this process.
    _receiver: Option<Receiver>,
}

impl OtelSink {
    /// The run's receiver: started here, or (under nextest) the run's detached one.
    pub(crate) async fn start(env: &RunEnv, share: Option<&Share>) -> Result<OtelSink, String> {
        let gateway = env
            .network_gateway()
            .await
            .map_err(|e| format!("the OTLP receiver needs the run network's gateway: {e}"))?;
        let (endpoint, receiver) = match share {
            None => {
                let receiver = Receiver::start(gateway)
                    .await
                    .map_err(|e| format!("cannot start the OTLP receiver on {gateway}: {e}"))?;
                (receiver.endpoint(), Some(receiver))
            }
            Some(share) => (detached(share, gateway).await?, None),
        };
        Ok(OtelSink {
            endpoint,
            run_id: env.id().to_owned(),
            run_trace: TraceContext::new(),
            _receiver: receiver,
        })
    }

    /// Adds the OTLP variables and a `TRACEPARENT` to an `otel = true` service (its own `env`
    /// wins); its `OTEL_SERVICE_NAME` is returned.
    pub(crate) fn apply(&self, spec: &mut ServiceSpec) -> String {
        let user: Vec<String> = spec.env.keys().cloned().collect();
        let user = |k: &str| user.iter().any(|u| u == k);
        let vars = otel_env(&self.endpoint, &spec.name, &self.run_id, &user);
        if !user("TRACEPARENT") {
            let span = self.run_trace.span_id();
            spec.env
                .insert("TRACEPARENT".into(), self.run_trace.traceparent(&span));
        }
        spec.env.extend(vars);
        service_name(spec)
    }
}

/// The `OTEL_SERVICE_NAME` an `otel = true` service sends under.
pub(crate) fn service_name(spec: &ServiceSpec) -> String {
    spec.env
        .get("OTEL_SERVICE_NAME")
        .cloned()
        .unwrap_or_else(|| spec.name.clone())
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ReceiverRecord {
    endpoint: String,
}

/// The run's detached receiver: the one recorded if it answers, else a new one.
async fn detached(share: &Share, gateway: std::net::IpAddr) -> Result<String, String> {
    let base = share.dir.join(format!("{}-otlp", share.run));
    let lock = super::pool::lock_file(base.with_extension("lock")).await?;
    let record = base.with_extension("json");
    if let Some(endpoint) = read_record(&record)
        && crate::telemetry::query::fetch(&endpoint, &Default::default())
            .await
            .is_ok()
    {
        drop(lock);
        return Ok(endpoint);
    }
    let _ = std::fs::remove_file(&record);
    spawn(share, gateway, &record)?;
    let start = Instant::now();
    let endpoint = loop {
        if let Some(endpoint) = read_record(&record) {
            break endpoint;
        }
        if start.elapsed() > Duration::from_secs(20) {
            return Err(format!(
                "the detached OTLP receiver did not write {} within 20 s",
                record.display()
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    drop(lock);
    Ok(endpoint)
}

fn read_record(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str::<ReceiverRecord>(&text)
        .ok()
        .map(|r| r.endpoint)
}

fn spawn(share: &Share, gateway: std::net::IpAddr, record: &Path) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    std::process::Command::new(exe)
        .env(
            RECEIVER_ENV,
            format!("{}|{gateway}|{}", share.owner, record.display()),
        )
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .map(drop)
        .map_err(|e| format!("cannot start the detached OTLP receiver: {e}"))
}

/// The detached receiver's whole life: listen on `IP`, write the address to `RECORD`, serve
/// until `OWNER` (the nextest process) ends.
pub(crate) fn serve_until_owner_ends(spec: &str) -> std::process::ExitCode {
    let mut parts = spec.split('|');
    let (Some(owner), Some(ip), Some(record)) = (parts.next(), parts.next(), parts.next()) else {
        return std::process::ExitCode::from(2);
    };
    let (Some(owner), Ok(ip)) = (crate::docker::Owner::parse(owner), ip.parse()) else {
        return std::process::ExitCode::from(2);
    };
    let record = PathBuf::from(record);
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return std::process::ExitCode::FAILURE;
    };
    rt.block_on(async {
        let Ok(receiver) = Receiver::start(ip).await else {
            return std::process::ExitCode::FAILURE;
        };
        let text = serde_json::to_string(&ReceiverRecord {
            endpoint: receiver.endpoint(),
        })
        .unwrap_or_default();
        if crate::report::write_atomically(&record, text.as_bytes()).is_err() {
            return std::process::ExitCode::FAILURE;
        }
        while !owner.is_dead_here() {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let _ = std::fs::remove_file(&record);
        std::process::ExitCode::SUCCESS
    })
}
