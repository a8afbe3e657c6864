//! Writing a folder index: create it, allow publishers, rotate the root key, publish packages,
//! add reviews. Every change re-signs the snapshot with a higher serial.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::index::{
    Dep, FileMeta, IndexLine, Root, SearchEntry, Snapshot, index_path, now_unix, package_comment,
    package_path, parse_json, parse_lines,
};
use super::package::{collect_dir, pack, sha256_hex};
use super::sign::{Signature, SigningKey, parse_public_key};
use super::store::write_atomic;
use super::{MarketError, manifest::ManifestSummary, store};

/// How long a snapshot stays valid by default.
pub const DEFAULT_EXPIRY_DAYS: u64 = 30;

fn read(path: &Path) -> Result<Vec<u8>, crate::Error> {
    std::fs::read(path).map_err(|source| crate::Error::Io {
        action: "failed to read",
        path: path.to_owned(),
        source,
    })
}

fn current_root(dir: &Path) -> Result<Root, crate::Error> {
    let snap: Snapshot = parse_json("snapshot.json", &read(&dir.join("snapshot.json"))?)?;
    let rel = format!("root/{}.json", snap.root_version);
    Ok(parse_json(&rel, &read(&dir.join(&rel))?)?)
}

/// Creates an index in `dir` whose root key is `root_key`.
pub fn init_index(dir: &Path, root_key: &SigningKey, expiry_days: u64) -> Result<(), crate::Error> {
    if dir.join("root/1.json").exists() {
        return Err(
            MarketError::Invalid(format!("{} already holds an index", dir.display())).into(),
        );
    }
    let root = Root {
        version: 1,
        keys: vec![root_key.public_base64()],
        publishers: BTreeMap::new(),
    };
    write_root(dir, &root, root_key, None)?;
    resign_snapshot(dir, root_key, 1, expiry_days, Some(0))
}

fn write_root(
    dir: &Path,
    root: &Root,
    own: &SigningKey,
    prev: Option<&SigningKey>,
) -> Result<(), crate::Error> {
    let rel = format!("root/{}.json", root.version);
    let bytes = serde_json::to_vec_pretty(root).expect("serializable");
    let comment = format!("clnrm-root {}", root.version);
    write_atomic(&dir.join(&rel), &bytes)?;
    write_atomic(
        &dir.join(format!("{rel}.minisig")),
        own.sign(&bytes, &comment).as_bytes(),
    )?;
    if let Some(prev) = prev {
        write_atomic(
            &dir.join(format!("{rel}.prev.minisig")),
            prev.sign(&bytes, &comment).as_bytes(),
        )?;
    }
    Ok(())
}

/// A new root version with `change` applied, signed by `old` (a key of the current root) and by
/// `new` (a key of the new one); then a snapshot signed by `new`.
fn bump_root(
    dir: &Path,
    old: &SigningKey,
    new: &SigningKey,
    expiry_days: u64,
    change: impl FnOnce(&mut Root),
) -> Result<u64, crate::Error> {
    let mut root = current_root(dir)?;
    if !root.keys.contains(&old.public_base64()) {
        return Err(MarketError::Invalid(
            "the index key given is not a key of the index's current root".to_owned(),
        )
        .into());
    }
    change(&mut root);
    root.version += 1;
    write_root(dir, &root, new, Some(old))?;
    resign_snapshot(dir, new, root.version, expiry_days, None)?;
    Ok(root.version)
}

/// Lets `publisher` (a public key) sign `names` (`*` for any).
pub fn allow_publisher(
    dir: &Path,
    index_key: &SigningKey,
    publisher: &str,
    names: &[String],
    expiry_days: u64,
) -> Result<u64, crate::Error> {
    let pk = parse_public_key(publisher)?.to_base64();
    bump_root(dir, index_key, index_key, expiry_days, |root| {
        let entry = root.publishers.entry(pk).or_default();
        for n in names {
            if !entry.contains(n) {
                entry.push(n.clone());
            }
        }
    })
}

/// Replaces the root key: the new root is signed by the old key and the new one.
pub fn rotate_root(
    dir: &Path,
    old: &SigningKey,
    new: &SigningKey,
    expiry_days: u64,
) -> Result<u64, crate::Error> {
    bump_root(dir, old, new, expiry_days, |root| {
        root.keys = vec![new.public_base64()];
    })
}

