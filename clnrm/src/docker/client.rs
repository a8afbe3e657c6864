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

/// The host address services' ports are published on: `CLNRM_BIND_ADDRESS` when set; else, for
/// a remote engine (`DOCKER_HOST=tcp://ADDR:PORT` or `ssh://...@ADDR`), the engine's address
/// (resolved to IPv4 when a name; every interface when it does not resolve); else `127.0.0.1`,
/// so a test's services are never reachable from other machines.
pub fn bind_address() -> String {
    bind_address_for(
        std::env::var("CLNRM_BIND_ADDRESS").ok().as_deref(),
        std::env::var("DOCKER_HOST").ok().as_deref(),
    )
}

fn bind_address_for(explicit: Option<&str>, docker_host: Option<&str>) -> String {
    if let Some(address) = explicit.map(str::trim).filter(|a| !a.is_empty()) {
        return address.to_owned();
    }
    let Some(host) = docker_host.and_then(remote_engine_host) else {
        return "127.0.0.1".to_owned();
    };
    if host.parse::<std::net::IpAddr>().is_ok() {
        return host;
    }
    use std::net::ToSocketAddrs;
    (host.as_str(), 0)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.find(std::net::SocketAddr::is_ipv4))
        .map_or_else(|| "0.0.0.0".to_owned(), |a| a.ip().to_string())
}

/// The host address clients use to reach published ports: the bind address unless it is every
/// interface (`0.0.0.0`, `::`), then the remote engine's host, else `127.0.0.1`. Never the
/// bridge gateway testcontainers picks when the process runs inside a container: ports are
/// published on one address, and the gateway is not it.
pub(crate) fn connect_host() -> String {
    connect_host_for(
        std::env::var("CLNRM_BIND_ADDRESS").ok().as_deref(),
        std::env::var("DOCKER_HOST").ok().as_deref(),
    )
}

fn connect_host_for(explicit: Option<&str>, docker_host: Option<&str>) -> String {
    let bound = bind_address_for(explicit, docker_host);
    let every_interface = bound
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_unspecified());
    if !every_interface {
        return bound;
    }
    docker_host
        .and_then(remote_engine_host)
        .unwrap_or_else(|| "127.0.0.1".to_owned())
}

/// The host of a remote engine's `DOCKER_HOST`; `None` for local sockets and loopback.
fn remote_engine_host(docker_host: &str) -> Option<String> {
    let rest = docker_host
        .strip_prefix("tcp://")
        .or_else(|| docker_host.strip_prefix("ssh://"))
        .or_else(|| docker_host.strip_prefix("http://"))
        .or_else(|| docker_host.strip_prefix("https://"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(bracketed) = authority.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or(bracketed)
    } else {
        authority.split(':').next().unwrap_or(authority)
    };
    match host {
        "" | "localhost" | "127.0.0.1" | "::1" => None,
        h => Some(h.to_owned()),
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

#[cfg(test)]
mod tests {
    use super::{bind_address_for, connect_host_for};

    #[test]
    fn clients_connect_where_the_ports_are_published() {
        assert_eq!(connect_host_for(None, None), "127.0.0.1");
        assert_eq!(connect_host_for(Some("0.0.0.0"), None), "127.0.0.1");
        assert_eq!(connect_host_for(Some("::"), None), "127.0.0.1");
        assert_eq!(connect_host_for(Some("192.0.2.1"), None), "192.0.2.1");
        assert_eq!(
            connect_host_for(None, Some("tcp://10.1.2.3:2376")),
            "10.1.2.3"
        );
        assert_eq!(
            connect_host_for(None, Some("tcp://docker.invalid:2376")),
            "docker.invalid"
        );
        assert_eq!(
            connect_host_for(Some("0.0.0.0"), Some("ssh://ci@10.9.8.7")),
            "10.9.8.7"
        );
    }

    #[test]
    fn ports_bind_to_loopback_unless_the_engine_is_remote_or_told_otherwise() {
        assert_eq!(bind_address_for(None, None), "127.0.0.1");
        assert_eq!(
            bind_address_for(None, Some("unix:///run/docker.sock")),
            "127.0.0.1"
        );
        assert_eq!(
            bind_address_for(None, Some("tcp://127.0.0.1:2375")),
            "127.0.0.1"
        );
        assert_eq!(
            bind_address_for(None, Some("tcp://10.1.2.3:2376")),
            "10.1.2.3"
        );
        assert_eq!(
            bind_address_for(None, Some("ssh://ci@10.9.8.7")),
            "10.9.8.7"
        );
        assert_eq!(bind_address_for(Some("0.0.0.0"), None), "0.0.0.0");
        assert_eq!(
            bind_address_for(Some(" 192.0.2.1 "), Some("tcp://10.1.2.3:2376")),
            "192.0.2.1"
        );
    }
}
