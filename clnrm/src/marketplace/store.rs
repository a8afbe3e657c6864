//! The install store: `$CLNRM_HOME/plugins/<name>/<version>/` (default `~/.cleanroom`), each
//! with `plugin.toml`, an optional `README.md`, and `RECEIPT.json` (index, checksum, publisher,
//! verification). Installs stage in `plugins/.staging/` (same filesystem) and `rename` into
//! place under an exclusive lock on `plugins/.lock`, so a version is either absent or complete.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::MarketError;
use super::index::Dep;
use super::manifest::{PluginManifest, parse_manifest};
use super::package::PackageFiles;

/// `$CLNRM_HOME`, or `~/.cleanroom`.
pub fn home() -> PathBuf {
    if let Some(h) = std::env::var_os("CLNRM_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h);
    }
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(".cleanroom")
}

/// The folder installed plugins live in.
pub fn plugins_dir() -> PathBuf {
    home().join("plugins")
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> crate::Error {
    let path = path.to_owned();
    move |source| crate::Error::Io {
        action,
        path,
        source,
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), crate::Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io("failed to create", dir))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io("failed to write", dir))?;
    tmp.write_all(bytes).map_err(io("failed to write", path))?;
    tmp.as_file()
        .sync_all()
        .map_err(io("failed to write", path))?;
    tmp.persist(path)
        .map_err(|e| io("failed to write", path)(e.error))?;
    Ok(())
}

/// What was installed, from where, verified how.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Receipt {
    /// Plugin name.
    pub name: String,
    /// Version.
    pub version: String,
    /// The index it came from (path or URL).
    pub index: String,
    /// `sha256:<hex>` of the package.
    pub cksum: String,
    /// Publisher key (base64), when signed.
    pub publisher: Option<String>,
    /// Whether the signature was verified (false only with `--allow-unsigned`).
    pub verified: bool,
    /// Dependencies.
    pub deps: Vec<Dep>,
    /// Unix seconds.
    pub installed_unix: u64,
}

/// An installed plugin.
#[derive(Debug, Clone)]
pub struct Installed {
    /// Its folder.
    pub dir: PathBuf,
    /// Its receipt.
    pub receipt: Receipt,
}

impl Installed {
    /// Reads its manifest.
    pub fn manifest(&self) -> Result<PluginManifest, crate::Error> {
        super::manifest::load_manifest(&self.dir.join("plugin.toml"))
    }
}

/// The exclusive store lock, released on drop.
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
}

