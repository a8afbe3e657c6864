//! SurrealDB, reached with `http://USER:PASSWORD@HOST:PORT` (and, for an isolated test,
//! `?ns=NAMESPACE&db=DATABASE`: the test's own namespace and database).
//!
//! What clnrm relies on (SurrealDB 3.x, the official `surrealdb/surrealdb` image and the local
//! build of `scripts/build-surrealdb-image.sh` alike):
//! - the image's entrypoint is the `surreal` binary; `start` reads `SURREAL_USER`,
//!   `SURREAL_PASS` (the root user made at start), `SURREAL_BIND` and a storage path (`memory`);
//! - it logs `Started web server on ADDR` once it listens; `GET /health` answers 200 when the
//!   storage can serve;
//! - `POST /sql` takes SurrealQL text with basic auth and the `surreal-ns` / `surreal-db`
//!   headers, and answers **200 even when a statement fails**: a JSON list with one
//!   `{"status": "OK" | "ERR", "result": ...}` per statement. [`surql`] checks every one.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::docker::{Endpoint, Readiness, RunEnv, start_container};
use crate::error::{Error, Result};
use crate::service::{
    Credentials, HealthStatus, PluginMetadata, PluginSource, ServiceHandle, ServicePlugin,
    ServiceSpec,
};

/// The default image, as on Docker Hub: the version clnrm is tested against.
pub const SURREALDB_IMAGE: &str = "surrealdb/surrealdb:v3.3.5";
const PORT: u16 = 8000;
/// Logged by the server once its HTTP listener is bound.
const READY_LINE: &str = "Started web server on";

/// SurrealDB with in-memory storage and a root user whose password is generated per run
/// (`SURREAL_USER` / `SURREAL_PASS` in `env` override them). Ready when it has started its web
/// server, `/health` answers 200 and a query as the root user answers: usable, not just up.
#[derive(Debug, Clone, Copy, Default)]
pub struct SurrealDbPlugin;

#[async_trait]
impl ServicePlugin for SurrealDbPlugin {
    fn name(&self) -> &str {
        "surrealdb"
    }

    fn metadata(&self) -> PluginMetadata {
        PluginMetadata {
            name: "surrealdb".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: "SurrealDB (in memory); URL http://USER:PASSWORD@HOST:PORT, credentials \
                          per run, a namespace and database per test; ready when /health answers \
                          200 and a root query succeeds"
                .to_owned(),
            default_image: Some(SURREALDB_IMAGE.to_owned()),
            source: PluginSource::BuiltIn,
        }
    }

    async fn start(&self, spec: &ServiceSpec, env: &Arc<RunEnv>) -> Result<ServiceHandle> {
        let mut recipe = super::base_recipe(spec, Some(SURREALDB_IMAGE), Duration::from_secs(60))?;
        let mut credentials = Credentials::generate("root", None);
        if let Some(user) = spec.env.get("SURREAL_USER") {
            credentials.user = user.clone();
        }
        if let Some(password) = spec.env.get("SURREAL_PASS") {
            credentials.password = password.clone();
        }
        // Credentials on a given command line win over the environment (as in `surreal start`).
        if let Some(argv) = &spec.cmd {
            if let Some(user) = flag_value(argv, &["--user", "--username", "-u"]) {
                credentials.user = user;
            }
            if let Some(password) = flag_value(argv, &["--pass", "--password", "-p"]) {
                crate::secrets::register(&password);
                credentials.password = password;
            }
        }
        recipe
            .env
            .insert("SURREAL_USER".into(), credentials.user.clone());
        recipe
            .env
            .insert("SURREAL_PASS".into(), credentials.password.clone());
        recipe
            .env
            .entry("SURREAL_BIND".into())
            .or_insert_with(|| format!("0.0.0.0:{PORT}"));
        if recipe.cmd.is_none() && recipe.entrypoint.is_none() {
            recipe.cmd = Some(vec!["start".to_owned(), "memory".to_owned()]);
        }
        if !recipe.ports.contains(&PORT) {
            recipe.ports.insert(0, PORT);
        }
        recipe
            .readiness
            .push(Readiness::LogLine(READY_LINE.to_owned()));
        let (user, password) = (credentials.user.clone(), credentials.password.clone());
        recipe
            .readiness
            .push(Readiness::Custom(Arc::new(move |endpoint: Endpoint| {
                let url = url_for(&endpoint, &user, &password);
                Box::pin(async move { usable(&url).await })
            })));
        let container = start_container(env, &recipe).await?;
        let url = url_for(
            container.endpoint(),
            &credentials.user,
            &credentials.password,
        );
        Ok(ServiceHandle::new(
            &spec.name,
            "surrealdb",
            container,
            Some(url),
            Some(credentials),
        ))
    }

