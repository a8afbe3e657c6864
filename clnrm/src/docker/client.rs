//! Connecting to the Docker engine.

use testcontainers::bollard::Docker;

use crate::error::{DockerError, Error, Result};

/// Where the Docker client will connect: `DOCKER_HOST` when set, else the default socket.
pub fn docker_endpoint() -> String {
    match std::env::var("DOCKER_HOST") {
        Ok(host) if !host.is_empty() => format!("DOCKER_HOST={host}"),
        _ => "unix:///var/run/docker.sock".to_owned(),
    }
}

/// Connects to the Docker engine (`DOCKER_HOST`, else the default socket) and checks that it
/// answers. Fails with [`DockerError::Unreachable`], which names the endpoint and how to start
/// Docker.
pub async fn connect() -> Result<Docker> {
    let endpoint = docker_endpoint();
    let unreachable = |reason: String| {
        Error::Docker(DockerError::Unreachable {
            endpoint: endpoint.clone(),
            reason,
        })
    };
    let docker = Docker::connect_with_defaults().map_err(|e| unreachable(e.to_string()))?;
    match tokio::time::timeout(std::time::Duration::from_secs(10), docker.ping()).await {
        Ok(Ok(_)) => Ok(docker),
        Ok(Err(e)) => Err(unreachable(flatten(&e))),
        Err(_) => Err(unreachable("no answer within 10 s".to_owned())),
    }
}

/// The error and its causes on one line (hyper hides the useful part, "No such file or
/// directory", two levels down).
fn flatten(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}
