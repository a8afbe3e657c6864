//! Services shared by the tests of one binary (or the scenarios of one suite): each started
//! once, stopped at the end, with the isolation machinery (Postgres template, Redis logical
//! databases) made on first use. Under `cargo nextest run` the processes of a run share them
//! through files (see [`Share`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OnceCell;
use tokio::task::JoinHandle;

use super::prepare::{Isolation, ServiceNeed};
use crate::docker::{RunConfig, RunEnv};
use crate::isolation::postgres::{Demand, PgTemplate};
use crate::isolation::redis::RedisDbs;
use crate::service::{Registry, ServiceHandle, ServiceSpec, Services};

type Shared<T> = Arc<OnceCell<Result<T, String>>>;

/// One shared service and its isolation machinery.
pub(crate) struct SharedService {
    pub(crate) handle: ServiceHandle,
    across_processes: bool,
    template: OnceCell<Result<Arc<PgTemplate>, String>>,
    redis: OnceCell<Result<Arc<RedisDbs>, String>>,
}

impl SharedService {
    fn new(handle: ServiceHandle, across_processes: bool) -> Arc<Self> {
        Arc::new(SharedService {
            handle,
            across_processes,
            template: OnceCell::new(),
            redis: OnceCell::new(),
        })
    }

    /// The Postgres template (made on first use, with `migrations`), and clones made ahead as
    /// `demand` says.
    pub(crate) async fn template(
        &self,
        service: &ServiceNeed,
        demand: Demand,
    ) -> Result<Arc<PgTemplate>, String> {
        self.template
            .get_or_init(|| async {
                let url = self.handle.url().ok_or("postgres has no URL")?;
                PgTemplate::prepare(url, service.migrations.as_deref(), demand).await
            })
            .await
            .clone()
    }

    /// The Redis logical databases.
    pub(crate) async fn redis(&self) -> Result<Arc<RedisDbs>, String> {
        self.redis
            .get_or_init(|| async {
                let port = self.handle.port(6379).map_err(|e| e.to_string())?;
                RedisDbs::new(self.handle.host(), port, self.across_processes).await
            })
            .await
            .clone()
    }
}

/// Everything shared by the tests of this process (or the scenarios of one suite).
pub(crate) struct SharedServices {
    /// Set under `cargo nextest run` (one process per test): services are shared by every
    /// process of the run through files in `dir`.
    share: Option<Share>,
    env: OnceCell<Result<Arc<RunEnv>, String>>,
    services: Mutex<HashMap<String, Shared<Arc<SharedService>>>>,
    started: Mutex<Vec<Services>>,
    /// Leases being released in the background; [`Self::shutdown`] waits for them.
    releases: Mutex<Vec<JoinHandle<()>>>,
    registry: Registry,
    /// How many Postgres clones to keep ready when the demand is not known.
    pub(crate) ahead: usize,
    /// Per service key: how many leases the selected tests will take (see [`Self::forecast`]).
    forecasts: Mutex<HashMap<String, usize>>,
    /// The OTLP receiver of `otel = true` services, started on first use.
    otel: OnceCell<Result<Arc<super::otel::OtelSink>, String>>,
}

impl SharedServices {
    pub(crate) fn new(ahead: usize, share: Option<Share>) -> Self {
        SharedServices {
            ahead: if share.is_some() { 1 } else { ahead },
            share,
            env: OnceCell::new(),
            services: Mutex::new(HashMap::new()),
            started: Mutex::new(Vec::new()),
            releases: Mutex::new(Vec::new()),
            registry: Registry::with_installed(&std::env::current_dir().unwrap_or_default()),
            forecasts: Mutex::new(HashMap::new()),
            otel: OnceCell::new(),
        }
    }

