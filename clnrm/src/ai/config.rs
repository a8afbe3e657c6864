//! Advisor configuration and its pure parser from `CLNRM_AI_*` values, which may also come from
//! the `[ai]` table of the project's `clnrm.toml` ([`with_project_file`]; the environment wins).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::error::AiError;

/// Default base URL: a local Ollama.
pub const DEFAULT_URL: &str = "http://localhost:11434";
/// Default bound on a whole advisor call (connect, detection, model listing and answer).
///
/// 120 s, because a small local model on a CPU is slow: one real advisor call (llama.cpp
/// serving Gemma 3 270M, four tests) took 41 to 95 s on a loaded 2-core machine. Lower it
/// with `CLNRM_AI_TIMEOUT` when the server has a GPU.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// Environment variable for the base URL.
pub const ENV_URL: &str = "CLNRM_AI_URL";
/// Environment variable for the model name.
pub const ENV_MODEL: &str = "CLNRM_AI_MODEL";
/// Environment variable for the timeout (`30`, `30s`, `1500ms`, `2m`).
pub const ENV_TIMEOUT: &str = "CLNRM_AI_TIMEOUT";
/// Environment variable for the backend (`auto`, `ollama`, `openai`).
pub const ENV_BACKEND: &str = "CLNRM_AI_BACKEND";

/// Which API to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// Try Ollama's `/api/version`, then the OpenAI-compatible `/v1/models`.
    #[default]
    Auto,
    /// Ollama's native API (`/api/chat`, `/api/tags`, `/api/version`).
    Ollama,
    /// An OpenAI-compatible API (`/v1/chat/completions`, `/v1/models`): Ollama's `/v1`,
    /// vLLM, TGI, llama.cpp's server.
    OpenAi,
}

/// How to reach the advisor. Build it with [`parse_ai_env`] or [`AiConfig::default`] and
/// override fields from command-line flags.
#[derive(Debug, Clone, PartialEq)]
pub struct AiConfig {
    /// Base URL without a trailing `/` or `/v1` (e.g. `http://localhost:11434`).
    pub base_url: String,
    /// Which API to speak.
    pub backend: BackendChoice,
    /// The model; `None` chooses one from what the server lists (see [`super::choose_model`]).
    pub model: Option<String>,
    /// Bound on a whole advisor call: connect, detection, model listing and the full answer.
    pub timeout: Duration,
    /// Sampling temperature; 0 for deterministic answers.
    pub temperature: f64,
    /// Ollama only: ask for an NDJSON stream instead of one JSON body.
    pub stream: bool,
}

impl Default for AiConfig {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_URL.to_owned(),
            backend: BackendChoice::Auto,
            model: None,
            timeout: DEFAULT_TIMEOUT,
            temperature: 0.0,
            stream: false,
        }
    }
}

/// Builds an [`AiConfig`] from environment values, given as a lookup function so that it
/// stays pure: `parse_ai_env(|k| std::env::var(k).ok())` in production, a map in tests.
///
/// Reads [`ENV_URL`], [`ENV_MODEL`], [`ENV_TIMEOUT`] and [`ENV_BACKEND`]; empty values count
/// as unset. Returns the first invalid value as [`AiError::Config`].
pub fn parse_ai_env(lookup: impl Fn(&str) -> Option<String>) -> Result<AiConfig, AiError> {
    let get = |key: &str| {
        lookup(key)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let mut config = AiConfig::default();
    if let Some(url) = get(ENV_URL) {
        config.base_url = normalize_base_url(&url).ok_or(AiError::Config {
            var: ENV_URL,
            value: url,
            expected: "an http:// or https:// URL such as http://localhost:11434",
        })?;
    }
    if let Some(model) = get(ENV_MODEL) {
        config.model = Some(model);
    }
    if let Some(timeout) = get(ENV_TIMEOUT) {
        config.timeout = parse_timeout(&timeout).ok_or(AiError::Config {
            var: ENV_TIMEOUT,
            value: timeout,
            expected: "a positive duration such as 30, 30s, 1500ms or 2m",
        })?;
    }
    if let Some(backend) = get(ENV_BACKEND) {
        config.backend = parse_backend(&backend).ok_or(AiError::Config {
            var: ENV_BACKEND,
            value: backend,
            expected: "one of auto, ollama, openai",
        })?;
    }
    Ok(config)
}

/// `[ai]` of `clnrm.toml`: the settings of the `CLNRM_AI_*` variables under short names.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AiTable {
    url: Option<Spanned<String>>,
    model: Option<Spanned<String>>,
    backend: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    budget: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    ai: Option<AiTable>,
}

