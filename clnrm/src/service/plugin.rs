//! The plugin trait: a recipe for a kind of service.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

use super::{ServiceHandle, ServiceSpec};
use crate::docker::RunEnv;
use crate::error::Result;

/// What a plugin says about itself (`clnrm plugins` lists it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PluginMetadata {
    /// The name services refer to (`postgres`).
    pub name: String,
    /// The plugin's version.
    pub version: String,
    /// One line.
    pub description: String,
    /// The image used when a service names none; `None` for plugins that need one.
    pub default_image: Option<String>,
    /// Where it comes from.
    pub source: PluginSource,
}

/// Where a plugin comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginSource {
    /// Compiled into clnrm.
    BuiltIn,
    /// Installed from a marketplace index (its path or URL).
    Installed(String),
    /// A `plugin.toml` in the project's plugin folder (this path).
    Local(String),
}

impl std::fmt::Display for PluginSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginSource::BuiltIn => f.write_str("built-in"),
            PluginSource::Installed(index) => write!(f, "installed from {index}"),
            PluginSource::Local(path) => write!(f, "local {path}"),
        }
    }
}

/// The health of a running service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthStatus {
    /// It answers as it should.
    Healthy,
    /// It does not; the reason says how.
    Unhealthy(String),
}

/// A kind of service. Built-ins live in [`crate::plugins`]; installed plugins are used by name
/// exactly like them.
#[async_trait]
pub trait ServicePlugin: Send + Sync + 'static {
    /// The name services refer to.
    fn name(&self) -> &str;

    /// What it says about itself.
    fn metadata(&self) -> PluginMetadata;

    /// Checks a spec before anything starts; the default accepts everything.
    fn validate(&self, _spec: &ServiceSpec) -> Result<()> {
        Ok(())
    }

    /// Starts the service in `env` and waits until it is ready.
    async fn start(&self, spec: &ServiceSpec, env: &Arc<RunEnv>) -> Result<ServiceHandle>;

    /// Stops it; the default removes the container.
    async fn stop(&self, handle: &ServiceHandle) -> Result<()> {
        handle.stop().await
    }

    /// Checks that it still answers.
    async fn health_check(&self, handle: &ServiceHandle) -> HealthStatus;
}
