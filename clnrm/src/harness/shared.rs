//! Services shared by the tests of one binary: each started once (in the background, while
//! tests that need nothing already run), stopped at the end.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OnceCell;

use super::spec::{Isolation, TestService};
use crate::docker::{RunConfig, RunEnv};
use crate::isolation::postgres::PgTemplate;
use crate::isolation::redis::RedisDbs;
use crate::service::{Registry, ServiceHandle, Services};

type Shared<T> = Arc<OnceCell<Result<T, String>>>;

/// One shared service and its isolation machinery.
pub(crate) struct SharedService {
    pub(crate) handle: ServiceHandle,
    template: OnceCell<Result<Arc<PgTemplate>, String>>,
    redis: OnceCell<Result<Arc<RedisDbs>, String>>,
}

impl SharedService {
    /// The Postgres template (made on first use, with `migrations`).
    pub(crate) async fn template(
        &self,
        service: &TestService,
        ahead: usize,
    ) -> Result<Arc<PgTemplate>, String> {
        self.template
            .get_or_init(|| async {
                let url = self.handle.url().ok_or("postgres has no URL")?;
                PgTemplate::prepare(url, service.migrations.as_deref(), ahead).await
            })
            .await
            .clone()
    }

    /// The Redis logical databases.
    pub(crate) async fn redis(&self) -> Result<Arc<RedisDbs>, String> {
        self.redis
            .get_or_init(|| async {
                let port = self.handle.port(6379).map_err(|e| e.to_string())?;
                RedisDbs::new(self.handle.host(), port).await
            })
            .await
            .clone()
    }
}

/// Everything shared by the tests of this process.
pub(crate) struct SharedServices {
    env: OnceCell<Result<Arc<RunEnv>, String>>,
    services: Mutex<HashMap<String, Shared<Arc<SharedService>>>>,
    started: Mutex<Vec<Services>>,
    registry: Registry,
    /// How many Postgres clones to keep ready.
    pub(crate) ahead: usize,
}

impl SharedServices {
    pub(crate) fn new(ahead: usize) -> Self {
        SharedServices {
            env: OnceCell::new(),
            services: Mutex::new(HashMap::new()),
            started: Mutex::new(Vec::new()),
            registry: Registry::builtin(),
            ahead,
        }
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The run environment, started on first use (tests without services never need Docker).
    pub(crate) async fn env(&self) -> Result<Arc<RunEnv>, String> {
        self.env
            .get_or_init(|| async {
                let config = RunConfig::from_env().map_err(|e| format!("{e:?}"))?;
                RunEnv::start(config).await.map_err(|e| format!("{e:?}"))
            })
            .await
            .clone()
    }

    /// The shared instance of `service`, started on first use.
    pub(crate) async fn service(
        &self,
        service: &TestService,
    ) -> Result<Arc<SharedService>, String> {
        let cell = Arc::clone(
            self.services
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(service.key.clone())
                .or_default(),
        );
        cell.get_or_init(|| async {
            let env = self.env().await?;
            let services = self
                .registry
                .start_all(&env, std::slice::from_ref(&service.spec))
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
            Ok(Arc::new(SharedService {
                handle,
                template: OnceCell::new(),
                redis: OnceCell::new(),
            }))
        })
        .await
        .clone()
    }

    /// Starts `service` and its isolation machinery (template and first clones) ahead of the
    /// tests that need it. Errors surface when a test asks for the service.
    pub(crate) async fn prepare(&self, service: &TestService) {
        let Ok(shared) = self.service(service).await else {
            return;
        };
        match service.isolation {
            Isolation::Database | Isolation::Schema => {
                let _ = shared.template(service, self.ahead).await;
            }
            Isolation::LogicalDb => {
                let _ = shared.redis().await;
            }
            Isolation::None => {}
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

    /// Stops every shared service and the run environment.
    pub(crate) async fn shutdown(&self) {
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
