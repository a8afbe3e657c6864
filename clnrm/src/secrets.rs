//! Secrets never leave the process in clear: every known secret is masked as `***` in what clnrm
//! prints, records or reports (terminal lines, failure messages and their diagnostics, JSON,
//! JUnit, the history, and its own log lines through [`MaskingWriter`]).
//!
//! Known secrets are: the passwords clnrm generates ([`crate::service::Credentials`]), the values
//! of environment variables whose names say they are secret ([`is_secret_name`]: `*PASSWORD*`,
//! `*PASS`, `*SECRET*`, `*TOKEN*`, `*API_KEY*`, `*PRIVATE_KEY*`, `*CREDENTIAL*`), registered as
//! steps and services get them, and the password part of any `scheme://user:password@host` URL,
//! masked wherever such a URL appears.

use std::borrow::Cow;
use std::sync::{OnceLock, RwLock};

use regex::Regex;

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// Secrets shorter than this are not registered: masking every `ab` in the output would hide more
/// than it protects.
const MIN_LEN: usize = 4;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Registers `secret`: from now on [`mask`] replaces it.
pub fn register(secret: &str) {
    if secret.len() < MIN_LEN {
        return;
    }
    let mut secrets = SECRETS
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !secrets.iter().any(|s| s == secret) {
        secrets.push(secret.to_owned());
        // Longest first, so a secret containing another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// Does the name of an environment variable say its value is secret?
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    [
        "PASSWORD",
        "SECRET",
        "TOKEN",
        "API_KEY",
        "PRIVATE_KEY",
        "CREDENTIAL",
    ]
    .iter()
    .any(|word| upper.contains(word))
        || upper.ends_with("_PASS")
        || upper == "PASS"
}

/// Registers the values of the variables of `env` whose names say they are secret.
pub fn register_env<'a>(env: impl IntoIterator<Item = (&'a str, &'a str)>) {
    for (name, value) in env {
        if is_secret_name(name) {
            register(value);
        }
    }
}

fn url_password() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"([A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]+:)([^\s@/]+)@")
            .expect("the URL password pattern compiles")
    })
}

/// `text` with every known secret and every URL password replaced by [`MASK`].
pub fn mask(text: &str) -> Cow<'_, str> {
    let secrets = SECRETS
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut out: Cow<'_, str> = Cow::Borrowed(text);
    for secret in secrets.iter() {
        if out.contains(secret.as_str()) {
            out = Cow::Owned(out.replace(secret.as_str(), MASK));
        }
    }
    drop(secrets);
    if url_password().is_match(&out) {
        let replaced = url_password()
            .replace_all(&out, |c: &regex::Captures<'_>| {
                if &c[2] == MASK {
                    c[0].to_owned()
                } else {
                    format!("{}{MASK}@", &c[1])
                }
            })
            .into_owned();
        out = Cow::Owned(replaced);
    }
    out
}

/// A `tracing_subscriber` writer for stderr that masks secrets in every line written.
#[derive(Debug, Clone, Copy, Default)]
pub struct MaskingWriter;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for MaskingWriter {
    type Writer = MaskingWriter;

    fn make_writer(&'a self) -> Self::Writer {
        MaskingWriter
    }
}

impl std::io::Write for MaskingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(mask(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secrets_and_url_passwords_are_masked() {
        register("s3cr3t-value-for-the-mask-test");
        let text = "pw s3cr3t-value-for-the-mask-test and postgres://u:pa55w0rd@db:5432/x ok";
        assert_eq!(
            mask(text),
            "pw *** and postgres://u:***@db:5432/x ok",
            "both kinds masked"
        );
        assert_eq!(mask("redis://127.0.0.1:6379/0"), "redis://127.0.0.1:6379/0");
        assert_eq!(mask("postgres://u:***@db/x"), "postgres://u:***@db/x");
        register("ab");
        assert_eq!(mask("ab"), "ab", "too short to be worth masking");
    }

    #[test]
    fn secret_names_are_recognised() {
        for name in [
            "POSTGRES_PASSWORD",
            "PGPASSWORD",
            "API_TOKEN",
            "github_token",
            "AWS_SECRET_ACCESS_KEY",
            "STRIPE_API_KEY",
            "SURREAL_PASS",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in ["PATH", "PGUSER", "POSTGRES_DB", "PASSAGE", "CLNRM_DB_URL"] {
            assert!(!is_secret_name(name), "{name}");
        }
    }
}