/// Rewrites `search.json` and `snapshot.json` (serial + 1, or `serial` when given) and signs it.
pub fn resign_snapshot(
    dir: &Path,
    index_key: &SigningKey,
    root_version: u64,
    expiry_days: u64,
    serial: Option<u64>,
) -> Result<(), crate::Error> {
    let old: Option<Snapshot> = std::fs::read(dir.join("snapshot.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    write_search(dir)?;
    let mut files = BTreeMap::new();
    for sub in ["index", "reviews"] {
        if let Ok(entries) = std::fs::read_dir(dir.join(sub)) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.ends_with(".jsonl") {
                    let rel = format!("{sub}/{name}");
                    let bytes = read(&e.path())?;
                    files.insert(
                        rel,
                        FileMeta {
                            sha256: sha256_hex(&bytes),
                            len: bytes.len() as u64,
                        },
                    );
                }
            }
        }
    }
    let search = read(&dir.join("search.json"))?;
    files.insert(
        "search.json".to_owned(),
        FileMeta {
            sha256: sha256_hex(&search),
            len: search.len() as u64,
        },
    );
    let snapshot = Snapshot {
        serial: serial.unwrap_or_else(|| old.map_or(0, |s| s.serial)) + 1,
        expires_unix: now_unix() + expiry_days * 86_400,
        root_version,
        files,
    };
    let bytes = serde_json::to_vec_pretty(&snapshot).expect("serializable");
    let sig = index_key.sign(&bytes, &format!("clnrm-snapshot {}", snapshot.serial));
    write_atomic(&dir.join("snapshot.json"), &bytes)?;
    write_atomic(&dir.join("snapshot.json.minisig"), sig.as_bytes())
}

/// What `publish` did.
#[derive(Debug, Clone)]
pub struct Published {
    /// The index line added.
    pub line: IndexLine,
    /// The new snapshot serial.
    pub serial: u64,
}

/// Validates the plugin in `plugin_dir`, packs it, signs it with `publisher`, appends its index
/// line and re-signs the snapshot with `index_key`. A version already published is refused
/// (versions are immutable).
pub fn publish(
    index_dir: &Path,
    plugin_dir: &Path,
    publisher: &SigningKey,
    index_key: &SigningKey,
    expiry_days: u64,
) -> Result<Published, crate::Error> {
    let files = collect_dir(plugin_dir)?;
    let manifest = store::manifest_of(&plugin_dir.display().to_string(), &files)?;
    let name = manifest.name().to_owned();
    let vers = manifest.version().to_string();
    let root = current_root(index_dir)?;
    let pk = publisher.public_base64();
    let allowed = root
        .publishers
        .get(&pk)
        .is_some_and(|n| n.iter().any(|n| n == "*" || *n == name));
    if !allowed {
        return Err(MarketError::Unauthorized {
            what: index_dir.join("root").display().to_string(),
            key: parse_public_key(&pk)
                .map(|k| super::sign::key_id(&k))
                .unwrap_or_default(),
            name,
        }
        .into());
    }
    let index_file = index_dir.join(index_path(&name));
    let mut lines = match std::fs::read(&index_file) {
        Ok(b) => parse_lines(&index_file.display().to_string(), &b)?,
        Err(_) => Vec::new(),
    };
    if lines.iter().any(|l| l.vers == vers) {
        return Err(MarketError::Invalid(format!(
            "{name} {vers} is already published in {}; versions are immutable: bump the version",
            index_dir.display()
        ))
        .into());
    }
    let package = pack(&files);
    let sha = sha256_hex(&package);
    let rel = package_path(&name, &vers);
    write_atomic(&index_dir.join(&rel), &package)?;
    write_atomic(
        &index_dir.join(format!("{rel}.minisig")),
        publisher
            .sign(&package, &package_comment(&name, &vers, &sha))
            .as_bytes(),
    )?;
    let line = IndexLine {
        v: 1,
        name: name.clone(),
        vers,
        cksum: format!("sha256:{sha}"),
        len: package.len() as u64,
        publisher: pk,
        clnrm: manifest.plugin.clnrm.get_ref().clone(),
        image: manifest.service.image.get_ref().clone(),
        deps: manifest
            .dependencies
            .iter()
            .map(|(n, r)| Dep {
                name: n.clone(),
                req: r.get_ref().clone(),
            })
            .collect(),
        description: manifest.plugin.description.clone(),
        categories: manifest.plugin.categories.clone(),
        tags: manifest.plugin.tags.clone(),
        yanked: false,
    };
    lines.push(line.clone());
    write_lines(&index_file, &lines)?;
    resign_snapshot(index_dir, index_key, root.version, expiry_days, None)?;
    let snap: Snapshot = parse_json("snapshot.json", &read(&index_dir.join("snapshot.json"))?)?;
    Ok(Published {
        line,
        serial: snap.serial,
    })
}

/// Marks `name` `version` yanked (or not): new resolutions skip it, lockfiles that pin it keep
/// working. The package stays.
pub fn yank(
    index_dir: &Path,
    index_key: &SigningKey,
    name: &str,
    version: &str,
    yanked: bool,
    expiry_days: u64,
) -> Result<(), crate::Error> {
    let index_file = index_dir.join(index_path(name));
    let mut lines = parse_lines(&index_file.display().to_string(), &read(&index_file)?)?;
    let line = lines
        .iter_mut()
        .find(|l| l.vers == version)
        .ok_or_else(|| {
            MarketError::Invalid(format!(
                "{name} {version} is not in {}",
                index_dir.display()
            ))
        })?;
    line.yanked = yanked;
    write_lines(&index_file, &lines)?;
    let root = current_root(index_dir)?;
    resign_snapshot(index_dir, index_key, root.version, expiry_days, None)
}