/// A lookup of `CLNRM_AI_*` values: `env`'s (when set and not empty), else those of the `[ai]`
/// table of the project's `clnrm.toml` found from `dir` ([`crate::config::project_config_path`]):
///
/// ```toml
/// [ai]
/// url = "http://localhost:11434"   # CLNRM_AI_URL
/// model = "qwen2.5:0.5b-instruct"  # CLNRM_AI_MODEL
/// backend = "auto"                 # CLNRM_AI_BACKEND
/// timeout = "30s"                  # CLNRM_AI_TIMEOUT
/// budget = "800ms"                 # CLNRM_AI_BUDGET (the harness's wait for fresh advice)
/// ```
///
/// Every value of the table is checked here: an invalid one, an unknown key or a file that is
/// not TOML is [`AiError::ConfigFile`] naming the file and line. No file, or no `[ai]` table,
/// leaves `env` alone.
pub fn with_project_file(
    dir: &Path,
    env: impl Fn(&str) -> Option<String>,
) -> Result<impl Fn(&str) -> Option<String>, AiError> {
    let file = match crate::config::project_config_path(dir, &env) {
        Some(path) => project_values(&path)?,
        None => BTreeMap::new(),
    };
    Ok(move |key: &str| {
        env(key)
            .filter(|v| !v.trim().is_empty())
            .or_else(|| file.get(key).cloned())
    })
}

/// The `[ai]` values of the configuration file at `path`, by variable name.
fn project_values(path: &Path) -> Result<BTreeMap<&'static str, String>, AiError> {
    let fail = |line: usize, message: String| AiError::ConfigFile {
        path: path.to_owned(),
        line,
        message,
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(1, format!("cannot read the configuration file: {e}")))?;
    let file: ConfigFile = toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map_or(1, |span| crate::config::line_of(&text, span.start));
        fail(line, e.message().to_owned())
    })?;
    let Some(table) = file.ai else {
        return Ok(BTreeMap::new());
    };
    let mut out = BTreeMap::new();
    let mut take = |key: &str,
                    var: &'static str,
                    value: Option<Spanned<String>>,
                    valid: &dyn Fn(&str) -> bool,
                    expected: &str|
     -> Result<(), AiError> {
        let Some(value) = value else {
            return Ok(());
        };
        let line = crate::config::line_of(&text, value.span().start);
        let value = value.into_inner();
        if !valid(&value) {
            return Err(fail(
                line,
                format!("[ai] {key} = `{value}`: expected {expected}"),
            ));
        }
        out.insert(var, value);
        Ok(())
    };
    take(
        "url",
        ENV_URL,
        table.url,
        &|v| normalize_base_url(v).is_some(),
        "an http:// or https:// URL such as http://localhost:11434",
    )?;
    take(
        "model",
        ENV_MODEL,
        table.model,
        &|v| !v.trim().is_empty(),
        "a model name such as qwen2.5:0.5b-instruct",
    )?;
    take(
        "backend",
        ENV_BACKEND,
        table.backend,
        &|v| parse_backend(v).is_some(),
        "one of auto, ollama, openai",
    )?;
    take(
        "timeout",
        ENV_TIMEOUT,
        table.timeout,
        &|v| parse_timeout(v).is_some(),
        "a positive duration such as \"30s\", \"1500ms\" or \"2m\"",
    )?;
    take(
        "budget",
        super::run_advice::ENV_BUDGET,
        table.budget,
        &|v| parse_timeout(v).is_some(),
        "a positive duration such as \"800ms\" or \"2s\"",
    )?;
    Ok(out)
}

