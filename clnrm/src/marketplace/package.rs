//! Plugin packages: deterministic `.tar.gz` archives of a small allow-list of regular files,
//! read back by a strict loop that never calls `unpack` (no links, devices, `..` or absolute
//! paths; sizes capped before and after decompression).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use super::MarketError;

/// The files a package may hold. `plugin.toml` is required.
pub const ALLOWED_FILES: &[&str] = &["plugin.toml", "README.md", "LICENSE"];
/// The largest package download accepted.
pub const MAX_PACKAGE_BYTES: u64 = 1 << 20;
/// The largest file inside a package, after decompression.
pub const MAX_ENTRY_BYTES: u64 = 256 << 10;
/// The largest total of a package after decompression (a decompression bomb stops here).
pub const MAX_UNPACKED_BYTES: u64 = 1 << 20;

/// The files of a package, by name.
pub type PackageFiles = BTreeMap<String, Vec<u8>>;

/// SHA-256 as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        use std::fmt::Write;
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Reads the allowed files of a plugin folder (`plugin.toml`, `README.md`, `LICENSE`). A
/// native library or any other file is refused: a plugin is data, never code.
pub fn collect_dir(dir: &Path) -> Result<PackageFiles, crate::Error> {
    let mut files = PackageFiles::new();
    let entries = std::fs::read_dir(dir).map_err(|source| crate::Error::Io {
        action: "failed to read plugin folder",
        path: dir.to_owned(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| crate::Error::Io {
            action: "failed to read plugin folder",
            path: dir.to_owned(),
            source,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        check_entry_name(&dir.display().to_string(), &name)?;
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).map_err(|source| crate::Error::Io {
            action: "failed to read",
            path: path.clone(),
            source,
        })?;
        if !meta.file_type().is_file() {
            return Err(MarketError::Archive {
                what: path.display().to_string(),
                reason: "not a regular file (links and folders are not packed)".to_owned(),
            }
            .into());
        }
        let bytes = std::fs::read(&path).map_err(|source| crate::Error::Io {
            action: "failed to read",
            path: path.clone(),
            source,
        })?;
        files.insert(name, bytes);
    }
    if !files.contains_key("plugin.toml") {
        return Err(MarketError::Invalid(format!(
            "{}: no plugin.toml; a plugin folder holds plugin.toml and optionally README.md and LICENSE",
            dir.display()
        ))
        .into());
    }
    Ok(files)
}

fn check_entry_name(what: &str, name: &str) -> Result<(), MarketError> {
    if ALLOWED_FILES.contains(&name) {
        return Ok(());
    }
    let native = [".so", ".dylib", ".dll"]
        .iter()
        .any(|ext| name.ends_with(ext) || name.contains(&format!("{ext}.")));
    let reason = if native {
        format!(
            "`{name}` is a native library; native plugins are not supported (no stable ABI, and they would run arbitrary code at install): a plugin is a declarative plugin.toml"
        )
    } else {
        format!(
            "unexpected entry `{name}`; a package holds only {}",
            ALLOWED_FILES.join(", ")
        )
    };
    Err(MarketError::Archive {
        what: what.to_owned(),
        reason,
    })
}

/// Packs `files` deterministically: sorted names, mode 0644, uid/gid 0, mtime 0, no owner names,
/// gzip at level 9 with no timestamp. The same files give the same bytes.
pub fn pack(files: &PackageFiles) -> Vec<u8> {
    let gz = GzEncoder::new(Vec::new(), Compression::best());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    for (name, bytes) in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, name, bytes.as_slice())
            .expect("writing to memory does not fail");
    }
    let gz = tar.into_inner().expect("writing to memory does not fail");
    gz.finish().expect("writing to memory does not fail")
}

