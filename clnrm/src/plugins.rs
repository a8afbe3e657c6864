//! Built-in plugins: `generic` (any image), `postgres`, `redis`, `surrealdb`, the model servers `vllm`,
//! `tgi` and `ollama`; and declarative plugins from
//! `plugin.toml` recipes ([`ManifestPlugin`]).

mod generic;
mod llm;
mod manifest;
mod postgres;
mod redis;
pub mod surrealdb;

pub use generic::GenericPlugin;
pub use llm::{LlmPlugin, OLLAMA_IMAGE, TGI_IMAGE, VLLM_IMAGE};
pub use manifest::{ManifestPlugin, load_declarative_plugins};
pub use postgres::{POSTGRES_IMAGE, PostgresPlugin};
pub use redis::{REDIS_IMAGE, RedisPlugin};
pub use surrealdb::{SURREALDB_IMAGE, SurqlError, SurrealDbPlugin, surql};

use std::time::Duration;

use crate::docker::ContainerRecipe;
use crate::error::{Result, ServiceError};
use crate::service::ServiceSpec;

/// The recipe every plugin starts from: the spec's options over the plugin's defaults.
fn base_recipe(
    spec: &ServiceSpec,
    default_image: Option<&str>,
    default_timeout: Duration,
) -> Result<ContainerRecipe> {
    let image = spec
        .image
        .clone()
        .or_else(|| default_image.map(str::to_owned))
        .ok_or_else(|| ServiceError::InvalidOption {
            service: spec.name.clone(),
            option: "image".to_owned(),
            message: format!(
                "plugin `{}` needs an image (`image = \"repo:tag\"`)",
                spec.plugin
            ),
        })?;
    let mut recipe = ContainerRecipe::new(&spec.name, image);
    recipe.env = spec.env.clone();
    recipe.ports = spec.ports.clone();
    recipe.entrypoint = spec.entrypoint.clone();
    recipe.cmd = spec.cmd.clone();
    recipe.readiness = spec.readiness.clone();
    recipe.memory = spec.memory;
    recipe.cpus = spec.cpus;
    recipe.mounts = spec.mounts.clone();
    recipe.user = spec.user.clone();
    recipe.gpus = spec.gpus;
    recipe.startup_timeout = spec.startup_timeout.unwrap_or(default_timeout);
    recipe.front = spec.chaos;
    Ok(recipe)
}
