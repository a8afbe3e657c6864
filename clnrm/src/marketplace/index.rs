//! Index formats and the verified index client.
//!
//! An index is static files under a folder or an HTTP(S) base URL:
//!
//! ```text
//! root/<N>.json (+ .minisig, and .prev.minisig for N > 1)   index keys, publishers -> names
//! snapshot.json (+ .minisig)   serial (only goes up), expiry, sha256+len of every file below
//! index/<name>.jsonl           one JSON line per version
//! search.json                  name, description, tags, categories, latest, rating per plugin
//! reviews/<name>.jsonl         signed review lines
//! packages/<name>/<name>-<version>.tgz (+ .minisig)
//! ```
//!
//! Root N+1 must be signed by a key of root N and by one of its own (rotation); the snapshot by
//! a key of the current root; each package by a publisher key root allows for its name.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::package::{MAX_PACKAGE_BYTES, sha256_hex};
use super::sign::{Signature, key_id, parse_public_key};
use super::{MarketError, store};

/// Largest metadata file (root, snapshot, signature) accepted.
pub const MAX_META_BYTES: u64 = 1 << 20;
/// Largest snapshot accepted: it lists every index file (about 110 bytes per plugin).
pub const MAX_SNAPSHOT_BYTES: u64 = 32 << 20;
/// Largest index or search file accepted (the snapshot gives the exact length).
pub const MAX_INDEX_BYTES: u64 = 64 << 20;

/// `root/<N>.json`: who may sign what.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Root {
    /// Goes up by one per rotation.
    pub version: u64,
    /// Index keys (base64): any one signs the snapshot and the next root.
    pub keys: Vec<String>,
    /// Publisher key (base64) -> plugin names it may sign (`*` for any).
    pub publishers: BTreeMap<String, Vec<String>>,
}

impl Root {
    fn allows(&self, publisher: &str, name: &str) -> bool {
        self.publishers
            .get(publisher)
            .is_some_and(|names| names.iter().any(|n| n == "*" || n == name))
    }
}

/// `snapshot.json`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// Only goes up.
    pub serial: u64,
    /// Unix seconds after which the snapshot is refused.
    pub expires_unix: u64,
    /// The root version whose keys signed it.
    pub root_version: u64,
    /// Every other file of the index (except packages, which index lines pin).
    pub files: BTreeMap<String, FileMeta>,
}

/// Hash and length of a file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileMeta {
    /// Lowercase hex SHA-256.
    pub sha256: String,
    /// Bytes.
    pub len: u64,
}

/// One version of one plugin: a line of `index/<name>.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IndexLine {
    /// Format version of the line (1); lines of other versions are skipped.
    pub v: u32,
    /// Plugin name.
    pub name: String,
    /// Version.
    pub vers: String,
    /// `sha256:<hex>` of the package.
    pub cksum: String,
    /// Package length in bytes.
    pub len: u64,
    /// Publisher key (base64).
    pub publisher: String,
    /// The clnrm versions it supports.
    pub clnrm: String,
    /// Image.
    pub image: String,
    /// Dependencies.
    #[serde(default)]
    pub deps: Vec<Dep>,
    /// One line.
    #[serde(default)]
    pub description: String,
    /// Categories.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Never chosen by a new resolution.
    #[serde(default)]
    pub yanked: bool,
}

impl IndexLine {
    /// The parsed version, if valid.
    pub fn version(&self) -> Option<semver::Version> {
        semver::Version::parse(&self.vers).ok()
    }
}

/// A dependency in an index line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Dep {
    /// Plugin name.
    pub name: String,
    /// Semver requirement.
    pub req: String,
}

/// A `search.json` entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SearchEntry {
    /// Name.
    pub name: String,
    /// Latest version.
    pub latest: String,
    /// One line.
    pub description: String,
    /// Categories.
    pub categories: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Average rating of active reviews (1-5), if any.
    pub rating: Option<f64>,
    /// Number of active reviews (one per key).
    pub reviews: u32,
}

