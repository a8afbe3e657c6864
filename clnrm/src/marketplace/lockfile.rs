//! `clnrm.lock`: the plugin versions a project uses, with their checksums and index. Written by
//! `clnrm marketplace install`, read by the CLI and the `cargo test` harness alike.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::MarketError;

/// The lockfile's name.
pub const LOCKFILE: &str = "clnrm.lock";

/// A parsed `clnrm.lock`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Lockfile {
    /// Format version (1).
    pub version: u32,
    /// Locked plugins, sorted by name.
    #[serde(default, rename = "plugin")]
    pub plugins: Vec<LockedPlugin>,
}

/// One locked plugin.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LockedPlugin {
    /// Name.
    pub name: String,
    /// Exact version.
    pub version: String,
    /// The index it came from.
    pub index: String,
    /// `sha256:<hex>` of the package.
    pub cksum: String,
    /// Dependencies by name.
    #[serde(default)]
    pub deps: Vec<String>,
}

/// The project folder: the nearest folder from `dir` up holding `clnrm.toml` (or `clnrm.lock`),
/// else `dir`.
pub fn project_dir(dir: &Path) -> PathBuf {
    dir.ancestors()
        .find(|d| d.join("clnrm.toml").is_file() || d.join(LOCKFILE).is_file())
        .unwrap_or(dir)
        .to_owned()
}

impl Lockfile {
    /// Reads `path`; a missing file is `Ok(None)`.
    pub fn load(path: &Path) -> Result<Option<Lockfile>, crate::Error> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(crate::Error::Io {
                    action: "failed to read",
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let lock: Lockfile = toml::from_str(&text).map_err(|e| MarketError::Lock {
            path: path.display().to_string(),
            message: format!("not a valid lockfile: {e}"),
        })?;
        Ok(Some(lock))
    }

    /// Writes it to `path`.
    pub fn save(&self, path: &Path) -> Result<(), crate::Error> {
        let mut sorted = self.clone();
        sorted.plugins.sort_by(|a, b| a.name.cmp(&b.name));
        let text = format!(
            "# Written by `clnrm marketplace install`; commit it. The plugin versions this project uses.\n{}",
            toml::to_string(&sorted).expect("serializable")
        );
        super::store::write_atomic(path, text.as_bytes())
    }

    /// The entry for `name`.
    pub fn get(&self, name: &str) -> Option<&LockedPlugin> {
        self.plugins.iter().find(|p| p.name == name)
    }

    /// Adds or replaces an entry.
    pub fn upsert(&mut self, plugin: LockedPlugin) {
        self.plugins.retain(|p| p.name != plugin.name);
        self.plugins.push(plugin);
    }
}
