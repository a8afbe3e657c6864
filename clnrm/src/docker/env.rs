//! The run environment: one Docker network per run, labels on everything, teardown on stop, on
//! drop, on Ctrl-C/SIGTERM and on panic, and removal of what dead runs left behind.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use testcontainers::bollard::Docker;
use testcontainers::bollard::models::NetworkCreateRequest;
use testcontainers::bollard::query_parameters::{ListContainersOptions, ListNetworksOptions};

use super::container::remove_all;
use super::images::ImageMap;
use super::labels;
use super::owner::Owner;
use crate::error::{Result, docker_request};
use crate::interrupt;

/// How a run environment is set up.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Image substitution rules.
    pub images: ImageMap,
    /// The run id; a random one when `None`.
    pub run_id: Option<String>,
    /// Remove containers of dead runs when starting (default: yes).
    pub reap_dead: bool,
    /// Remove this run's containers on Ctrl-C/SIGTERM, then exit (default: yes).
    pub cleanup_on_signal: bool,
    /// The run outlives this process (one `cargo nextest run`, many processes): its network may
    /// exist already, and neither [`RunEnv::stop`] nor drop removes anything (default: no).
    pub persistent: bool,
    /// The process whose end ends the run; this process when `None`.
    pub owner: Option<Owner>,
}

impl RunConfig {
    /// The configuration from `clnrm.toml` (nearest from the current directory) and the
    /// environment (`CLNRM_IMAGE_*`, `CLNRM_CONFIG`).
    pub fn from_env() -> Result<RunConfig> {
        let dir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        Ok(RunConfig {
            images: ImageMap::load(&dir, std::env::vars())?,
            ..RunConfig::default()
        })
    }
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            images: ImageMap::default(),
            run_id: None,
            reap_dead: true,
            cleanup_on_signal: true,
            persistent: false,
            owner: None,
        }
    }
}

/// A container removed by [`gc_dead_runs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedContainer {
    /// The container id (12 characters).
    pub id: String,
    /// The container name.
    pub name: String,
    /// The run it belonged to.
    pub run: String,
    /// The service it ran.
    pub service: String,
    /// The dead owner.
    pub owner: String,
}

/// What [`gc_dead_runs`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Containers removed.
    pub containers: Vec<RemovedContainer>,
    /// Networks removed, by name.
    pub networks: Vec<String>,
}

/// The Docker side of one run: its network, its labels, and the teardown of every container
/// started in it. Share it as `Arc<RunEnv>`; [`RunEnv::stop`] is the explicit teardown, and
/// dropping the last reference tears down too.
#[derive(Debug)]
pub struct RunEnv {
    id: String,
    docker: Docker,
    network: String,
    owner: Owner,
    images: ImageMap,
    reaped: GcReport,
    stopped: AtomicBool,
    created_network: bool,
}

impl RunEnv {
    /// Connects to Docker, removes what dead runs left behind, and creates the run's network.
    pub async fn start(config: RunConfig) -> Result<Arc<RunEnv>> {
        let docker = super::client::connect().await?;
        let reaped = if config.reap_dead {
            gc_dead_runs(&docker).await?
        } else {
            GcReport::default()
        };
        let id = config
            .run_id
            .unwrap_or_else(|| format!("{:08x}", rand::random::<u32>()));
        let owner = config.owner.clone().unwrap_or_else(Owner::current);
        let network = format!("clnrm-{id}");
        // Nothing is created once the process was interrupted: it could outlive the final sweep.
        let mut creating = interrupt::creating().map_err(crate::Error::Interrupted)?;
        let mut network_labels = HashMap::new();
        network_labels.insert(labels::MANAGED.to_owned(), "true".to_owned());
        network_labels.insert(labels::RUN.to_owned(), id.clone());
        network_labels.insert(labels::OWNER.to_owned(), owner.to_string());
        // Docker accepts two networks of one name: a persistent run looks first (its
        // processes take turns, see the harness).
        let exists = config.persistent
            && docker
                .inspect_network(
                    &network,
                    None::<testcontainers::bollard::query_parameters::InspectNetworkOptions>,
                )
                .await
                .is_ok();
        let created = if exists {
            Err(None)
        } else {
            docker
                .create_network(NetworkCreateRequest {
                    name: network.clone(),
                    driver: Some("bridge".to_owned()),
                    labels: Some(network_labels),
                    ..Default::default()
                })
                .await
                .map_err(Some)
        };
        creating.answered();
        let created_here = match created {
            Ok(_) => true,
            // Another process of the same persistent run made it first.
            Err(None) => false,
            Err(Some(e)) => return Err(docker_request(format!("create network `{network}`"), e)),
        };
        let env = Arc::new(RunEnv {
            id,
            docker,
            network,
            owner,
            images: config.images,
            reaped,
            stopped: AtomicBool::new(config.persistent),
            created_network: created_here,
        });
        if config.cleanup_on_signal && !config.persistent {
            interrupt::register_run(&env.id, &env.network);
        }
        drop(creating);
        tracing::debug!(run = %env.id, network = %env.network, "run environment started");
        Ok(env)
    }

