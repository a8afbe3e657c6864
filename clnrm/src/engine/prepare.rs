//! Preparing one attempt's services: shared instances borrowed from the pool with a namespace of
//! the attempt's own inside them (a Postgres database or schema, a Redis logical database), and
//! `scope = "test"` services started fresh for the attempt alone.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use super::pool::SharedServices;
use crate::isolation::hooks::HookLease;
use crate::isolation::postgres::PgLease;
use crate::isolation::redis::RedisDbs;
use crate::isolation::surrealdb::SurrealLease;
use crate::service::{ServiceHandle, ServiceSpec, Services};

/// Where a service lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One container per pool (test binary, nextest run, suite), each user isolated inside it.
    Shared,
    /// A fresh container per test (scenario).
    Test,
}

/// How one user (a test, a scenario) is isolated inside a shared service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// Postgres: a database of its own, cloned from the template.
    Database,
    /// Postgres: a schema of its own, selected through the URL's `search_path`.
    Schema,
    /// Redis: a logical database of its own, flushed after.
    LogicalDb,
    /// A declarative plugin's `[isolation]` hooks: a namespace of its own, made by the `create`
    /// hook, removed by the `drop` hook. `required`: a plugin without hooks is an error (the
    /// user asked for `isolation = "namespace"`); otherwise such a plugin is used as it is.
    Hooks {
        /// Whether the user asked for it (an error when the plugin has no hooks).
        required: bool,
    },
    /// SurrealDB: a namespace (and a database in it) of its own, removed after.
    Namespace,
    /// Nothing: the service as it is.
    None,
}

/// One service a test or scenario declares.
#[derive(Debug, Clone)]
pub struct ServiceNeed {
    /// The name the user refers to it by (`ctx.url("db")`, `service = "db"`).
    pub local: String,
    /// What to start.
    pub spec: ServiceSpec,
    /// How the user is isolated in it (under `Scope::Shared`).
    pub isolation: Isolation,
    /// SQL files applied once to the template (Postgres), in name order.
    pub migrations: Option<PathBuf>,
    /// Services with the same key are one container under `Scope::Shared`.
    pub key: String,
    /// Shared or fresh per attempt.
    pub scope: Scope,
}

/// The namespace an attempt got inside a shared service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Namespace {
    /// A Postgres database of its own (the name).
    Database(String),
    /// A Postgres schema of its own (the name).
    Schema(String),
    /// A Redis logical database of its own (the number).
    RedisDb(u32),
    /// A namespace a plugin's `[isolation] create` hook made (the name).
    Named(String),
    /// A SurrealDB namespace of its own and the database in it.
    Surreal {
        /// The namespace.
        ns: String,
        /// The database.
        db: String,
    },
}

/// One service as an attempt sees it.
#[derive(Debug, Clone)]
pub(crate) struct PreparedService {
    pub(crate) handle: ServiceHandle,
    /// The attempt's own URL into it (host-facing): its database, schema or logical database.
    pub(crate) url: Option<String>,
    /// What it got inside the service, when isolated.
    pub(crate) namespace: Option<Namespace>,
    /// How long the attempt waited for it.
    pub(crate) waited: ServiceWait,
}

/// How long an attempt waited for one service: for the container to be ready (started fresh,
/// or the shared one still starting), then for its namespace inside (a database clone, a schema,
/// a logical database).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ServiceWait {
    /// Waiting for the container.
    pub start: std::time::Duration,
    /// Waiting for the attempt's own namespace in it.
    pub isolation: std::time::Duration,
}

enum Lease {
    Pg(PgLease),
    Redis(Arc<RedisDbs>, u32),
    Hooks(HookLease),
    Surreal(SurrealLease),
}

/// What an attempt holds: its services by local name, its leases, its own containers.
pub(crate) struct Prepared {
    pub(crate) services: BTreeMap<String, PreparedService>,
    leases: Vec<Lease>,
    own: Option<Services>,
}

