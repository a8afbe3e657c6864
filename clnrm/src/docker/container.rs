//! Starting one container of a run: create through testcontainers on the run network under the
//! service's name, wait until ready, and on failure remove it and report its last log lines.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::BoxFuture;
use testcontainers::bollard::Docker;
use testcontainers::bollard::exec::{CreateExecOptions, StartExecResults};
use testcontainers::bollard::query_parameters::{LogsOptions, RemoveContainerOptions};
use testcontainers::core::{ContainerPort, Mount};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::Instrument as _;

use super::env::RunEnv;
use super::images::split_reference;
use crate::error::{Error, Result, ServiceError, docker_request};

/// Where a started container can be reached from this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The host to connect to (`127.0.0.1` for a local engine).
    pub host: String,
    /// Container port → host port.
    pub ports: BTreeMap<u16, u16>,
}

impl Endpoint {
    /// The host port mapped to `container_port`.
    pub fn port(&self, container_port: u16) -> Option<u16> {
        self.ports.get(&container_port).copied()
    }
}

/// A readiness check written in code, for plugins (Postgres connects and runs `SELECT 1`).
pub type ReadyCheck =
    Arc<dyn Fn(Endpoint) -> BoxFuture<'static, std::result::Result<(), String>> + Send + Sync>;

/// When a container counts as ready. A recipe may list several: all must hold.
#[derive(Clone)]
#[non_exhaustive]
pub enum Readiness {
    /// This text appears in the container's stdout or stderr.
    LogLine(String),
    /// A server accepts TCP connections on this container port (checked through the mapped
    /// port; a connection the port proxy closes at once does not count).
    Port(u16),
    /// An HTTP GET of `path` on this container port answers `status`.
    Http {
        /// The container port.
        port: u16,
        /// The request path, `/health`.
        path: String,
        /// The expected status code.
        status: u16,
    },
    /// This command, run inside the container, exits 0.
    Command(Vec<String>),
    /// A check in code.
    Custom(ReadyCheck),
}

impl fmt::Debug for Readiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Readiness::LogLine(text) => write!(f, "log line {text:?}"),
            Readiness::Port(port) => write!(f, "port {port}"),
            Readiness::Http { port, path, status } => {
                write!(f, "HTTP {status} from GET {path} on port {port}")
            }
            Readiness::Command(argv) => write!(f, "command {argv:?} exits 0"),
            Readiness::Custom(_) => write!(f, "plugin check"),
        }
    }
}

/// GPUs a container asks Docker for, as `docker run --gpus` does (a device request for the
/// `gpu` capability). Docker refuses to start it on a machine without a GPU runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gpus {
    /// Every GPU (`--gpus all`).
    All,
    /// This many.
    Count(u32),
}

impl std::str::FromStr for Gpus {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        match text.trim() {
            "all" => Ok(Gpus::All),
            n => n
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .map(Gpus::Count)
                .ok_or_else(|| format!("expected \"all\" or a number of GPUs, found `{text}`")),
        }
    }
}

/// Everything needed to start one container. Plugins build one from a
/// [`crate::service::ServiceSpec`].
#[derive(Debug, Clone)]
pub struct ContainerRecipe {
    /// The service name: the network alias other services reach it by.
    pub service: String,
    /// The image as asked for (`postgres:16`); substitution is applied when starting.
    pub image: String,
    /// Environment variables.
    pub env: BTreeMap<String, String>,
    /// Container ports to publish on random host ports.
    pub ports: Vec<u16>,
    /// Overrides the image's entrypoint (argv).
    pub entrypoint: Option<Vec<String>>,
    /// Overrides the image's command (argv).
    pub cmd: Option<Vec<String>>,
    /// When the container counts as ready.
    pub readiness: Vec<Readiness>,
    /// Memory limit in bytes.
    pub memory: Option<i64>,
    /// CPU limit in CPUs (0.5 = half a core).
    pub cpus: Option<f64>,
    /// Bind mounts: (host path, container path, read only).
    pub mounts: Vec<(String, String, bool)>,
    /// Container paths replaced by an empty tmpfs (in memory, counted in the memory limit).
    pub tmpfs: Vec<String>,
    /// The user to run as; the image's when `None`.
    pub user: Option<String>,
    /// Working directory.
    pub workdir: Option<String>,
    /// GPUs to request.
    pub gpus: Option<Gpus>,
    /// How long creation plus readiness may take.
    pub startup_timeout: Duration,
    /// Put a front in front of it (`chaos = true`): a small forwarder container answers the
    /// service's name on the run network, the service itself is `NAME-upstream`, and a chaos
    /// session routes other containers through its proxy (see [`super::Front`]).
    pub front: bool,
    /// The host name (the alias other containers reach it by); from the service name when
    /// `None`.
    pub hostname: Option<String>,
    /// Labels beyond the run's.
    pub labels: Vec<(String, String)>,
}

