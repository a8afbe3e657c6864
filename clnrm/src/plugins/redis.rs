//! Redis, reached with `redis://HOST:PORT`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::docker::{Endpoint, Readiness, RunEnv, start_container};
use crate::error::Result;
use crate::service::{
    HealthStatus, PluginMetadata, PluginSource, ServiceHandle, ServicePlugin, ServiceSpec,
};

/// The default image, as on Docker Hub.
pub const REDIS_IMAGE: &str = "redis:7";
const PORT: u16 = 6379;

/// Redis: ready when it answers `PING`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RedisPlugin;

#[async_trait]
impl ServicePlugin for RedisPlugin {
    fn name(&self) -> &str {
        "redis"
    }

    fn metadata(&self) -> PluginMetadata {
        PluginMetadata {
            name: "redis".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: "Redis; URL redis://HOST:PORT, ready when it answers PING".to_owned(),
            default_image: Some(REDIS_IMAGE.to_owned()),
            source: PluginSource::BuiltIn,
        }
    }

    async fn start(&self, spec: &ServiceSpec, env: &Arc<RunEnv>) -> Result<ServiceHandle> {
        let mut recipe = super::base_recipe(spec, Some(REDIS_IMAGE), Duration::from_secs(30))?;
        if !recipe.ports.contains(&PORT) {
            recipe.ports.insert(0, PORT);
        }
        recipe
            .readiness
            .push(Readiness::Custom(Arc::new(|endpoint: Endpoint| {
                Box::pin(async move {
                    let port = endpoint.port(PORT).ok_or("port 6379 is not published")?;
                    ping(&endpoint.host, port).await
                })
            })));
        let container = start_container(env, &recipe).await?;
        let endpoint = container.endpoint().clone();
        let url = format!(
            "redis://{}:{}",
            endpoint.host,
            endpoint.port(PORT).unwrap_or(PORT)
        );
        Ok(ServiceHandle::new(
            &spec.name,
            "redis",
            container,
            Some(url),
            None,
        ))
    }

    async fn health_check(&self, handle: &ServiceHandle) -> HealthStatus {
        let port = match handle.port(PORT) {
            Ok(port) => port,
            Err(e) => return HealthStatus::Unhealthy(e.to_string()),
        };
        match ping(handle.host(), port).await {
            Ok(()) => HealthStatus::Healthy,
            Err(e) => HealthStatus::Unhealthy(e),
        }
    }
}

/// Sends an inline `PING` and expects `+PONG`.
async fn ping(host: &str, port: u16) -> std::result::Result<(), String> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect((host, port))
            .await
            .map_err(|e| e.to_string())?;
        stream
            .write_all(b"PING\r\n")
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = [0u8; 64];
        let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
        let answer = String::from_utf8_lossy(&buf[..n]);
        if answer.starts_with("+PONG") {
            Ok(())
        } else if n == 0 {
            Err("connection closed".to_owned())
        } else {
            Err(format!("answered {:?}", answer.trim_end()))
        }
    };
    tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .map_err(|_| "PING timed out".to_owned())?
}
