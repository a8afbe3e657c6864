//! What a test or a suite asks of a service, before anything starts.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::docker::{Gpus, Readiness};

/// One service as declared: a name bound to a plugin, with options. Plugins read what applies to
/// them; the generic plugin reads everything.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    /// The local name (`db`): the key tests use and the network alias.
    pub name: String,
    /// The plugin (`postgres`).
    pub plugin: String,
    /// The image (`postgres:16`); the plugin's default when `None`.
    pub image: Option<String>,
    /// Extra environment variables.
    pub env: BTreeMap<String, String>,
    /// Container ports to publish.
    pub ports: Vec<u16>,
    /// Entrypoint override (argv).
    pub entrypoint: Option<Vec<String>>,
    /// Command override (argv).
    pub cmd: Option<Vec<String>>,
    /// Extra readiness conditions (the generic plugin has no other).
    pub readiness: Vec<Readiness>,
    /// Memory limit in bytes.
    pub memory: Option<i64>,
    /// CPU limit.
    pub cpus: Option<f64>,
    /// Bind mounts: (host path, container path, read only).
    pub mounts: Vec<(String, String, bool)>,
    /// The user the container runs as (`"1000"`, `"1000:1000"`, `"postgres"`); the image's
    /// (often root) when `None`.
    pub user: Option<String>,
    /// Services that must be ready before this one starts.
    pub depends_on: Vec<String>,
    /// Start-up timeout; the plugin's default when `None`.
    pub startup_timeout: Option<Duration>,
    /// The model a one-model server serves (`vllm`, `tgi`).
    pub model: Option<String>,
    /// The models a server pulls at start (`ollama`).
    pub models: Vec<String>,
    /// GPUs to request from Docker.
    pub gpus: Option<Gpus>,
    /// Chaos on connections (`chaos = true`): a front answers its name on the run network, so
    /// a chaos session's proxy sees the other containers' connections too.
    pub chaos: bool,
    /// Telemetry (`otel = true`): the container gets `OTEL_EXPORTER_OTLP_ENDPOINT` (clnrm's
    /// receiver), `OTEL_SERVICE_NAME` and `TRACEPARENT`, and must send spans.
    pub otel: bool,
}

impl ServiceSpec {
    /// A service `name` of plugin `plugin` with every option at its default.
    pub fn new(name: impl Into<String>, plugin: impl Into<String>) -> Self {
        ServiceSpec {
            name: name.into(),
            plugin: plugin.into(),
            image: None,
            env: BTreeMap::new(),
            ports: Vec::new(),
            entrypoint: None,
            cmd: None,
            readiness: Vec::new(),
            memory: None,
            cpus: None,
            mounts: Vec::new(),
            user: None,
            depends_on: Vec::new(),
            startup_timeout: None,
            model: None,
            models: Vec::new(),
            gpus: None,
            chaos: false,
            otel: false,
        }
    }

    /// Points its OpenTelemetry SDK at clnrm's receiver (`otel = true`, see [`ServiceSpec::otel`]).
    pub fn otel(mut self, otel: bool) -> Self {
        self.otel = otel;
        self
    }

    /// Puts a front in front of it (`chaos = true`, see [`ServiceSpec::chaos`]).
    pub fn chaos(mut self, chaos: bool) -> Self {
        self.chaos = chaos;
        self
    }

    /// Sets the image.
    pub fn image(mut self, image: impl Into<String>) -> Self {
        self.image = Some(image.into());
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Publishes a container port.
    pub fn port(mut self, port: u16) -> Self {
        self.ports.push(port);
        self
    }

    /// Overrides the command.
    pub fn cmd<S: Into<String>>(mut self, argv: impl IntoIterator<Item = S>) -> Self {
        self.cmd = Some(argv.into_iter().map(Into::into).collect());
        self
    }

    /// Overrides the entrypoint.
    pub fn entrypoint<S: Into<String>>(mut self, argv: impl IntoIterator<Item = S>) -> Self {
        self.entrypoint = Some(argv.into_iter().map(Into::into).collect());
        self
    }

    /// Adds a readiness condition.
    pub fn wait_for(mut self, readiness: Readiness) -> Self {
        self.readiness.push(readiness);
        self
    }

    /// Runs the container as `user` (`"1000:1000"`) instead of the image's user.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// Limits memory, in bytes.
    pub fn memory(mut self, bytes: i64) -> Self {
        self.memory = Some(bytes);
        self
    }

    /// Limits CPUs.
    pub fn cpus(mut self, cpus: f64) -> Self {
        self.cpus = Some(cpus);
        self
    }

    /// Bind-mounts `host` at `container`.
    pub fn mount(
        mut self,
        host: impl Into<String>,
        container: impl Into<String>,
        read_only: bool,
    ) -> Self {
        self.mounts.push((host.into(), container.into(), read_only));
        self
    }

    /// Starts after `service` is ready.
    pub fn depends_on(mut self, service: impl Into<String>) -> Self {
        self.depends_on.push(service.into());
        self
    }

    /// The model a one-model server serves (`vllm`, `tgi`).
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Models to pull at start (`ollama`).
    pub fn models<S: Into<String>>(mut self, models: impl IntoIterator<Item = S>) -> Self {
        self.models.extend(models.into_iter().map(Into::into));
        self
    }

    /// Requests GPUs from Docker (`docker run --gpus`).
    pub fn gpus(mut self, gpus: Gpus) -> Self {
        self.gpus = Some(gpus);
        self
    }

    /// Sets the start-up timeout.
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = Some(timeout);
        self
    }
}
