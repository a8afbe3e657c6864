//! One client over two LLM APIs: Ollama's native API and OpenAI-compatible servers.
//!
//! Ollama: `GET /api/version`, `GET /api/tags`, `POST /api/chat` with the JSON schema in
//! `format` (falls back to `"json"` if the server rejects a schema), `stream` true (NDJSON,
//! an `{"error": ...}` line is reported) or false.
//!
//! OpenAI-compatible (Ollama's `/v1`, vLLM, TGI, llama.cpp's server): `GET /v1/models`,
//! `POST /v1/chat/completions` with `response_format` `json_schema`, falling back once, and
//! for the rest of the client's life, to `json_object` when the server answers 400/422.
//!
//! Every request has `temperature` from the config (0 by default), `seed` 0 and a token cap,
//! and is bounded by the config's timeout (connect and whole body).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use super::config::{AiConfig, BackendChoice};
use super::error::AiError;

/// Largest response body read, so a misbehaving server cannot exhaust memory.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The API a server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Ollama's native API.
    Ollama,
    /// An OpenAI-compatible API.
    OpenAi,
}

/// A model a server lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
    /// The name to send in requests.
    pub name: String,
    /// Parameter count when the server says it (Ollama `details.parameter_size`,
    /// llama.cpp `meta.n_params`).
    pub parameters: Option<u64>,
    /// File size in bytes when the server says it.
    pub size_bytes: Option<u64>,
    /// Model family when the server says it (Ollama `details.family`).
    pub family: Option<String>,
}

/// Chooses the model to use among those a server lists, deterministically:
/// embedding and reranking models are skipped; then instruct/chat models come first
/// (names with `instruct`, `chat` or an `-it` tag), then smaller ones (parameter count,
/// else the count in the name such as `0.5b` or `270m`, else twice the file size as a 4-bit
/// estimate, unknown last), then the name in byte order.
pub fn choose_model(models: &[ModelInfo]) -> Option<&ModelInfo> {
    models
        .iter()
        .filter(|m| !is_embedding_model(m))
        .min_by(|a, b| model_rank(a).cmp(&model_rank(b)))
}

fn model_rank(m: &ModelInfo) -> (bool, u64, &str) {
    let size = m
        .parameters
        .or_else(|| parameters_from_name(&m.name))
        .or_else(|| m.size_bytes.map(|b| b.saturating_mul(2)))
        .unwrap_or(u64::MAX);
    (!is_instruct_model(&m.name), size, m.name.as_str())
}

fn name_tokens(name: &str) -> impl Iterator<Item = String> + '_ {
    name.split([':', '-', '_', '/', ' ', '.'])
        .filter(|t| !t.is_empty())
        .map(str::to_ascii_lowercase)
}

fn is_embedding_model(m: &ModelInfo) -> bool {
    let name = m.name.to_ascii_lowercase();
    let family = m.family.as_deref().unwrap_or("").to_ascii_lowercase();
    ["embed", "rerank", "bge", "minilm"]
        .iter()
        .any(|w| name.contains(w))
        || family.contains("bert")
}

fn is_instruct_model(name: &str) -> bool {
    name_tokens(name).any(|t| t == "instruct" || t == "it" || t == "chat")
}

/// `0.5b`, `1.5B`, `270m` anywhere in the name (`.` is a separator, so `0.5b` is read
/// from the raw name first).
fn parameters_from_name(name: &str) -> Option<u64> {
    name.split([':', '-', '_', '/', ' '])
        .filter_map(parse_parameter_size)
        .min()
}

/// `3.2B`, `270M`, `0.5b` -> parameter count.
fn parse_parameter_size(text: &str) -> Option<u64> {
    let t = text.trim().to_ascii_lowercase();
    let (number, scale) = if let Some(n) = t.strip_suffix('b') {
        (n, 1e9)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 1e6)
    } else {
        return None;
    };
    let n: f64 = number.parse().ok()?;
    (n.is_finite() && n > 0.0).then_some((n * scale) as u64)
}

