//! The plugin marketplace: declarative plugin packages, signed static indexes, and a verified,
//! atomic install store.
//!
//! A plugin is data, never code: a `plugin.toml` recipe ([`manifest`]) plus a README, packed
//! deterministically ([`package`]), hashed (SHA-256) and signed (minisign/Ed25519, [`sign`]).
//! An index ([`index`]) is static files in a folder or under an HTTP(S) base URL, with a signed
//! snapshot that detects rollback, freeze and mix-and-match, and a root of trust that rotates.
//! [`install`] verifies everything in memory before writing, then stages and renames into
//! [`store`]; [`lockfile`] pins versions for the CLI and the harness alike. Installed plugins
//! become [`crate::ServicePlugin`]s through [`crate::plugins::ManifestPlugin`].

mod error;
pub mod index;
pub mod lockfile;
pub mod manifest;
pub mod package;
pub mod publish;
pub mod resolve;
pub mod sign;
pub mod store;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

pub use error::MarketError;
pub use index::{Index, IndexLine, Location, OpenOptions, SearchEntry};
pub use lockfile::{LOCKFILE, LockedPlugin, Lockfile};
pub use manifest::{PluginManifest, load_manifest, parse_manifest};
pub use store::{Installed, Receipt};

/// How to install.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// The index.
    pub index: Location,
    /// Root pinning and expiry.
    pub open: OpenOptions,
    /// Accept packages without a signature (marked unverified in the receipt).
    pub allow_unsigned: bool,
    /// Fail if the result would differ from `clnrm.lock`.
    pub locked: bool,
    /// Use only the store and the lockfile; no index is contacted.
    pub offline: bool,
    /// The project whose `clnrm.lock` is read and written.
    pub project: PathBuf,
    /// Take the newest versions of the requested plugins even if the lockfile pins older ones
    /// (`update`); never with `locked`.
    pub update: bool,
}

/// One plugin an install dealt with.
#[derive(Debug, Clone)]
pub struct InstallOutcome {
    /// Its index line.
    pub line: IndexLine,
    /// `false` when that exact version was already installed.
    pub written: bool,
    /// Whether its signature was verified.
    pub verified: bool,
}

/// What an install did.
#[derive(Debug, Clone, Default)]
pub struct InstallReport {
    /// Every plugin of the resolution (the asked ones and their dependencies).
    pub plugins: Vec<InstallOutcome>,
    /// Set when the index root was trusted on first use: its key ids.
    pub first_use: Option<Vec<String>>,
}

/// Parses `NAME[@REQ]` (`mariadb`, `mariadb@1.0.0`, `mariadb@^1`). A bare version means exactly it.
pub fn parse_request(text: &str) -> Result<(String, semver::VersionReq), MarketError> {
    let (name, req) = match text.split_once('@') {
        Some((n, r)) => (n, Some(r)),
        None => (text, None),
    };
    manifest::check_name(name).map_err(MarketError::Invalid)?;
    let req = match req {
        None => semver::VersionReq::STAR,
        Some(r) => {
            let r = if semver::Version::parse(r).is_ok() {
                format!("={r}")
            } else {
                r.to_owned()
            };
            semver::VersionReq::parse(&r).map_err(|e| {
                MarketError::Invalid(format!(
                    "`{text}`: not NAME@VERSION or NAME@REQUIREMENT: {e}"
                ))
            })?
        }
    };
    Ok((name.to_owned(), req))
}

/// Every version of every plugin reachable from `names` through dependencies.
pub async fn reachable(
    index: &Index,
    names: impl IntoIterator<Item = String>,
) -> Result<BTreeMap<String, Vec<IndexLine>>, MarketError> {
    let mut out = BTreeMap::new();
    let mut queue: Vec<String> = names.into_iter().collect();
    let mut seen = BTreeSet::new();
    while let Some(name) = queue.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let lines = index.versions(&name).await?;
        for l in &lines {
            if l.name != name {
                return Err(MarketError::Integrity {
                    what: index.location.describe(&index::index_path(&name)),
                    expected: format!("lines for `{name}`"),
                    got: format!("a line for `{}`", l.name),
                });
            }
            queue.extend(l.deps.iter().map(|d| d.name.clone()));
        }
        out.insert(name, lines);
    }
    Ok(out)
}

