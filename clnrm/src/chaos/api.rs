//! A control API that speaks Toxiproxy's REST dialect (what its clients send to port 8474), so
//! existing Toxiproxy clients drive clnrm's proxies: `GET/POST /proxies`, `POST /populate`,
//! `GET/POST/DELETE /proxies/{name}`, `GET/POST /proxies/{name}/toxics`,
//! `GET/POST/DELETE /proxies/{name}/toxics/{toxic}`, `POST /reset` and `GET /version`.
//!
//! Two deliberate differences: creating a proxy that exists with the same listen and upstream
//! answers 201 again instead of 409 (the "already exists" trap of reused containers), and a
//! proxy listening on port 0 gets a free port (the answer says which).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::proxy::{Proxy, ProxyError, ProxyInfo};
use super::toxic::Toxic;

type Proxies = Arc<Mutex<BTreeMap<String, Proxy>>>;

/// A running control API. It stops when dropped.
pub struct ControlApi {
    addr: std::net::SocketAddr,
    proxies: Proxies,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for ControlApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlApi")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Drop for ControlApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ControlApi {
    /// Serves on `listen` (Toxiproxy's is `127.0.0.1:8474`; `127.0.0.1:0` picks a free port)
    /// over `proxies`; clients can create more.
    pub async fn start(listen: &str, proxies: Vec<Proxy>) -> Result<ControlApi, ProxyError> {
        let bind_error = |source| ProxyError::Bind {
            name: "control API".to_owned(),
            listen: listen.to_owned(),
            source,
        };
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let proxies: Proxies = Arc::new(Mutex::new(
            proxies
                .into_iter()
                .map(|p| (p.name().to_owned(), p))
                .collect(),
        ));
        let app = Router::new()
            .route("/version", get(version))
            .route("/reset", post(reset))
            .route("/populate", post(populate))
            .route("/proxies", get(list).post(create))
            .route("/proxies/{name}", get(show).post(update).delete(remove))
            .route("/proxies/{name}/toxics", get(toxics).post(add_toxic))
            .route(
                "/proxies/{name}/toxics/{toxic}",
                get(show_toxic).post(update_toxic).delete(remove_toxic),
            )
            .with_state(Arc::clone(&proxies));
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!("chaos control API stopped: {e}");
            }
        });
        Ok(ControlApi {
            addr,
            proxies,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where it listens.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// The proxy named `name`.
    pub fn proxy(&self, name: &str) -> Option<Proxy> {
        lock(&self.proxies).get(name).cloned()
    }
}

fn lock(proxies: &Proxies) -> std::sync::MutexGuard<'_, BTreeMap<String, Proxy>> {
    proxies.lock().unwrap_or_else(|p| p.into_inner())
}

/// Toxiproxy's error body: `{"error": "...", "status": 404}`.
fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    let body = json!({ "error": message.to_string(), "status": status.as_u16() });
    (status, Json(body)).into_response()
}

fn proxy_error(e: ProxyError) -> Response {
    let status = match &e {
        ProxyError::ToxicExists { .. } => StatusCode::CONFLICT,
        ProxyError::ToxicNotFound { .. } => StatusCode::NOT_FOUND,
        ProxyError::Invalid(_) => StatusCode::BAD_REQUEST,
        ProxyError::Bind { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, e)
}

#[expect(
    clippy::result_large_err,
    reason = "the error is the HTTP answer itself, returned to axum at once"
)]
fn find(proxies: &Proxies, name: &str) -> Result<Proxy, Response> {
    lock(proxies)
        .get(name)
        .cloned()
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "proxy not found"))
}

#[expect(
    clippy::result_large_err,
    reason = "the error is the HTTP answer itself, returned to axum at once"
)]
fn body<T: serde::de::DeserializeOwned>(raw: &str) -> Result<T, Response> {
    serde_json::from_str(raw).map_err(|e| error(StatusCode::BAD_REQUEST, e))
}

async fn version() -> Json<Value> {
    Json(json!({ "version": concat!("clnrm-", env!("CARGO_PKG_VERSION")) }))
}

