//! A running service.

use std::fmt;
use std::sync::{Arc, Mutex};

use crate::docker::{Endpoint, ExecOutput, StartedContainer};
use crate::error::{Error, Result, ServiceError};
use tracing::Instrument as _;

/// Credentials generated for one run. `Debug` and [`ServiceHandle::redacted_url`] never show the
/// password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub user: String,
    /// The password.
    pub password: String,
    /// The database, where the service has one.
    pub database: Option<String>,
}

impl Credentials {
    /// A user name and a fresh random password (24 alphanumeric characters).
    pub fn generate(user: &str, database: Option<&str>) -> Self {
        use rand::Rng;
        use rand::distr::Alphanumeric;
        let password: String = rand::rng()
            .sample_iter(&Alphanumeric)
            .take(24)
            .map(char::from)
            .collect();
        crate::secrets::register(&password);
        Credentials {
            user: user.to_owned(),
            password,
            database: database.map(str::to_owned),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"***")
            .field("database", &self.database)
            .finish()
    }
}

/// A running instance of a service: its container, where to reach it, and how to run commands
/// in it and read its logs. Clones share the instance; [`ServiceHandle::stop`] removes it, and
/// so does dropping the last clone.
#[derive(Clone)]
pub struct ServiceHandle {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    plugin: String,
    url: Option<String>,
    credentials: Option<Credentials>,
    container_id: String,
    image: String,
    endpoint: Endpoint,
    docker: testcontainers::bollard::Docker,
    /// The container this process owns (and removes); `None` once stopped, or for a service
    /// another process started ([`ServiceHandle::adopt`]).
    container: Mutex<Option<StartedContainer>>,
    stopped: std::sync::atomic::AtomicBool,
    /// A declarative plugin's `[isolation]` hooks, when it has them.
    hooks: std::sync::OnceLock<Arc<crate::isolation::hooks::NamespaceHooks>>,
    /// How long its readiness checks took, when this process started it.
    health_check: Option<std::time::Duration>,
    /// The span of its start, when clnrm exports traces (tests that use it link to it).
    start_span: std::sync::OnceLock<opentelemetry::trace::SpanContext>,
}

impl fmt::Debug for ServiceHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceHandle")
            .field("name", &self.inner.name)
            .field("plugin", &self.inner.plugin)
            .field("container", &self.short_id())
            .field("image", &self.inner.image)
            .field("url", &self.redacted_url())
            .field("ports", &self.inner.endpoint.ports)
            .finish()
    }
}

impl ServiceHandle {
    /// Wraps a started container. `url` may contain the credentials' password: it is masked in
    /// every display.
    pub fn new(
        name: impl Into<String>,
        plugin: impl Into<String>,
        container: StartedContainer,
        url: Option<String>,
        credentials: Option<Credentials>,
    ) -> Self {
        let mut handle = ServiceHandle::adopt(
            name,
            plugin,
            container.id(),
            container.image(),
            container.endpoint().clone(),
            url,
            credentials,
            container.docker().clone(),
        );
        if let Some(inner) = Arc::get_mut(&mut handle.inner) {
            inner.health_check = Some(container.health_check_time());
        }
        // Owned, unlike an adopted one: stopping or dropping the last clone removes it.
        *handle
            .inner
            .container
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(container);
        handle
    }

