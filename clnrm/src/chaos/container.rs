//! Container faults through the Docker API: pause/unpause, kill with a signal, stop/start,
//! restart, and a network partition (disconnect from the run network, reconnect with the same
//! aliases). Stop and restart send no `signal` parameter: it needs API 1.42, and engines that
//! speak only 1.41 refuse it.

use std::collections::BTreeMap;
use std::time::Duration;

use testcontainers::bollard::Docker;
use testcontainers::bollard::models::{
    EndpointSettings, NetworkConnectRequest, NetworkDisconnectRequest,
};
use testcontainers::bollard::query_parameters::{
    KillContainerOptions, RestartContainerOptions, StopContainerOptions,
};

use super::ChaosError;
use crate::docker::Endpoint;

/// How long one Docker request of a heal may take before it is asked again.
const CALL_BOUND: Duration = Duration::from_secs(10);

/// How long a heal keeps asking.
const HEAL_BOUND: Duration = Duration::from_secs(60);

/// One container, as the faults see it.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) service: String,
    pub(crate) docker: Docker,
    pub(crate) id: String,
    pub(crate) host: String,
}

/// A network the container was cut from, and how to plug it back.
#[derive(Debug, Clone)]
pub(crate) struct Cut {
    pub(crate) network: String,
    pub(crate) aliases: Vec<String>,
}

impl Target {
    fn refused(
        &self,
        fault: &str,
        action: &'static str,
    ) -> impl FnOnce(testcontainers::bollard::errors::Error) -> ChaosError {
        let (fault, service) = (fault.to_owned(), self.service.clone());
        move |source| ChaosError::Docker {
            fault,
            service,
            action,
            source: Box::new(source),
        }
    }

    pub(crate) async fn pause(&self) -> Result<(), ChaosError> {
        self.docker
            .pause_container(&self.id)
            .await
            .map_err(self.refused("pause", "pause"))
    }

    /// Unpauses it, and makes sure: an engine under load may answer late or not at all, so each
    /// request is bounded and the container's state (not the answer) decides, asking again
    /// until it runs or [`HEAL_BOUND`] has passed.
    pub(crate) async fn unpause(&self) -> Result<(), ChaosError> {
        let started = std::time::Instant::now();
        loop {
            let sent =
                tokio::time::timeout(CALL_BOUND, self.docker.unpause_container(&self.id)).await;
            let answer = match sent {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e),
                Err(_) => None,
            };
            // Whatever the answer, the state decides (a container that is not paused any more
            // is healed, whoever unpaused it).
            let paused =
                tokio::time::timeout(CALL_BOUND, self.docker.inspect_container(&self.id, None))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .and_then(|i| i.state)
                    .and_then(|s| s.paused);
            if paused == Some(false) {
                return Ok(());
            }
            if started.elapsed() >= HEAL_BOUND {
                return Err(match answer {
                    Some(e) => self.refused("pause", "unpause")(e),
                    None => ChaosError::NotReady {
                        fault: "pause".to_owned(),
                        service: self.service.clone(),
                        message: format!(
                            "still paused after {} s of asking Docker to unpause it",
                            HEAL_BOUND.as_secs()
                        ),
                    },
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub(crate) async fn kill(&self, signal: &str) -> Result<(), ChaosError> {
        let options = KillContainerOptions {
            signal: signal.to_owned(),
        };
        self.docker
            .kill_container(&self.id, Some(options))
            .await
            .map_err(self.refused("kill", "kill"))
    }

    pub(crate) async fn stop(&self, grace: Duration) -> Result<(), ChaosError> {
        let options = StopContainerOptions {
            signal: None,
            t: Some(grace.as_secs() as i32),
        };
        self.docker
            .stop_container(&self.id, Some(options))
            .await
            .map_err(self.refused("stop", "stop"))
    }

    pub(crate) async fn restart(&self, grace: Duration) -> Result<(), ChaosError> {
        let options = RestartContainerOptions {
            signal: None,
            t: Some(grace.as_secs() as i32),
        };
        self.docker
            .restart_container(&self.id, Some(options))
            .await
            .map_err(self.refused("restart", "restart"))
    }

    /// Starts it again (after a kill or a stop); a running container is left alone.
    pub(crate) async fn start(&self, fault: &str) -> Result<(), ChaosError> {
        if self.running().await? {
            return Ok(());
        }
        self.docker
            .start_container(&self.id, None)
            .await
            .map_err(self.refused(fault, "start"))
    }

    async fn running(&self) -> Result<bool, ChaosError> {
        let inspect = self
            .docker
            .inspect_container(&self.id, None)
            .await
            .map_err(self.refused("start", "inspect"))?;
        Ok(inspect.state.and_then(|s| s.running).unwrap_or_default())
    }

    /// The published ports as they are now (a restarted container can get new host ports).
    pub(crate) async fn endpoint(&self, fault: &str) -> Result<Endpoint, ChaosError> {
        let inspect = self
            .docker
            .inspect_container(&self.id, None)
            .await
            .map_err(self.refused(fault, "inspect"))?;
        let mut ports = BTreeMap::new();
        let map = inspect
            .network_settings
            .and_then(|n| n.ports)
            .unwrap_or_default();
        for (key, bindings) in map {
            let Some(container_port) = key.strip_suffix("/tcp").and_then(|p| p.parse::<u16>().ok())
            else {
                continue;
            };
            let host_port = bindings
                .unwrap_or_default()
                .into_iter()
                .filter_map(|b| b.host_port.and_then(|p| p.parse::<u16>().ok()))
                .next();
            if let Some(host_port) = host_port {
                ports.insert(container_port, host_port);
            }
        }
        Ok(Endpoint {
            host: self.host.clone(),
            ports,
        })
    }

    /// Disconnects it from every network it is on; what to reconnect.
    pub(crate) async fn disconnect(&self) -> Result<Vec<Cut>, ChaosError> {
        let inspect = self
            .docker
            .inspect_container(&self.id, None)
            .await
            .map_err(self.refused("partition", "inspect"))?;
        let hostname = inspect.config.and_then(|c| c.hostname);
        let networks = inspect
            .network_settings
            .and_then(|n| n.networks)
            .unwrap_or_default();
        let mut cuts = Vec::new();
        for (network, settings) in networks {
            if network == "bridge" || network == "host" || network == "none" {
                continue;
            }
            let mut aliases = settings.aliases.unwrap_or_default();
            // The service's name is its host name: keep it reachable by that name after the
            // reconnect, whatever the engine listed as aliases.
            if let Some(h) = &hostname
                && !aliases.contains(h)
            {
                aliases.push(h.clone());
            }
            let id_prefix = &self.id[..self.id.len().min(12)];
            aliases.retain(|a| a != id_prefix);
            self.docker
                .disconnect_network(
                    &network,
                    NetworkDisconnectRequest {
                        container: self.id.clone(),
                        force: Some(true),
                    },
                )
                .await
                .map_err(self.refused("partition", "network disconnect"))?;
            cuts.push(Cut { network, aliases });
        }
        Ok(cuts)
    }

    /// Plugs it back into `cut`'s network with its aliases.
    pub(crate) async fn reconnect(&self, cut: &Cut) -> Result<(), ChaosError> {
        let request = NetworkConnectRequest {
            container: self.id.clone(),
            endpoint_config: Some(EndpointSettings {
                aliases: Some(cut.aliases.clone()),
                ..Default::default()
            }),
        };
        self.docker
            .connect_network(&cut.network, request)
            .await
            .map_err(self.refused("partition", "network connect"))
    }
}