/// Resolves, downloads and verifies `requests` with their dependencies, then installs them and
/// updates `clnrm.lock`. Nothing is written to the store before every package verified.
pub async fn install(
    requests: &[(String, semver::VersionReq)],
    options: &InstallOptions,
) -> Result<InstallReport, crate::Error> {
    let lock_path = options.project.join(LOCKFILE);
    let lockfile = Lockfile::load(&lock_path)?.unwrap_or(Lockfile {
        version: 1,
        plugins: vec![],
    });
    if options.offline {
        return install_offline(requests, &lockfile, &lock_path);
    }
    let index = Index::open(options.index.clone(), &options.open).await?;
    let available = reachable(&index, requests.iter().map(|(n, _)| n.clone())).await?;
    for (name, _) in requests {
        if available.get(name).is_none_or(Vec::is_empty) {
            return Err(MarketError::Resolve(format!(
                "no plugin `{name}` in {}",
                index.location.id()
            ))
            .into());
        }
    }
    let locked: BTreeMap<String, semver::Version> = lockfile
        .plugins
        .iter()
        .filter(|p| !(options.update && requests.iter().any(|(n, _)| *n == p.name)))
        .filter_map(|p| Some((p.name.clone(), semver::Version::parse(&p.version).ok()?)))
        .collect();
    let chosen = resolve::resolve(requests, &available, &locked)?;
    for line in chosen.values() {
        if let Some(entry) = lockfile.get(&line.name) {
            if entry.version == line.vers && entry.cksum != line.cksum {
                return Err(MarketError::Lock {
                    path: lock_path.display().to_string(),
                    message: format!(
                        "{} {} is locked with {} but the index now says {}: the same version with other bytes; refusing (remove the entry to accept the new package)",
                        line.name, line.vers, entry.cksum, line.cksum
                    ),
                }
                .into());
            }
            if options.locked && entry.version != line.vers {
                return Err(MarketError::Lock {
                    path: lock_path.display().to_string(),
                    message: format!(
                        "--locked: {} would change from {} to {}",
                        line.name, entry.version, line.vers
                    ),
                }
                .into());
            }
        } else if options.locked {
            return Err(MarketError::Lock {
                path: lock_path.display().to_string(),
                message: format!(
                    "--locked: {} {} is not in the lockfile",
                    line.name, line.vers
                ),
            }
            .into());
        }
    }
    // Verify every package in memory first.
    let mut verified = Vec::new();
    for line in chosen.values() {
        let (bytes, signed) = index.fetch_package(line, options.allow_unsigned).await?;
        let what = index
            .location
            .describe(&index::package_path(&line.name, &line.vers));
        let files = package::read_package(&what, &bytes)?;
        let manifest = store::manifest_of(&what, &files)?;
        let image = manifest.service.image.get_ref();
        if manifest.name() != line.name
            || manifest.version().to_string() != line.vers
            || *image != line.image
            || *manifest.plugin.clnrm.get_ref() != line.clnrm
        {
            return Err(MarketError::Integrity {
                what,
                expected: format!(
                    "{} {} (image {}, clnrm {})",
                    line.name, line.vers, line.image, line.clnrm
                ),
                got: format!(
                    "{} {} (image {image}, clnrm {})",
                    manifest.name(),
                    manifest.version(),
                    manifest.plugin.clnrm.get_ref()
                ),
            }
            .into());
        }
        verified.push((line.clone(), files, signed));
    }
    let store_lock = store::lock()?;
    let mut report = InstallReport {
        plugins: Vec::new(),
        first_use: index.first_use.clone(),
    };
    // Re-read under the lock: another install may have updated the lockfile meanwhile.
    let mut lockfile = Lockfile::load(&lock_path)?.unwrap_or(Lockfile {
        version: 1,
        plugins: vec![],
    });
    for (line, files, signer) in verified {
        let signed = signer.is_some();
        let receipt = Receipt {
            name: line.name.clone(),
            version: line.vers.clone(),
            index: index.location.id(),
            cksum: line.cksum.clone(),
            publisher: signer,
            verified: signed,
            deps: line.deps.clone(),
            installed_unix: index::now_unix(),
        };
        let written = store::install_files(&store_lock, &files, &receipt)?;
        lockfile.upsert(LockedPlugin {
            name: line.name.clone(),
            version: line.vers.clone(),
            index: index.location.id(),
            cksum: line.cksum.clone(),
            deps: line.deps.iter().map(|d| d.name.clone()).collect(),
        });
        report.plugins.push(InstallOutcome {
            line,
            written,
            verified: signed,
        });
    }
    lockfile.save(&lock_path)?;
    drop(store_lock);
    Ok(report)
}

