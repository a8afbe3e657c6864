//! Model servers: vLLM and TGI (OpenAI-compatible, URL `http://HOST:PORT/v1`) and Ollama (URL
//! `http://HOST:PORT`, its own API plus `/v1`).
//!
//! What clnrm relies on, and nothing more (the stand-in image of `scripts/build-llm-image.sh`
//! serves exactly this):
//! - vLLM (`vllm/vllm-openai`): the image's entrypoint takes `--model ID --port 8000`;
//!   `GET /health` answers 200 once the engine is up; `GET /v1/models` lists the served id in
//!   `data[].id`; `POST /v1/chat/completions`; `GET /metrics` (Prometheus text).
//! - TGI (`ghcr.io/huggingface/text-generation-inference`): the launcher takes `--model-id ID
//!   --port 80`; `GET /health` answers 200 once the model is loaded; `GET /info` names it in
//!   `model_id`; `POST /v1/chat/completions`, `POST /generate`; `GET /metrics`.
//! - Ollama (`ollama/ollama`): `serve` on `OLLAMA_HOST` (`0.0.0.0:11434`); `GET /api/version`;
//!   `POST /api/pull {"model": NAME}` streams JSON lines, the last `{"status":"success"}` or an
//!   `{"error": ...}` line; `GET /api/tags` lists pulled models in `models[].name`;
//!   `POST /api/chat`, and `/v1/chat/completions`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::docker::{Endpoint, Readiness, RunEnv, start_container};
use crate::error::{Result, ServiceError};
use crate::service::{
    HealthStatus, PluginMetadata, PluginSource, ServiceHandle, ServicePlugin, ServiceSpec,
};

/// vLLM's image, as on Docker Hub.
pub const VLLM_IMAGE: &str = "vllm/vllm-openai:latest";
/// TGI's image, as on GitHub's registry.
pub const TGI_IMAGE: &str = "ghcr.io/huggingface/text-generation-inference:latest";
/// Ollama's image, as on Docker Hub.
pub const OLLAMA_IMAGE: &str = "ollama/ollama:latest";

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Vllm,
    Tgi,
    Ollama,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Vllm => "vllm",
            Kind::Tgi => "tgi",
            Kind::Ollama => "ollama",
        }
    }

    fn image(self) -> &'static str {
        match self {
            Kind::Vllm => VLLM_IMAGE,
            Kind::Tgi => TGI_IMAGE,
            Kind::Ollama => OLLAMA_IMAGE,
        }
    }

    fn port(self) -> u16 {
        match self {
            Kind::Vllm => 8000,
            Kind::Tgi => 80,
            Kind::Ollama => 11434,
        }
    }

    /// Model servers load gigabytes before they answer: minutes, not seconds.
    fn startup_timeout(self) -> Duration {
        match self {
            Kind::Vllm | Kind::Tgi => Duration::from_secs(900),
            Kind::Ollama => Duration::from_secs(600),
        }
    }

    fn health_path(self) -> &'static str {
        match self {
            Kind::Vllm | Kind::Tgi => "/health",
            Kind::Ollama => "/api/version",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Kind::Vllm => {
                "vLLM; URL http://HOST:PORT/v1 (OpenAI API), ready when /health answers 200 and \
                 /v1/models lists the model (`model`, required)"
            }
            Kind::Tgi => {
                "Text Generation Inference; URL http://HOST:PORT/v1 (OpenAI API; /generate too), \
                 ready when /health answers 200 and /info names the model (`model`, required)"
            }
            Kind::Ollama => {
                "Ollama; URL http://HOST:PORT, ready when /api/version answers and every model of \
                 `models` is pulled and listed in /api/tags (a failed pull names the model)"
            }
        }
    }
}

/// A model server plugin: `vllm`, `tgi` or `ollama`.
#[derive(Debug, Clone, Copy)]
pub struct LlmPlugin {
    kind: Kind,
}

impl LlmPlugin {
    /// vLLM's OpenAI-compatible server.
    pub fn vllm() -> Self {
        LlmPlugin { kind: Kind::Vllm }
    }

    /// Hugging Face's Text Generation Inference.
    pub fn tgi() -> Self {
        LlmPlugin { kind: Kind::Tgi }
    }

    /// Ollama.
    pub fn ollama() -> Self {
        LlmPlugin { kind: Kind::Ollama }
    }

    fn invalid(&self, spec: &ServiceSpec, option: &str, message: String) -> crate::Error {
        crate::Error::Service(ServiceError::InvalidOption {
            service: spec.name.clone(),
            option: option.to_owned(),
            message,
        })
    }
}

#[async_trait]
impl ServicePlugin for LlmPlugin {
    fn name(&self) -> &str {
        self.kind.name()
    }