/// Reads a package strictly: only regular files from the allow-list, at the top level, each at
/// most [`MAX_ENTRY_BYTES`], all together at most [`MAX_UNPACKED_BYTES`]. Nothing touches disk.
pub fn read_package(what: &str, bytes: &[u8]) -> Result<PackageFiles, MarketError> {
    let bad = |reason: String| MarketError::Archive {
        what: what.to_owned(),
        reason,
    };
    if bytes.len() as u64 > MAX_PACKAGE_BYTES {
        return Err(MarketError::TooLarge {
            what: what.to_owned(),
            limit: MAX_PACKAGE_BYTES,
        });
    }
    // The decoder is capped one byte past the limit, so a bomb is detected, never inflated.
    let decoder = GzDecoder::new(bytes).take(MAX_UNPACKED_BYTES + 1024 * 10);
    let mut archive = tar::Archive::new(decoder);
    let mut files = PackageFiles::new();
    let mut total = 0u64;
    let entries = archive
        .entries()
        .map_err(|e| bad(format!("not a tar.gz archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| {
            if total >= MAX_UNPACKED_BYTES {
                MarketError::TooLarge {
                    what: what.to_owned(),
                    limit: MAX_UNPACKED_BYTES,
                }
            } else {
                bad(format!("unreadable archive: {e}"))
            }
        })?;
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8(raw).map_err(|_| bad("an entry name is not UTF-8".into()))?;
        let kind = entry.header().entry_type();
        if name.starts_with('/') {
            return Err(bad(format!("entry `{name}` has an absolute path")));
        }
        if name.split('/').any(|part| part == "..") {
            return Err(bad(format!("entry `{name}` climbs out with `..`")));
        }
        if kind.is_symlink() || kind.is_hard_link() {
            return Err(bad(format!("entry `{name}` is a link; links are refused")));
        }
        if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
            return Err(bad(format!("entry `{name}` is a device or fifo; refused")));
        }
        if !kind.is_file() {
            return Err(bad(format!(
                "entry `{name}` is not a regular file; a package holds only files"
            )));
        }
        check_entry_name(what, &name)?;
        if files.contains_key(&name) {
            return Err(bad(format!("entry `{name}` appears twice")));
        }
        let size = entry.header().size().unwrap_or(u64::MAX);
        if size > MAX_ENTRY_BYTES || total + size > MAX_UNPACKED_BYTES {
            return Err(MarketError::TooLarge {
                what: format!("{what}: entry `{name}`"),
                limit: MAX_ENTRY_BYTES.min(MAX_UNPACKED_BYTES - total),
            });
        }
        let mut data = Vec::with_capacity(size as usize);
        (&mut entry)
            .take(MAX_ENTRY_BYTES + 1)
            .read_to_end(&mut data)
            .map_err(|e| bad(format!("entry `{name}` is unreadable: {e}")))?;
        if data.len() as u64 != size {
            return Err(bad(format!("entry `{name}` is truncated")));
        }
        total += size;
        files.insert(name, data);
    }
    if !files.contains_key("plugin.toml") {
        return Err(bad("no plugin.toml in the package".to_owned()));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> PackageFiles {
        PackageFiles::from([
            ("plugin.toml".to_owned(), b"schema = 1\n".to_vec()),
            ("README.md".to_owned(), b"# x\n".to_vec()),
        ])
    }

    #[test]
    fn packing_is_deterministic_and_reads_back() {
        let a = pack(&files());
        let b = pack(&files());
        assert_eq!(a, b);
        assert_eq!(read_package("p.tgz", &a).unwrap(), files());
    }

    /// A raw archive with one entry of `kind` named `name`.
    fn raw(name: &str, kind: tar::EntryType, body: &[u8]) -> Vec<u8> {
        let mut tar = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        // Bypass the builder's path checks to write what an attacker would.
        let bytes = name.as_bytes();
        h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
        if kind.is_symlink() {
            h.set_link_name("/etc/passwd").unwrap();
        }
        h.set_cksum();
        tar.append(&h, body).unwrap();
        tar.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn hostile_entries_are_refused() {
        let cases = [
            ("../plugin.toml", tar::EntryType::Regular, "climbs out"),
            ("/plugin.toml", tar::EntryType::Regular, "absolute path"),
            ("plugin.toml", tar::EntryType::Symlink, "is a link"),
            ("plugin.toml", tar::EntryType::Char, "device"),
            (
                "lib.so",
                tar::EntryType::Regular,
                "native plugins are not supported",
            ),
            ("run.sh", tar::EntryType::Regular, "unexpected entry"),
        ];
        for (name, kind, expected) in cases {
            let err = read_package("p.tgz", &raw(name, kind, b"x")).unwrap_err();
            assert!(err.to_string().contains(expected), "{name}: {err}");
        }
    }

    #[test]
    fn a_decompression_bomb_is_refused_without_inflating_it() {
        let zeros = vec![0u8; 8 << 20];
        let bomb = raw("plugin.toml", tar::EntryType::Regular, &zeros);
        assert!(bomb.len() < 64 << 10, "{}", bomb.len());
        let err = read_package("bomb.tgz", &bomb).unwrap_err();
        assert!(matches!(err, MarketError::TooLarge { .. }), "{err}");
    }
}