fn install_offline(
    requests: &[(String, semver::VersionReq)],
    lockfile: &Lockfile,
    lock_path: &std::path::Path,
) -> Result<InstallReport, crate::Error> {
    let installed = store::list_installed()?;
    let mut report = InstallReport::default();
    let mut queue: Vec<String> = requests.iter().map(|(n, _)| n.clone()).collect();
    let mut seen = BTreeSet::new();
    while let Some(name) = queue.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let entry = lockfile.get(&name).ok_or_else(|| MarketError::Lock {
            path: lock_path.display().to_string(),
            message: format!("--offline: {name} is not in the lockfile"),
        })?;
        let have = installed
            .iter()
            .find(|i| i.receipt.name == name && i.receipt.version == entry.version)
            .ok_or_else(|| {
                MarketError::Store(format!(
                    "--offline: {name} {} is locked but not installed in {}",
                    entry.version,
                    store::plugins_dir().display()
                ))
            })?;
        if have.receipt.cksum != entry.cksum {
            return Err(MarketError::Lock {
                path: lock_path.display().to_string(),
                message: format!(
                    "{name} {}: installed {} but locked {}",
                    entry.version, have.receipt.cksum, entry.cksum
                ),
            }
            .into());
        }
        queue.extend(entry.deps.iter().cloned());
        report.plugins.push(InstallOutcome {
            line: IndexLine {
                v: 1,
                name: name.clone(),
                vers: entry.version.clone(),
                cksum: entry.cksum.clone(),
                len: 0,
                publisher: have.receipt.publisher.clone().unwrap_or_default(),
                clnrm: String::new(),
                image: String::new(),
                deps: have.receipt.deps.clone(),
                description: String::new(),
                categories: vec![],
                tags: vec![],
                yanked: false,
            },
            written: false,
            verified: have.receipt.verified,
        });
    }
    Ok(report)
}

/// How `search` sorts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SearchSort {
    /// By name.
    #[default]
    Name,
    /// Best rated first (unrated last), then by name.
    Rating,
}

/// Filters `entries`: `query` in the name or description (case-insensitive), and the category
/// and tag when given.
pub fn search<'a>(
    entries: &'a [SearchEntry],
    query: &str,
    category: Option<&str>,
    tag: Option<&str>,
    sort: SearchSort,
) -> Vec<&'a SearchEntry> {
    let q = query.to_lowercase();
    let mut out: Vec<&SearchEntry> = entries
        .iter()
        .filter(|e| {
            q.is_empty()
                || e.name.to_lowercase().contains(&q)
                || e.description.to_lowercase().contains(&q)
        })
        .filter(|e| category.is_none_or(|c| e.categories.iter().any(|x| x == c)))
        .filter(|e| tag.is_none_or(|t| e.tags.iter().any(|x| x == t)))
        .collect();
    match sort {
        SearchSort::Name => out.sort_by(|a, b| a.name.cmp(&b.name)),
        SearchSort::Rating => out.sort_by(|a, b| {
            b.rating
                .unwrap_or(-1.0)
                .total_cmp(&a.rating.unwrap_or(-1.0))
                .then_with(|| a.name.cmp(&b.name))
        }),
    }
    out
}