async fn reset(State(proxies): State<Proxies>) -> StatusCode {
    let all: Vec<Proxy> = lock(&proxies).values().cloned().collect();
    for proxy in all {
        proxy.reset();
        proxy.set_enabled_and_wait(true).await;
    }
    StatusCode::NO_CONTENT
}

async fn list(State(proxies): State<Proxies>) -> Json<BTreeMap<String, ProxyInfo>> {
    Json(
        lock(&proxies)
            .iter()
            .map(|(name, p)| (name.clone(), p.info()))
            .collect(),
    )
}

fn enabled_by_default() -> bool {
    true
}

#[derive(Deserialize)]
struct NewProxy {
    name: String,
    #[serde(default)]
    listen: Option<String>,
    upstream: String,
    #[serde(default = "enabled_by_default")]
    enabled: bool,
}

async fn make(proxies: &Proxies, new: NewProxy) -> Result<ProxyInfo, Response> {
    let listen = new.listen.unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let existing = lock(proxies).get(&new.name).cloned();
    if let Some(existing) = existing {
        let info = existing.info();
        let same_listen = listen.ends_with(":0") || info.listen == listen;
        if same_listen && info.upstream == new.upstream {
            existing.set_enabled_and_wait(new.enabled).await;
            return Ok(existing.info());
        }
        return Err(error(StatusCode::CONFLICT, "proxy already exists"));
    }
    let proxy = Proxy::start(new.name.clone(), &listen, new.upstream)
        .await
        .map_err(proxy_error)?;
    proxy.set_enabled_and_wait(new.enabled).await;
    let info = proxy.info();
    lock(proxies).insert(new.name, proxy);
    Ok(info)
}

async fn create(State(proxies): State<Proxies>, raw: String) -> Response {
    let new: NewProxy = match body(&raw) {
        Ok(n) => n,
        Err(r) => return r,
    };
    match make(&proxies, new).await {
        Ok(info) => (StatusCode::CREATED, Json(info)).into_response(),
        Err(r) => r,
    }
}

async fn populate(State(proxies): State<Proxies>, raw: String) -> Response {
    let all: Vec<NewProxy> = match body(&raw) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let mut made = Vec::new();
    for new in all {
        match make(&proxies, new).await {
            Ok(info) => made.push(info),
            Err(r) => return r,
        }
    }
    (StatusCode::CREATED, Json(json!({ "proxies": made }))).into_response()
}