    /// A handle to a service another process started and owns (a service shared across the
    /// processes of one `cargo nextest run`): usable, but never removed from here.
    #[expect(
        clippy::too_many_arguments,
        reason = "a record of what the owner wrote down"
    )]
    pub fn adopt(
        name: impl Into<String>,
        plugin: impl Into<String>,
        container_id: impl Into<String>,
        image: impl Into<String>,
        endpoint: Endpoint,
        url: Option<String>,
        credentials: Option<Credentials>,
        docker: testcontainers::bollard::Docker,
    ) -> Self {
        ServiceHandle {
            inner: Arc::new(Inner {
                name: name.into(),
                plugin: plugin.into(),
                url,
                credentials,
                container_id: container_id.into(),
                image: image.into(),
                endpoint,
                docker,
                container: Mutex::new(None),
                stopped: std::sync::atomic::AtomicBool::new(false),
                hooks: std::sync::OnceLock::new(),
                health_check: None,
                start_span: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Gives up ownership: the container outlives this process (its labels still let the
    /// reaper remove it once its owner is gone).
    pub fn detach(&self) {
        let container = self
            .inner
            .container
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(container) = container {
            container.detach();
        }
    }

    /// Where it can be reached from this process.
    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    /// The service's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The plugin that started it.
    pub fn plugin(&self) -> &str {
        &self.inner.plugin
    }

    /// How long its readiness checks took; `None` for a service another process started.
    pub fn health_check_time(&self) -> Option<std::time::Duration> {
        self.inner.health_check
    }

    /// The container id.
    pub fn container_id(&self) -> &str {
        &self.inner.container_id
    }

    fn short_id(&self) -> &str {
        &self.inner.container_id[..self.inner.container_id.len().min(12)]
    }

    /// The Docker client it was started with (for what clnrm has no API for, like chaos).
    pub fn docker(&self) -> &testcontainers::bollard::Docker {
        &self.inner.docker
    }

    /// The image that runs (after substitution).
    pub fn image(&self) -> &str {
        &self.inner.image
    }

    /// The host to connect to from this process.
    pub fn host(&self) -> &str {
        &self.inner.endpoint.host
    }

    /// The host port mapped to `container_port`.
    pub fn port(&self, container_port: u16) -> Result<u16> {
        self.inner.endpoint.port(container_port).ok_or_else(|| {
            Error::Service(ServiceError::InvalidOption {
                service: self.inner.name.clone(),
                option: "ports".to_owned(),
                message: format!(
                    "container port {container_port} is not published; published: {:?}",
                    self.inner.endpoint.ports.keys().collect::<Vec<_>>()
                ),
            })
        })
    }

    /// Container port → host port, for every published port.
    pub fn ports(&self) -> &std::collections::BTreeMap<u16, u16> {
        &self.inner.endpoint.ports
    }

    /// The connection URL real clients take (`postgres://user:pass@127.0.0.1:49153/db`).
    pub fn url(&self) -> Option<&str> {
        self.inner.url.as_deref()
    }

    /// With the `[isolation]` hooks its plugin makes per-test namespaces with.
    pub(crate) fn with_namespace_hooks(
        self,
        hooks: Option<crate::isolation::hooks::NamespaceHooks>,
    ) -> Self {
        if let Some(hooks) = hooks {
            let _ = self.inner.hooks.set(Arc::new(hooks));
        }
        self
    }

    /// The `[isolation]` hooks of its plugin, when it has them.
    pub(crate) fn namespace_hooks(&self) -> Option<Arc<crate::isolation::hooks::NamespaceHooks>> {
        self.inner.hooks.get().cloned()
    }

    /// The URL with the password replaced by `***`, for logs and reports.
    pub fn redacted_url(&self) -> Option<String> {
        let url = self.inner.url.as_ref()?;
        Some(match &self.inner.credentials {
            Some(c) if !c.password.is_empty() => url.replace(&c.password, "***"),
            _ => url.clone(),
        })
    }

    /// The credentials generated for this run.
    pub fn credentials(&self) -> Option<&Credentials> {
        self.inner.credentials.as_ref()
    }

    /// Runs `argv` in the container (no shell: pass `["sh", "-c", ...]` to get one).
    pub async fn exec<S: AsRef<str>>(&self, argv: &[S]) -> Result<ExecOutput> {
        self.exec_with(argv, &[], None).await
    }

    /// Runs `argv` in the container with extra environment variables and a working directory.
    pub async fn exec_with<S: AsRef<str>>(
        &self,
        argv: &[S],
        env: &[(String, String)],
        workdir: Option<&str>,
    ) -> Result<ExecOutput> {
        let argv: Vec<String> = argv.iter().map(|s| s.as_ref().to_owned()).collect();
        let docker = self.docker_for_exec()?;
        crate::docker::exec_in(&docker, &self.inner.container_id, &argv, env, workdir)
            .await
            .map_err(|e| match e {
                Error::Service(ServiceError::Exec { argv, source, .. }) => {
                    Error::Service(ServiceError::Exec {
                        service: self.inner.name.clone(),
                        argv,
                        source,
                    })
                }
                other => other,
            })
    }

    /// The last `lines` lines of the service's output (stdout and stderr).
    pub async fn logs(&self, lines: usize) -> Result<String> {
        let docker = self.docker_for_exec()?;
        crate::docker::logs_of(&docker, &self.inner.container_id, lines).await
    }

    fn docker_for_exec(&self) -> Result<testcontainers::bollard::Docker> {
        if self.inner.stopped.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Error::Service(ServiceError::NotFound {
                service: self.inner.name.clone(),
                known: "(it was stopped)".to_owned(),
            }));
        }
        Ok(self.inner.docker.clone())
    }

    /// Records the span that started this service.
    pub(crate) fn set_start_span(&self, context: opentelemetry::trace::SpanContext) {
        let _ = self.inner.start_span.set(context);
    }

    /// The span that started this service (in this process), when traces are exported.
    pub(crate) fn start_span(&self) -> Option<&opentelemetry::trace::SpanContext> {
        self.inner.start_span.get()
    }

    /// Stops and removes the container. Other clones see a stopped service.
    pub async fn stop(&self) -> Result<()> {
        let span = crate::telemetry::tree::service_stop(&self.inner.name);
        self.stop_untraced().instrument(span).await
    }

    async fn stop_untraced(&self) -> Result<()> {
        self.inner
            .stopped
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let container = self
            .inner
            .container
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        match container {
            Some(container) => container.remove().await,
            None => Ok(()),
        }
    }
}