impl ContainerRecipe {
    /// A recipe with no ports, no readiness and a 60 s start-up timeout.
    pub fn new(service: impl Into<String>, image: impl Into<String>) -> Self {
        ContainerRecipe {
            service: service.into(),
            image: image.into(),
            env: BTreeMap::new(),
            ports: Vec::new(),
            entrypoint: None,
            cmd: None,
            readiness: Vec::new(),
            memory: None,
            cpus: None,
            mounts: Vec::new(),
            tmpfs: Vec::new(),
            user: None,
            workdir: None,
            gpus: None,
            startup_timeout: Duration::from_secs(60),
            front: false,
            hostname: None,
            labels: Vec::new(),
        }
    }
}

/// A running container of a run. Dropping it removes the container (from any context: with or
/// without a tokio runtime); [`StartedContainer::remove`] is the explicit, awaited way.
pub struct StartedContainer {
    container: Option<ContainerAsync<GenericImage>>,
    id: String,
    image: String,
    endpoint: Endpoint,
    docker: Docker,
    /// Its front container (`chaos = true`), removed with it.
    front: Option<String>,
    /// How long its readiness checks took (zero before they ran).
    health_check: Duration,
}

impl fmt::Debug for StartedContainer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartedContainer")
            .field("id", &self.id)
            .field("image", &self.image)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

/// What a command run in a container produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// The exit code.
    pub exit_code: i64,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl StartedContainer {
    /// The container id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The image that runs (after substitution).
    pub fn image(&self) -> &str {
        &self.image
    }

    /// Where it can be reached from this process.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The Docker client it was started with.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// How long its readiness checks took, from its ports being known to it being ready.
    pub fn health_check_time(&self) -> Duration {
        self.health_check
    }

    /// Runs `argv` inside the container (no shell) with extra `env` and `workdir`.
    pub async fn exec(
        &self,
        argv: &[String],
        env: &[(String, String)],
        workdir: Option<&str>,
    ) -> Result<ExecOutput> {
        exec_in(&self.docker, &self.id, argv, env, workdir).await
    }

    /// The last `lines` lines of stdout and stderr, interleaved as Docker stored them.
    pub async fn log_tail(&self, lines: usize) -> Result<String> {
        logs_of(&self.docker, &self.id, lines).await
    }

    /// Lets the container outlive this value: nothing removes it on drop.
    pub fn detach(mut self) {
        if let Some(container) = self.container.take() {
            // testcontainers removes its containers on drop; this one belongs to a longer run.
            std::mem::forget(container);
        }
    }

    /// Stops and removes the container (and its front).
    pub async fn remove(mut self) -> Result<()> {
        if let Some(front) = self.front.take() {
            remove_all(&self.docker, &[front]).await;
        }
        if let Some(container) = self.container.take() {
            container
                .rm()
                .await
                .map_err(|e| docker_request(format!("remove container {}", self.id), e))?;
        }
        Ok(())
    }
}

impl Drop for StartedContainer {
    fn drop(&mut self) {
        if let Some(container) = self.container.take() {
            // testcontainers' own drop needs to run inside a tokio runtime; ours may run at
            // exit, after a panic or outside any runtime, so remove it on a thread of its own
            // with a fresh client, and let testcontainers forget it.
            std::mem::forget(container);
            let mut ids = vec![self.id.clone()];
            ids.extend(self.front.take());
            remove_blocking(ids, None);
        }
    }
}

/// Removes containers (and then a network) from a thread of its own, with its own runtime and
/// client, and waits for it: usable from `Drop`, signal handlers and panics alike.
pub(crate) fn remove_blocking(ids: Vec<String>, network: Option<String>) {
    let work = move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async move {
            let Ok(docker) = Docker::connect_with_defaults() else {
                return;
            };
            remove_all(&docker, &ids).await;
            if let Some(network) = network {
                let _ = docker.remove_network(&network).await;
            }
        });
    };
    let _ = std::thread::spawn(work).join();
}