/// A connected advisor client: backend detected and model chosen.
#[derive(Debug)]
pub struct AiClient {
    http: reqwest::Client,
    base_url: String,
    timeout: Duration,
    backend: Backend,
    model: String,
    temperature: f64,
    stream: bool,
    /// Set once a server rejected a JSON schema; later requests ask for plain JSON.
    plain_json_only: AtomicBool,
}

impl AiClient {
    /// Detects the backend (when [`BackendChoice::Auto`]) and chooses the model (when none is
    /// configured). Each request is bounded by `config.timeout`.
    pub async fn connect(config: &AiConfig) -> Result<Self, AiError> {
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        let http = build_http(config.timeout, &base_url)?;
        let backend = match config.backend {
            BackendChoice::Ollama => Detected::Ollama,
            BackendChoice::OpenAi => Detected::OpenAi(None),
            BackendChoice::Auto => detect_backend(&http, &base_url, config.timeout).await?,
        };
        let (backend, listing) = match backend {
            Detected::Ollama => (Backend::Ollama, None),
            Detected::OpenAi(models) => (Backend::OpenAi, models),
        };
        let model = match &config.model {
            Some(model) => model.clone(),
            None => {
                let models = match listing {
                    // Detection already fetched `/v1/models`.
                    Some(body) => parse_models(&body, backend, &base_url)?,
                    None => list_models_with(&http, &base_url, config.timeout, backend).await?,
                };
                choose_model(&models)
                    .map(|m| m.name.clone())
                    .ok_or_else(|| AiError::NoModel {
                        url: base_url.clone(),
                    })?
            }
        };
        tracing::debug!(url = %base_url, ?backend, %model, "ai advisor connected");
        Ok(Self {
            http,
            base_url,
            timeout: config.timeout,
            backend,
            model,
            temperature: config.temperature,
            stream: config.stream,
            plain_json_only: AtomicBool::new(false),
        })
    }

    /// The API in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The model in use.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The base URL in use.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The models the server lists.
    pub async fn list_models(&self) -> Result<Vec<ModelInfo>, AiError> {
        list_models_with(&self.http, &self.base_url, self.timeout, self.backend).await
    }

    /// Ollama's version (`/api/version`); `None` on an OpenAI-compatible server.
    pub async fn version(&self) -> Result<Option<String>, AiError> {
        if self.backend != Backend::Ollama {
            return Ok(None);
        }
        let body = get_json(&self.http, &self.base_url, self.timeout, "/api/version").await?;
        Ok(body
            .get("version")
            .and_then(Value::as_str)
            .map(str::to_owned))
    }

    /// Sends a system and a user message and returns the model's answer parsed as JSON,
    /// asking the server to constrain it to `schema`. Does not check the answer against the
    /// schema: that is the caller's validation.
    pub async fn chat_json(
        &self,
        system: &str,
        user: &str,
        schema_name: &str,
        schema: &Value,
        max_tokens: u32,
    ) -> Result<Value, AiError> {
        let content = match self
            .chat_constrained(system, user, schema_name, schema, max_tokens, false)
            .await
        {
            Err(AiError::Http {
                status: 400 | 422,
                message,
                ..
            }) if !self.plain_json_only.load(Ordering::Relaxed) => {
                tracing::debug!(%message, "server rejected the JSON schema; retrying with plain JSON mode");
                self.plain_json_only.store(true, Ordering::Relaxed);
                self.chat_constrained(system, user, schema_name, schema, max_tokens, true)
                    .await?
            }
            other => other?,
        };
        parse_model_json(&content).map_err(|reason| AiError::InvalidResponse {
            url: self.base_url.clone(),
            reason,
        })
    }

    async fn chat_constrained(
        &self,
        system: &str,
        user: &str,
        schema_name: &str,
        schema: &Value,
        max_tokens: u32,
        force_plain: bool,
    ) -> Result<String, AiError> {
        let plain = force_plain || self.plain_json_only.load(Ordering::Relaxed);
        let messages = json!([
            { "role": "system", "content": system },
            { "role": "user", "content": user },
        ]);
        match self.backend {
            Backend::Ollama => {
                let body = json!({
                    "model": self.model,
                    "messages": messages,
                    "stream": self.stream,
                    "format": if plain { json!("json") } else { schema.clone() },
                    "options": { "temperature": self.temperature, "seed": 0, "num_predict": max_tokens },
                });
                self.ollama_chat(&body).await
            }
            Backend::OpenAi => {
                let response_format = if plain {
                    json!({ "type": "json_object" })
                } else {
                    json!({
                        "type": "json_schema",
                        "json_schema": { "name": schema_name, "strict": true, "schema": schema },
                    })
                };
                let body = json!({
                    "model": self.model,
                    "messages": messages,
                    "temperature": self.temperature,
                    "seed": 0,
                    "max_tokens": max_tokens,
                    "stream": false,
                    "response_format": response_format,
                });
                self.openai_chat(&body).await
            }
        }
    }