/// The path of a plugin's index file.
pub fn index_path(name: &str) -> String {
    format!("index/{name}.jsonl")
}

/// The path of a package.
pub fn package_path(name: &str, version: &str) -> String {
    format!("packages/{name}/{name}-{version}.tgz")
}

/// The trusted comment of a package signature.
pub fn package_comment(name: &str, version: &str, sha256: &str) -> String {
    format!("clnrm-plugin {name} {version} sha256={sha256}")
}

/// Now, in Unix seconds.
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Where an index lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A folder.
    Dir(PathBuf),
    /// An `http://` or `https://` base URL (no trailing slash).
    Http(String),
}

impl Location {
    /// `http(s)://...` is a URL, anything else a folder.
    pub fn parse(text: &str) -> Location {
        if text.starts_with("http://") || text.starts_with("https://") {
            Location::Http(text.trim_end_matches('/').to_owned())
        } else {
            let path = PathBuf::from(text.strip_prefix("file://").unwrap_or(text));
            Location::Dir(std::path::absolute(&path).unwrap_or(path))
        }
    }

    /// The URL or path of `rel`.
    pub fn describe(&self, rel: &str) -> String {
        match self {
            Location::Dir(dir) => dir.join(rel).display().to_string(),
            Location::Http(base) => format!("{base}/{rel}"),
        }
    }

    /// A stable string for this index (state files, receipts, lockfiles).
    pub fn id(&self) -> String {
        match self {
            Location::Dir(dir) => dir.display().to_string(),
            Location::Http(base) => base.clone(),
        }
    }

    /// Fetches `rel`, refusing more than `limit` bytes. `Ok(None)` when it does not exist
    /// (a 404, a missing file): callers decide whether that is an error.
    pub async fn fetch_opt(&self, rel: &str, limit: u64) -> Result<Option<Vec<u8>>, MarketError> {
        let what = self.describe(rel);
        match self {
            Location::Dir(dir) => {
                let path = dir.join(rel);
                let meta = match std::fs::metadata(&path) {
                    Ok(m) => m,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => {
                        return Err(MarketError::Transport {
                            url: what,
                            message: e.to_string(),
                        });
                    }
                };
                if meta.len() > limit {
                    return Err(MarketError::TooLarge { what, limit });
                }
                std::fs::read(&path)
                    .map(Some)
                    .map_err(|e| MarketError::Transport {
                        url: what,
                        message: e.to_string(),
                    })
            }
            Location::Http(_) => {
                let transport = |message: String| MarketError::Transport {
                    url: what.clone(),
                    message,
                };
                let mut response = http_client()
                    .get(&what)
                    .send()
                    .await
                    .map_err(|e| transport(e.to_string()))?;
                let status = response.status();
                if status == reqwest::StatusCode::NOT_FOUND {
                    return Ok(None);
                }
                if !status.is_success() {
                    return Err(transport(format!("HTTP {status}")));
                }
                if response.content_length().is_some_and(|n| n > limit) {
                    return Err(MarketError::TooLarge { what, limit });
                }
                let mut body = Vec::new();
                while let Some(chunk) = response
                    .chunk()
                    .await
                    .map_err(|e| transport(e.to_string()))?
                {
                    if body.len() as u64 + chunk.len() as u64 > limit {
                        return Err(MarketError::TooLarge { what, limit });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(Some(body))
            }
        }
    }

    /// Fetches `rel`; a missing file is a download error (a 404 is never called tampering).
    pub async fn fetch(&self, rel: &str, limit: u64) -> Result<Vec<u8>, MarketError> {
        self.fetch_opt(rel, limit)
            .await?
            .ok_or_else(|| MarketError::Transport {
                url: self.describe(rel),
                message: match self {
                    Location::Http(_) => "HTTP 404 Not Found".to_owned(),
                    Location::Dir(_) => "no such file".to_owned(),
                },
            })
    }
}

fn http_client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .connect_timeout(std::time::Duration::from_secs(10))
                .timeout(std::time::Duration::from_secs(60))
                .build()
                .unwrap_or_default()
        })
        .clone()
}