async fn show(State(proxies): State<Proxies>, Path(name): Path<String>) -> Response {
    match find(&proxies, &name) {
        Ok(p) => Json(p.info()).into_response(),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct ProxyChange {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    upstream: Option<String>,
}

async fn update(State(proxies): State<Proxies>, Path(name): Path<String>, raw: String) -> Response {
    let proxy = match find(&proxies, &name) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let change: ProxyChange = match body(&raw) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Some(upstream) = change.upstream {
        proxy.set_upstream(upstream);
    }
    if let Some(enabled) = change.enabled {
        proxy.set_enabled_and_wait(enabled).await;
    }
    Json(proxy.info()).into_response()
}

async fn remove(State(proxies): State<Proxies>, Path(name): Path<String>) -> Response {
    match lock(&proxies).remove(&name) {
        Some(proxy) => {
            proxy.set_enabled(false);
            StatusCode::NO_CONTENT.into_response()
        }
        None => error(StatusCode::NOT_FOUND, "proxy not found"),
    }
}

async fn toxics(State(proxies): State<Proxies>, Path(name): Path<String>) -> Response {
    match find(&proxies, &name) {
        Ok(p) => Json(p.toxics()).into_response(),
        Err(r) => r,
    }
}

async fn add_toxic(
    State(proxies): State<Proxies>,
    Path(name): Path<String>,
    raw: String,
) -> Response {
    let proxy = match find(&proxies, &name) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let toxic: Toxic = match body(&raw) {
        Ok(t) => t,
        Err(r) => return r,
    };
    match proxy.add_toxic(toxic) {
        Ok(t) => Json(t).into_response(),
        Err(e) => proxy_error(e),
    }
}

async fn show_toxic(
    State(proxies): State<Proxies>,
    Path((name, toxic)): Path<(String, String)>,
) -> Response {
    let proxy = match find(&proxies, &name) {
        Ok(p) => p,
        Err(r) => return r,
    };
    match proxy.toxics().into_iter().find(|t| t.name == toxic) {
        Some(t) => Json(t).into_response(),
        None => error(StatusCode::NOT_FOUND, "toxic not found"),
    }
}

async fn update_toxic(
    State(proxies): State<Proxies>,
    Path((name, toxic)): Path<(String, String)>,
    raw: String,
) -> Response {
    let proxy = match find(&proxies, &name) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(current) = proxy.toxics().into_iter().find(|t| t.name == toxic) else {
        return error(StatusCode::NOT_FOUND, "toxic not found");
    };
    // Toxiproxy's update takes any of the fields; the rest stay.
    let change: Value = match body(&raw) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut merged = serde_json::to_value(&current).unwrap_or_default();
    if let (Some(target), Some(change)) = (merged.as_object_mut(), change.as_object()) {
        for (key, value) in change {
            if key == "attributes"
                && let (Some(attrs), Some(new)) = (
                    target.get_mut("attributes").and_then(Value::as_object_mut),
                    value.as_object(),
                )
            {
                for (k, v) in new {
                    attrs.insert(k.clone(), v.clone());
                }
            } else {
                target.insert(key.clone(), value.clone());
            }
        }
    }
    let updated: Toxic = match serde_json::from_value(merged) {
        Ok(t) => t,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    match proxy.update_toxic(&toxic, updated) {
        Ok(t) => Json(t).into_response(),
        Err(e) => proxy_error(e),
    }
}

async fn remove_toxic(
    State(proxies): State<Proxies>,
    Path((name, toxic)): Path<(String, String)>,
) -> Response {
    let proxy = match find(&proxies, &name) {
        Ok(p) => p,
        Err(r) => return r,
    };
    match proxy.remove_toxic(&toxic) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => proxy_error(e),
    }
}

/// The answers pinned against the JSON shapes Toxiproxy documents for its HTTP API (its
/// README, "HTTP API"): what its clients parse.
#[cfg(test)]
mod toxiproxy_shapes {
    use super::*;

    async fn call(
        client: &reqwest::Client,
        method: reqwest::Method,
        url: String,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = client.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
        };
        (status, json)
    }

    fn keys(value: &Value) -> Vec<&str> {
        let mut keys: Vec<&str> = value
            .as_object()
            .unwrap_or_else(|| panic!("an object: {value}"))
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        keys
    }

    #[tokio::test]
    async fn proxies_toxics_errors_reset_and_version_have_toxiproxys_shapes() {
        use reqwest::Method;
        let api = ControlApi::start("127.0.0.1:0", Vec::new()).await.unwrap();
        let base = api.url();
        let client = reqwest::Client::new();
        let proxy_keys = ["enabled", "listen", "name", "toxics", "upstream"];

        // POST /proxies: 201 and the proxy.
        let new = json!({"name": "redis", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:6379"});
        let (status, made) =
            call(&client, Method::POST, format!("{base}/proxies"), Some(new)).await;
        assert_eq!(status, 201, "{made}");
        assert_eq!(keys(&made), proxy_keys);
        assert_eq!(made["name"], "redis");
        assert_eq!(made["upstream"], "127.0.0.1:6379");
        assert_eq!(made["enabled"], true);
        assert_eq!(made["toxics"], json!([]));
        assert!(made["listen"].as_str().unwrap().starts_with("127.0.0.1:"));

        // GET /proxies: an object keyed by proxy name.
        let (status, all) = call(&client, Method::GET, format!("{base}/proxies"), None).await;
        assert_eq!(status, 200);
        assert_eq!(keys(&all), ["redis"]);
        assert_eq!(keys(&all["redis"]), proxy_keys);

        // POST /proxies/{proxy}/toxics: the toxic, named `<type>_<stream>` by default.
        let latency = json!({"type": "latency", "stream": "downstream", "toxicity": 1.0,
                             "attributes": {"latency": 1000, "jitter": 10}});
        let url = format!("{base}/proxies/redis/toxics");
        let (status, toxic) = call(&client, Method::POST, url.clone(), Some(latency)).await;
        assert_eq!(status, 200, "{toxic}");
        assert_eq!(
            toxic,
            json!({"name": "latency_downstream", "type": "latency", "stream": "downstream",
                   "toxicity": 1.0, "attributes": {"latency": 1000, "jitter": 10}})
        );
        for (kind, attributes) in [
            ("bandwidth", json!({"rate": 64})),
            ("slow_close", json!({"delay": 100})),
            ("timeout", json!({"timeout": 500})),
            ("reset_peer", json!({"timeout": 0})),
            ("limit_data", json!({"bytes": 1024})),
            (
                "slicer",
                json!({"average_size": 64, "size_variation": 8, "delay": 10}),
            ),
        ] {
            let body = json!({"type": kind, "stream": "upstream", "toxicity": 0.5,
                              "attributes": attributes});
            let (status, toxic) = call(&client, Method::POST, url.clone(), Some(body)).await;
            assert_eq!(status, 200, "{toxic}");
            assert_eq!(
                keys(&toxic),
                ["attributes", "name", "stream", "toxicity", "type"]
            );
            assert_eq!(toxic["name"], format!("{kind}_upstream"));
            assert_eq!(toxic["attributes"], attributes, "{kind}");
            assert_eq!(toxic["toxicity"], 0.5);
        }
        // GET …/toxics: an array; the proxy lists them too.
        let (_, listed) = call(&client, Method::GET, url.clone(), None).await;
        assert_eq!(listed.as_array().unwrap().len(), 7);
        let (_, shown) = call(&client, Method::GET, format!("{base}/proxies/redis"), None).await;
        assert_eq!(shown["toxics"], listed);

        // Disabling through POST /proxies/{proxy}: the proxy, `enabled: false`.
        let off = json!({"enabled": false});
        let (status, proxy) = call(
            &client,
            Method::POST,
            format!("{base}/proxies/redis"),
            Some(off),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(proxy["enabled"], false);

        // Errors: `{"error": "...", "status": N}`.
        let (status, missing) =
            call(&client, Method::GET, format!("{base}/proxies/nope"), None).await;
        assert_eq!(status, 404);
        assert_eq!(missing, json!({"error": "proxy not found", "status": 404}));
        let (status, missing) = call(
            &client,
            Method::GET,
            format!("{base}/proxies/redis/toxics/nope"),
            None,
        )
        .await;
        assert_eq!(status, 404);
        assert_eq!(missing, json!({"error": "toxic not found", "status": 404}));

        // DELETE a toxic and POST /reset: 204, no body; reset enables and clears.
        let (status, body) = call(
            &client,
            Method::DELETE,
            format!("{url}/latency_downstream"),
            None,
        )
        .await;
        assert_eq!((status, body), (204, Value::Null));
        let (status, body) = call(&client, Method::POST, format!("{base}/reset"), None).await;
        assert_eq!((status, body), (204, Value::Null));
        let (_, proxy) = call(&client, Method::GET, format!("{base}/proxies/redis"), None).await;
        assert_eq!(proxy["enabled"], true);
        assert_eq!(proxy["toxics"], json!([]));

        // POST /populate: 201 and `{"proxies": [...]}`.
        let list = json!([{"name": "pg", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:5432"}]);
        let (status, made) = call(
            &client,
            Method::POST,
            format!("{base}/populate"),
            Some(list),
        )
        .await;
        assert_eq!(status, 201, "{made}");
        assert_eq!(keys(&made), ["proxies"]);
        assert_eq!(keys(&made["proxies"][0]), proxy_keys);

        // GET /version: `{"version": "..."}`.
        let (status, version) = call(&client, Method::GET, format!("{base}/version"), None).await;
        assert_eq!(status, 200);
        assert!(version["version"].is_string(), "{version}");
    }
}
