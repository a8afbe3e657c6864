//! What a test or a suite asks of a service, before anything starts.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::docker::Readiness;

/// One service as declared: a name bound to a plugin, with options. Plugins read what applies to
/// them; the generic plugin reads everything.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    /// The local name (`db`): the key tests use and the network alias.
    pub name: String,
    /// The plugin (`postgres`).
    pub plugin: String,
    /// The image (`postgres:16`); the plugin's default when `None`.
    pub image: Option<String>,
    /// Extra environment variables.
    pub env: BTreeMap<String, String>,
    /// Container ports to publish.
    pub ports: Vec<u16>,
    /// Entrypoint override (argv).
    pub entrypoint: Option<Vec<String>>,
    /// Command override (argv).
    pub cmd: Option<Vec<String>>,
    /// Extra readiness conditions (the generic plugin has no other).
    pub readiness: Vec<Readiness>,
    /// Memory limit in bytes.
    pub memory: Option<i64>,
    /// CPU limit.
    pub cpus: Option<f64>,
    /// Bind mounts: (host path, container path, read only).
    pub mounts: Vec<(String, String, bool)>,
    /// Services that must be ready before this one starts.
    pub depends_on: Vec<String>,
    /// Start-up timeout; the plugin's default when `None`.
    pub startup_timeout: Option<Duration>,
}

impl ServiceSpec {
    /// A service `name` of plugin `plugin` with every option at its default.
    pub fn new(name: impl Into<String>, plugin: impl Into<String>) -> Self {
        ServiceSpec {
            name: name.into(),
            plugin: plugin.into(),
            image: None,
            env: BTreeMap::new(),
            ports: Vec::new(),
            entrypoint: None,
            cmd: None,
            readiness: Vec::new(),
            memory: None,
            cpus: None,
            mounts: Vec::new(),
            depends_on: Vec::new(),
            startup_timeout: None,
        }
    }

    /// Sets the image.
    pub fn image(mut self, image: impl Into<String>) -> Self {
        self.image = Some(image.into());
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Publishes a container port.
    pub fn port(mut self, port: u16) -> Self {
        self.ports.push(port);
        self
    }

    /// Overrides the command.
    pub fn cmd<S: Into<String>>(mut self, argv: impl IntoIterator<Item = S>) -> Self {
        self.cmd = Some(argv.into_iter().map(Into::into).collect());
        self
    }

    /// Overrides the entrypoint.
    pub fn entrypoint<S: Into<String>>(mut self, argv: impl IntoIterator<Item = S>) -> Self {
        self.entrypoint = Some(argv.into_iter().map(Into::into).collect());
        self
    }

    /// Adds a readiness condition.
    pub fn wait_for(mut self, readiness: Readiness) -> Self {
        self.readiness.push(readiness);
        self
    }

    /// Limits memory, in bytes.
    pub fn memory(mut self, bytes: i64) -> Self {
        self.memory = Some(bytes);
        self
    }

    /// Limits CPUs.
    pub fn cpus(mut self, cpus: f64) -> Self {
        self.cpus = Some(cpus);
        self
    }

    /// Bind-mounts `host` at `container`.
    pub fn mount(
        mut self,
        host: impl Into<String>,
        container: impl Into<String>,
        read_only: bool,
    ) -> Self {
        self.mounts.push((host.into(), container.into(), read_only));
        self
    }

    /// Starts after `service` is ready.
    pub fn depends_on(mut self, service: impl Into<String>) -> Self {
        self.depends_on.push(service.into());
        self
    }

    /// Sets the start-up timeout.
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = Some(timeout);
        self
    }
}

/// Parses a memory size: `268435456`, `256k`, `256m`, `1g` (binary units, `b` suffix optional,
/// case-insensitive).
pub fn parse_memory(text: &str) -> Result<i64, String> {
    let lower = text.trim().to_ascii_lowercase();
    let lower = lower.strip_suffix('b').unwrap_or(&lower);
    let lower = lower.strip_suffix('i').unwrap_or(lower);
    let (digits, unit) = match lower
        .char_indices()
        .find(|(_, c)| !c.is_ascii_digit() && *c != '.')
    {
        Some((i, _)) => (&lower[..i], &lower[i..]),
        None => (lower, ""),
    };
    let factor: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(format!(
                "expected a size like `256m` or `1g`, found `{text}`"
            ));
        }
    };
    let value: f64 = digits
        .parse()
        .map_err(|_| format!("expected a size like `256m` or `1g`, found `{text}`"))?;
    let bytes = value * factor;
    if !(4.0 * 1024.0 * 1024.0..1e15).contains(&bytes) {
        return Err(format!(
            "`{text}` is out of range: Docker needs at least 4m"
        ));
    }
    Ok(bytes as i64)
}

/// Parses a duration: an integer (seconds), or `500ms`, `30s`, `2m`, `1h`, `1m 30s`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("expected a duration like `30s`, `500ms` or `1m 30s`, found `{text}`");
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = trimmed.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    for part in trimmed.split_whitespace() {
        let split = part
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or_else(bad)?;
        let (number, unit) = part.split_at(split);
        let number: f64 = number.parse().map_err(|_| bad())?;
        let secs = match unit {
            "ms" => number / 1000.0,
            "s" => number,
            "m" => number * 60.0,
            "h" => number * 3600.0,
            _ => return Err(bad()),
        };
        total += Duration::try_from_secs_f64(secs).map_err(|_| bad())?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_parse_in_binary_units() {
        assert_eq!(parse_memory("256m"), Ok(256 * 1024 * 1024));
        assert_eq!(parse_memory("1G"), Ok(1024 * 1024 * 1024));
        assert_eq!(parse_memory("512MiB"), Ok(512 * 1024 * 1024));
        assert!(
            parse_memory("lots")
                .unwrap_err()
                .contains("expected a size")
        );
        assert!(parse_memory("1k").unwrap_err().contains("at least 4m"));
    }

    #[test]
    fn durations_parse_with_units_and_bare_seconds() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
        assert!(
            parse_duration("soon")
                .unwrap_err()
                .contains("expected a duration")
        );
        assert!(parse_duration("").is_err());
        assert!(parse_duration("10x").is_err());
    }
}