/// Force-removes containers with their anonymous volumes, concurrently; errors are ignored
/// (the container may be gone already).
pub(crate) async fn remove_all(docker: &Docker, ids: &[String]) {
    let options = RemoveContainerOptions {
        force: true,
        v: true,
        ..Default::default()
    };
    futures::future::join_all(
        ids.iter()
            .map(|id| docker.remove_container(id, Some(options.clone()))),
    )
    .await;
}

/// Starts `recipe` in `env`: create and start through testcontainers, join the run network
/// under the service name, then wait for readiness. On any failure the container is removed
/// and the error carries its last log lines.
pub(crate) async fn start_container(
    env: &Arc<RunEnv>,
    recipe: &ContainerRecipe,
) -> Result<StartedContainer> {
    let started_at = Instant::now();
    let deadline = started_at + recipe.startup_timeout;
    let image = env.images().resolve(&recipe.image);
    if let Some(note) = super::images::pin_note(&recipe.image, &image) {
        // The user's explicit redirect wins over the recipe's digest; that is said, never hidden.
        tracing::warn!(service = %recipe.service, "{note}");
    }
    let start_error = |source: Box<dyn std::error::Error + Send + Sync>| {
        Error::Service(ServiceError::Start {
            service: recipe.service.clone(),
            image: image.clone(),
            source,
        })
    };
    crate::secrets::register_env(recipe.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let request = build_request(env, recipe, &image).map_err(|e| start_error(e.into()))?;

    tracing::debug!(service = %recipe.service, image = %image, "creating container");
    // Nothing is created once the process was interrupted: it could outlive the final sweep.
    let mut creating = crate::interrupt::creating().map_err(Error::Interrupted)?;
    let created = tokio::time::timeout_at(deadline.into(), request.start()).await;
    if created.is_ok() {
        creating.answered();
    }
    drop(creating);
    let container = match created {
        Ok(Ok(container)) => container,
        Ok(Err(e)) => {
            let hint = if e.to_string().contains("pull") || e.to_string().contains("No such image")
            {
                format!(
                    "{e}\nhint: the image is not available locally and could not be pulled; \
                     build it or redirect it (clnrm.toml [images], CLNRM_IMAGE_{}=..., see \
                     README \"Machines without a registry\")",
                    super::images::env_key(split_reference(&recipe.image).0)
                )
            } else {
                e.to_string()
            };
            // A container may have been created before the failure: the run's label finds it.
            env.remove_service_leftovers(&recipe.service).await;
            return Err(start_error(hint.into()));
        }
        Err(_) => {
            env.remove_service_leftovers(&recipe.service).await;
            return Err(Error::Service(ServiceError::NotReady {
                service: recipe.service.clone(),
                image,
                timeout: recipe.startup_timeout,
                last_check: "the container was not even created (image pull or Docker slow)"
                    .to_owned(),
                logs: String::new(),
            }));
        }
    };
    let id = container.id().to_owned();
    let docker = env.docker().clone();
    let mut started = StartedContainer {
        container: Some(container),
        id: id.clone(),
        image: image.clone(),
        endpoint: Endpoint {
            host: String::new(),
            ports: BTreeMap::new(),
        },
        docker: docker.clone(),
        front: None,
        health_check: Duration::ZERO,
    };

    let prepared = async {
        let container = started.container.as_ref().expect("container is set above");
        // Where the ports were published (see `client::connect_host`), not testcontainers'
        // guess: inside a container it answers the bridge gateway, which loopback ports
        // never listen on.
        let host = super::client::connect_host();
        let mut ports = BTreeMap::new();
        for port in &recipe.ports {
            let host_port = container
                .get_host_port_ipv4(ContainerPort::Tcp(*port))
                .await
                .map_err(|e| start_error(e.into()))?;
            ports.insert(*port, host_port);
        }
        Ok::<_, Error>(Endpoint { host, ports })
    };
    let image_for_report = image.clone();
    let not_ready = |started: StartedContainer, last_check: String| async move {
        let logs = started
            .log_tail(30)
            .await
            .unwrap_or_else(|e| format!("(logs unavailable: {e})"));
        let _ = started.remove().await;
        Error::Service(ServiceError::NotReady {
            service: recipe.service.clone(),
            image: image_for_report,
            timeout: recipe.startup_timeout,
            last_check,
            logs: indent(&crate::report::clean_message(Some(logs)).unwrap_or_default()),
        })
    };
    match prepared.await {
        Ok(endpoint) => started.endpoint = endpoint,
        Err(e) => {
            // A container that exits at once has no ports to look up: say that, with its logs.
            if let Some(exit) = exited(&started).await {
                let why = format!("the container exited ({exit}) before it was ready");
                return Err(not_ready(started, why).await);
            }
            let _ = started.remove().await;
            return Err(e);
        }
    }

    tracing::debug!(service = %recipe.service, "waiting for readiness");
    let checks = Instant::now();
    let health = crate::telemetry::tree::health(&recipe.service, recipe.readiness.len());
    let ready = wait_ready(&started, &recipe.readiness, deadline)
        .instrument(health.clone())
        .await;
    if let Err(last_check) = ready {
        crate::telemetry::tree::failed(&health, "health_timeout");
        drop(health);
        return Err(not_ready(started, last_check).await);
    }
    drop(health);
    started.health_check = checks.elapsed();
    tracing::debug!(
        service = %recipe.service,
        elapsed_ms = started_at.elapsed().as_millis() as u64,
        "service ready"
    );
    if recipe.front {
        match super::front::start(env, recipe, &image, &id).await {
            Ok(front) => started.front = Some(front),
            Err(e) => {
                let _ = started.remove().await;
                return Err(e);
            }
        }
    }
    Ok(started)
}

fn build_request(
    env: &RunEnv,
    recipe: &ContainerRecipe,
    image: &str,
) -> std::result::Result<testcontainers::ContainerRequest<GenericImage>, String> {
    // A digest pin goes to Docker as `repo:tag@sha256:...`: Docker uses (or pulls and checks)
    // exactly that content, never whatever the tag points at now.
    let (repo, tag) = split_reference(image);
    let tag = match super::images::digest_of(image) {
        Some(digest) => format!("{}@{digest}", tag.unwrap_or("latest")),
        None => tag.unwrap_or("latest").to_owned(),
    };
    let mut generic = GenericImage::new(repo.to_owned(), tag);
    for port in &recipe.ports {
        generic = generic.with_exposed_port(ContainerPort::Tcp(*port));
    }
    let mut cmd = recipe.cmd.clone();
    if let Some(entrypoint) = &recipe.entrypoint {
        // testcontainers takes the entrypoint as one executable; the rest of the argv goes
        // before the command, which is how Docker joins ENTRYPOINT and CMD anyway.
        let (first, rest) = entrypoint
            .split_first()
            .ok_or_else(|| "`entrypoint` is an empty argv".to_owned())?;
        generic = generic.with_entrypoint(first);
        let mut joined = rest.to_vec();
        joined.extend(cmd.take().unwrap_or_default());
        cmd = Some(joined);
    }
    let name = format!(
        "clnrm-{}-{}-{:04x}",
        env.id(),
        sanitize(&recipe.service),
        rand::random::<u16>()
    );
    // Created on the run network with the service name as host name: on a user-defined network
    // Docker registers the host name as a DNS alias, so other services reach it by name, with
    // no separate (and slow: ~200 ms) `network connect`.
    let mut request = generic
        .with_container_name(name)
        .with_network(env.network())
        .with_hostname(hostname(recipe))
        .with_labels(
            env.labels_for(&recipe.service)
                .into_iter()
                .chain(recipe.labels.iter().cloned()),
        )
        .with_startup_timeout(recipe.startup_timeout);
    if let Some(cmd) = cmd {
        request = request.with_cmd(cmd);
    }
    for (key, value) in &recipe.env {
        request = request.with_env_var(key, value);
    }
    for (host, target, read_only) in &recipe.mounts {
        let mut mount = Mount::bind_mount(host.clone(), target.clone());
        if *read_only {
            mount = mount.with_access_mode(testcontainers::core::AccessMode::ReadOnly);
        }
        request = request.with_mount(mount);
    }
    if let Some(workdir) = &recipe.workdir {
        request = request.with_working_dir(workdir);
    }
    if let Some(user) = &recipe.user {
        request = request.with_user(user);
    }
    let (memory, cpus, gpus) = (recipe.memory, recipe.cpus, recipe.gpus);
    let tmpfs: std::collections::HashMap<String, String> = recipe
        .tmpfs
        .iter()
        .map(|path| (path.clone(), String::new()))
        .collect();
    // Published on one address (loopback by default), never on every interface: a test's
    // password-less Redis must not be reachable from other machines.
    let bind = super::client::bind_address();
    let bindings: testcontainers::bollard::models::PortMap = recipe
        .ports
        .iter()
        .map(|port| {
            let binding = testcontainers::bollard::models::PortBinding {
                host_ip: Some(bind.clone()),
                host_port: Some(String::new()),
            };
            (format!("{port}/tcp"), Some(vec![binding]))
        })
        .collect();
    request = request.with_host_config_modifier(move |host_config| {
        if !bindings.is_empty() {
            host_config.publish_all_ports = Some(false);
            host_config.port_bindings = Some(bindings.clone());
        }
        if !tmpfs.is_empty() {
            host_config.tmpfs = Some(tmpfs.clone());
        }
        if let Some(bytes) = memory {
            host_config.memory = Some(bytes);
            // No swap beyond the limit, so the limit is the limit.
            host_config.memory_swap = Some(bytes);
        }
        if let Some(cpus) = cpus {
            host_config.nano_cpus = Some((cpus * 1e9) as i64);
        }
        if let Some(gpus) = gpus {
            host_config.device_requests =
                Some(vec![testcontainers::bollard::models::DeviceRequest {
                    driver: Some(String::new()),
                    count: Some(match gpus {
                        Gpus::All => -1,
                        Gpus::Count(n) => i64::from(n),
                    }),
                    capabilities: Some(vec![vec!["gpu".to_owned()]]),
                    ..Default::default()
                }]);
        }
    });
    Ok(request)
}

/// The host name other containers reach `recipe` by: its service name, or `NAME-upstream`
/// behind a front (which answers the name itself).
pub(super) fn hostname(recipe: &ContainerRecipe) -> String {
    if let Some(hostname) = &recipe.hostname {
        return hostname.clone();
    }
    let name = sanitize(&recipe.service).replace('_', "-");
    if recipe.front {
        format!("{name}-upstream")
    } else {
        name
    }
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn indent(text: &str) -> String {
    if text.trim().is_empty() {
        return "  (no output)".to_owned();
    }
    text.lines()
        .map(|l| format!("  | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Polls every readiness condition until all hold or the deadline passes; the error is what the
/// last failing check said.
async fn wait_ready(
    started: &StartedContainer,
    readiness: &[Readiness],
    deadline: Instant,
) -> std::result::Result<(), String> {
    let mut pending: Vec<&Readiness> = readiness.iter().collect();
    let mut delay = Duration::from_millis(5);
    let mut last = String::from("not checked yet");
    loop {
        let mut still = Vec::new();
        for check in pending {
            match check_once(started, check).await {
                Ok(()) => {}
                Err(why) => {
                    last = format!("{check:?}: {why}");
                    still.push(check);
                }
            }
        }
        pending = still;
        if pending.is_empty() {
            return Ok(());
        }
        if let Some(exit) = exited(started).await {
            return Err(format!("the container exited ({exit}) before it was ready"));
        }
        if Instant::now() + delay > deadline {
            return Err(last);
        }
        tokio::time::sleep(delay).await;
        // Short at first: most services are ready within a few hundred ms, and each poll is cheap.
        delay = (delay * 3 / 2).min(Duration::from_millis(100));
    }
}

/// `Some(description)` when the container is no longer running.
async fn exited(started: &StartedContainer) -> Option<String> {
    let info = started
        .docker
        .inspect_container(&started.id, None)
        .await
        .ok()?;
    let state = info.state?;
    if state.running == Some(true) {
        return None;
    }
    Some(format!("exit code {}", state.exit_code.unwrap_or(-1)))
}

async fn check_once(
    started: &StartedContainer,
    check: &Readiness,
) -> std::result::Result<(), String> {
    let endpoint = &started.endpoint;
    let mapped = |port: u16| {
        endpoint
            .port(port)
            .ok_or_else(|| format!("container port {port} is not published (add it to `ports`)"))
    };
    match check {
        Readiness::LogLine(text) => {
            let logs = logs_of(&started.docker, &started.id, usize::MAX)
                .await
                .map_err(|e| e.to_string())?;
            if logs.contains(text.as_str()) {
                Ok(())
            } else {
                Err("not in the logs yet".to_owned())
            }
        }
        Readiness::Port(port) => probe_port(&endpoint.host, mapped(*port)?).await,
        Readiness::Http { port, path, status } => {
            let url = format!("http://{}:{}{}", endpoint.host, mapped(*port)?, path);
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .map_err(|e| e.to_string())?;
            let response = client.get(&url).send().await.map_err(|e| e.to_string())?;
            if response.status().as_u16() == *status {
                Ok(())
            } else {
                Err(format!("GET {url} answered {}", response.status()))
            }
        }
        Readiness::Command(argv) => {
            let out = exec_in(&started.docker, &started.id, argv, &[], None)
                .await
                .map_err(|e| e.to_string())?;
            if out.exit_code == 0 {
                Ok(())
            } else {
                Err(format!(
                    "exited {}: {}",
                    out.exit_code,
                    out.stderr.trim().lines().last().unwrap_or("")
                ))
            }
        }
        Readiness::Custom(check) => check(endpoint.clone()).await,
    }
}

/// Docker's port proxy accepts connections on a published port even when nothing listens
/// inside, and then closes them at once. A connection that stays open for a moment (or gets
/// data) means a server is there.
async fn probe_port(host: &str, port: u16) -> std::result::Result<(), String> {
    let mut stream = tokio::time::timeout(
        Duration::from_secs(1),
        tokio::net::TcpStream::connect((host, port)),
    )
    .await
    .map_err(|_| "connect timed out".to_owned())?
    .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 1];
    match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buf)).await {
        Err(_) => {
            let _ = stream.shutdown().await;
            Ok(())
        }
        Ok(Ok(n)) if n > 0 => Ok(()),
        Ok(Ok(_)) => Err("connection closed at once (nothing listens yet)".to_owned()),
        Ok(Err(e)) => Err(e.to_string()),
    }
}

/// Runs `argv` (no shell) in container `id` with extra `env` and `workdir`, and collects its
/// output and exit code.
pub async fn exec_in(
    docker: &Docker,
    id: &str,
    argv: &[String],
    env: &[(String, String)],
    workdir: Option<&str>,
) -> Result<ExecOutput> {
    crate::secrets::register_env(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let fail = |e: &dyn std::error::Error| {
        Error::Service(ServiceError::Exec {
            service: id.chars().take(12).collect(),
            argv: argv.to_vec(),
            source: e.to_string().into(),
        })
    };
    let env: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let created = docker
        .create_exec(
            id,
            CreateExecOptions {
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                cmd: Some(argv.to_vec()),
                env: (!env.is_empty()).then_some(env),
                working_dir: workdir.map(str::to_owned),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| fail(&e))?;
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    match docker
        .start_exec(&created.id, None)
        .await
        .map_err(|e| fail(&e))?
    {
        StartExecResults::Attached { mut output, .. } => {
            while let Some(chunk) = output.next().await {
                use testcontainers::bollard::container::LogOutput;
                match chunk.map_err(|e| fail(&e))? {
                    LogOutput::StdOut { message } => stdout.extend_from_slice(&message),
                    LogOutput::StdErr { message } => stderr.extend_from_slice(&message),
                    _ => {}
                }
            }
        }
        StartExecResults::Detached => {}
    }
    let inspected = docker
        .inspect_exec(&created.id)
        .await
        .map_err(|e| fail(&e))?;
    Ok(ExecOutput {
        exit_code: inspected.exit_code.unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    })
}

/// The last `lines` lines of container `id`'s stdout and stderr (`usize::MAX`: all).
pub async fn logs_of(docker: &Docker, id: &str, lines: usize) -> Result<String> {
    let options = LogsOptions {
        stdout: true,
        stderr: true,
        tail: if lines == usize::MAX {
            "all".to_owned()
        } else {
            lines.to_string()
        },
        ..Default::default()
    };
    let mut stream = docker.logs(id, Some(options));
    let mut text = String::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| docker_request(format!("read logs of {id}"), e))?;
        text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_are_indented_and_empty_logs_say_so() {
        assert_eq!(indent("a\nb"), "  | a\n  | b");
        assert_eq!(indent("  \n"), "  (no output)");
    }

    #[test]
    fn container_names_keep_only_safe_characters() {
        assert_eq!(sanitize("db.main/1"), "db_main_1");
    }
}