/// What this machine last trusted about an index (`$CLNRM_HOME/indexes/<id>.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct IndexState {
    location: String,
    root: Root,
    serial: u64,
    snapshot_sha256: String,
}

/// How to open an index.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// The root key to pin on first use (base64 or `.pub` text); without one the first root is
    /// trusted on first use and its key printed.
    pub root_key: Option<String>,
    /// Accept an expired snapshot (with a warning).
    pub allow_expired: bool,
}

/// A verified view of an index: its root and snapshot checked, ready to serve files that match.
#[derive(Debug)]
pub struct Index {
    /// Where it is.
    pub location: Location,
    /// The trusted root.
    pub root: Root,
    /// The verified snapshot.
    pub snapshot: Snapshot,
    /// Set when the root was trusted on first use: its key ids, for a notice.
    pub first_use: Option<Vec<String>>,
}

fn verify_root_sig(
    location: &Location,
    rel: &str,
    bytes: &[u8],
    sig: &[u8],
    keys: &[String],
) -> Result<(), MarketError> {
    let what = location.describe(rel);
    let sig = Signature::parse(&what, sig)?;
    for key in keys {
        let pk = parse_public_key(key)?;
        if key_id(&pk) == sig.key_id() {
            return sig.verify(&what, &pk, bytes, None);
        }
    }
    Err(MarketError::Signature {
        what,
        reason: format!(
            "signed by key {}, which is not a key of the trusted root; the index was re-keyed without a signed rotation, or forged",
            sig.key_id()
        ),
    })
}

async fn fetch_sig(location: &Location, rel: &str) -> Result<Vec<u8>, MarketError> {
    location
        .fetch_opt(rel, MAX_META_BYTES)
        .await?
        .ok_or_else(|| MarketError::Signature {
            what: location.describe(rel),
            reason: "missing signature file".to_owned(),
        })
}

fn state_path(location: &Location) -> PathBuf {
    let id = &sha256_hex(location.id().as_bytes())[..16];
    store::home().join("indexes").join(format!("{id}.json"))
}