    async fn ollama_chat(&self, body: &Value) -> Result<String, AiError> {
        let response = send(
            &self.http,
            &self.base_url,
            self.timeout,
            "/api/chat",
            Some(body),
        )
        .await?;
        let response = check_status(response, &self.base_url, self.timeout, "/api/chat").await?;
        let invalid = |reason: String| AiError::InvalidResponse {
            url: self.base_url.clone(),
            reason,
        };
        if !self.stream {
            let bytes = read_body(response, &self.base_url, self.timeout).await?;
            let value: Value = serde_json::from_slice(&bytes)
                .map_err(|e| invalid(format!("body is not JSON ({e}): {}", snippet(&bytes))))?;
            return self.ollama_message(&value).map(|(content, _)| content);
        }
        // NDJSON: one object per line; `{"error": ...}` may arrive at any point.
        let mut response = response;
        let mut pending: Vec<u8> = Vec::new();
        let mut content = String::new();
        let mut total = 0usize;
        loop {
            let chunk = with_deadline(response.chunk(), &self.base_url, self.timeout).await?;
            let Some(chunk) = chunk else { break };
            total += chunk.len();
            if total > MAX_BODY_BYTES {
                return Err(invalid(format!(
                    "stream longer than {MAX_BODY_BYTES} bytes"
                )));
            }
            pending.extend_from_slice(&chunk);
            while let Some(pos) = pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending.drain(..=pos).collect();
                if let Some(done) = self.ollama_stream_line(&line, &mut content)? {
                    return Ok(done);
                }
            }
        }
        if let Some(done) = self.ollama_stream_line(&pending, &mut content)? {
            return Ok(done);
        }
        Err(invalid(
            "stream ended before its final `done` line".to_owned(),
        ))
    }

    /// Handles one NDJSON line; `Some(content)` once the stream says `done`.
    fn ollama_stream_line(
        &self,
        line: &[u8],
        content: &mut String,
    ) -> Result<Option<String>, AiError> {
        let text = String::from_utf8_lossy(line);
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let value: Value = serde_json::from_str(text).map_err(|e| AiError::InvalidResponse {
            url: self.base_url.clone(),
            reason: format!(
                "stream line is not JSON ({e}): {}",
                snippet(text.as_bytes())
            ),
        })?;
        let (piece, done) = self.ollama_message(&value)?;
        content.push_str(&piece);
        Ok(done.then(|| std::mem::take(content)))
    }

    /// Content and `done` of one Ollama chat object; errors for `error` and a length cut.
    fn ollama_message(&self, value: &Value) -> Result<(String, bool), AiError> {
        if let Some(message) = error_message(value) {
            return Err(AiError::Server {
                url: self.base_url.clone(),
                message,
            });
        }
        let content = value
            .pointer("/message/content")
            .and_then(Value::as_str)
            .ok_or_else(|| AiError::InvalidResponse {
                url: self.base_url.clone(),
                reason: format!(
                    "no `message.content` in {}",
                    snippet(value.to_string().as_bytes())
                ),
            })?;
        let done = value.get("done").and_then(Value::as_bool).unwrap_or(false);
        if done && value.get("done_reason").and_then(Value::as_str) == Some("length") {
            return Err(AiError::InvalidResponse {
                url: self.base_url.clone(),
                reason: "answer cut at the token limit".to_owned(),
            });
        }
        Ok((content.to_owned(), done))
    }

    async fn openai_chat(&self, body: &Value) -> Result<String, AiError> {
        let path = "/v1/chat/completions";
        let response = send(&self.http, &self.base_url, self.timeout, path, Some(body)).await?;
        let response = check_status(response, &self.base_url, self.timeout, path).await?;
        let bytes = read_body(response, &self.base_url, self.timeout).await?;
        let invalid = |reason: String| AiError::InvalidResponse {
            url: self.base_url.clone(),
            reason,
        };
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| invalid(format!("body is not JSON ({e}): {}", snippet(&bytes))))?;
        if let Some(message) = error_message(&value) {
            return Err(AiError::Server {
                url: self.base_url.clone(),
                message,
            });
        }
        let choice = value
            .pointer("/choices/0")
            .ok_or_else(|| invalid(format!("no `choices[0]` in {}", snippet(&bytes))))?;
        if let Some(refusal) = choice.pointer("/message/refusal").and_then(Value::as_str) {
            return Err(AiError::Refusal {
                message: refusal.to_owned(),
            });
        }
        match choice.get("finish_reason").and_then(Value::as_str) {
            Some("length") => return Err(invalid("answer cut at the token limit".to_owned())),
            Some("content_filter") => {
                return Err(AiError::Refusal {
                    message: "stopped by the server's content filter".to_owned(),
                });
            }
            _ => {}
        }
        choice
            .pointer("/message/content")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                invalid(format!(
                    "no `choices[0].message.content` in {}",
                    snippet(&bytes)
                ))
            })
    }
}

