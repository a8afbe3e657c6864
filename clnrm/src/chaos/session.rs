//! The faults of one test (or scenario): injected through [`Chaos`], each held by a
//! [`FaultGuard`] that heals it on drop, every one recorded, and all healed by
//! [`ChaosSession::heal_all`] when the test ends, however it ends.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use tokio::task::JoinHandle;

use super::container::{Cut, Target};
use super::proxy::Proxy;
use super::toxic::Toxic;
use super::{ChaosError, api::ControlApi};
use crate::docker::{Endpoint, Front, FrontLease};
use crate::error::{Error, Result};
use crate::service::{HealthStatus, Registry, ServiceHandle};

/// How long a service may take to be ready again after a kill, stop or restart.
const READY_AGAIN: Duration = Duration::from_secs(60);

/// One service of a test, as the chaos session knows it.
#[derive(Debug, Clone)]
pub struct ChaosService {
    /// The name the test calls it by.
    pub name: String,
    /// The running instance; `None` in a context with URLs only.
    pub handle: Option<ServiceHandle>,
    /// The test's URL into it (its own database, logical database…).
    pub url: Option<String>,
    /// Shared with other tests (kill, stop and restart are refused unless opted in).
    pub shared: bool,
    /// Put a proxy in front of it (`chaos = true`).
    pub proxied: bool,
}

/// One injected fault, for diagnostics and the JSON report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultRecord {
    /// The service.
    pub service: String,
    /// What: `pause`, `kill SIGKILL`, `latency 200ms ±0ms downstream`, …
    pub fault: String,
    /// When it was injected.
    #[serde(serialize_with = "as_rfc3339")]
    pub started_at: SystemTime,
    /// How long it was in force; `None` while it still is (`duration_secs` in JSON).
    #[serde(rename = "duration_secs", serialize_with = "as_secs")]
    pub duration: Option<Duration>,
    /// What healed it: `guard`, `timer`, `end of test`, or `restart` (for a restart, which heals
    /// itself).
    pub healed_by: Option<String>,
    /// Why healing failed, when it did.
    pub heal_error: Option<String>,
}

fn as_rfc3339<S: serde::Serializer>(t: &SystemTime, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&crate::report::rfc3339_utc(*t))
}

