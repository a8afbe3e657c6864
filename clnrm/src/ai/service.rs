//! A model server clnrm starts for its own advisor: `--ai-service ollama=gemma3:270m` (or
//! `vllm=ORG/NAME`, `tgi=ORG/NAME`) runs the built-in plugin of that name in a run of its own for
//! the length of one command, and points the advisor at it. The service is removed when the
//! value is stopped or dropped, and by the interrupt sweep like any other.

use std::sync::Arc;

use super::AiConfig;
use crate::docker::{RunConfig, RunEnv};
use crate::error::Result;
use crate::service::{Registry, ServiceSpec, Services};

/// The one name the service gets inside its run.
const NAME: &str = "advisor";

/// A running model server the advisor uses.
pub struct AdvisorService {
    env: Arc<RunEnv>,
    services: Option<Services>,
    base_url: String,
    model: String,
}

impl std::fmt::Debug for AdvisorService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdvisorService")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

/// `PLUGIN=MODEL` into its spec; the plugin must be a model server.
pub fn parse(text: &str) -> std::result::Result<ServiceSpec, String> {
    let (plugin, model) = text
        .split_once('=')
        .map(|(p, m)| (p.trim(), m.trim()))
        .filter(|(p, m)| !p.is_empty() && !m.is_empty())
        .ok_or_else(|| {
            format!(
                "`{text}`: expected PLUGIN=MODEL, such as ollama=gemma3:270m or \
                 vllm=Qwen/Qwen2.5-0.5B-Instruct"
            )
        })?;
    let spec = ServiceSpec::new(NAME, plugin);
    match plugin {
        "ollama" => Ok(spec.models([model])),
        "vllm" | "tgi" => Ok(spec.model(model)),
        other => Err(format!(
            "`{other}` is not a model server plugin: use ollama, vllm or tgi"
        )),
    }
}

impl AdvisorService {
    /// Starts the server `spec` describes (from [`parse`]) and waits until it is ready: with
    /// its model loaded (vLLM, TGI) or pulled (Ollama).
    pub async fn start(spec: ServiceSpec) -> Result<AdvisorService> {
        let model = spec
            .model
            .clone()
            .or_else(|| spec.models.first().cloned())
            .unwrap_or_default();
        let env = RunEnv::start(RunConfig::from_env()?).await?;
        let services = Registry::builtin()
            .start_all(&env, std::slice::from_ref(&spec))
            .await?;
        let url = services.get(NAME)?.url().unwrap_or_default().to_owned();
        let base_url = super::config::normalize_base_url(&url).unwrap_or(url);
        Ok(AdvisorService {
            env,
            services: Some(services),
            base_url,
            model,
        })
    }

    /// Points `config` at this server and its model.
    pub fn apply(&self, config: &mut AiConfig) {
        config.base_url.clone_from(&self.base_url);
        config.model = Some(self.model.clone());
    }

    /// The server's base URL (what the advisor is given).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Removes the server and its run.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(services) = self.services.take() {
            services.stop_all().await?;
        }
        self.env.stop().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_is_a_model_server_plugin_and_its_model() {
        let ollama = parse("ollama=gemma3:270m").unwrap();
        assert_eq!(
            (ollama.plugin.as_str(), ollama.models.as_slice()),
            ("ollama", &["gemma3:270m".to_owned()][..])
        );
        let vllm = parse(" vllm = org/name ").unwrap();
        assert_eq!(vllm.model.as_deref(), Some("org/name"));
        assert!(
            parse("ollama")
                .unwrap_err()
                .contains("expected PLUGIN=MODEL")
        );
        assert!(
            parse("postgres=16")
                .unwrap_err()
                .contains("not a model server")
        );
    }
}