impl Index {
    /// Opens `location`: walks the root chain from the last trusted root (or root 1 on first
    /// use), verifies the snapshot's signature, serial and expiry, and records the new state.
    pub async fn open(location: Location, options: &OpenOptions) -> Result<Index, crate::Error> {
        let state_file = state_path(&location);
        let state: Option<IndexState> = std::fs::read(&state_file)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let mut first_use = None;
        let mut root = match &state {
            Some(s) => s.root.clone(),
            None => {
                let bytes = location.fetch("root/1.json", MAX_META_BYTES).await?;
                let root: Root = parse_json(&location.describe("root/1.json"), &bytes)?;
                let sig = fetch_sig(&location, "root/1.json.minisig").await?;
                let keys = match &options.root_key {
                    Some(pinned) => {
                        let pk = parse_public_key(pinned)?;
                        if !root.keys.contains(&pk.to_base64()) {
                            return Err(MarketError::Signature {
                                what: location.describe("root/1.json"),
                                reason: format!(
                                    "the pinned root key {} is not a key of this index",
                                    key_id(&pk)
                                ),
                            }
                            .into());
                        }
                        vec![pk.to_base64()]
                    }
                    None => {
                        let ids = root
                            .keys
                            .iter()
                            .filter_map(|k| parse_public_key(k).ok())
                            .map(|pk| key_id(&pk))
                            .collect();
                        first_use = Some(ids);
                        root.keys.clone()
                    }
                };
                verify_root_sig(&location, "root/1.json", &bytes, &sig, &keys)?;
                if root.version != 1 {
                    return Err(MarketError::Signature {
                        what: location.describe("root/1.json"),
                        reason: format!("says version {}, expected 1", root.version),
                    }
                    .into());
                }
                root
            }
        };
        let snap_bytes = location.fetch("snapshot.json", MAX_SNAPSHOT_BYTES).await?;
        let snapshot: Snapshot = parse_json(&location.describe("snapshot.json"), &snap_bytes)?;
        // Walk the rotations up to the root the snapshot names.
        while root.version < snapshot.root_version {
            let next = root.version + 1;
            let rel = format!("root/{next}.json");
            let bytes = location.fetch(&rel, MAX_META_BYTES).await?;
            let candidate: Root = parse_json(&location.describe(&rel), &bytes)?;
            if candidate.version != next {
                return Err(MarketError::Signature {
                    what: location.describe(&rel),
                    reason: format!("says version {}, expected {next}", candidate.version),
                }
                .into());
            }
            let prev_sig = fetch_sig(&location, &format!("{rel}.prev.minisig")).await?;
            verify_root_sig(&location, &rel, &bytes, &prev_sig, &root.keys)?;
            let own_sig = fetch_sig(&location, &format!("{rel}.minisig")).await?;
            verify_root_sig(&location, &rel, &bytes, &own_sig, &candidate.keys)?;
            root = candidate;
        }
        let snap_url = location.describe("snapshot.json");
        if snapshot.root_version != root.version {
            return Err(MarketError::Rollback {
                url: snap_url,
                seen: root.version,
                got: snapshot.root_version,
            }
            .into());
        }
        let sig = fetch_sig(&location, "snapshot.json.minisig").await?;
        verify_root_sig(&location, "snapshot.json", &snap_bytes, &sig, &root.keys)?;
        let sha = sha256_hex(&snap_bytes);
        if let Some(s) = &state {
            if snapshot.serial < s.serial {
                return Err(MarketError::Rollback {
                    url: snap_url,
                    seen: s.serial,
                    got: snapshot.serial,
                }
                .into());
            }
            if snapshot.serial == s.serial && sha != s.snapshot_sha256 {
                return Err(MarketError::Integrity {
                    what: snap_url,
                    expected: format!("the bytes seen before for serial {}", s.serial),
                    got: "different bytes under the same serial".to_owned(),
                }
                .into());
            }
        }
        if snapshot.expires_unix <= now_unix() {
            if !options.allow_expired {
                return Err(MarketError::Expired {
                    url: snap_url,
                    expires: format!("unix time {}", snapshot.expires_unix),
                }
                .into());
            }
            eprintln!(
                "warning: {snap_url} expired at unix time {}; used anyway (--allow-expired)",
                snapshot.expires_unix
            );
        }
        let new_state = IndexState {
            location: location.id(),
            root: root.clone(),
            serial: snapshot.serial,
            snapshot_sha256: sha,
        };
        store::write_atomic(
            &state_file,
            &serde_json::to_vec_pretty(&new_state).expect("serializable"),
        )?;
        Ok(Index {
            location,
            root,
            snapshot,
            first_use,
        })
    }

    /// Fetches a file the snapshot lists and checks it against the snapshot. `Ok(None)` when the
    /// snapshot does not list it.
    pub async fn file_opt(&self, rel: &str) -> Result<Option<Vec<u8>>, MarketError> {
        let Some(meta) = self.snapshot.files.get(rel) else {
            return Ok(None);
        };
        let url = self.location.describe(rel);
        let bytes = self
            .location
            .fetch(rel, meta.len.min(MAX_INDEX_BYTES))
            .await
            .map_err(|e| match e {
                MarketError::TooLarge { .. } => MarketError::MixAndMatch {
                    url: url.clone(),
                    reason: format!("longer than the {} bytes the snapshot says", meta.len),
                },
                other => other,
            })?;
        let got = sha256_hex(&bytes);
        if bytes.len() as u64 != meta.len || got != meta.sha256 {
            return Err(MarketError::MixAndMatch {
                url,
                reason: format!("snapshot says sha256 {}, the file has {got}", meta.sha256),
            });
        }
        Ok(Some(bytes))
    }

    /// The versions of `name`, oldest first (empty when the index has no such plugin).
    pub async fn versions(&self, name: &str) -> Result<Vec<IndexLine>, MarketError> {
        let rel = index_path(name);
        let Some(bytes) = self.file_opt(&rel).await? else {
            return Ok(Vec::new());
        };
        parse_lines(&self.location.describe(&rel), &bytes)
    }