/// `auto` | `ollama` | `openai` (case-insensitive).
pub fn parse_backend(value: &str) -> Option<BackendChoice> {
    match value.to_ascii_lowercase().as_str() {
        "auto" => Some(BackendChoice::Auto),
        "ollama" => Some(BackendChoice::Ollama),
        "openai" => Some(BackendChoice::OpenAi),
        _ => None,
    }
}

/// A positive duration: bare seconds (`30`), or a number with `ms`, `s` or `m`.
pub fn parse_timeout(value: &str) -> Option<Duration> {
    let value = value.trim();
    let (number, unit_ms) = if let Some(n) = value.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = value.strip_suffix('s') {
        (n, 1000.0)
    } else if let Some(n) = value.strip_suffix('m') {
        (n, 60_000.0)
    } else {
        (value, 1000.0)
    };
    let number: f64 = number.trim().parse().ok()?;
    let ms = number * unit_ms;
    // Longer than a day is a typo, not a timeout.
    (ms.is_finite() && (1.0..=86_400_000.0).contains(&ms)).then(|| Duration::from_millis(ms as u64))
}

/// Trims whitespace, a trailing `/` and a trailing `/v1` (OpenAI-style URLs are often given
/// with it); `None` unless the scheme is http or https and a host follows.
pub fn normalize_base_url(value: &str) -> Option<String> {
    let mut url = value.trim().trim_end_matches('/');
    if let Some(stripped) = url.strip_suffix("/v1") {
        url = stripped.trim_end_matches('/');
    }
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    (!rest.is_empty() && !rest.starts_with('/') && !rest.contains(char::is_whitespace))
        .then(|| url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn no_variables_give_the_local_ollama_defaults() {
        let config = parse_ai_env(env(&[])).unwrap();
        assert_eq!(config, AiConfig::default());
        assert_eq!(config.base_url, "http://localhost:11434");
        assert_eq!(config.timeout, Duration::from_secs(120));
        assert_eq!(config.temperature, 0.0);
    }

    #[test]
    fn every_variable_is_read() {
        let config = parse_ai_env(env(&[
            ("CLNRM_AI_URL", "http://10.0.0.5:8000/v1/"),
            ("CLNRM_AI_MODEL", "qwen2.5:0.5b-instruct"),
            ("CLNRM_AI_TIMEOUT", "1500ms"),
            ("CLNRM_AI_BACKEND", "OpenAI"),
        ]))
        .unwrap();
        assert_eq!(config.base_url, "http://10.0.0.5:8000");
        assert_eq!(config.model.as_deref(), Some("qwen2.5:0.5b-instruct"));
        assert_eq!(config.timeout, Duration::from_millis(1500));
        assert_eq!(config.backend, BackendChoice::OpenAi);
    }

    #[test]
    fn empty_values_count_as_unset() {
        let config = parse_ai_env(env(&[("CLNRM_AI_MODEL", " "), ("CLNRM_AI_URL", "")])).unwrap();
        assert_eq!(config, AiConfig::default());
    }

    #[test]
    fn timeouts_accept_seconds_milliseconds_and_minutes() {
        assert_eq!(parse_timeout("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_timeout("2.5s"), Some(Duration::from_millis(2500)));
        assert_eq!(parse_timeout("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_timeout("2m"), Some(Duration::from_secs(120)));
        for bad in ["0", "-1", "abc", "", "1h", "NaN", "inf"] {
            assert_eq!(parse_timeout(bad), None, "{bad}");
        }
    }

    #[test]
    fn bad_timeout_names_the_variable_and_what_is_expected() {
        let err = parse_ai_env(env(&[("CLNRM_AI_TIMEOUT", "soon")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid CLNRM_AI_TIMEOUT value `soon`: expected a positive duration such as 30, 30s, 1500ms or 2m"
        );
    }

    #[test]
    fn bad_url_and_backend_are_rejected() {
        let err = parse_ai_env(env(&[("CLNRM_AI_URL", "localhost:11434")])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid CLNRM_AI_URL value `localhost:11434`")
        );
        let err = parse_ai_env(env(&[("CLNRM_AI_BACKEND", "gpt")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid CLNRM_AI_BACKEND value `gpt`: expected one of auto, ollama, openai"
        );
    }

    fn project(name: &str, config: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("clnrm-ai-config-{name}-{}", std::process::id()));
        let nested = dir.join("crate").join("src");
        std::fs::create_dir_all(&nested).unwrap();
        std::fs::write(dir.join("clnrm.toml"), config).unwrap();
        nested
    }

    #[test]
    fn the_project_file_fills_in_what_the_environment_leaves_unset() {
        let dir = project(
            "fill",
            "[images]\nredis = \"r:7\"\n\n[ai]\nurl = \"http://10.0.0.9:8080/v1\"\nmodel = \"m1\"\nbudget = \"2s\"\ntimeout = \"45s\"\nbackend = \"openai\"\n",
        );
        let lookup = with_project_file(
            &dir,
            env(&[("CLNRM_AI_MODEL", "from-env"), ("CLNRM_AI_URL", " ")]),
        )
        .unwrap();
        let config = parse_ai_env(&lookup).unwrap();
        assert_eq!(
            config.base_url, "http://10.0.0.9:8080",
            "the file's url (the variable is blank)"
        );
        assert_eq!(
            config.model.as_deref(),
            Some("from-env"),
            "the variable wins"
        );
        assert_eq!(config.timeout, Duration::from_secs(45));
        assert_eq!(config.backend, BackendChoice::OpenAi);
        assert_eq!(
            lookup(super::super::run_advice::ENV_BUDGET).as_deref(),
            Some("2s")
        );
        // no [ai] table, no file: the environment alone
        let plain = project("plain", "[images]\n");
        assert_eq!(with_project_file(&plain, env(&[])).unwrap()(ENV_URL), None);
        let _ = std::fs::remove_dir_all(dir.ancestors().nth(2).unwrap());
        let _ = std::fs::remove_dir_all(plain.ancestors().nth(2).unwrap());
    }

    #[test]
    fn a_bad_project_value_or_key_names_the_file_line_and_what_is_expected() {
        let dir = project("bad", "[ai]\nmodel = \"m\"\ntimeout = \"soon\"\n");
        let file = dir.ancestors().nth(2).unwrap().join("clnrm.toml");
        let err = with_project_file(&dir, env(&[])).err().unwrap().to_string();
        assert_eq!(
            err,
            format!(
                "{}:3: [ai] timeout = `soon`: expected a positive duration such as \"30s\", \"1500ms\" or \"2m\"",
                file.display()
            )
        );
        std::fs::write(&file, "[ai]\nurl = \"http://x\"\nmodle = \"m\"\n").unwrap();
        let err = with_project_file(&dir, env(&[])).err().unwrap().to_string();
        assert!(
            err.starts_with(&format!("{}:3: unknown field `modle`", file.display())),
            "{err}"
        );
        // CLNRM_CONFIG names another file
        let other = file.with_file_name("other.toml");
        std::fs::write(&other, "[ai]\nurl = \"ftp://x\"\n").unwrap();
        let err = with_project_file(&dir, env(&[("CLNRM_CONFIG", other.to_str().unwrap())]))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.starts_with(&format!("{}:2: [ai] url = `ftp://x`", other.display())),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(dir.ancestors().nth(2).unwrap());
    }
}