    /// Says that `leases` users (the selected tests) will each lease a namespace in the service
    /// keyed `key`: that many Postgres clones are then made as soon as the template is ready,
    /// instead of a few kept ready.
    pub(crate) fn forecast(&self, key: &str, leases: usize) {
        *self
            .forecasts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key.to_owned())
            .or_default() += leases;
    }

    /// How many clones to make ahead for the service keyed `key`.
    pub(crate) fn demand(&self, key: &str) -> Demand {
        match self
            .forecasts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
        {
            Some(&leases) => Demand::Forecast(leases),
            None => Demand::Refill(self.ahead),
        }
    }

    /// A pool in an environment that already runs (a suite's), never shared across processes.
    pub(crate) fn in_env(env: Arc<RunEnv>, ahead: usize) -> Self {
        let pool = SharedServices::new(ahead, None);
        SharedServices {
            env: OnceCell::new_with(Some(Ok(env))),
            ..pool
        }
    }

    /// Makes `handle`, started by the caller (who also stops it), the shared instance of the
    /// services keyed `key`.
    pub(crate) fn adopt(&self, key: &str, handle: ServiceHandle) {
        let cell = OnceCell::new_with(Some(Ok(SharedService::new(handle, false))));
        self.services
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_owned(), Arc::new(cell));
    }

    /// Runs `release` in the background; [`Self::shutdown`] waits for it.
    pub(crate) fn release_later(&self, release: impl Future<Output = ()> + Send + 'static) {
        let handle = tokio::spawn(release);
        self.releases
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(handle);
    }

    /// Waits for every release started so far.
    pub(crate) async fn settle(&self) {
        let releases: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.releases.lock().unwrap_or_else(|p| p.into_inner()));
        for release in releases {
            let _ = release.await;
        }
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The run environment, started on first use (tests without services never need Docker).
    pub(crate) async fn env(&self) -> Result<Arc<RunEnv>, String> {
        self.env
            .get_or_init(|| async {
                let mut config = RunConfig::from_env().map_err(|e| format!("{e:?}"))?;
                if let Some(share) = &self.share {
                    config.run_id = Some(share.run.clone());
                    config.persistent = true;
                    config.cleanup_on_signal = false;
                    config.owner = Some(share.owner.clone());
                }
                // Docker accepts two networks of one name: the processes of a run take turns.
                let lock = match &self.share {
                    Some(share) => {
                        Some(lock_file(share.dir.join(format!("{}.lock", share.run))).await?)
                    }
                    None => None,
                };
                let env = RunEnv::start(config).await.map_err(|e| format!("{e:?}"))?;
                drop(lock);
                if let Some(share) = &self.share
                    && env.created_network()
                {
                    share.spawn_reaper(&env);
                }
                Ok(env)
            })
            .await
            .clone()
    }

    /// The receiver of this run's `otel = true` services (see [`super::otel`]).
    pub(crate) async fn otel(&self) -> Result<Arc<super::otel::OtelSink>, String> {
        self.otel
            .get_or_init(|| async {
                let env = self.env().await?;
                super::otel::OtelSink::start(&env, self.share.as_ref())
                    .await
                    .map(Arc::new)
            })
            .await
            .clone()
    }

    /// `spec` as it starts: with the OTLP variables when it is `otel = true`.
    pub(crate) async fn with_otel(&self, spec: &ServiceSpec) -> Result<ServiceSpec, String> {
        let mut spec = spec.clone();
        if spec.otel {
            self.otel().await?.apply(&mut spec);
        }
        Ok(spec)
    }

    /// The shared instance of `service`, started on first use.
    pub(crate) async fn service(
        &self,
        service: &ServiceNeed,
    ) -> Result<Arc<SharedService>, String> {
        let cell = Arc::clone(
            self.services
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(service.key.clone())
                .or_default(),
        );
        cell.get_or_init(|| async {
            if let Some(share) = &self.share {
                return self.shared_across_processes(share, service).await;
            }
            let env = self.env().await?;
            let spec = self.with_otel(&service.spec).await?;
            let services = self
                .registry
                .start_all(&env, std::slice::from_ref(&spec))
                .await
                .map_err(|e| format!("{e:?}"))?;
            let handle = services
                .get(&service.spec.name)
                .map_err(|e| e.to_string())?
                .clone();
            self.started
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(services);
            Ok(SharedService::new(handle, false))
        })
        .await
        .clone()
    }

    /// Under nextest: the one instance of `service` for the whole run, started by the first
    /// process that needs it (under a file lock) and adopted by the others from the record it
    /// wrote.
    async fn shared_across_processes(
        &self,
        share: &Share,
        service: &ServiceNeed,
    ) -> Result<Arc<SharedService>, String> {
        let env = self.env().await?;
        let base = share
            .dir
            .join(format!("{}-{:016x}", share.run, stable_hash(&service.key)));
        let lock = lock_file(base.with_extension("lock")).await?;
        let record_path = base.with_extension("json");
        if let Ok(text) = std::fs::read_to_string(&record_path)
            && let Ok(record) = serde_json::from_str::<SharedRecord>(&text)
        {
            let running = env
                .docker()
                .inspect_container(&record.container_id, None)
                .await
                .ok()
                .and_then(|i| i.state)
                .and_then(|s| s.running)
                == Some(true);
            if running {
                drop(lock);
                return Ok(SharedService::new(record.adopt(env.docker().clone()), true));
            }
        }
        let spec = self.with_otel(&service.spec).await?;
        let services = self
            .registry
            .start_all(&env, std::slice::from_ref(&spec))
            .await
            .map_err(|e| format!("{e:?}"))?;
        let handle = services
            .get(&service.spec.name)
            .map_err(|e| e.to_string())?
            .clone();
        // The container belongs to the run, not to this process: the reaper removes it when
        // nextest ends.
        handle.detach();
        let record = SharedRecord::of(&handle);
        let text = serde_json::to_string(&record).map_err(|e| e.to_string())?;
        crate::report::write_atomically(&record_path, text.as_bytes())
            .map_err(|e| format!("{e:?}"))?;
        drop(lock);
        Ok(SharedService::new(handle, true))
    }

    /// Starts `service` and its isolation machinery (template and first clones) ahead of the
    /// tests that need it. Errors surface when a test asks for the service.
    pub(crate) async fn prepare(&self, service: &ServiceNeed) {
        let Ok(shared) = self.service(service).await else {
            return;
        };
        match service.isolation {
            Isolation::Database | Isolation::Schema => {
                let _ = shared.template(service, self.demand(&service.key)).await;
            }
            Isolation::LogicalDb => {
                let _ = shared.redis().await;
            }
            Isolation::Hooks { .. } | Isolation::Namespace | Isolation::None => {}
        }
    }

    /// How long each shared service took to start.
    pub(crate) fn start_times(&self) -> Vec<(String, Duration)> {
        self.started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .flat_map(|s| s.start_times())
            .map(|(name, took)| (name.to_owned(), took))
            .collect()
    }

    /// Waits for pending releases, then stops every shared service this pool started and the
    /// run environment.
    pub(crate) async fn shutdown(&self) {
        self.settle().await;
        let started: Vec<Services> =
            std::mem::take(&mut *self.started.lock().unwrap_or_else(|p| p.into_inner()));
        for services in started {
            let _ = services.stop_all().await;
        }
        if let Some(Ok(env)) = self.env.get() {
            let _ = env.stop().await;
        }
    }
}