    /// `search.json` (empty when the index has none).
    pub async fn search_entries(&self) -> Result<Vec<SearchEntry>, MarketError> {
        match self.file_opt("search.json").await? {
            Some(bytes) => parse_json(&self.location.describe("search.json"), &bytes),
            None => Ok(Vec::new()),
        }
    }

    /// Downloads and verifies a package: length and SHA-256 against the (verified) index line,
    /// then its signature by a publisher the root allows for this name. Returns the bytes and
    /// the signer's key (base64), `None` when unsigned and allowed. Nothing is written.
    pub async fn fetch_package(
        &self,
        line: &IndexLine,
        allow_unsigned: bool,
    ) -> Result<(Vec<u8>, Option<String>), MarketError> {
        let rel = package_path(&line.name, &line.vers);
        let what = self.location.describe(&rel);
        let bytes = self
            .location
            .fetch(&rel, line.len.min(MAX_PACKAGE_BYTES))
            .await?;
        let got = format!("sha256:{}", sha256_hex(&bytes));
        if bytes.len() as u64 != line.len || got != line.cksum {
            return Err(MarketError::Integrity {
                what,
                expected: format!("{} ({} bytes)", line.cksum, line.len),
                got: format!("{got} ({} bytes)", bytes.len()),
            });
        }
        let Some(sig) = self
            .location
            .fetch_opt(&format!("{rel}.minisig"), MAX_META_BYTES)
            .await?
        else {
            if allow_unsigned {
                return Ok((bytes, None));
            }
            return Err(MarketError::Unsigned { what });
        };
        let sig = Signature::parse(&what, &sig)?;
        let signer = self
            .root
            .publishers
            .keys()
            .filter_map(|k| parse_public_key(k).ok())
            .find(|pk| key_id(pk) == sig.key_id());
        let Some(pk) = signer else {
            return Err(MarketError::Signature {
                what,
                reason: format!(
                    "signed by key {}, which is not a publisher of this index",
                    sig.key_id()
                ),
            });
        };
        if !self.root.allows(&pk.to_base64(), &line.name) {
            return Err(MarketError::Unauthorized {
                what,
                key: key_id(&pk),
                name: line.name.clone(),
            });
        }
        let comment = package_comment(&line.name, &line.vers, &sha256_hex(&bytes));
        sig.verify(&what, &pk, &bytes, Some(&comment))?;
        Ok((bytes, Some(pk.to_base64())))
    }
}

/// Parses a JSON document, naming `what` in the error.
pub fn parse_json<T: serde::de::DeserializeOwned>(
    what: &str,
    bytes: &[u8],
) -> Result<T, MarketError> {
    serde_json::from_slice(bytes)
        .map_err(|e| MarketError::Invalid(format!("{what}: not valid: {e}")))
}

/// Parses JSON lines; lines of another format version are skipped.
pub fn parse_lines(what: &str, bytes: &[u8]) -> Result<Vec<IndexLine>, MarketError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| MarketError::Invalid(format!("{what}: not UTF-8")))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| MarketError::Invalid(format!("{what}:{}: not JSON: {e}", n + 1)))?;
        if value.get("v").and_then(serde_json::Value::as_u64) != Some(1) {
            continue;
        }
        let parsed: IndexLine = serde_json::from_value(value)
            .map_err(|e| MarketError::Invalid(format!("{what}:{}: {e}", n + 1)))?;
        out.push(parsed);
    }
    Ok(out)
}

/// The location for an index given on the command line or in the environment.
pub fn location_from(arg: Option<&str>) -> Result<Location, MarketError> {
    arg.map(str::to_owned)
        .or_else(|| std::env::var("CLNRM_INDEX").ok())
        .map(|s| Location::parse(&s))
        .ok_or_else(|| {
            MarketError::Invalid(
                "no index given: pass --index PATH_OR_URL or set CLNRM_INDEX".to_owned(),
            )
        })
}