fn build_http(timeout: Duration, base_url: &str) -> Result<reqwest::Client, AiError> {
    reqwest::Client::builder()
        .connect_timeout(timeout)
        .timeout(timeout)
        .build()
        .map_err(|source| AiError::Unreachable {
            url: base_url.to_owned(),
            source,
        })
}

/// A backend; for OpenAI-compatible servers with the `/v1/models` answer if detection
/// fetched it.
enum Detected {
    Ollama,
    OpenAi(Option<Value>),
}

async fn detect_backend(
    http: &reqwest::Client,
    base_url: &str,
    timeout: Duration,
) -> Result<Detected, AiError> {
    match get_json(http, base_url, timeout, "/api/version").await {
        Ok(v) if v.get("version").and_then(Value::as_str).is_some() => return Ok(Detected::Ollama),
        Err(
            e @ (AiError::ConnectionRefused { .. }
            | AiError::Unreachable { .. }
            | AiError::Timeout { .. }),
        ) => {
            return Err(e);
        }
        _ => {}
    }
    match get_json(http, base_url, timeout, "/v1/models").await {
        Ok(v) if v.get("data").is_some_and(Value::is_array) => Ok(Detected::OpenAi(Some(v))),
        Err(
            e @ (AiError::ConnectionRefused { .. }
            | AiError::Unreachable { .. }
            | AiError::Timeout { .. }),
        ) => Err(e),
        _ => Err(AiError::NoBackend {
            url: base_url.to_owned(),
        }),
    }
}

async fn list_models_with(
    http: &reqwest::Client,
    base_url: &str,
    timeout: Duration,
    backend: Backend,
) -> Result<Vec<ModelInfo>, AiError> {
    let path = match backend {
        Backend::Ollama => "/api/tags",
        Backend::OpenAi => "/v1/models",
    };
    let body = get_json(http, base_url, timeout, path).await?;
    parse_models(&body, backend, base_url)
}

/// Reads `/api/tags` (`models[].name`) or `/v1/models` (`data[].id`).
fn parse_models(body: &Value, backend: Backend, base_url: &str) -> Result<Vec<ModelInfo>, AiError> {
    let (path, key) = match backend {
        Backend::Ollama => ("/api/tags", "models"),
        Backend::OpenAi => ("/v1/models", "data"),
    };
    let entries =
        body.get(key)
            .and_then(Value::as_array)
            .ok_or_else(|| AiError::InvalidResponse {
                url: base_url.to_owned(),
                reason: format!("no `{key}` array in the answer to {path}"),
            })?;
    Ok(entries
        .iter()
        .filter_map(|m| {
            let name = match backend {
                Backend::Ollama => m.get("name").or_else(|| m.get("model")),
                Backend::OpenAi => m.get("id"),
            }?
            .as_str()?
            .to_owned();
            Some(ModelInfo {
                name,
                parameters: m
                    .pointer("/details/parameter_size")
                    .and_then(Value::as_str)
                    .and_then(parse_parameter_size)
                    .or_else(|| m.pointer("/meta/n_params").and_then(Value::as_u64)),
                size_bytes: m
                    .get("size")
                    .and_then(Value::as_u64)
                    .or_else(|| m.pointer("/meta/size").and_then(Value::as_u64)),
                family: m
                    .pointer("/details/family")
                    .and_then(Value::as_str)
                    .filter(|f| !f.is_empty())
                    .map(str::to_owned),
            })
        })
        .collect())
}