impl Prepared {
    /// Releases the leases (in the background, tracked by `pool`) and stops the attempt's own
    /// containers.
    pub(crate) async fn finish(self, pool: &SharedServices) {
        for lease in self.leases {
            pool.release_later(async move {
                match lease {
                    Lease::Pg(lease) => lease.release().await,
                    Lease::Redis(dbs, db) => dbs.release(db).await,
                    Lease::Hooks(lease) => lease.release().await,
                    Lease::Surreal(lease) => lease.release().await,
                }
            });
        }
        if let Some(services) = self.own {
            let _ = services.stop_all().await;
        }
    }
}

/// Starts or borrows `needs` and the attempt's isolated namespaces in them.
///
/// `Scope::Test` needs start together, fresh (their `depends_on` on shared services is dropped:
/// those already run); `Scope::Shared` ones come from `pool`.
pub(crate) async fn prepare(
    pool: &SharedServices,
    needs: &[ServiceNeed],
) -> Result<Prepared, String> {
    let mut prepared = Prepared {
        services: BTreeMap::new(),
        leases: Vec::new(),
        own: None,
    };
    let clock = std::time::Instant::now();
    let fresh: Vec<&ServiceNeed> = needs.iter().filter(|n| n.scope == Scope::Test).collect();
    if !fresh.is_empty() {
        let names: HashSet<&str> = fresh.iter().map(|n| n.local.as_str()).collect();
        let specs: Vec<ServiceSpec> = fresh
            .iter()
            .map(|n| {
                let mut spec = ServiceSpec {
                    name: n.local.clone(),
                    ..n.spec.clone()
                };
                spec.depends_on.retain(|d| names.contains(d.as_str()));
                spec
            })
            .collect();
        let started = async {
            let env = pool.env().await?;
            let mut with_otel = Vec::with_capacity(specs.len());
            for spec in &specs {
                with_otel.push(pool.with_otel(spec).await?);
            }
            pool.registry()
                .start_all(&env, &with_otel)
                .await
                .map_err(|e| format!("{e:?}"))
        };
        let services = started.await?;
        let start = clock.elapsed();
        let mut failure = None;
        for handle in services.iter() {
            let isolation = fresh
                .iter()
                .find(|n| n.local == handle.name())
                .map_or(Isolation::None, |n| n.isolation);
            // A fresh container has nothing to share, but a plugin whose URL names a namespace
            // still needs one for it to mean anything.
            let (url, namespace) = match hook_lease(handle, isolation).await {
                Ok(Some(lease)) => {
                    let url = lease.url().or_else(|| handle.url().map(str::to_owned));
                    let namespace = Namespace::Named(lease.name.clone());
                    prepared.leases.push(Lease::Hooks(lease));
                    (url, Some(namespace))
                }
                Ok(None) => (handle.url().map(str::to_owned), None),
                Err(e) => {
                    failure.get_or_insert(format!("service `{}`: {e}", handle.name()));
                    continue;
                }
            };
            prepared.services.insert(
                handle.name().to_owned(),
                PreparedService {
                    handle: handle.clone(),
                    url,
                    namespace,
                    waited: ServiceWait {
                        start,
                        isolation: clock.elapsed() - start,
                    },
                },
            );
        }
        prepared.own = Some(services);
        if let Some(failure) = failure {
            prepared.finish(pool).await;
            return Err(failure);
        }
    }
    // Shared services at once: a test needing Postgres and Redis waits for the slower, not both.
    let shared: Vec<&ServiceNeed> = needs.iter().filter(|n| n.scope == Scope::Shared).collect();
    let borrowed = futures::future::join_all(shared.iter().map(|need| borrow(pool, need))).await;
    let mut failure = None;
    for (need, result) in shared.iter().zip(borrowed) {
        match result {
            Ok((service, lease)) => {
                prepared.services.insert(need.local.clone(), service);
                prepared.leases.extend(lease);
            }
            Err(e) => {
                failure.get_or_insert(format!("service `{}`: {e}", need.local));
            }
        }
    }
    if let Some(failure) = failure {
        prepared.finish(pool).await;
        return Err(failure);
    }
    // The span preparing (a test's attempt, a scenario) links to its services' start spans.
    let current = tracing::Span::current();
    for service in prepared.services.values() {
        if let Some(started) = service.handle.start_span() {
            crate::telemetry::tree::link(&current, started);
        }
        let isolation = match &service.namespace {
            Some(Namespace::Database(_)) => "database",
            Some(Namespace::Schema(_)) => "schema",
            Some(Namespace::RedisDb(_)) => "logical_db",
            Some(Namespace::Named(_) | Namespace::Surreal { .. }) => "namespace",
            None => continue,
        };
        crate::telemetry::metrics::global().isolation_waited(
            service.handle.plugin(),
            isolation,
            service.waited.isolation,
        );
    }
    Ok(prepared)
}