fn as_secs<S: serde::Serializer>(
    d: &Option<Duration>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

impl FaultRecord {
    /// One line: `pause on db at 2024-…Z for 1.20 s (healed by guard)`.
    pub fn describe(&self) -> String {
        let how_long = match self.duration {
            Some(d) => format!(" for {:.2} s", d.as_secs_f64()),
            None => " (still in force)".to_owned(),
        };
        let healed = match (&self.healed_by, &self.heal_error) {
            (_, Some(e)) => format!(" (healing failed: {e})"),
            (Some(by), None) => format!(" (healed by {by})"),
            (None, None) => String::new(),
        };
        format!(
            "{} on `{}` at {}{how_long}{healed}",
            self.fault,
            self.service,
            crate::report::rfc3339_utc(self.started_at)
        )
    }
}

enum Heal {
    Unpause(Target),
    Start { target: Target, fault: String },
    Reconnect(Target, Vec<Cut>),
    Toxic(Proxy, String),
    Up(Proxy),
}

struct Active {
    record: usize,
    since: Instant,
    heal: Heal,
}

#[derive(Default)]
struct State {
    next: u64,
    active: BTreeMap<u64, Active>,
    records: Vec<FaultRecord>,
    pending: Vec<JoinHandle<()>>,
    /// Ports of services restarted during the test.
    endpoints: HashMap<String, Endpoint>,
    api: Option<ControlApi>,
    /// Heals under way (taken out of `active`, not yet undone).
    in_flight: usize,
    /// Faults scheduled to be injected later ([`ChaosSession::schedule`]).
    scheduled: Vec<JoinHandle<()>>,
    /// The fronts route to the services themselves again (the session ended).
    unrouted: bool,
}

struct Served {
    service: ChaosService,
    target: Option<Target>,
    proxy: Option<(Proxy, u16)>,
    /// The service's front (`chaos = true` on its spec), routed through the proxy while the
    /// session lasts: the container port it routes.
    front: Option<(Front, u16)>,
    /// The proxy's address, as a host name.
    proxy_host: Option<String>,
}

struct Inner {
    services: BTreeMap<String, Served>,
    state: Mutex<State>,
    healed: tokio::sync::Notify,
    /// Set when the session ends: scheduled faults are no longer injected.
    closing: tokio::sync::watch::Sender<bool>,
    /// The fronts this session routes, held until they route to their services again.
    leases: Mutex<Vec<FrontLease>>,
}

/// A session dropped with faults in force (its test or suite was cut short before it could
/// heal them): heal them in the background, without waiting for readiness.
impl Drop for Inner {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        let heals: Vec<Heal> = std::mem::take(&mut state.active)
            .into_values()
            .map(|a| a.heal)
            .collect();
        let unrouted = state.unrouted;
        let fronts: Vec<(Front, u16, String)> = self
            .services
            .values()
            .filter(|_| !unrouted)
            .filter_map(|s| {
                let ((front, port), (proxy, _)) = (s.front.as_ref()?, s.proxy.as_ref()?);
                Some((front.clone(), *port, proxy.listen_addr().to_string()))
            })
            .collect();
        let leases = std::mem::take(self.leases.get_mut().unwrap_or_else(|p| p.into_inner()));
        if heals.is_empty() && fronts.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(
                "chaos: {} fault(s) left in force: no runtime to heal them",
                heals.len()
            );
            return;
        };
        runtime.spawn(async move {
            for (front, port, from) in fronts {
                if let Err(e) = front.route(port, None, &from).await {
                    tracing::warn!("chaos: routing the front back failed: {e}");
                }
            }
            // The next session may route the fronts now.
            drop(leases);
            for heal in heals {
                let healed = match heal {
                    Heal::Unpause(target) => target.unpause().await,
                    Heal::Start { target, fault } => target.start(&fault).await,
                    Heal::Reconnect(target, cuts) => {
                        let mut result = Ok(());
                        for cut in &cuts {
                            result = result.and(target.reconnect(cut).await);
                        }
                        result
                    }
                    // Proxies end with their session.
                    Heal::Toxic(..) | Heal::Up(_) => Ok(()),
                };
                if let Err(e) = healed {
                    tracing::warn!("chaos: healing failed: {e}");
                }
            }
        });
    }
}