fn write_lines(path: &Path, lines: &[IndexLine]) -> Result<(), crate::Error> {
    let mut text = String::new();
    for l in lines {
        text.push_str(&serde_json::to_string(l).expect("serializable"));
        text.push('\n');
    }
    write_atomic(path, text.as_bytes())
}

/// The signed part of a review.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReviewBody {
    /// Plugin.
    pub plugin: String,
    /// Version reviewed.
    pub version: String,
    /// 1 to 5.
    pub rating: u8,
    /// Short text (at most 2048 characters).
    pub comment: String,
    /// Reviewer key (base64).
    pub key: String,
    /// Unix seconds.
    pub time: u64,
    /// `false` withdraws the key's earlier review.
    pub active: bool,
}

/// A review line: the body and its `.minisig`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReviewLine {
    /// What was signed.
    pub body: ReviewBody,
    /// minisign signature over the body's JSON.
    pub sig: String,
}

/// Appends a signed review (one active review per key and plugin: the latest line wins).
pub fn add_review(
    index_dir: &Path,
    index_key: &SigningKey,
    reviewer: &SigningKey,
    body: ReviewBody,
    expiry_days: u64,
) -> Result<(), crate::Error> {
    if !(1..=5).contains(&body.rating) {
        return Err(MarketError::Invalid("a rating is 1 to 5".to_owned()).into());
    }
    if body.comment.chars().count() > 2048 {
        return Err(
            MarketError::Invalid("a review comment is at most 2048 characters".to_owned()).into(),
        );
    }
    let lines = parse_lines(
        "index",
        &std::fs::read(index_dir.join(index_path(&body.plugin))).unwrap_or_default(),
    )?;
    if !lines.iter().any(|l| l.vers == body.version) {
        return Err(MarketError::Invalid(format!(
            "{} {} is not in the index",
            body.plugin, body.version
        ))
        .into());
    }
    let bytes = serde_json::to_vec(&body).expect("serializable");
    let line = ReviewLine {
        sig: reviewer.sign(&bytes, &format!("clnrm-review {}", body.plugin)),
        body,
    };
    let path = index_dir.join(format!("reviews/{}.jsonl", line.body.plugin));
    let mut text = String::from_utf8(std::fs::read(&path).unwrap_or_default()).unwrap_or_default();
    text.push_str(&serde_json::to_string(&line).expect("serializable"));
    text.push('\n');
    write_atomic(&path, text.as_bytes())?;
    let root = current_root(index_dir)?;
    resign_snapshot(index_dir, index_key, root.version, expiry_days, None)
}

/// The active reviews of a `reviews/<name>.jsonl` file: signatures checked (bad lines dropped),
/// the latest line per key kept, withdrawn ones removed.
pub fn active_reviews(bytes: &[u8]) -> Vec<ReviewBody> {
    let mut latest: BTreeMap<String, ReviewBody> = BTreeMap::new();
    for line in String::from_utf8_lossy(bytes).lines() {
        let Ok(review) = serde_json::from_str::<ReviewLine>(line) else {
            continue;
        };
        let Ok(pk) = parse_public_key(&review.body.key) else {
            continue;
        };
        let body = serde_json::to_vec(&review.body).expect("serializable");
        let ok = Signature::parse("review", review.sig.as_bytes()).is_ok_and(|s| {
            s.verify(
                "review",
                &pk,
                &body,
                Some(&format!("clnrm-review {}", review.body.plugin)),
            )
            .is_ok()
        });
        if ok {
            latest.insert(review.body.key.clone(), review.body);
        }
    }
    latest.into_values().filter(|r| r.active).collect()
}

fn write_search(dir: &Path) -> Result<(), crate::Error> {
    let mut entries = Vec::new();
    if let Ok(files) = std::fs::read_dir(dir.join("index")) {
        let mut files: Vec<_> = files.flatten().collect();
        files.sort_by_key(|e| e.file_name());
        for e in files {
            let lines = parse_lines(&e.path().display().to_string(), &read(&e.path())?)?;
            let Some(latest) = lines
                .iter()
                .filter(|l| !l.yanked)
                .max_by_key(|l| l.version())
            else {
                continue;
            };
            let summary = ManifestSummary {
                name: latest.name.clone(),
                version: latest.vers.clone(),
                description: latest.description.clone(),
                clnrm: latest.clnrm.clone(),
                image: latest.image.clone(),
                categories: latest.categories.clone(),
                tags: latest.tags.clone(),
            };
            let reviews = active_reviews(
                &std::fs::read(dir.join(format!("reviews/{}.jsonl", summary.name)))
                    .unwrap_or_default(),
            );
            let rating = (!reviews.is_empty()).then(|| {
                reviews.iter().map(|r| f64::from(r.rating)).sum::<f64>() / reviews.len() as f64
            });
            entries.push(SearchEntry {
                name: summary.name,
                latest: summary.version,
                description: summary.description,
                categories: summary.categories,
                tags: summary.tags,
                rating,
                reviews: reviews.len() as u32,
            });
        }
    }
    write_atomic(
        &dir.join("search.json"),
        &serde_json::to_vec(&entries).expect("serializable"),
    )
}