    async fn health_check(&self, handle: &ServiceHandle) -> HealthStatus {
        match handle.url() {
            Some(url) => match usable(url).await {
                Ok(()) => HealthStatus::Healthy,
                Err(e) => HealthStatus::Unhealthy(e),
            },
            None => HealthStatus::Unhealthy("no URL".to_owned()),
        }
    }
}

/// The value of the first of `flags` in `argv` (`--user x` or `--user=x`).
fn flag_value(argv: &[String], flags: &[&str]) -> Option<String> {
    argv.iter().enumerate().find_map(|(i, arg)| {
        flags.iter().find_map(|flag| {
            if arg == flag {
                argv.get(i + 1).cloned()
            } else {
                arg.strip_prefix(flag)
                    .and_then(|rest| rest.strip_prefix('='))
                    .map(str::to_owned)
            }
        })
    })
}

fn url_for(endpoint: &Endpoint, user: &str, password: &str) -> String {
    format!(
        "http://{user}:{password}@{}:{}",
        endpoint.host,
        endpoint.port(PORT).unwrap_or(PORT)
    )
}

/// `/health` answers 200 and the root user can run a query.
async fn usable(url: &str) -> std::result::Result<(), String> {
    let check = async {
        let mut health = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
        health.set_path("/health");
        health.set_query(None);
        let _ = health.set_username("");
        let _ = health.set_password(None);
        let status = client()
            .get(health)
            .send()
            .await
            .map_err(|e| crate::error::chain(&e))?
            .status();
        if !status.is_success() {
            return Err(format!("GET /health answered {status}"));
        }
        surql(url, "RETURN 1")
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    tokio::time::timeout(Duration::from_secs(5), check)
        .await
        .map_err(|_| "no answer within 5 s".to_owned())?
}

fn client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap_or_default()
        })
        .clone()
}

/// A SurrealQL request that failed: a statement the server refused (it answered 200 with an
/// `ERR` result), or a request it did not run at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SurqlError {
    /// A statement failed; the others may have run.
    #[error("SurrealQL statement {index} of {count} failed: {message}")]
    Statement {
        /// 1-based position of the statement in the request.
        index: usize,
        /// How many statements the request had.
        count: usize,
        /// The server's message.
        message: String,
    },
    /// The request was refused as a whole (authentication, a bad namespace, ...).
    #[error("SurrealDB refused the query (HTTP {status}): {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The server could not be reached, or answered something that is not SurrealDB's.
    #[error("SurrealDB at {url}: {message}")]
    Transport {
        /// The endpoint, without credentials.
        url: String,
        /// What went wrong.
        message: String,
    },
}

impl From<SurqlError> for Error {
    fn from(error: SurqlError) -> Self {
        Error::other(error)
    }
}

/// Runs SurrealQL against the server of `url` (`http://USER:PASS@HOST:PORT`, with
/// `?ns=NS&db=DB` to select a namespace and database, as the URL of an isolated test has) and
/// returns the `result` of each statement, in order.
///
/// Every statement's status is checked: one that failed is an error naming its position and
/// carrying the server's message, even though SurrealDB answers such a request with HTTP 200.
pub async fn surql(
    url: &str,
    query: &str,
) -> std::result::Result<Vec<serde_json::Value>, SurqlError> {
    let transport = |message: String| SurqlError::Transport {
        url: redact(url),
        message,
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| transport(format!("bad URL: {e}")))?;
    let mut ns = None;
    let mut db = None;
    for (key, value) in parsed.query_pairs() {
        match key.as_ref() {
            "ns" => ns = Some(value.into_owned()),
            "db" => db = Some(value.into_owned()),
            _ => {}
        }
    }
    let user = percent_decode(parsed.username());
    let password = parsed.password().map(percent_decode);
    let mut endpoint = parsed.clone();
    endpoint.set_path("/sql");
    endpoint.set_query(None);
    let _ = endpoint.set_username("");
    let _ = endpoint.set_password(None);
    let mut request = client()
        .post(endpoint)
        .header("accept", "application/json")
        .body(query.to_owned());
    if !user.is_empty() {
        request = request.basic_auth(user, password);
    }
    if let Some(ns) = &ns {
        request = request.header("surreal-ns", ns);
    }
    if let Some(db) = &db {
        request = request.header("surreal-db", db);
    }
    let response = request
        .send()
        .await
        .map_err(|e| transport(crate::error::chain(&e)))?;
    let status = response.status().as_u16();
    let body = response
        .text()
        .await
        .map_err(|e| transport(crate::error::chain(&e)))?;
    if !(200..300).contains(&status) {
        return Err(SurqlError::Refused {
            status,
            message: whole_request_error(&body),
        });
    }
    parse_results(&body).map_err(transport)?
}