    /// The run id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The run's network: services reach each other there by their names.
    pub fn network(&self) -> &str {
        &self.network
    }

    /// The IPv4 gateway of the run's network: the host's address as the run's containers see
    /// it, where a receiver of the test process listens for them (never on every interface).
    pub async fn network_gateway(&self) -> Result<std::net::IpAddr> {
        let inspected = self
            .docker
            .inspect_network(
                &self.network,
                None::<testcontainers::bollard::query_parameters::InspectNetworkOptions>,
            )
            .await
            .map_err(|e| docker_request(format!("inspect network `{}`", self.network), e))?;
        inspected
            .ipam
            .and_then(|ipam| ipam.config)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|c| c.gateway)
            .filter_map(|g| g.parse::<std::net::IpAddr>().ok())
            .find(std::net::IpAddr::is_ipv4)
            .ok_or_else(|| {
                crate::Error::other(format!(
                    "network `{}` has no IPv4 gateway in its IPAM configuration",
                    self.network
                ))
            })
    }

    /// The Docker client.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// The image substitution rules in force.
    pub fn images(&self) -> &ImageMap {
        &self.images
    }

    /// The owning process.
    pub fn owner(&self) -> &Owner {
        &self.owner
    }

    /// What was removed of dead runs when this run started.
    pub fn reaped(&self) -> &GcReport {
        &self.reaped
    }

    pub(crate) fn labels_for(&self, service: &str) -> Vec<(String, String)> {
        vec![
            (labels::MANAGED.to_owned(), "true".to_owned()),
            (labels::RUN.to_owned(), self.id.clone()),
            (labels::OWNER.to_owned(), self.owner.to_string()),
            (labels::SERVICE.to_owned(), service.to_owned()),
        ]
    }

    /// Removes containers of `service` in this run that a failed start left behind.
    pub(crate) async fn remove_service_leftovers(&self, service: &str) {
        let filters = label_filters(&[
            format!("{}={}", labels::RUN, self.id),
            format!("{}={}", labels::SERVICE, service),
        ]);
        if let Ok(found) = list(&self.docker, filters).await {
            let ids: Vec<String> = found.into_iter().map(|c| c.0).collect();
            remove_all(&self.docker, &ids).await;
        }
    }

    /// Removes every container of this run and its network. Safe to call twice; does nothing
    /// for a persistent run (see [`RunConfig::persistent`] and [`remove_run`]).
    pub async fn stop(&self) -> Result<()> {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let result = remove_run(&self.docker, &self.id, &self.network).await;
        interrupt::unregister_run(&self.id);
        result
    }

    /// Did this process create the run's network (the first process of a persistent run)?
    pub fn created_network(&self) -> bool {
        self.created_network
    }

    /// Was [`RunEnv::stop`] called?
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }
}

impl Drop for RunEnv {
    fn drop(&mut self) {
        if !self.stopped.swap(true, Ordering::SeqCst) {
            remove_run_blocking(self.id.clone(), self.network.clone());
            interrupt::unregister_run(&self.id);
        }
    }
}

/// Removes every container labelled with `run`, then `network`.
pub async fn remove_run(docker: &Docker, run: &str, network: &str) -> Result<()> {
    let filters = label_filters(&[format!("{}={run}", labels::RUN)]);
    let ids: Vec<String> = list(docker, filters)
        .await?
        .into_iter()
        .map(|c| c.0)
        .collect();
    remove_all(docker, &ids).await;
    match docker.remove_network(network).await {
        Ok(()) => Ok(()),
        Err(e) if e.to_string().contains("404") || e.to_string().contains("not found") => Ok(()),
        Err(e) => Err(docker_request(format!("remove network `{network}`"), e)),
    }
}

