//! The error type of the `ai` module.

use std::time::Duration;

/// Everything that can go wrong while asking the LLM advisor.
///
/// Messages are short and single-line: [`super::advise`] turns them into a one-line notice.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AiError {
    /// A `CLNRM_AI_*` value could not be parsed.
    #[error("invalid {var} value `{value}`: expected {expected}")]
    Config {
        /// The variable (or setting) name.
        var: &'static str,
        /// The value that was given.
        value: String,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// The `[ai]` table of `clnrm.toml` is invalid.
    #[error("{}:{line}: {message}", path.display())]
    ConfigFile {
        /// The configuration file.
        path: std::path::PathBuf,
        /// 1-based line of the offending value (1 for a file that cannot be read).
        line: usize,
        /// What was wrong and what was expected.
        message: String,
    },
    /// The TCP connection was refused.
    #[error("connection refused at {url}")]
    ConnectionRefused {
        /// The base URL of the server.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// Any other failure to reach the server (DNS, reset, connect timeout, ...).
    #[error("cannot reach {url}")]
    Unreachable {
        /// The base URL of the server.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The server did not answer completely within the configured timeout.
    #[error("no answer from {url} within {}", fmt_duration(*.after))]
    Timeout {
        /// The base URL of the server.
        url: String,
        /// The configured bound.
        after: Duration,
    },
    /// The server answered with a non-success HTTP status.
    #[error("HTTP {status} from {url}{path}: {message}")]
    Http {
        /// The base URL of the server.
        url: String,
        /// The request path.
        path: &'static str,
        /// The HTTP status code.
        status: u16,
        /// The server's error message (from its JSON error body when there is one).
        message: String,
    },
    /// The server reported an error inside an otherwise successful answer
    /// (e.g. an `{"error": ...}` line in an Ollama stream).
    #[error("server error from {url}: {message}")]
    Server {
        /// The base URL of the server.
        url: String,
        /// The server's error message.
        message: String,
    },
    /// The model refused to answer.
    #[error("the model refused: {message}")]
    Refusal {
        /// The refusal text.
        message: String,
    },
    /// The body could not be understood (not JSON, wrong shape, truncated answer).
    #[error("invalid answer from {url}: {reason}")]
    InvalidResponse {
        /// The base URL of the server.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// Neither `/api/version` (Ollama) nor `/v1/models` (OpenAI-compatible) answered.
    #[error("no Ollama or OpenAI-compatible API at {url}")]
    NoBackend {
        /// The base URL of the server.
        url: String,
    },
    /// The server lists no model that can be used for chat.
    #[error("no chat model available at {url}")]
    NoModel {
        /// The base URL of the server.
        url: String,
    },
    /// `--target NAME` matches no target with history.
    #[error("no history for target `{name}`; targets with history: {known}")]
    UnknownTarget {
        /// The name as given.
        name: String,
        /// The targets the history has, comma-separated (or `none`).
        known: String,
    },
    /// The answer was well-formed JSON but broke a rule of the advisor contract.
    #[error("answer rejected: {reason}")]
    Rejected {
        /// The first rule the answer broke.
        reason: String,
    },
}

/// `30 s`, `1.5 s`, `250 ms`.
pub(crate) fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}