async fn get_json(
    http: &reqwest::Client,
    base_url: &str,
    timeout: Duration,
    path: &'static str,
) -> Result<Value, AiError> {
    let response = send(http, base_url, timeout, path, None).await?;
    let response = check_status(response, base_url, timeout, path).await?;
    let bytes = read_body(response, base_url, timeout).await?;
    serde_json::from_slice(&bytes).map_err(|e| AiError::InvalidResponse {
        url: base_url.to_owned(),
        reason: format!("answer to {path} is not JSON ({e}): {}", snippet(&bytes)),
    })
}

async fn send(
    http: &reqwest::Client,
    base_url: &str,
    timeout: Duration,
    path: &'static str,
    body: Option<&Value>,
) -> Result<reqwest::Response, AiError> {
    let url = format!("{base_url}{path}");
    let request = match body {
        Some(body) => http.post(url).json(body),
        None => http.get(url),
    };
    with_deadline(request.send(), base_url, timeout).await
}

/// Turns a non-success status into [`AiError::Http`] with the server's message.
async fn check_status(
    response: reqwest::Response,
    base_url: &str,
    timeout: Duration,
    path: &'static str,
) -> Result<reqwest::Response, AiError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let bytes = read_body(response, base_url, timeout)
        .await
        .unwrap_or_default();
    let message = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| error_message(&v))
        .unwrap_or_else(|| snippet(&bytes));
    Err(AiError::Http {
        url: base_url.to_owned(),
        path,
        status: status.as_u16(),
        message: if message.is_empty() {
            status.canonical_reason().unwrap_or("no message").to_owned()
        } else {
            message
        },
    })
}