/// [`remove_run`] on a thread of its own with its own runtime and client: usable from `Drop`
/// and from signal handlers, inside or outside a runtime.
pub(crate) fn remove_run_blocking(run: String, network: String) {
    let work = move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async move {
            if let Ok(docker) = Docker::connect_with_defaults() {
                let _ = remove_run(&docker, &run, &network).await;
            }
        });
    };
    let _ = std::thread::spawn(work).join();
}

/// Removes every container and network this process owns (its owner label) and those of
/// `runs` (run id, network), on a thread of its own: what [`crate::interrupt::finish`] does before
/// the process exits. Returns how many were removed.
pub(crate) fn remove_owned_blocking(runs: Vec<(String, String)>) -> usize {
    let work = move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return 0;
        };
        rt.block_on(async move {
            let Ok(docker) = Docker::connect_with_defaults() else {
                return 0;
            };
            let me = format!("{}={}", labels::OWNER, Owner::current());
            let mut ids: Vec<String> = list(&docker, label_filters(std::slice::from_ref(&me)))
                .await
                .unwrap_or_default()
                .into_iter()
                .map(|c| c.0)
                .collect();
            for (run, _) in &runs {
                let filters = label_filters(&[format!("{}={run}", labels::RUN)]);
                for (id, _, _) in list(&docker, filters).await.unwrap_or_default() {
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
            }
            remove_all(&docker, &ids).await;
            let mut networks: Vec<String> = runs.into_iter().map(|(_, n)| n).collect();
            if let Ok(found) = docker
                .list_networks(Some(ListNetworksOptions {
                    filters: Some(label_filters(&[me])),
                }))
                .await
            {
                networks.extend(found.into_iter().filter_map(|n| n.name));
            }
            networks.sort();
            networks.dedup();
            let mut removed_networks = 0;
            for name in networks {
                if docker.remove_network(&name).await.is_ok() {
                    removed_networks += 1;
                }
            }
            ids.len() + removed_networks
        })
    };
    std::thread::spawn(work).join().unwrap_or(0)
}

/// Removes the containers and networks of runs whose owner process is gone from this machine
/// (a run killed with SIGKILL, a machine that lost power). Runs owned by live processes and runs
/// of other machines on a shared engine are left alone.
pub async fn gc_dead_runs(docker: &Docker) -> Result<GcReport> {
    let mut report = GcReport::default();
    let managed = label_filters(&[format!("{}=true", labels::MANAGED)]);
    let mut dead_ids = Vec::new();
    for (id, name, container_labels) in list(docker, managed.clone()).await? {
        let owner = container_labels
            .get(labels::OWNER)
            .cloned()
            .unwrap_or_default();
        if Owner::parse(&owner).is_some_and(|o| o.is_dead_here()) {
            dead_ids.push(id.clone());
            report.containers.push(RemovedContainer {
                id: id.chars().take(12).collect(),
                name,
                run: container_labels
                    .get(labels::RUN)
                    .cloned()
                    .unwrap_or_default(),
                service: container_labels
                    .get(labels::SERVICE)
                    .cloned()
                    .unwrap_or_default(),
                owner,
            });
        }
    }
    remove_all(docker, &dead_ids).await;
    let networks = docker
        .list_networks(Some(ListNetworksOptions {
            filters: Some(managed),
        }))
        .await
        .map_err(|e| docker_request("list networks", e))?;
    for network in networks {
        let owner = network
            .labels
            .as_ref()
            .and_then(|l| l.get(labels::OWNER))
            .cloned()
            .unwrap_or_default();
        if Owner::parse(&owner).is_some_and(|o| o.is_dead_here())
            && let Some(name) = network.name
            && docker.remove_network(&name).await.is_ok()
        {
            report.networks.push(name);
        }
    }
    if !report.containers.is_empty() || !report.networks.is_empty() {
        tracing::info!(
            containers = report.containers.len(),
            networks = report.networks.len(),
            "removed leftovers of dead runs"
        );
    }
    Ok(report)
}

fn label_filters(values: &[String]) -> HashMap<String, Vec<String>> {
    HashMap::from([("label".to_owned(), values.to_vec())])
}

/// (id, name, labels) of every container, running or not, matching `filters`.
async fn list(
    docker: &Docker,
    filters: HashMap<String, Vec<String>>,
) -> Result<Vec<(String, String, HashMap<String, String>)>> {
    let found = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .map_err(|e| docker_request("list containers", e))?;
    Ok(found
        .into_iter()
        .map(|c| {
            let name = c
                .names
                .and_then(|n| n.into_iter().next())
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_owned();
            (c.id.unwrap_or_default(), name, c.labels.unwrap_or_default())
        })
        .collect())
}