/// The faults of one test or scenario. Clones share it.
#[derive(Clone)]
pub struct ChaosSession {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ChaosSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChaosSession")
            .field("services", &self.inner.services.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The host port a URL connects to, among `ports` (container → host).
fn url_port(url: &str, host: &str, ports: &BTreeMap<u16, u16>) -> Option<(u16, u16)> {
    ports
        .iter()
        .find(|(_, h)| url.contains(&format!("{host}:{h}")))
        .map(|(c, h)| (*c, *h))
}

impl ChaosSession {
    /// A session over `services`; the ones marked `proxied` get a proxy on the loopback in
    /// front of the port their URL uses (or their lowest published port). A service started
    /// with `chaos = true` has a front on the run network: the proxy listens on the network's
    /// gateway instead, and the front routes the other containers' connections through it
    /// until the session ends.
    pub async fn new(services: Vec<ChaosService>) -> Result<ChaosSession> {
        // A front routes one session at a time: sessions of concurrent tests on one
        // `chaos = true` service take turns (leases taken in one order, so two sessions over
        // the same services never wait for each other in a circle).
        let mut fronts = HashMap::new();
        for service in &services {
            if let (true, Some(handle)) = (service.proxied, &service.handle)
                && let Some(found) =
                    crate::docker::front_of(handle.docker(), handle.container_id()).await?
            {
                fronts.insert(service.name.clone(), found);
            }
        }
        let mut by_id: Vec<&Front> = fronts.values().collect();
        by_id.sort_by(|a, b| a.id().cmp(b.id()));
        let mut leases = Vec::new();
        for front in by_id {
            leases.push(front.lease().await?);
        }
        let mut served = BTreeMap::new();
        for service in services {
            let target = service.handle.as_ref().map(|h| Target {
                service: service.name.clone(),
                docker: h.docker().clone(),
                id: h.container_id().to_owned(),
                host: h.host().to_owned(),
            });
            let mut proxy = None;
            let mut front = None;
            if service.proxied
                && let Some(handle) = &service.handle
            {
                let ports = handle.ports();
                let chosen = service
                    .url
                    .as_deref()
                    .and_then(|u| url_port(u, handle.host(), ports))
                    .or_else(|| ports.iter().next().map(|(c, h)| (*c, *h)));
                if let Some((container_port, host_port)) = chosen {
                    let upstream = format!("{}:{host_port}", handle.host());
                    let found = fronts.remove(&service.name);
                    // On the gateway when the engine is local (its bridges are ours), else
                    // on the loopback, with the other containers reaching the service itself.
                    let on_gateway = match found {
                        Some(f) => match Proxy::start(
                            service.name.clone(),
                            &format!("{}:0", f.gateway),
                            upstream.clone(),
                        )
                        .await
                        {
                            Ok(p) => Some((p, f)),
                            Err(e) => {
                                tracing::warn!(
                                    "chaos: the proxy of `{}` cannot listen on the run \
                                     network's gateway ({e}): other containers reach the \
                                     service directly",
                                    service.name
                                );
                                None
                            }
                        },
                        None => None,
                    };
                    let p = match on_gateway {
                        Some((p, f)) => {
                            f.route(container_port, Some(&p.listen_addr().to_string()), "")
                                .await?;
                            front = Some((f, container_port));
                            p
                        }
                        None => Proxy::start(service.name.clone(), "127.0.0.1:0", upstream)
                            .await
                            .map_err(|e| Error::Chaos(e.into()))?,
                    };
                    proxy = Some((p, container_port));
                }
            }
            served.insert(
                service.name.clone(),
                Served {
                    service,
                    target,
                    proxy_host: proxy
                        .as_ref()
                        .map(|(p, _)| p.listen_addr().ip().to_string()),
                    proxy,
                    front,
                },
            );
        }
        Ok(ChaosSession {
            inner: Arc::new(Inner {
                services: served,
                state: Mutex::new(State::default()),
                healed: tokio::sync::Notify::new(),
                closing: tokio::sync::watch::Sender::new(false),
                leases: Mutex::new(leases),
            }),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The faults of `service`.
    pub fn chaos(&self, service: &str) -> Result<Chaos> {
        if !self.inner.services.contains_key(service) {
            return Err(Error::Service(crate::error::ServiceError::NotFound {
                service: service.to_owned(),
                known: self
                    .inner
                    .services
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            }));
        }
        Ok(Chaos {
            session: self.clone(),
            service: service.to_owned(),
            allow_damage: false,
        })
    }

    /// The URL the test uses for `service`: through its proxy when it has one, on its new
    /// ports after a restart.
    pub fn url(&self, service: &str) -> Option<String> {
        let served = self.inner.services.get(service)?;
        let url = served.service.url.clone()?;
        let handle = served.service.handle.as_ref()?;
        let host = handle.host();
        let original = handle.ports();
        if let Some((proxy, container_port)) = &served.proxy {
            let host_port = original.get(container_port)?;
            return Some(url.replace(
                &format!("{host}:{host_port}"),
                &proxy.listen_addr().to_string(),
            ));
        }
        let state = self.state();
        let now = state.endpoints.get(service)?;
        Some(rewrite(&url, host, original, &now.ports))
    }

    /// The host port for `container_port` of `service`, when chaos changed it (a proxy in
    /// front, a restart).
    pub fn port(&self, service: &str, container_port: u16) -> Option<u16> {
        let served = self.inner.services.get(service)?;
        if let Some((proxy, proxied)) = &served.proxy
            && *proxied == container_port
        {
            return Some(proxy.listen_addr().port());
        }
        self.state()
            .endpoints
            .get(service)
            .and_then(|e| e.port(container_port))
    }

    /// Where the test connects to `container_port` of `service` when chaos changed it: its
    /// proxy (for the port it stands in front of), or its new port after a restart.
    pub fn addr(&self, service: &str, container_port: u16) -> Option<(String, u16)> {
        let served = self.inner.services.get(service)?;
        if let Some((proxy, proxied)) = &served.proxy
            && *proxied == container_port
        {
            let addr = proxy.listen_addr();
            return Some((addr.ip().to_string(), addr.port()));
        }
        let port = self.state().endpoints.get(service)?.port(container_port)?;
        Some((served.service.handle.as_ref()?.host().to_owned(), port))
    }

    /// The host for `service` when it has a proxy in front of it (the loopback, or the run
    /// network's gateway when the service has a front).
    pub fn host(&self, service: &str) -> Option<&str> {
        self.inner.services.get(service)?.proxy_host.as_deref()
    }

    /// A Toxiproxy-compatible control API over this session's proxies (named after their
    /// services), on the loopback; its base URL (`http://127.0.0.1:PORT`). Started on first
    /// use; toxics created through it are healed at the end like any other fault.
    pub async fn control_api(&self) -> Result<String> {
        if let Some(api) = &self.state().api {
            return Ok(api.url());
        }
        let proxies = self
            .inner
            .services
            .values()
            .filter_map(|s| s.proxy.as_ref().map(|(p, _)| p.clone()))
            .collect();
        let api = ControlApi::start("127.0.0.1:0", proxies)
            .await
            .map_err(|e| Error::Chaos(e.into()))?;
        let url = api.url();
        let mut state = self.state();
        match &state.api {
            Some(existing) => Ok(existing.url()),
            None => {
                state.api = Some(api);
                Ok(url)
            }
        }
    }

    /// Records a fault injected now; its id and the index of its record.
    fn begin(&self, service: &str, fault: String, heal: Option<Heal>) -> (u64, usize) {
        let mut state = self.state();
        let record = state.records.len();
        state.records.push(FaultRecord {
            service: service.to_owned(),
            fault,
            started_at: SystemTime::now(),
            duration: None,
            healed_by: None,
            heal_error: None,
        });
        state.next += 1;
        let id = state.next;
        if let Some(heal) = heal {
            state.active.insert(
                id,
                Active {
                    record,
                    since: Instant::now(),
                    heal,
                },
            );
        }
        (id, record)
    }

    /// Heals fault `id` if it is still in force.
    async fn heal(&self, id: u64, by: &str) -> Result<()> {
        let Some(active) = ({
            let mut state = self.state();
            let active = state.active.remove(&id);
            state.in_flight += usize::from(active.is_some());
            active
        }) else {
            return Ok(());
        };
        let outcome = self.undo(active.heal).await;
        let mut state = self.state();
        state.in_flight -= 1;
        self.inner.healed.notify_waiters();
        if let Some(record) = state.records.get_mut(active.record) {
            record.duration = Some(active.since.elapsed());
            record.healed_by = Some(by.to_owned());
            record.heal_error = outcome.as_ref().err().map(|e| e.to_string());
        }
        outcome
    }

    async fn undo(&self, heal: Heal) -> Result<()> {
        match heal {
            Heal::Unpause(target) => target.unpause().await?,
            Heal::Start { target, fault } => {
                target.start(&fault).await?;
                self.ready_again(&target, &fault).await?;
            }
            Heal::Reconnect(target, cuts) => {
                for cut in &cuts {
                    target.reconnect(cut).await?;
                }
                self.follow_ports(&target, "partition").await?;
            }
            Heal::Toxic(proxy, name) => {
                // Already gone (removed through the control API) is healed too.
                let _ = proxy.remove_toxic(&name);
            }
            Heal::Up(proxy) => proxy.set_enabled_and_wait(true).await,
        }
        Ok(())
    }

    /// Reads the published ports again (a container started again, or plugged back into its
    /// network, can get new host ports) and points the proxy and the test's URL at them.
    async fn follow_ports(&self, target: &Target, fault: &str) -> Result<Option<Endpoint>> {
        let deadline = Instant::now() + READY_AGAIN;
        let mut endpoint = target.endpoint(fault).await?;
        while endpoint.ports.is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            endpoint = target.endpoint(fault).await?;
        }
        let Some(served) = self.inner.services.get(&target.service) else {
            return Ok(None);
        };
        if let Some((proxy, container_port)) = &served.proxy
            && let Some(host_port) = endpoint.port(*container_port)
        {
            proxy.set_upstream(format!("{}:{host_port}", endpoint.host));
        }
        self.state()
            .endpoints
            .insert(target.service.clone(), endpoint.clone());
        Ok(Some(endpoint))
    }

    /// After a start or restart: reads the ports again, points the proxy at them, and waits
    /// until the service's plugin finds it healthy.
    async fn ready_again(&self, target: &Target, fault: &str) -> Result<()> {
        let not_ready = |message: String| {
            Error::Chaos(ChaosError::NotReady {
                fault: fault.to_owned(),
                service: target.service.clone(),
                message,
            })
        };
        let deadline = Instant::now() + READY_AGAIN;
        let Some(endpoint) = self.follow_ports(target, fault).await? else {
            return Ok(());
        };
        let Some(handle) = self
            .inner
            .services
            .get(&target.service)
            .and_then(|s| s.service.handle.as_ref())
        else {
            return Ok(());
        };
        // The plugin's own health check, on a handle that knows the new ports.
        let url = handle
            .url()
            .map(|u| rewrite(u, handle.host(), handle.ports(), &endpoint.ports));
        let probe = ServiceHandle::adopt(
            handle.name(),
            handle.plugin(),
            handle.container_id(),
            handle.image(),
            endpoint.clone(),
            url,
            handle.credentials().cloned(),
            handle.docker().clone(),
        );
        let registry = Registry::builtin();
        let Some(plugin) = registry.get(handle.plugin()) else {
            return Ok(());
        };
        let mut last = String::from("not checked");
        while Instant::now() < deadline {
            match plugin.health_check(&probe).await {
                HealthStatus::Healthy => return Ok(()),
                HealthStatus::Unhealthy(why) => last = why,
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(not_ready(last))
    }

    /// Heals every fault still in force (waiting for the heals guards started on drop) and
    /// returns every fault of the session. Called when the test ends, however it ended.
    pub async fn heal_all(&self) -> Vec<FaultRecord> {
        // Nothing scheduled is injected from now on; an injection under way completes first.
        self.inner.closing.send_replace(true);
        let scheduled = std::mem::take(&mut self.state().scheduled);
        for task in scheduled {
            let _ = task.await;
        }
        loop {
            let pending = std::mem::take(&mut self.state().pending);
            if pending.is_empty() {
                break;
            }
            for task in pending {
                let _ = task.await;
            }
        }
        let ids: Vec<u64> = self.state().active.keys().copied().collect();
        for id in ids.into_iter().rev() {
            if let Err(e) = self.heal(id, "end of test").await {
                tracing::warn!("chaos: healing failed: {e}");
            }
        }
        // Heals a timer started are finished before the test counts as healed.
        loop {
            let notified = self.inner.healed.notified();
            if self.state().in_flight == 0 {
                break;
            }
            notified.await;
        }
        // Toxics and downs made through the control API are undone too, and the other
        // containers reach the service itself again.
        for served in self.inner.services.values() {
            if let Some((proxy, _)) = &served.proxy {
                proxy.reset();
                proxy.set_enabled_and_wait(true).await;
                if let Some((front, port)) = &served.front {
                    let from = proxy.listen_addr().to_string();
                    if let Err(e) = front.route(*port, None, &from).await {
                        tracing::warn!("chaos: routing the front back failed: {e}");
                    }
                }
            }
        }
        self.inner
            .leases
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        let mut state = self.state();
        state.api = None;
        state.unrouted = true;
        state.records.clone()
    }

    /// Runs `inject` `after` from now, in the background (a fault scheduled while the next
    /// steps run); never once the session is healing or healed.
    pub fn schedule<F, Fut>(&self, after: Duration, inject: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let mut closing = self.inner.closing.subscribe();
        let task = tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(after) => {}
                _ = closing.wait_for(|c| *c) => return,
            }
            if *closing.borrow() {
                return;
            }
            inject().await;
        });
        self.state().scheduled.push(task);
    }

    /// Records a fault that could not be injected (a scheduled one, whose error has no step to
    /// fail).
    pub fn record_failure(&self, service: &str, fault: &str, error: &str) {
        self.state().records.push(FaultRecord {
            service: service.to_owned(),
            fault: format!("{fault} (not injected: {error})"),
            started_at: SystemTime::now(),
            duration: None,
            healed_by: None,
            heal_error: None,
        });
    }

    /// Every fault so far.
    pub fn records(&self) -> Vec<FaultRecord> {
        self.state().records.clone()
    }

    fn track(&self, task: JoinHandle<()>) {
        let mut state = self.state();
        state.pending.retain(|t| !t.is_finished());
        state.pending.push(task);
    }
}

/// Replaces `host:old` by `host:new` for every port that moved.
fn rewrite(
    url: &str,
    host: &str,
    before: &BTreeMap<u16, u16>,
    after: &BTreeMap<u16, u16>,
) -> String {
    let mut url = url.to_owned();
    for (container_port, old) in before {
        if let Some(new) = after.get(container_port)
            && new != old
        {
            url = url.replace(&format!("{host}:{old}"), &format!("{host}:{new}"));
        }
    }
    url
}

/// The faults of one service of a test: `ctx.chaos("db")?`.
#[derive(Debug, Clone)]
pub struct Chaos {
    session: ChaosSession,
    service: String,
    allow_damage: bool,
}

impl Chaos {
    /// Allows kill, stop and restart on a service shared with other tests: they will see it
    /// go away (and come back on other ports).
    pub fn allow_damage(mut self) -> Self {
        self.allow_damage = true;
        self
    }

    fn served(&self) -> &Served {
        &self.session.inner.services[&self.service]
    }

    fn target(&self) -> Result<Target> {
        self.served().target.clone().ok_or_else(|| {
            Error::Chaos(ChaosError::NoContainer {
                service: self.service.clone(),
            })
        })
    }

    fn damaging(&self, fault: &str) -> Result<Target> {
        if self.served().service.shared && !self.allow_damage {
            return Err(Error::Chaos(ChaosError::SharedDamage {
                fault: fault.to_owned(),
                service: self.service.clone(),
            }));
        }
        self.target()
    }

    fn proxy(&self, fault: &str) -> Result<Proxy> {
        self.served()
            .proxy
            .as_ref()
            .map(|(p, _)| p.clone())
            .ok_or_else(|| {
                Error::Chaos(ChaosError::NoProxy {
                    fault: fault.to_owned(),
                    service: self.service.clone(),
                })
            })
    }

    fn guard(&self, id: u64) -> FaultGuard {
        FaultGuard {
            session: self.session.clone(),
            id,
            armed: true,
        }
    }

    /// Freezes the service's processes (`docker pause`): connections stay open, nothing
    /// answers. A hang.
    pub async fn pause(&self) -> Result<FaultGuard> {
        let target = self.target()?;
        target.pause().await?;
        let (id, _) = self.session.begin(
            &self.service,
            "pause".to_owned(),
            Some(Heal::Unpause(target)),
        );
        Ok(self.guard(id))
    }

    /// Sends `signal` (`SIGKILL`, `SIGTERM`, …) to the service's main process. Healing starts
    /// it again and waits until it is ready. Needs `scope = "test"` or [`Chaos::allow_damage`].
    pub async fn kill(&self, signal: &str) -> Result<FaultGuard> {
        let target = self.damaging("kill")?;
        target.kill(signal).await?;
        let fault = format!("kill {signal}");
        let heal = Heal::Start {
            target,
            fault: fault.clone(),
        };
        let (id, _) = self.session.begin(&self.service, fault, Some(heal));
        Ok(self.guard(id))
    }

    /// Stops the container (SIGTERM, then SIGKILL after `grace`). Healing starts it again and
    /// waits until it is ready. Needs `scope = "test"` or [`Chaos::allow_damage`].
    pub async fn stop(&self, grace: Duration) -> Result<FaultGuard> {
        let target = self.damaging("stop")?;
        target.stop(grace).await?;
        let heal = Heal::Start {
            target,
            fault: "stop".to_owned(),
        };
        let (id, _) = self
            .session
            .begin(&self.service, "stop".to_owned(), Some(heal));
        Ok(self.guard(id))
    }

    /// Restarts the container and waits until it is ready again; returns where it is now
    /// published (host ports can change: `ctx.url` and `ctx.port` follow, and a proxy in front
    /// of it forwards to the new port). Needs `scope = "test"` or [`Chaos::allow_damage`].
    pub async fn restart(&self) -> Result<Endpoint> {
        let target = self.damaging("restart")?;
        let (_, record) = self
            .session
            .begin(&self.service, "restart".to_owned(), None);
        let started = Instant::now();
        let outcome = async {
            target.restart(Duration::from_secs(1)).await?;
            self.session.ready_again(&target, "restart").await
        }
        .await;
        let mut state = self.session.state();
        if let Some(record) = state.records.get_mut(record) {
            record.duration = Some(started.elapsed());
            record.healed_by = Some("restart".to_owned());
            record.heal_error = outcome.as_ref().err().map(|e| e.to_string());
        }
        let endpoint = state.endpoints.get(&self.service).cloned();
        drop(state);
        outcome?;
        endpoint.ok_or_else(|| {
            Error::Chaos(ChaosError::NotReady {
                fault: "restart".to_owned(),
                service: self.service.clone(),
                message: "no ports read".to_owned(),
            })
        })
    }

    /// Cuts the container from its networks: other containers no longer reach it by name, and
    /// its published ports go with its network (the test cannot reach it either). Healing
    /// reconnects it with its aliases; `ctx.url`/`ctx.port` follow the ports it gets then.
    pub async fn partition(&self) -> Result<FaultGuard> {
        let target = self.target()?;
        let cuts = target.disconnect().await?;
        let networks = cuts
            .iter()
            .map(|c| c.network.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let (id, _) = self.session.begin(
            &self.service,
            format!("partition from {networks}"),
            Some(Heal::Reconnect(target, cuts)),
        );
        Ok(self.guard(id))
    }

    /// Adds `toxic` to the proxy in front of the service (`chaos = true`).
    pub async fn toxic(&self, toxic: Toxic) -> Result<FaultGuard> {
        let fault = toxic.kind.type_name();
        let proxy = self.proxy(fault)?;
        let toxic = proxy.add_toxic(toxic).map_err(|e| Error::Chaos(e.into()))?;
        let (id, _) = self.session.begin(
            &self.service,
            toxic.describe(),
            Some(Heal::Toxic(proxy, toxic.name)),
        );
        Ok(self.guard(id))
    }

    /// Adds `latency` to every chunk the service sends.
    pub async fn latency(&self, latency: Duration) -> Result<FaultGuard> {
        self.toxic(Toxic::latency(latency)).await
    }

    /// Limits what the service sends to `kb_per_s` KB per second.
    pub async fn bandwidth(&self, kb_per_s: u64) -> Result<FaultGuard> {
        self.toxic(Toxic::bandwidth(kb_per_s)).await
    }

    /// Lets nothing through (both ways); connections close after `after` (never for zero).
    pub async fn timeout(&self, after: Duration) -> Result<FaultGuard> {
        self.toxic(Toxic::timeout(after).upstream()).await
    }

    /// Resets every connection ("connection reset by peer") after `after`.
    pub async fn reset_peer(&self, after: Duration) -> Result<FaultGuard> {
        self.toxic(Toxic::reset_peer(after).upstream()).await
    }

    /// Delays closing connections by `delay`.
    pub async fn slow_close(&self, delay: Duration) -> Result<FaultGuard> {
        self.toxic(Toxic::slow_close(delay)).await
    }

    /// Closes connections once the service sent `bytes` bytes.
    pub async fn limit_data(&self, bytes: u64) -> Result<FaultGuard> {
        self.toxic(Toxic::limit_data(bytes)).await
    }

    /// Takes the proxy down: live connections close, new ones are refused.
    pub async fn down(&self) -> Result<FaultGuard> {
        let proxy = self.proxy("down")?;
        proxy.set_enabled_and_wait(false).await;
        let (id, _) = self
            .session
            .begin(&self.service, "down".to_owned(), Some(Heal::Up(proxy)));
        Ok(self.guard(id))
    }

    /// The proxy in front of the service, if it was declared with `chaos = true`.
    pub fn proxy_addr(&self) -> Option<std::net::SocketAddr> {
        self.served().proxy.as_ref().map(|(p, _)| p.listen_addr())
    }
}

/// A fault in force. Dropping it heals the fault (in the background: the test's end waits for
/// it); [`FaultGuard::heal`] heals and reports errors; [`FaultGuard::for_duration`] heals after
/// a while.
#[must_use = "dropping the guard heals the fault at once"]
pub struct FaultGuard {
    session: ChaosSession,
    id: u64,
    armed: bool,
}

impl std::fmt::Debug for FaultGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultGuard").field("id", &self.id).finish()
    }
}

impl FaultGuard {
    /// Heals now.
    pub async fn heal(mut self) -> Result<()> {
        self.armed = false;
        self.session.heal(self.id, "guard").await
    }

    /// Leaves the fault in force until the end of the test (or scenario), which heals it.
    pub fn until_end(mut self) {
        self.armed = false;
    }

    /// Leaves the fault in force for `duration` from now, then heals it in the background
    /// (and at the end of the test at the latest).
    pub fn for_duration(mut self, duration: Duration) {
        self.armed = false;
        let (session, id) = (self.session.clone(), self.id);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let task = runtime.spawn(async move {
            tokio::time::sleep(duration).await;
            if let Err(e) = session.heal(id, "timer").await {
                tracing::warn!("chaos: healing failed: {e}");
            }
        });
        // Not tracked as pending: the end of the test heals it at once rather than wait.
        drop(task);
    }
}

impl Drop for FaultGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (session, id) = (self.session.clone(), self.id);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let task = runtime.spawn(async move {
                if let Err(e) = session.heal(id, "guard").await {
                    tracing::warn!("chaos: healing failed: {e}");
                }
            });
            self.session.track(task);
        }
        // Without a runtime the fault stays in force until the session's end heals it.
    }
}