/// How the processes of one `cargo nextest run` share services.
#[derive(Debug, Clone)]
pub(crate) struct Share {
    /// `nx-<nextest run id>`: the run label and network suffix.
    pub(crate) run: String,
    /// Where the lock and record files live (`target/clnrm/share`).
    pub(crate) dir: std::path::PathBuf,
    /// The nextest process: the run ends when it does.
    pub(crate) owner: crate::docker::Owner,
}

impl Share {
    /// `Some` under nextest (`NEXTEST_RUN_ID` set), with the nextest process as owner.
    pub(crate) fn from_env(target_dir: std::path::PathBuf) -> Option<Share> {
        let id = std::env::var("NEXTEST_RUN_ID")
            .ok()
            .filter(|v| !v.is_empty())?;
        let owner = crate::docker::Owner::parent()?;
        let run = format!(
            "nx-{}",
            id.chars()
                .filter(char::is_ascii_alphanumeric)
                .take(12)
                .collect::<String>()
        );
        let dir = target_dir.join("share");
        std::fs::create_dir_all(&dir).ok()?;
        Some(Share { run, dir, owner })
    }

    /// Starts a detached copy of this binary that waits for the nextest process to end, then
    /// removes the run's containers and network.
    fn spawn_reaper(&self, env: &RunEnv) {
        use std::os::unix::process::CommandExt;
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let spawned = std::process::Command::new(exe)
            .env(
                REAPER_ENV,
                format!("{}|{}|{}", self.owner, env.id(), env.network()),
            )
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn();
        if let Err(e) = spawned {
            tracing::warn!("cannot start the reaper of run {}: {e}", env.id());
        }
    }
}

/// Set on the reaper process: `OWNER|RUN|NETWORK`.
pub(crate) const REAPER_ENV: &str = "CLNRM_REAPER";

/// The same on every process of every build (`DefaultHasher::new` has fixed keys).
fn stable_hash(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

/// What the process that started a shared service writes down for the others.
#[derive(serde::Serialize, serde::Deserialize)]
struct SharedRecord {
    name: String,
    plugin: String,
    container_id: String,
    image: String,
    host: String,
    ports: std::collections::BTreeMap<u16, u16>,
    url: Option<String>,
    credentials: Option<(String, String, Option<String>)>,
    #[serde(default)]
    hooks: Option<crate::isolation::hooks::NamespaceHooks>,
}

impl SharedRecord {
    fn of(handle: &ServiceHandle) -> Self {
        SharedRecord {
            name: handle.name().to_owned(),
            plugin: handle.plugin().to_owned(),
            container_id: handle.container_id().to_owned(),
            image: handle.image().to_owned(),
            host: handle.host().to_owned(),
            ports: handle.ports().clone(),
            url: handle.url().map(str::to_owned),
            credentials: handle
                .credentials()
                .map(|c| (c.user.clone(), c.password.clone(), c.database.clone())),
            hooks: handle.namespace_hooks().map(|h| (*h).clone()),
        }
    }

    fn adopt(self, docker: crate::docker::bollard::Docker) -> ServiceHandle {
        ServiceHandle::adopt(
            self.name,
            self.plugin,
            self.container_id,
            self.image,
            crate::docker::Endpoint {
                host: self.host,
                ports: self.ports,
            },
            self.url,
            self.credentials.map(|(user, password, database)| {
                crate::secrets::register(&password);
                crate::service::Credentials {
                    user,
                    password,
                    database,
                }
            }),
            docker,
        )
        .with_namespace_hooks(self.hooks)
    }
}

/// Takes an exclusive lock on `path` (created if missing), waiting for other processes; the lock
/// is released when the file is dropped.
pub(super) async fn lock_file(path: std::path::PathBuf) -> Result<std::fs::File, String> {
    tokio::task::spawn_blocking(move || {
        let file = std::fs::File::create(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        file.lock()
            .map_err(|e| format!("cannot lock {}: {e}", path.display()))?;
        Ok(file)
    })
    .await
    .map_err(|e| e.to_string())?
}