/// Takes the store lock, waiting for another install to finish.
pub fn lock() -> Result<StoreLock, crate::Error> {
    let dir = plugins_dir();
    std::fs::create_dir_all(&dir).map_err(io("failed to create", &dir))?;
    let path = dir.join(".lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io("failed to open", &path))?;
    file.lock()
        .map_err(|_| MarketError::Busy(dir.display().to_string()))?;
    Ok(StoreLock { _file: file })
}

/// Removes what crashed installs left in `.staging` (call with the lock held).
fn sweep_staging(staging: &Path) {
    if let Ok(entries) = std::fs::read_dir(staging) {
        for entry in entries.flatten() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Whether the test hook asks to crash at `point` (`CLNRM_MARKETPLACE_CRASH=after-staging`):
/// lets the end-to-end tests kill an install between staging and rename.
fn crash_at(point: &str) {
    if std::env::var("CLNRM_MARKETPLACE_CRASH").is_ok_and(|p| p == point) {
        std::process::abort();
    }
}

/// Installs verified `files` as `receipt.name`/`receipt.version`. The caller holds the lock.
/// An identical version already there is a no-op (`Ok(false)`); different bytes under the same
/// version are refused.
pub fn install_files(
    _lock: &StoreLock,
    files: &PackageFiles,
    receipt: &Receipt,
) -> Result<bool, crate::Error> {
    let root = plugins_dir();
    let target = root.join(&receipt.name).join(&receipt.version);
    if target.exists() {
        let existing = read_receipt(&target)?;
        if existing.cksum == receipt.cksum {
            return Ok(false);
        }
        return Err(MarketError::Store(format!(
            "{} is installed with {} but the index now has {} under the same version: a re-uploaded or tampered package; uninstall it to take the new one",
            target.display(),
            existing.cksum,
            receipt.cksum
        ))
        .into());
    }
    let staging = root.join(".staging");
    sweep_staging(&staging);
    std::fs::create_dir_all(&staging).map_err(io("failed to create", &staging))?;
    let tmp = tempfile::Builder::new()
        .prefix("install-")
        .tempdir_in(&staging)
        .map_err(io("failed to create", &staging))?;
    let mut all = files.clone();
    all.insert(
        "RECEIPT.json".to_owned(),
        serde_json::to_vec_pretty(receipt).expect("serializable"),
    );
    for (name, bytes) in &all {
        let path = tmp.path().join(name);
        let mut f = File::create(&path).map_err(io("failed to write", &path))?;
        f.write_all(bytes).map_err(io("failed to write", &path))?;
        f.sync_all().map_err(io("failed to write", &path))?;
    }
    crash_at("after-staging");
    let parent = root.join(&receipt.name);
    std::fs::create_dir_all(&parent).map_err(io("failed to create", &parent))?;
    let staged = tmp.keep();
    std::fs::rename(&staged, &target).map_err(io("failed to move into place", &target))?;
    if let Ok(dir) = File::open(&parent) {
        let _ = dir.sync_all();
    }
    Ok(true)
}

fn read_receipt(dir: &Path) -> Result<Receipt, crate::Error> {
    let path = dir.join("RECEIPT.json");
    let bytes = std::fs::read(&path).map_err(io("failed to read", &path))?;
    Ok(serde_json::from_slice(&bytes)
        .map_err(|e| MarketError::Store(format!("{}: unreadable receipt: {e}", path.display())))?)
}

/// Every installed plugin version, sorted by name then version.
pub fn list_installed() -> Result<Vec<Installed>, crate::Error> {
    let root = plugins_dir();
    let mut out = Vec::new();
    let Ok(names) = std::fs::read_dir(&root) else {
        return Ok(out);
    };
    for name in names.flatten() {
        let file_name = name.file_name().to_string_lossy().into_owned();
        if file_name.starts_with('.') || !name.path().is_dir() {
            continue;
        }
        let Ok(versions) = std::fs::read_dir(name.path()) else {
            continue;
        };
        for version in versions.flatten() {
            let dir = version.path();
            if dir.is_dir() {
                out.push(Installed {
                    receipt: read_receipt(&dir)?,
                    dir,
                });
            }
        }
    }
    out.sort_by(|a, b| {
        (
            a.receipt.name.as_str(),
            semver::Version::parse(&a.receipt.version).ok(),
        )
            .cmp(&(
                b.receipt.name.as_str(),
                semver::Version::parse(&b.receipt.version).ok(),
            ))
    });
    Ok(out)
}

/// Removes `name` (one `version`, or all). Refuses while another installed plugin depends on
/// it, unless `force`. Returns what was removed.
pub fn uninstall(
    name: &str,
    version: Option<&str>,
    force: bool,
) -> Result<Vec<Installed>, crate::Error> {
    let _lock = lock()?;
    let installed = list_installed()?;
    let targets: Vec<Installed> = installed
        .iter()
        .filter(|i| i.receipt.name == name && version.is_none_or(|v| i.receipt.version == v))
        .cloned()
        .collect();
    if targets.is_empty() {
        return Err(MarketError::Store(format!(
            "{name}{} is not installed in {}",
            version.map(|v| format!("@{v}")).unwrap_or_default(),
            plugins_dir().display()
        ))
        .into());
    }
    if !force {
        let dependents: Vec<String> = installed
            .iter()
            .filter(|i| i.receipt.name != name)
            .filter(|i| i.receipt.deps.iter().any(|d| d.name == name))
            .map(|i| format!("{}@{}", i.receipt.name, i.receipt.version))
            .collect();
        if !dependents.is_empty() {
            return Err(MarketError::Store(format!(
                "cannot uninstall {name}: {} depend(s) on it; uninstall those first or pass --force",
                dependents.join(", ")
            ))
            .into());
        }
    }
    for t in &targets {
        std::fs::remove_dir_all(&t.dir).map_err(io("failed to remove", &t.dir))?;
    }
    let parent = plugins_dir().join(name);
    let _ = std::fs::remove_dir(parent);
    Ok(targets)
}

/// Loads the manifest of an installed plugin's files (checks name and version agree).
pub fn manifest_of(what: &str, files: &PackageFiles) -> Result<PluginManifest, MarketError> {
    let bytes = files
        .get("plugin.toml")
        .ok_or_else(|| MarketError::Invalid(format!("{what}: no plugin.toml")))?;
    let text = std::str::from_utf8(bytes)
        .map_err(|_| MarketError::Invalid(format!("{what}: plugin.toml is not UTF-8")))?;
    parse_manifest(Path::new(&format!("{what}!plugin.toml")), text)
}
