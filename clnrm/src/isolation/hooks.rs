//! Declarative plugins' `[isolation]` hooks: a namespace per test (or scenario) made by the
//! plugin's `create` argv and removed by its `drop` argv, both run with `docker exec` in the
//! service's own container (never on the host, never through a shell unless the argv calls one).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::marketplace::manifest::render_template;
use crate::service::ServiceHandle;

/// A plugin's hooks and the templates that name the namespace, as the service was started with
/// them (kept on its [`ServiceHandle`], and in the record other nextest processes adopt).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct NamespaceHooks {
    /// The plugin's name, for messages.
    pub(crate) plugin: String,
    /// `[isolation] create`, one template per argument.
    pub(crate) create: Vec<String>,
    /// `[isolation] drop`, one template per argument.
    pub(crate) drop: Vec<String>,
    /// `[connection] url`, filled per lease.
    pub(crate) url: Option<String>,
    /// `[service] env` entries that name `{namespace}`: left out of the container's environment
    /// (there is no namespace when it starts) and given, filled, to commands a scenario runs in
    /// the container.
    pub(crate) env: BTreeMap<String, String>,
}

/// One namespace, made by `create`; [`HookLease::release`] runs `drop`.
pub(crate) struct HookLease {
    handle: ServiceHandle,
    hooks: Arc<NamespaceHooks>,
    /// The namespace's name.
    pub(crate) name: String,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A fresh namespace name: a safe identifier in every database's and broker's syntax
/// (`clnrm_` then lowercase letters, digits and `_`; at most 40 characters), unique per lease
/// across the processes sharing a service (the process id, a counter and a random suffix, so a
/// reused process id cannot meet a namespace a dead process left).
pub(crate) fn namespace_name() -> String {
    use rand::Rng;
    let suffix: String = (0..6)
        .map(|_| {
            let n = rand::rng().random_range(0..36u8);
            char::from_digit(u32::from(n), 36).unwrap_or('x')
        })
        .collect();
    format!(
        "clnrm_{}_{}_{suffix}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// What the templates are filled with for `namespace` in `handle`.
fn values(handle: &ServiceHandle, namespace: &str) -> BTreeMap<&'static str, String> {
    let mut values = BTreeMap::new();
    if let Some(c) = handle.credentials() {
        values.insert("user", c.user.clone());
        values.insert("password", c.password.clone());
        values.insert("database", c.database.clone().unwrap_or_default());
    }
    values.insert("host", handle.host().to_owned());
    values.insert("namespace", namespace.to_owned());
    values
}

/// `argv` filled for `namespace`, argument by argument.
fn render_argv(argv: &[String], values: &BTreeMap<&str, String>) -> Vec<String> {
    argv.iter()
        .map(|arg| render_template(arg, values, |_| None))
        .collect()
}

/// `argv` as messages show it: the password masked.
fn shown(argv: &[String], handle: &ServiceHandle) -> String {
    let text = argv.join(" ");
    match handle.credentials() {
        Some(c) if !c.password.is_empty() => text.replace(&c.password, "***"),
        _ => text,
    }
}

/// The last lines of a hook's output (stderr, else stdout).
fn output_tail(output: &crate::docker::ExecOutput) -> String {
    let text = if output.stderr.trim().is_empty() {
        &output.stdout
    } else {
        &output.stderr
    };
    let lines: Vec<&str> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

impl HookLease {
    /// Makes a namespace of its own in `handle` by running the `create` hook. A failure (an exit
    /// code other than 0, or a command that cannot run) names the command and its output.
    pub(crate) async fn create(
        handle: &ServiceHandle,
        hooks: Arc<NamespaceHooks>,
    ) -> Result<HookLease, String> {
        let name = namespace_name();
        let argv = render_argv(&hooks.create, &values(handle, &name));
        let output = handle.exec(&argv).await.map_err(|e| {
            format!(
                "the [isolation] create hook of plugin `{}` (`{}`) could not run: {e}",
                hooks.plugin,
                shown(&argv, handle)
            )
        })?;
        if output.exit_code != 0 {
            return Err(format!(
                "the [isolation] create hook of plugin `{}` (`{}`) exited with code {}: {}",
                hooks.plugin,
                shown(&argv, handle),
                output.exit_code,
                output_tail(&output)
            ));
        }
        Ok(HookLease {
            handle: handle.clone(),
            hooks,
            name,
        })
    }

    /// The connection URL naming this namespace.
    pub(crate) fn url(&self) -> Option<String> {
        let values = values(&self.handle, &self.name);
        let endpoint = self.handle.endpoint();
        self.hooks
            .url
            .as_ref()
            .map(|url| render_template(url, &values, |p| endpoint.port(p)))
    }

    /// Runs the `drop` hook. A failure is a cleanup problem: logged as a warning naming the
    /// service, the namespace, the command and its output (never silently dropped).
    pub(crate) async fn release(self) {
        if let Err(why) = self.drop_namespace().await {
            tracing::warn!("cleanup problem: {why}");
        }
    }

    async fn drop_namespace(&self) -> Result<(), String> {
        let argv = render_argv(&self.hooks.drop, &values(&self.handle, &self.name));
        let what = || {
            format!(
                "service `{}`: the [isolation] drop hook of plugin `{}` for namespace `{}` (`{}`)",
                self.handle.name(),
                self.hooks.plugin,
                self.name,
                shown(&argv, &self.handle)
            )
        };
        let output = self
            .handle
            .exec(&argv)
            .await
            .map_err(|e| format!("{} could not run: {e}", what()))?;
        if output.exit_code != 0 {
            return Err(format!(
                "{} exited with code {}: {}",
                what(),
                output.exit_code,
                output_tail(&output)
            ));
        }
        Ok(())
    }
}

/// The `{namespace}` env entries of `hooks`, filled for `namespace` in `handle`.
pub(crate) fn namespace_env(
    handle: &ServiceHandle,
    hooks: &NamespaceHooks,
    namespace: &str,
) -> Vec<(String, String)> {
    let values = values(handle, namespace);
    hooks
        .env
        .iter()
        .map(|(k, v)| (k.clone(), render_template(v, &values, |_| None)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_names_are_safe_identifiers_and_unique() {
        let a = namespace_name();
        let b = namespace_name();
        assert_ne!(a, b);
        for name in [&a, &b] {
            assert!(name.len() <= 40, "{name}");
            assert!(name.starts_with("clnrm_"), "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{name}"
            );
        }
    }

    #[test]
    fn hooks_are_filled_argument_by_argument_never_joined() {
        let values = BTreeMap::from([
            ("namespace", "clnrm_1_0_abc".to_owned()),
            ("password", "p w;rm -rf".to_owned()),
        ]);
        let argv = render_argv(
            &[
                "mariadb".to_owned(),
                "-p{password}".to_owned(),
                "-e".to_owned(),
                "CREATE DATABASE `{namespace}`".to_owned(),
            ],
            &values,
        );
        assert_eq!(
            argv,
            [
                "mariadb",
                "-pp w;rm -rf",
                "-e",
                "CREATE DATABASE `clnrm_1_0_abc`"
            ]
        );
    }
}