/// The shared instance of `need`, with a namespace of its own when isolated.
async fn borrow(
    pool: &SharedServices,
    need: &ServiceNeed,
) -> Result<(PreparedService, Option<Lease>), String> {
    let clock = std::time::Instant::now();
    let instance = pool.service(need).await?;
    let started = clock.elapsed();
    let mut leases = Vec::new();
    let (url, namespace) = match need.isolation {
        Isolation::Database | Isolation::Schema => {
            let template = instance.template(need, pool.demand(&need.key)).await?;
            let (lease, namespace) = if need.isolation == Isolation::Database {
                let lease = template.database().await?;
                let name = lease.name.clone();
                (lease, Namespace::Database(name))
            } else {
                let lease = template.schema().await?;
                let name = lease.name.clone();
                (lease, Namespace::Schema(name))
            };
            let url = lease.url.clone();
            leases.push(Lease::Pg(lease));
            (Some(url), Some(namespace))
        }
        Isolation::LogicalDb => {
            let dbs = instance.redis().await?;
            let db = dbs.lease().await?;
            let url = dbs.url(db);
            leases.push(Lease::Redis(dbs, db));
            (Some(url), Some(Namespace::RedisDb(db)))
        }
        Isolation::Hooks { .. } => match hook_lease(&instance.handle, need.isolation).await? {
            Some(lease) => {
                let url = lease
                    .url()
                    .or_else(|| instance.handle.url().map(str::to_owned));
                let namespace = Namespace::Named(lease.name.clone());
                leases.push(Lease::Hooks(lease));
                (url, Some(namespace))
            }
            None => (instance.handle.url().map(str::to_owned), None),
        },
        Isolation::Namespace => {
            let root = instance.handle.url().ok_or("surrealdb has no URL")?;
            let lease = SurrealLease::lease(root).await?;
            let namespace = Namespace::Surreal {
                ns: lease.ns.clone(),
                db: lease.db.clone(),
            };
            let url = lease.url();
            leases.push(Lease::Surreal(lease));
            (Some(url), Some(namespace))
        }
        Isolation::None => (instance.handle.url().map(str::to_owned), None),
    };
    let service = PreparedService {
        handle: instance.handle.clone(),
        url,
        namespace,
        waited: ServiceWait {
            start: started,
            isolation: clock.elapsed() - started,
        },
    };
    Ok((service, leases.pop()))
}

/// A namespace made by the `[isolation]` hooks of `handle`'s plugin, when `isolation` asks for
/// one and the plugin has hooks; an error when it was asked for and the plugin has none.
async fn hook_lease(
    handle: &ServiceHandle,
    isolation: Isolation,
) -> Result<Option<HookLease>, String> {
    let Isolation::Hooks { required } = isolation else {
        return Ok(None);
    };
    match handle.namespace_hooks() {
        Some(hooks) => HookLease::create(handle, hooks).await.map(Some),
        None if required => Err(format!(
            "`isolation = \"namespace\"` needs a plugin with [isolation] hooks; `{}` has none",
            handle.plugin()
        )),
        None => Ok(None),
    }
}
