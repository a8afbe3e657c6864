//! Declarative plugins: a `plugin.toml` recipe (installed from a marketplace index or kept in a
//! project folder) used by name exactly like the built-ins.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::docker::{Readiness, RunEnv, start_container};
use crate::error::Result;
use crate::isolation::hooks::NamespaceHooks;
use crate::marketplace::manifest::render_template;
use crate::marketplace::{Lockfile, PluginManifest, load_manifest, lockfile, store};
use crate::service::{
    Credentials, HealthStatus, PluginMetadata, PluginSource, ServiceHandle, ServicePlugin,
    ServiceSpec,
};

const NAMESPACE: &str = "{namespace}";

/// A plugin made from a `plugin.toml`.
#[derive(Debug, Clone)]
pub struct ManifestPlugin {
    manifest: Arc<PluginManifest>,
    source: PluginSource,
}

impl ManifestPlugin {
    /// Wraps a validated manifest.
    pub fn new(manifest: PluginManifest, source: PluginSource) -> Self {
        ManifestPlugin {
            manifest: Arc::new(manifest),
            source,
        }
    }

    /// Its manifest.
    pub fn manifest(&self) -> &PluginManifest {
        &self.manifest
    }
}

#[async_trait]
impl ServicePlugin for ManifestPlugin {
    fn name(&self) -> &str {
        self.manifest.name()
    }

    fn metadata(&self) -> PluginMetadata {
        PluginMetadata {
            name: self.manifest.name().to_owned(),
            version: self.manifest.version().to_string(),
            description: self.manifest.plugin.description.clone(),
            default_image: Some(self.manifest.service.image.get_ref().clone()),
            source: self.source.clone(),
        }
    }

    async fn start(&self, spec: &ServiceSpec, env: &Arc<RunEnv>) -> Result<ServiceHandle> {
        let m = &self.manifest;
        let timeout = Duration::from_secs(m.service.startup_timeout.unwrap_or(60));
        let mut recipe = super::base_recipe(spec, Some(m.service.image.get_ref()), timeout)?;
        let credentials = m
            .credentials
            .as_ref()
            .map(|c| Credentials::generate(&c.user, c.database.as_deref()));
        let mut values: BTreeMap<&str, String> = BTreeMap::new();
        if let Some(c) = &credentials {
            values.insert("user", c.user.clone());
            values.insert("password", c.password.clone());
            values.insert("database", c.database.clone().unwrap_or_default());
        }
        // Entries naming `{namespace}` wait for a lease (see `NamespaceHooks::env`).
        let mut environment: BTreeMap<String, String> = m
            .service
            .env
            .iter()
            .filter(|(_, v)| !v.get_ref().contains(NAMESPACE))
            .map(|(k, v)| (k.clone(), render_template(v.get_ref(), &values, |_| None)))
            .collect();
        environment.extend(spec.env.clone());
        recipe.env = environment;
        let mut ports = m.service.ports.clone();
        for p in &spec.ports {
            if !ports.contains(p) {
                ports.push(*p);
            }
        }
        recipe.ports = ports;
        if spec.cmd.is_none() {
            recipe.cmd = m.service.cmd.clone();
        }
        if spec.entrypoint.is_none() {
            recipe.entrypoint = m.service.entrypoint.clone();
        }
        let r = &m.readiness;
        let mut readiness = Vec::new();
        if let Some(line) = &r.log {
            readiness.push(Readiness::LogLine(line.clone()));
        }
        if let Some(port) = &r.port {
            readiness.push(Readiness::Port(*port.get_ref()));
        }
        if let Some(http) = &r.http {
            readiness.push(Readiness::Http {
                port: http.port,
                path: http.path.clone(),
                status: http.status,
            });
        }
        if let Some(argv) = &r.command {
            readiness.push(Readiness::Command(argv.clone()));
        }
        readiness.extend(spec.readiness.iter().cloned());
        recipe.readiness = readiness;
        let container = start_container(env, &recipe).await?;
        let endpoint = container.endpoint().clone();
        values.insert("host", endpoint.host.clone());
        let url = m
            .connection
            .as_ref()
            .map(|c| render_template(c.url.get_ref(), &values, |p| endpoint.port(p)));
        // Without a lease (`isolation = "none"`, a suite service without `isolation`), the URL
        // names no namespace: `{namespace}` is left empty.
        let hooks = m.isolation.as_ref().map(|iso| NamespaceHooks {
            plugin: m.name().to_owned(),
            create: iso.get_ref().create.get_ref().clone(),
            drop: iso.get_ref().drop.get_ref().clone(),
            url: m.connection.as_ref().map(|c| c.url.get_ref().clone()),
            env: m
                .service
                .env
                .iter()
                .filter(|(_, v)| v.get_ref().contains(NAMESPACE))
                .map(|(k, v)| (k.clone(), v.get_ref().clone()))
                .collect(),
        });
        Ok(
            ServiceHandle::new(&spec.name, m.name(), container, url, credentials)
                .with_namespace_hooks(hooks),
        )
    }