    fn metadata(&self) -> PluginMetadata {
        PluginMetadata {
            name: self.kind.name().to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: self.kind.description().to_owned(),
            default_image: Some(self.kind.image().to_owned()),
            source: PluginSource::BuiltIn,
        }
    }

    fn validate(&self, spec: &ServiceSpec) -> Result<()> {
        match self.kind {
            Kind::Vllm | Kind::Tgi => {
                if spec.model.as_deref().is_none_or(|m| m.trim().is_empty()) {
                    return Err(self.invalid(
                        spec,
                        "model",
                        format!(
                            "plugin `{}` serves one model: name it (`model = \"org/name\"`)",
                            self.kind.name()
                        ),
                    ));
                }
                if !spec.models.is_empty() {
                    return Err(self.invalid(
                        spec,
                        "models",
                        format!(
                            "plugin `{}` serves one model: use `model`, not `models`",
                            self.kind.name()
                        ),
                    ));
                }
            }
            Kind::Ollama => {
                if spec.model.is_some() {
                    return Err(self.invalid(
                        spec,
                        "model",
                        "plugin `ollama` pulls a list: use `models = [\"name:tag\"]`".to_owned(),
                    ));
                }
            }
        }
        Ok(())
    }

    async fn start(&self, spec: &ServiceSpec, env: &Arc<RunEnv>) -> Result<ServiceHandle> {
        self.validate(spec)?;
        let kind = self.kind;
        let port = kind.port();
        let mut recipe = super::base_recipe(spec, Some(kind.image()), kind.startup_timeout())?;
        if !recipe.ports.contains(&port) {
            recipe.ports.insert(0, port);
        }
        let model = spec.model.clone().unwrap_or_default();
        if recipe.cmd.is_none() {
            recipe.cmd = Some(match kind {
                Kind::Vllm => vec![
                    "--model".into(),
                    model.clone(),
                    "--port".into(),
                    "8000".into(),
                ],
                Kind::Tgi => vec![
                    "--model-id".into(),
                    model.clone(),
                    "--port".into(),
                    "80".into(),
                ],
                Kind::Ollama => vec!["serve".into()],
            });
        }
        if kind == Kind::Ollama {
            recipe
                .env
                .entry("OLLAMA_HOST".to_owned())
                .or_insert_with(|| "0.0.0.0:11434".to_owned());
        }
        recipe
            .readiness
            .push(Readiness::Custom(Arc::new(move |endpoint: Endpoint| {
                let model = model.clone();
                Box::pin(async move { ready(kind, &endpoint, &model).await })
            })));
        let container = start_container(env, &recipe).await?;
        let endpoint = container.endpoint().clone();
        let base = format!(
            "http://{}:{}",
            endpoint.host,
            endpoint.port(port).unwrap_or(port)
        );
        if kind == Kind::Ollama {
            for name in &spec.models {
                if let Err(why) = pull(&base, &spec.name, name).await {
                    let image = container.image().to_owned();
                    let _ = container.remove().await;
                    return Err(crate::Error::Service(ServiceError::Start {
                        service: spec.name.clone(),
                        image,
                        source: format!("model `{name}` could not be pulled: {why}").into(),
                    }));
                }
            }
        }
        let url = match kind {
            Kind::Vllm | Kind::Tgi => format!("{base}/v1"),
            Kind::Ollama => base,
        };
        Ok(ServiceHandle::new(
            &spec.name,
            kind.name(),
            container,
            Some(url),
            None,
        ))
    }

    async fn health_check(&self, handle: &ServiceHandle) -> HealthStatus {
        let port = match handle.port(self.kind.port()) {
            Ok(port) => port,
            Err(e) => return HealthStatus::Unhealthy(e.to_string()),
        };
        let url = format!("http://{}:{port}{}", handle.host(), self.kind.health_path());
        match get_json(&url).await {
            Ok(_) => HealthStatus::Healthy,
            Err(e) => HealthStatus::Unhealthy(e),
        }
    }
}

fn client(timeout: Duration) -> std::result::Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| e.to_string())
}

/// GETs `url`; the body as JSON (`Null` when it is not JSON, as vLLM's empty `/health`).
async fn get_json(url: &str) -> std::result::Result<serde_json::Value, String> {
    let response = client(Duration::from_secs(5))?
        .get(url)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!(
            "GET {url} answered {status}: {}",
            first_line(&text)
        ));
    }
    Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
}

fn first_line(text: &str) -> &str {
    let line = text.lines().next().unwrap_or("");
    &line[..line.len().min(200)]
}