/// The statements' results from a `/sql` answer, or the first failed statement; `Err(text)`
/// when the answer is not a list of statement results.
fn parse_results(
    body: &str,
) -> std::result::Result<std::result::Result<Vec<serde_json::Value>, SurqlError>, String> {
    let doc: serde_json::Value = serde_json::from_str(body)
        .map_err(|e| format!("the answer is not JSON ({e}): {}", short(body)))?;
    let list = doc
        .as_array()
        .ok_or_else(|| format!("expected a list of statement results, got {}", short(body)))?;
    let mut results = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let status = item.get("status").and_then(|s| s.as_str());
        let result = item.get("result").cloned().unwrap_or_default();
        match status {
            Some("OK") => results.push(result),
            Some(_) => {
                let message = match result {
                    serde_json::Value::String(text) => text,
                    other => other.to_string(),
                };
                return Ok(Err(SurqlError::Statement {
                    index: i + 1,
                    count: list.len(),
                    message,
                }));
            }
            None => {
                return Err(format!(
                    "statement {} has no `status`: {}",
                    i + 1,
                    short(&item.to_string())
                ));
            }
        }
    }
    Ok(Ok(results))
}

/// SurrealDB's `{"code", "details", "description", "information"}` error as one line.
fn whole_request_error(body: &str) -> String {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(body) else {
        return short(body).to_owned();
    };
    let parts: Vec<&str> = ["details", "description", "information"]
        .iter()
        .filter_map(|k| doc.get(*k).and_then(|v| v.as_str()))
        .filter(|s| !s.is_empty())
        .collect();
    if parts.is_empty() {
        short(body).to_owned()
    } else {
        parts.join(": ")
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The URL without its password.
fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "(unparsable URL)".to_owned(),
    }
}

fn short(text: &str) -> &str {
    let mut end = text.len().min(400);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_statement_inside_a_200_is_an_error_with_the_servers_message() {
        let body = r#"[{"status":"OK","time":"1ms","result":[]},
            {"status":"ERR","time":"1ms","result":"Parse error: unexpected token"}]"#;
        let err = parse_results(body).unwrap().unwrap_err();
        assert_eq!(
            err.to_string(),
            "SurrealQL statement 2 of 2 failed: Parse error: unexpected token"
        );
    }

    #[test]
    fn every_ok_result_is_returned_in_order() {
        let body = r#"[{"status":"OK","result":1},{"status":"OK","result":[{"id":"t:1"}]}]"#;
        let results = parse_results(body).unwrap().unwrap();
        assert_eq!(
            results,
            vec![serde_json::json!(1), serde_json::json!([{"id": "t:1"}])]
        );
    }

    #[test]
    fn an_answer_that_is_not_a_result_list_is_refused() {
        assert!(parse_results(r#"{"code":400}"#).is_err());
        assert!(parse_results(r#"[{"result":1}]"#).is_err());
        assert!(parse_results("not json").is_err());
    }

    #[test]
    fn whole_request_errors_keep_the_servers_words() {
        let body = r#"{"code":401,"details":"Authentication failed","description":"Your authentication details are invalid.","information":"There was a problem with authentication"}"#;
        assert_eq!(
            whole_request_error(body),
            "Authentication failed: Your authentication details are invalid.: There was a problem with authentication"
        );
    }

    #[test]
    fn credentials_on_the_command_line_are_found_in_both_forms() {
        let argv: Vec<String> = ["start", "--user", "admin", "--pass=s3cret", "memory"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            flag_value(&argv, &["--user", "-u"]).as_deref(),
            Some("admin")
        );
        assert_eq!(
            flag_value(&argv, &["--pass", "-p"]).as_deref(),
            Some("s3cret")
        );
        assert_eq!(flag_value(&argv, &["--bind"]), None);
    }

    #[test]
    fn credentials_are_decoded_and_never_shown() {
        assert_eq!(percent_decode("a%40b"), "a@b");
        assert_eq!(
            redact("http://root:secret@127.0.0.1:8000?ns=a&db=b"),
            "http://root:***@127.0.0.1:8000/?ns=a&db=b"
        );
    }
}