    async fn health_check(&self, handle: &ServiceHandle) -> HealthStatus {
        let docker = match crate::docker::connect().await {
            Ok(docker) => docker,
            Err(e) => return HealthStatus::Unhealthy(e.to_string()),
        };
        match docker.inspect_container(handle.container_id(), None).await {
            Ok(info) if info.state.as_ref().and_then(|s| s.running) == Some(true) => {
                HealthStatus::Healthy
            }
            Ok(_) => HealthStatus::Unhealthy("the container is not running".to_owned()),
            Err(e) => HealthStatus::Unhealthy(e.to_string()),
        }
    }
}

/// The project's plugin folder from `clnrm.toml` (`[plugins] dir = "plugins"`), relative to it.
fn project_plugin_dir(project: &Path) -> Result<Option<PathBuf>> {
    let config = project.join("clnrm.toml");
    let Ok(text) = std::fs::read_to_string(&config) else {
        return Ok(None);
    };
    let table: toml::Table = toml::from_str(&text).map_err(|source| crate::ConfigError::Parse {
        path: config.clone(),
        source: Box::new(source),
    })?;
    let dir = table
        .get("plugins")
        .and_then(|p| p.get("dir"))
        .and_then(|d| d.as_str());
    Ok(dir.map(|d| project.join(d)))
}

/// The declarative plugins visible from `dir`: those in the project's plugin folder
/// (`clnrm.toml` `[plugins] dir`), then the installed ones — exactly the versions of
/// `clnrm.lock` when the project has one (each must be installed with the locked checksum),
/// else the newest installed version of each.
pub fn load_declarative_plugins(dir: &Path) -> Result<Vec<ManifestPlugin>> {
    let project = lockfile::project_dir(dir);
    let mut out: Vec<ManifestPlugin> = Vec::new();
    if let Some(folder) = project_plugin_dir(&project)? {
        let entries = std::fs::read_dir(&folder).map_err(|source| crate::Error::Io {
            action: "failed to read the plugin folder named in clnrm.toml",
            path: folder.clone(),
            source,
        })?;
        let mut paths: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path().join("plugin.toml"))
            .filter(|p| p.is_file())
            .collect();
        paths.sort();
        for path in paths {
            let manifest = load_manifest(&path)?;
            let dir = path.parent().unwrap_or(&path).display().to_string();
            out.push(ManifestPlugin::new(manifest, PluginSource::Local(dir)));
        }
    }
    let installed = store::list_installed()?;
    let lock_path = project.join(crate::marketplace::LOCKFILE);
    let mut chosen: BTreeMap<String, store::Installed> = BTreeMap::new();
    match Lockfile::load(&lock_path)? {
        Some(lock) => {
            for p in &lock.plugins {
                let found = installed
                    .iter()
                    .find(|i| i.receipt.name == p.name && i.receipt.version == p.version)
                    .ok_or_else(|| {
                        crate::marketplace::MarketError::Lock {
                            path: lock_path.display().to_string(),
                            message: format!(
                                "{} {} is locked but not installed in {}; run `clnrm marketplace install --locked {}`",
                                p.name,
                                p.version,
                                store::plugins_dir().display(),
                                p.name
                            ),
                        }
                    })?;
                if found.receipt.cksum != p.cksum {
                    return Err(crate::marketplace::MarketError::Lock {
                        path: lock_path.display().to_string(),
                        message: format!(
                            "{} {} is installed with {} but locked with {}",
                            p.name, p.version, found.receipt.cksum, p.cksum
                        ),
                    }
                    .into());
                }
                chosen.insert(p.name.clone(), found.clone());
            }
        }
        None => {
            // Sorted by name then version: the last one of each name is the newest.
            for i in installed {
                chosen.insert(i.receipt.name.clone(), i);
            }
        }
    }
    for (name, i) in chosen {
        if out.iter().any(|p| p.name() == name) {
            continue; // the project's own folder wins
        }
        let manifest = i.manifest()?;
        let verified = if i.receipt.verified {
            ""
        } else {
            ", unverified"
        };
        out.push(ManifestPlugin::new(
            manifest,
            PluginSource::Installed(format!("{}{verified}", i.receipt.index)),
        ));
    }
    Ok(out)
}