/// Ready means usable: the server answers and (vLLM, TGI) serves the model it was asked for.
async fn ready(kind: Kind, endpoint: &Endpoint, model: &str) -> std::result::Result<(), String> {
    let port = endpoint
        .port(kind.port())
        .ok_or_else(|| format!("port {} is not published", kind.port()))?;
    let base = format!("http://{}:{port}", endpoint.host);
    get_json(&format!("{base}{}", kind.health_path())).await?;
    match kind {
        Kind::Vllm => {
            let models = get_json(&format!("{base}/v1/models")).await?;
            let served: Vec<&str> = models["data"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m["id"].as_str())
                .collect();
            if served.contains(&model) {
                Ok(())
            } else {
                Err(format!("/v1/models lists {served:?}, not `{model}`"))
            }
        }
        Kind::Tgi => {
            let info = get_json(&format!("{base}/info")).await?;
            match info["model_id"].as_str() {
                Some(id) if id == model => Ok(()),
                other => Err(format!("/info names model {other:?}, not `{model}`")),
            }
        }
        Kind::Ollama => Ok(()),
    }
}

/// Pulls `name` through `/api/pull`, logging its progress lines; `Err` with Ollama's message
/// when a line says `error` or the stream ends without `success`; then checks `/api/tags`.
async fn pull(base: &str, service: &str, name: &str) -> std::result::Result<(), String> {
    let mut response = client(Duration::from_secs(3600))?
        .post(format!("{base}/api/pull"))
        .json(&serde_json::json!({ "model": name, "stream": true }))
        .send()
        .await
        .map_err(|e| format!("POST /api/pull: {e}"))?;
    let status = response.status();
    let mut pending = Vec::new();
    let mut last = String::new();
    let mut succeeded = false;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("POST /api/pull: {e}"))?
    {
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line).trim().to_owned();
            if line.is_empty() {
                continue;
            }
            let value: serde_json::Value = serde_json::from_str(&line)
                .map_err(|_| format!("/api/pull sent a line that is not JSON: {line}"))?;
            if let Some(error) = value["error"].as_str() {
                return Err(error.to_owned());
            }
            if let Some(progress) = value["status"].as_str() {
                tracing::info!(service, model = name, "pull: {progress}");
                succeeded = progress == "success";
                last = progress.to_owned();
            }
        }
    }
    let rest = String::from_utf8_lossy(&pending).trim().to_owned();
    if !rest.is_empty() {
        let value: serde_json::Value = serde_json::from_str(&rest).unwrap_or_default();
        if let Some(error) = value["error"].as_str() {
            return Err(error.to_owned());
        }
        succeeded = value["status"] == "success";
    }
    if !status.is_success() {
        return Err(format!("/api/pull answered {status}"));
    }
    if !succeeded {
        return Err(format!(
            "/api/pull ended without success (last status: {last:?})"
        ));
    }
    let tags = get_json(&format!("{base}/api/tags")).await?;
    let listed = tags["models"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["name"].as_str())
        .any(|listed| listed == name || listed == format!("{name}:latest"));
    if listed {
        Ok(())
    } else {
        Err(format!("pulled, but /api/tags does not list it: {tags}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_model_servers_need_a_model_and_ollama_takes_a_list() {
        let vllm = LlmPlugin::vllm();
        let err = vllm
            .validate(&ServiceSpec::new("llm", "vllm"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("model = \"org/name\""), "{err}");
        assert!(
            vllm.validate(&ServiceSpec::new("llm", "vllm").model("m"))
                .is_ok()
        );
        let err = LlmPlugin::tgi()
            .validate(&ServiceSpec::new("llm", "tgi").model("m").models(["a"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("use `model`, not `models`"), "{err}");
        let err = LlmPlugin::ollama()
            .validate(&ServiceSpec::new("llm", "ollama").model("m"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("models = ["), "{err}");
    }

    /// A local server answering like the real one, for what the stand-in image cannot show:
    /// `routes` maps `METHOD PATH` to (status, body); the body is sent as the real servers send
    /// it (Ollama streams newline-terminated JSON lines; TGI's `/health` is an empty 200).
    async fn like_the_real_one(routes: Vec<(&'static str, u16, String)>) -> Endpoint {
        use axum::http::StatusCode;
        use axum::response::IntoResponse;
        let routes = Arc::new(routes);
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let routes = routes.clone();
            async move {
                let key = format!("{} {}", req.method(), req.uri().path());
                match routes.iter().find(|(k, _, _)| *k == key) {
                    Some((_, status, body)) => (
                        StatusCode::from_u16(*status).expect("a status"),
                        [("content-type", "application/json")],
                        body.clone(),
                    )
                        .into_response(),
                    None => (StatusCode::NOT_FOUND, "404 page not found").into_response(),
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Endpoint {
            host: "127.0.0.1".to_owned(),
            ports: [(11434, port), (80, port), (8000, port)]
                .into_iter()
                .collect(),
        }
    }

    fn base(endpoint: &Endpoint) -> String {
        format!("http://127.0.0.1:{}", endpoint.port(11434).unwrap())
    }

    #[tokio::test]
    async fn an_ollama_pull_streams_to_success_and_the_model_must_then_be_listed() {
        // Ollama 0.12's stream for a small model, then its tags (names carry `:latest`).
        let stream = [
            r#"{"status":"pulling manifest"}"#,
            r#"{"status":"pulling 7a9f4a3b1c2d","digest":"sha256:7a9f4a3b1c2d","total":291554304,"completed":291554304}"#,
            r#"{"status":"verifying sha256 digest"}"#,
            r#"{"status":"writing manifest"}"#,
            r#"{"status":"success"}"#,
        ]
        .map(|l| format!("{l}\n"))
        .concat();
        let tags = r#"{"models":[{"name":"gemma3:270m","model":"gemma3:270m","size":291554304}]}"#;
        let ollama = like_the_real_one(vec![
            ("POST /api/pull", 200, stream.clone()),
            ("GET /api/tags", 200, tags.to_owned()),
        ])
        .await;
        pull(&base(&ollama), "llm", "gemma3:270m").await.unwrap();
        // pulled, but not listed: not usable
        let err = pull(&base(&ollama), "llm", "qwen3:0.6b").await.unwrap_err();
        assert!(err.contains("/api/tags does not list it"), "{err}");
        // a stream cut before `success`
        let cut = like_the_real_one(vec![(
            "POST /api/pull",
            200,
            format!("{}\n", r#"{"status":"pulling manifest"}"#),
        )])
        .await;
        let err = pull(&base(&cut), "llm", "gemma3:270m").await.unwrap_err();
        assert_eq!(
            err,
            r#"/api/pull ended without success (last status: "pulling manifest")"#
        );
    }

    #[tokio::test]
    async fn an_ollama_pull_error_is_ollamas_own_message_streamed_or_not() {
        // Streaming: 200, progress, then an `error` line (what Ollama sends for a model that
        // does not exist in its library).
        let streamed = like_the_real_one(vec![(
            "POST /api/pull",
            200,
            format!(
                "{}\n{}\n",
                r#"{"status":"pulling manifest"}"#,
                r#"{"error":"pull model manifest: file does not exist"}"#
            ),
        )])
        .await;
        assert_eq!(
            pull(&base(&streamed), "llm", "no-such-model")
                .await
                .unwrap_err(),
            "pull model manifest: file does not exist"
        );
        // Not streaming: a 500 with one JSON object and no newline.
        let whole = like_the_real_one(vec![(
            "POST /api/pull",
            500,
            r#"{"error":"pull model manifest: 412: The model you are attempting to pull requires a newer version of Ollama."}"#.to_owned(),
        )])
        .await;
        let err = pull(&base(&whole), "llm", "new-model").await.unwrap_err();
        assert!(err.starts_with("pull model manifest: 412"), "{err}");
        // Not JSON at all (a proxy's error page): said as such, never taken for success.
        let page = like_the_real_one(vec![(
            "POST /api/pull",
            502,
            "<html>Bad Gateway</html>\n".to_owned(),
        )])
        .await;
        let err = pull(&base(&page), "llm", "gemma3:270m").await.unwrap_err();
        assert!(err.contains("not JSON"), "{err}");
    }

    #[tokio::test]
    async fn tgi_is_ready_when_health_answers_empty_and_info_names_the_model() {
        // TGI 3: `/health` is an empty 200 once the shard is up; `/info` describes the model.
        let info = r#"{"model_id":"org/tiny","model_sha":null,"model_pipeline_tag":"text-generation","max_concurrent_requests":128,"max_input_tokens":4095,"max_total_tokens":4096,"router":"text-generation-router","version":"3.3.4"}"#;
        let tgi = like_the_real_one(vec![
            ("GET /health", 200, String::new()),
            ("GET /info", 200, info.to_owned()),
        ])
        .await;
        ready(Kind::Tgi, &tgi, "org/tiny").await.unwrap();
        let err = ready(Kind::Tgi, &tgi, "org/other").await.unwrap_err();
        assert_eq!(
            err,
            r#"/info names model Some("org/tiny"), not `org/other`"#
        );
        // still loading: `/health` is 503 and readiness says so
        let loading = like_the_real_one(vec![(
            "GET /health",
            503,
            r#"{"error":"unhealthy","error_type":"healthcheck"}"#.to_owned(),
        )])
        .await;
        let err = ready(Kind::Tgi, &loading, "org/tiny").await.unwrap_err();
        assert!(err.contains("503"), "{err}");
    }
}
