//! Any image, configured entirely by the spec.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::docker::{RunEnv, start_container};
use crate::error::{Result, ServiceError};
use crate::service::{
    HealthStatus, PluginMetadata, PluginSource, ServiceHandle, ServicePlugin, ServiceSpec,
};

/// Runs any image: image, command/entrypoint, env, ports, mounts, limits and readiness (log
/// line, port, HTTP path or command) all come from the spec.
#[derive(Debug, Clone, Copy, Default)]
pub struct GenericPlugin;

#[async_trait]
impl ServicePlugin for GenericPlugin {
    fn name(&self) -> &str {
        "generic"
    }

    fn metadata(&self) -> PluginMetadata {
        PluginMetadata {
            name: "generic".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: "any image; readiness by log line, port, HTTP path or command".to_owned(),
            default_image: None,
            source: PluginSource::BuiltIn,
        }
    }

    fn validate(&self, spec: &ServiceSpec) -> Result<()> {
        if spec.image.is_none() {
            return Err(ServiceError::InvalidOption {
                service: spec.name.clone(),
                option: "image".to_owned(),
                message: "the generic plugin needs an image (`image = \"repo:tag\"`)".to_owned(),
            }
            .into());
        }
        Ok(())
    }

    async fn start(&self, spec: &ServiceSpec, env: &Arc<RunEnv>) -> Result<ServiceHandle> {
        let recipe = super::base_recipe(spec, None, Duration::from_secs(60))?;
        let container = start_container(env, &recipe).await?;
        Ok(ServiceHandle::new(
            &spec.name, "generic", container, None, None,
        ))
    }

    async fn health_check(&self, handle: &ServiceHandle) -> HealthStatus {
        let docker = match crate::docker::connect().await {
            Ok(docker) => docker,
            Err(e) => return HealthStatus::Unhealthy(e.to_string()),
        };
        match docker.inspect_container(handle.container_id(), None).await {
            Ok(info) if info.state.as_ref().and_then(|s| s.running) == Some(true) => {
                HealthStatus::Healthy
            }
            Ok(_) => HealthStatus::Unhealthy("the container is not running".to_owned()),
            Err(e) => HealthStatus::Unhealthy(e.to_string()),
        }
    }
}