async fn read_body(
    mut response: reqwest::Response,
    base_url: &str,
    timeout: Duration,
) -> Result<Vec<u8>, AiError> {
    let mut out = Vec::new();
    while let Some(chunk) = with_deadline(response.chunk(), base_url, timeout).await? {
        if out.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(AiError::InvalidResponse {
                url: base_url.to_owned(),
                reason: format!("body longer than {MAX_BODY_BYTES} bytes"),
            });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Awaits a reqwest future, mapping its error; reqwest's own timeout bounds it.
async fn with_deadline<T>(
    fut: impl Future<Output = Result<T, reqwest::Error>>,
    base_url: &str,
    timeout: Duration,
) -> Result<T, AiError> {
    fut.await
        .map_err(|e| map_transport_error(e, base_url, timeout))
}

fn map_transport_error(error: reqwest::Error, base_url: &str, timeout: Duration) -> AiError {
    let url = base_url.to_owned();
    if error.is_timeout() {
        return AiError::Timeout {
            url,
            after: timeout,
        };
    }
    if error.is_connect() {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        while let Some(e) = source {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::ConnectionRefused {
                    return AiError::ConnectionRefused { url, source: error };
                }
                if io.kind() == std::io::ErrorKind::TimedOut {
                    return AiError::Timeout {
                        url,
                        after: timeout,
                    };
                }
            }
            source = e.source();
        }
    }
    if error.is_body() || error.is_decode() {
        return AiError::InvalidResponse {
            url,
            reason: format!("body could not be read: {error}"),
        };
    }
    AiError::Unreachable { url, source: error }
}

/// The error text of the usual shapes: `{"error": "..."}` (Ollama, TGI),
/// `{"error": {"message": "..."}}` (OpenAI, llama.cpp), `{"object": "error", "message": ...}`
/// (vLLM).
fn error_message(value: &Value) -> Option<String> {
    match value.get("error") {
        Some(Value::String(s)) => return Some(s.clone()),
        Some(Value::Object(o)) => {
            return Some(
                o.get("message")
                    .and_then(Value::as_str)
                    .map_or_else(|| Value::Object(o.clone()).to_string(), str::to_owned),
            );
        }
        Some(Value::Null) | None => {}
        Some(other) => return Some(other.to_string()),
    }
    (value.get("object").and_then(Value::as_str) == Some("error")).then(|| {
        value
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("unknown error")
            .to_owned()
    })
}

/// Parses the model's text as JSON. One repair: a Markdown code fence around the JSON
/// (```` ```json ... ``` ````) is removed.
fn parse_model_json(content: &str) -> Result<Value, String> {
    let mut text = content.trim();
    if let Some(rest) = text.strip_prefix("```") {
        let rest = rest.strip_prefix("json").unwrap_or(rest);
        text = rest.strip_suffix("```").unwrap_or(rest).trim();
    }
    serde_json::from_str(text).map_err(|e| {
        format!(
            "the model's answer is not JSON ({e}): {}",
            snippet(content.as_bytes())
        )
    })
}

/// The first 160 characters of a body, on one line.
fn snippet(bytes: &[u8]) -> String {
    super::summary::one_line(&String::from_utf8_lossy(bytes), 160)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(name: &str) -> ModelInfo {
        ModelInfo {
            name: name.to_owned(),
            parameters: None,
            size_bytes: None,
            family: None,
        }
    }

    #[test]
    fn small_instruct_models_are_preferred() {
        let models = vec![
            model("llama3.1:8b-instruct"),
            model("qwen2.5:0.5b"),
            model("qwen2.5:1.5b-instruct"),
            model("nomic-embed-text:latest"),
            model("gemma3:270m-it"),
        ];
        assert_eq!(choose_model(&models).unwrap().name, "gemma3:270m-it");
    }

    #[test]
    fn model_choice_does_not_depend_on_listing_order() {
        let mut models = vec![model("b-chat"), model("a-chat"), model("c")];
        let first = choose_model(&models).unwrap().name.clone();
        models.reverse();
        assert_eq!(choose_model(&models).unwrap().name, first);
        assert_eq!(first, "a-chat");
    }

    #[test]
    fn reported_parameter_counts_beat_names() {
        let mut big = model("tiny-instruct");
        big.parameters = Some(7_000_000_000);
        let mut small = model("huge-instruct");
        small.parameters = Some(500_000_000);
        assert_eq!(choose_model(&[big, small]).unwrap().name, "huge-instruct");
    }

    #[test]
    fn only_embedding_models_means_no_choice() {
        let mut bert = model("all-minilm");
        bert.family = Some("bert".to_owned());
        assert!(choose_model(&[bert, model("mxbai-embed-large")]).is_none());
    }

    #[test]
    fn parameter_sizes_parse() {
        assert_eq!(parse_parameter_size("3.2B"), Some(3_200_000_000));
        assert_eq!(parse_parameter_size("270M"), Some(270_000_000));
        assert_eq!(parse_parameter_size("latest"), None);
        assert_eq!(
            parameters_from_name("qwen2.5:0.5b-instruct"),
            Some(500_000_000)
        );
    }

    #[test]
    fn code_fences_around_json_are_removed() {
        assert_eq!(
            parse_model_json("```json\n{\"a\":1}\n```").unwrap(),
            json!({"a": 1})
        );
        assert!(
            parse_model_json("sure! {\"a\":1}")
                .unwrap_err()
                .starts_with("the model's answer is not JSON")
        );
    }

    #[test]
    fn error_bodies_of_every_server_family_are_read() {
        assert_eq!(
            error_message(&json!({"error": "model not found"})).unwrap(),
            "model not found"
        );
        assert_eq!(
            error_message(&json!({"error": {"message": "bad", "code": 400}})).unwrap(),
            "bad"
        );
        assert_eq!(
            error_message(&json!({"object": "error", "message": "vllm says no"})).unwrap(),
            "vllm says no"
        );
        assert_eq!(error_message(&json!({"choices": []})), None);
    }
}
