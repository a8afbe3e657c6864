//! `clnrm marketplace` end to end, without Docker: folder indexes and an HTTP index served on
//! 127.0.0.1 by the test, keys generated per test, every attack refused with nothing written.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const CLNRM: &str = env!("CARGO_BIN_EXE_clnrm-under-test");

/// A scratch project with its own `CLNRM_HOME`, keys and folder index (`idx`).
pub(crate) struct Market {
    pub(crate) dir: PathBuf,
}

pub(crate) fn manifest(name: &str, version: &str, deps: &[(&str, &str)]) -> String {
    let mut text = format!(
        r#"schema = 1
[plugin]
name = "{name}"
version = "{version}"
description = "{name}, a test plugin"
clnrm = ">=0.1"
categories = ["cache"]
tags = ["test"]
[service]
image = "memcached:1.6"
ports = [11211]
cmd = ["memcached", "-u", "memcache", "-l", "0.0.0.0", "-p", "11211"]
[readiness]
port = 11211
[connection]
url = "memcache://{{host}}:{{port:11211}}"
"#
    );
    if !deps.is_empty() {
        text.push_str("[dependencies]\n");
        for (n, r) in deps {
            let _ = writeln!(text, "{n} = \"{r}\"");
        }
    }
    text
}

impl Market {
    /// Keys `root` and `pub`, an index `idx` whose root allows `pub` to sign any name.
    pub(crate) fn new(test: &str) -> Market {
        let dir = std::env::temp_dir().join(format!("clnrm-market-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("clnrm.toml"), "").unwrap();
        let m = Market { dir };
        m.ok(&["marketplace", "keys", "generate", "root"]);
        m.ok(&["marketplace", "keys", "generate", "pub"]);
        m.ok(&["marketplace", "index", "init", "idx", "--key", "root.key"]);
        m.ok(&[
            "marketplace",
            "index",
            "allow",
            "idx",
            "--key",
            "root.key",
            "--publisher",
            "pub.pub",
            "--names",
            "*",
        ]);
        m
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(CLNRM);
        cmd.args(args)
            .current_dir(&self.dir)
            .env("CLNRM_HOME", self.dir.join("home"))
            .env_remove("CLNRM_INDEX");
        cmd
    }

    pub(crate) fn run_env(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> (Option<i32>, String, String) {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run clnrm");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    pub(crate) fn run(&self, args: &[&str]) -> (Option<i32>, String, String) {
        self.run_env(args, &[])
    }

    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args);
        assert_eq!(code, Some(0), "{args:?}\nstdout: {out}\nstderr: {err}");
        out
    }

    /// Writes plugin folder `p/<name>-<version>` and publishes it.
    pub(crate) fn publish(&self, name: &str, version: &str, deps: &[(&str, &str)]) {
        let rel = format!("p/{name}-{version}");
        std::fs::create_dir_all(self.path(&rel)).unwrap();
        std::fs::write(
            self.path(&rel).join("plugin.toml"),
            manifest(name, version, deps),
        )
        .unwrap();
        std::fs::write(self.path(&rel).join("README.md"), format!("# {name}\n")).unwrap();
        self.ok(&[
            "marketplace",
            "publish",
            &rel,
            "--index",
            "idx",
            "--key",
            "pub.key",
            "--index-key",
            "root.key",
        ]);
    }

    /// The store folder of `name`/`version`.
    pub(crate) fn installed(&self, name: &str, version: &str) -> PathBuf {
        self.dir.join("home/plugins").join(name).join(version)
    }

    /// Expects `args` to fail with `code` and `needle` in stderr, and nothing in the store.
    fn refused(&self, args: &[&str], code: i32, needle: &str) -> String {
        let (got, out, err) = self.run(args);
        assert_eq!(got, Some(code), "{args:?}\nstdout: {out}\nstderr: {err}");
        assert!(err.contains(needle), "expected `{needle}` in:\n{err}");
        let plugins = self.dir.join("home/plugins");
        let names: Vec<String> = std::fs::read_dir(&plugins)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            names.is_empty(),
            "the store holds {names:?} after a refused install"
        );
        err
    }
}

impl Drop for Market {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A static file server on 127.0.0.1 for `root` (GET only; 404 for missing files), one thread.
pub(crate) fn serve(root: &Path) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let root = root.to_owned();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let root = root.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(&stream);
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    return;
                }
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                let path = request.split_whitespace().nth(1).unwrap_or("/");
                let file = root.join(path.trim_start_matches('/'));
                let mut stream = &stream;
                let ok = !path.contains("..");
                match std::fs::read(&file) {
                    Ok(body) if ok => {
                        let _ = write!(
                            stream,
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = stream.write_all(&body);
                    }
                    _ => {
                        let _ = stream.write_all(
                            b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nNot Found",
                        );
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

#[test]
fn publish_search_info_install_list_uninstall_on_a_folder_index() {
    let m = Market::new("folder");
    m.publish("cachy", "1.0.0", &[]);
    let out = m.ok(&["marketplace", "search", "cach", "--index", "idx"]);
    assert!(out.contains("cachy") && out.contains("1.0.0"), "{out}");
    let json = m.ok(&[
        "marketplace",
        "search",
        "--index",
        "idx",
        "--category",
        "cache",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v[0]["name"], "cachy");
    let out = m.ok(&["marketplace", "search", "--index", "idx", "--tag", "nope"]);
    assert!(!out.contains("cachy"), "{out}");
    let out = m.ok(&["marketplace", "info", "cachy", "--index", "idx"]);
    assert!(
        out.contains("signature: verified") && out.contains("# cachy"),
        "{out}"
    );
    let out = m.ok(&["marketplace", "install", "cachy", "--index", "idx"]);
    assert!(out.contains("installed cachy 1.0.0 (verified)"), "{out}");
    assert!(m.installed("cachy", "1.0.0").join("plugin.toml").is_file());
    let lock = std::fs::read_to_string(m.path("clnrm.lock")).unwrap();
    assert!(
        lock.contains("name = \"cachy\"") && lock.contains("sha256:"),
        "{lock}"
    );
    let out = m.ok(&["marketplace", "list"]);
    assert!(out.contains("cachy") && out.contains("signed"), "{out}");
    let out = m.ok(&["plugins"]);
    assert!(
        out.contains("cachy") && out.contains("installed from"),
        "{out}"
    );
    let out = m.ok(&["marketplace", "install", "cachy@1.0.0", "--index", "idx"]);
    assert!(out.contains("already installed"), "{out}");
    m.ok(&["marketplace", "uninstall", "cachy"]);
    assert!(!m.installed("cachy", "1.0.0").exists());
    let (code, _, err) = m.run(&["marketplace", "uninstall", "cachy"]);
    assert_eq!(code, Some(2), "{err}");
}

#[test]
fn dependencies_resolve_and_uninstall_refuses_while_a_dependent_is_installed() {
    let m = Market::new("deps");
    m.publish("base", "1.0.0", &[]);
    m.publish("base", "2.0.0", &[]);
    m.publish("app", "1.0.0", &[("base", "^1")]);
    let out = m.ok(&["marketplace", "install", "app", "--index", "idx"]);
    assert!(
        out.contains("installed base 1.0.0") && out.contains("installed app 1.0.0"),
        "{out}"
    );
    let (code, _, err) = m.run(&["marketplace", "uninstall", "base"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("app@1.0.0 depend(s) on it"), "{err}");
    m.ok(&["marketplace", "uninstall", "base", "--force"]);
    let out = m.ok(&["marketplace", "outdated", "--index", "idx"]);
    assert!(
        out.contains("every installed plugin is at its newest"),
        "{out}"
    );
    m.ok(&["marketplace", "install", "base@1.0.0", "--index", "idx"]);
    let out = m.ok(&["marketplace", "outdated", "--index", "idx"]);
    assert!(out.contains("base 1.0.0 -> 2.0.0"), "{out}");
    let (code, _, err) = m.run(&[
        "marketplace",
        "install",
        "base",
        "--locked",
        "--index",
        "idx",
    ]);
    assert_eq!(code, Some(0), "{err}"); // the lock prefers 1.0.0
    m.ok(&["marketplace", "update", "--index", "idx"]);
    assert!(m.installed("base", "2.0.0").is_dir());
}

#[test]
fn http_index_installs_and_a_404_is_a_download_error_not_tampering() {
    let m = Market::new("http");
    m.publish("cachy", "1.0.0", &[]);
    let url = serve(&m.path("idx"));
    let root_key = m.path("root.pub").display().to_string();
    let out = m.ok(&[
        "marketplace",
        "install",
        "cachy",
        "--index",
        &url,
        "--root-key",
        &root_key,
    ]);
    assert!(out.contains("installed cachy 1.0.0 (verified)"), "{out}");
    let lock = std::fs::read_to_string(m.path("clnrm.lock")).unwrap();
    assert!(lock.contains(&url), "{lock}");
    m.ok(&["marketplace", "uninstall", "cachy"]);
    std::fs::remove_file(m.path("idx/packages/cachy/cachy-1.0.0.tgz")).unwrap();
    let err = m.refused(
        &["marketplace", "install", "cachy", "--index", &url],
        3,
        "download error",
    );
    assert!(err.contains("404") && !err.contains("integrity"), "{err}");
}

#[test]
fn a_wrong_pinned_root_key_is_refused() {
    let m = Market::new("pin");
    m.publish("cachy", "1.0.0", &[]);
    m.refused(
        &[
            "marketplace",
            "install",
            "cachy",
            "--index",
            "idx",
            "--root-key",
            "pub.pub",
        ],
        2,
        "is not a key of this index",
    );
}

#[test]
fn a_tampered_package_is_refused_with_nothing_written() {
    let m = Market::new("tamper-pkg");
    m.publish("cachy", "1.0.0", &[]);
    let pkg = m.path("idx/packages/cachy/cachy-1.0.0.tgz");
    let mut bytes = std::fs::read(&pkg).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&pkg, bytes).unwrap();
    m.refused(
        &["marketplace", "install", "cachy", "--index", "idx"],
        2,
        "integrity error",
    );
}

#[test]
fn a_tampered_index_line_is_refused() {
    let m = Market::new("tamper-line");
    m.publish("cachy", "1.0.0", &[]);
    let file = m.path("idx/index/cachy.jsonl");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("memcached:1.6", "evil/memcached:1")).unwrap();
    m.refused(
        &["marketplace", "install", "cachy", "--index", "idx"],
        2,
        "does not match the signed snapshot",
    );
}

#[test]
fn bad_missing_and_unauthorized_signatures_are_refused() {
    let m = Market::new("sigs");
    m.publish("cachy", "1.0.0", &[]);
    m.ok(&["marketplace", "keys", "generate", "other"]);
    let rel = "idx/packages/cachy/cachy-1.0.0.tgz";
    let good_sig = std::fs::read(m.path(&format!("{rel}.minisig"))).unwrap();
    let bytes = std::fs::read(m.path(rel)).unwrap();
    // Signed by a key the index does not know.
    let other = clnrm::marketplace::sign::SigningKey::load(&m.path("other.key")).unwrap();
    let sha = clnrm::marketplace::package::sha256_hex(&bytes);
    let comment = clnrm::marketplace::index::package_comment("cachy", "1.0.0", &sha);
    std::fs::write(
        m.path(&format!("{rel}.minisig")),
        other.sign(&bytes, &comment),
    )
    .unwrap();
    m.refused(
        &["marketplace", "install", "cachy", "--index", "idx"],
        2,
        "not a publisher of this index",
    );
    // A publisher of the index, but only for another name.
    m.ok(&[
        "marketplace",
        "index",
        "allow",
        "idx",
        "--key",
        "root.key",
        "--publisher",
        "other.pub",
        "--names",
        "redis2",
    ]);
    m.refused(
        &["marketplace", "install", "cachy", "--index", "idx"],
        2,
        "is not allowed to sign plugin `cachy`",
    );
    // A good key, but a signature of other bytes.
    let pubkey = clnrm::marketplace::sign::SigningKey::load(&m.path("pub.key")).unwrap();
    std::fs::write(
        m.path(&format!("{rel}.minisig")),
        pubkey.sign(b"other bytes", &comment),
    )
    .unwrap();
    m.refused(
        &["marketplace", "install", "cachy", "--index", "idx"],
        2,
        "does not verify",
    );
    // No signature at all: refused unless --allow-unsigned, which marks it.
    std::fs::remove_file(m.path(&format!("{rel}.minisig"))).unwrap();
    m.refused(
        &["marketplace", "install", "cachy", "--index", "idx"],
        2,
        "is unsigned",
    );
    let (code, out, err) = m.run(&[
        "marketplace",
        "install",
        "cachy",
        "--index",
        "idx",
        "--allow-unsigned",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("UNVERIFIED") && err.contains("warning"),
        "{out}{err}"
    );
    let out = m.ok(&["marketplace", "list"]);
    assert!(out.contains("UNSIGNED"), "{out}");
    drop(good_sig);
}

#[test]
fn rollback_freeze_and_mix_and_match_are_refused() {
    let m = Market::new("tuf");
    m.publish("cachy", "1.0.0", &[]);
    let save = |rel: &str| std::fs::read(m.path(rel)).unwrap();
    let old_snap = save("idx/snapshot.json");
    let old_sig = save("idx/snapshot.json.minisig");
    let old_line = save("idx/index/cachy.jsonl");
    m.publish("cachy", "1.1.0", &[]);
    m.ok(&["marketplace", "search", "--index", "idx"]); // this machine has seen the newer serial
    // Mix-and-match: a new snapshot with an old index file.
    let new_line = save("idx/index/cachy.jsonl");
    std::fs::write(m.path("idx/index/cachy.jsonl"), &old_line).unwrap();
    m.refused(
        &["marketplace", "install", "cachy", "--index", "idx"],
        2,
        "mix-and-match refused",
    );
    std::fs::write(m.path("idx/index/cachy.jsonl"), &new_line).unwrap();
    // Rollback: the older snapshot, validly signed, served again.
    let (new_snap, new_sig) = (save("idx/snapshot.json"), save("idx/snapshot.json.minisig"));
    std::fs::write(m.path("idx/snapshot.json"), &old_snap).unwrap();
    std::fs::write(m.path("idx/snapshot.json.minisig"), &old_sig).unwrap();
    m.refused(
        &["marketplace", "install", "cachy", "--index", "idx"],
        2,
        "rollback refused",
    );
    std::fs::write(m.path("idx/snapshot.json"), &new_snap).unwrap();
    std::fs::write(m.path("idx/snapshot.json.minisig"), &new_sig).unwrap();
    // Freeze: a snapshot whose expiry passed.
    m.ok(&[
        "marketplace",
        "index",
        "resign",
        "idx",
        "--key",
        "root.key",
        "--expiry-days",
        "0",
    ]);
    m.refused(
        &["marketplace", "install", "cachy", "--index", "idx"],
        2,
        "expired at",
    );
    let (code, _, err) = m.run(&[
        "marketplace",
        "install",
        "cachy",
        "--index",
        "idx",
        "--allow-expired",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("used anyway"), "{err}");
}

#[test]
fn a_rotated_root_key_is_followed_and_a_forged_root_is_refused() {
    let m = Market::new("rotate");
    m.publish("cachy", "1.0.0", &[]);
    m.ok(&["marketplace", "search", "--index", "idx"]);
    m.ok(&["marketplace", "keys", "generate", "root2"]);
    m.ok(&[
        "marketplace",
        "index",
        "rotate",
        "idx",
        "--key",
        "root.key",
        "--new-key",
        "root2.key",
    ]);
    m.publish_with_index_key("cachy", "1.1.0", "root2.key");
    let out = m.ok(&["marketplace", "install", "cachy", "--index", "idx"]);
    assert!(out.contains("installed cachy 1.1.0"), "{out}");
    // A root 4 signed only by an attacker's key.
    m.ok(&["marketplace", "keys", "generate", "evil"]);
    m.ok(&[
        "marketplace",
        "index",
        "rotate",
        "idx",
        "--key",
        "root2.key",
        "--new-key",
        "evil.key",
    ]);
    let evil = clnrm::marketplace::sign::SigningKey::load(&m.path("evil.key")).unwrap();
    let root4 = std::fs::read(m.path("idx/root/4.json")).unwrap();
    std::fs::write(
        m.path("idx/root/4.json.prev.minisig"),
        evil.sign(&root4, "clnrm-root 4"),
    )
    .unwrap();
    m.ok(&["marketplace", "uninstall", "cachy"]);
    m.refused(
        &["marketplace", "install", "cachy", "--index", "idx"],
        2,
        "not a key of the trusted root",
    );
}

impl Market {
    fn publish_with_index_key(&self, name: &str, version: &str, index_key: &str) {
        let rel = format!("p/{name}-{version}");
        std::fs::create_dir_all(self.path(&rel)).unwrap();
        std::fs::write(
            self.path(&rel).join("plugin.toml"),
            manifest(name, version, &[]),
        )
        .unwrap();
        self.ok(&[
            "marketplace",
            "publish",
            &rel,
            "--index",
            "idx",
            "--key",
            "pub.key",
            "--index-key",
            index_key,
        ]);
    }
}

#[test]
fn a_crash_between_staging_and_rename_leaves_the_store_unchanged_and_the_next_install_works() {
    let m = Market::new("crash");
    m.publish("cachy", "1.0.0", &[]);
    let (code, _, _) = m.run_env(
        &["marketplace", "install", "cachy", "--index", "idx"],
        &[("CLNRM_MARKETPLACE_CRASH", "after-staging")],
    );
    assert_ne!(code, Some(0));
    assert!(!m.installed("cachy", "1.0.0").exists());
    let staged = std::fs::read_dir(m.path("home/plugins/.staging"))
        .unwrap()
        .count();
    assert_eq!(staged, 1, "the crash left its staging folder");
    m.ok(&["marketplace", "install", "cachy", "--index", "idx"]);
    assert!(m.installed("cachy", "1.0.0").join("RECEIPT.json").is_file());
    let staged = std::fs::read_dir(m.path("home/plugins/.staging"))
        .unwrap()
        .count();
    assert_eq!(staged, 0, "the next install swept the staging folder");
}

#[test]
fn two_installs_at_once_both_succeed_with_one_copy() {
    let m = Market::new("concurrent");
    m.publish("cachy", "1.0.0", &[]);
    let spawn = || {
        m.command(&["marketplace", "install", "cachy", "--index", "idx"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let versions = std::fs::read_dir(m.path("home/plugins/cachy"))
        .unwrap()
        .count();
    assert_eq!(versions, 1);
}

#[test]
fn publish_refuses_invalid_manifests_native_libraries_and_republished_versions() {
    let m = Market::new("publish-rules");
    std::fs::create_dir_all(m.path("p/bad")).unwrap();
    std::fs::write(
        m.path("p/bad/plugin.toml"),
        manifest("Bad", "x", &[]).replace("port = 11211", "port = 9"),
    )
    .unwrap();
    let args = [
        "marketplace",
        "publish",
        "p/bad",
        "--index",
        "idx",
        "--key",
        "pub.key",
        "--index-key",
        "root.key",
    ];
    let (code, _, err) = m.run(&args);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("p/bad!plugin.toml:3:8: error: invalid plugin name `Bad`"),
        "{err}"
    );
    assert!(
        err.contains(":4:11: error: `version` is not a semver version"),
        "{err}"
    );
    assert!(
        err.contains("readiness port 9 is not in service.ports"),
        "{err}"
    );
    std::fs::write(m.path("p/bad/plugin.toml"), manifest("good", "1.0.0", &[])).unwrap();
    std::fs::write(m.path("p/bad/lib.so"), b"\x7fELF").unwrap();
    let (code, _, err) = m.run(&args);
    assert_eq!(code, Some(2));
    assert!(err.contains("native plugins are not supported"), "{err}");
    std::fs::remove_file(m.path("p/bad/lib.so")).unwrap();
    m.ok(&args);
    let (code, _, err) = m.run(&args);
    assert_eq!(code, Some(2));
    assert!(err.contains("versions are immutable"), "{err}");
}

#[test]
fn reviews_are_signed_one_per_key_and_aggregated_by_search_and_info() {
    let m = Market::new("reviews");
    m.publish("cachy", "1.0.0", &[]);
    m.ok(&["marketplace", "keys", "generate", "alice"]);
    m.ok(&["marketplace", "keys", "generate", "bob"]);
    let review = |key: &str, rating: &str| {
        m.ok(&[
            "marketplace",
            "review",
            "cachy@1.0.0",
            "--rating",
            rating,
            "--comment",
            "works",
            "--key",
            key,
            "--index",
            "idx",
            "--index-key",
            "root.key",
        ]);
    };
    review("alice.key", "1");
    review("alice.key", "5"); // replaces alice's first review
    review("bob.key", "4");
    m.ok(&[
        "marketplace",
        "rate",
        "cachy@1.0.0",
        "--rating",
        "4",
        "--key",
        "bob.key",
        "--index",
        "idx",
        "--index-key",
        "root.key",
    ]);
    let out = m.ok(&[
        "marketplace",
        "search",
        "--index",
        "idx",
        "--sort",
        "rating",
    ]);
    assert!(out.contains("4.5 (2)"), "{out}");
    let out = m.ok(&["marketplace", "info", "cachy", "--index", "idx"]);
    assert!(out.contains("reviews: 4.5 from 2 key(s)"), "{out}");
    let (code, _, err) = m.run(&[
        "marketplace",
        "review",
        "cachy@1.0.0",
        "--rating",
        "9",
        "--key",
        "bob.key",
        "--index",
        "idx",
        "--index-key",
        "root.key",
    ]);
    assert_eq!(code, Some(2), "{err}");
}

#[test]
fn offline_and_locked_installs_use_the_lockfile() {
    let m = Market::new("offline");
    m.publish("cachy", "1.0.0", &[]);
    m.ok(&["marketplace", "install", "cachy", "--index", "idx"]);
    let out = m.ok(&["marketplace", "install", "cachy", "--offline"]);
    assert!(out.contains("already installed cachy 1.0.0"), "{out}");
    m.publish("cachy", "1.1.0", &[]);
    let (code, _, err) = m.run(&[
        "marketplace",
        "install",
        "cachy@1.1.0",
        "--locked",
        "--index",
        "idx",
    ]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("--locked: cachy would change from 1.0.0 to 1.1.0"),
        "{err}"
    );
    let (code, _, err) = m.run(&["marketplace", "install", "other", "--offline"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("not in the lockfile"), "{err}");
}

#[test]
fn an_oversized_download_is_refused_before_it_is_read() {
    let m = Market::new("oversized");
    m.publish("cachy", "1.0.0", &[]);
    let url = serve(&m.path("idx"));
    let pkg = m.path("idx/packages/cachy/cachy-1.0.0.tgz");
    std::fs::write(&pkg, vec![0u8; 4 << 20]).unwrap();
    m.refused(
        &["marketplace", "install", "cachy", "--index", &url],
        2,
        "larger than the limit",
    );
}

#[test]
fn the_same_version_with_other_bytes_is_refused_against_the_lockfile() {
    let m = Market::new("republished");
    m.publish("cachy", "1.0.0", &[]);
    m.ok(&["marketplace", "install", "cachy", "--index", "idx"]);
    m.ok(&["marketplace", "uninstall", "cachy"]);
    // The index owner republishes 1.0.0 with other content (krew-index#390).
    std::fs::write(m.path("idx/index/cachy.jsonl"), "").unwrap();
    std::fs::write(m.path("p/cachy-1.0.0/README.md"), "# changed\n").unwrap();
    m.ok(&[
        "marketplace",
        "publish",
        "p/cachy-1.0.0",
        "--index",
        "idx",
        "--key",
        "pub.key",
        "--index-key",
        "root.key",
    ]);
    m.refused(
        &["marketplace", "install", "cachy", "--index", "idx"],
        2,
        "the same version with other bytes",
    );
}

#[test]
fn concurrent_installs_of_different_plugins_both_land_in_the_lockfile() {
    let m = Market::new("concurrent-lock");
    m.publish("alpha", "1.0.0", &[]);
    m.publish("beta", "1.0.0", &[]);
    let spawn = |name: &str| {
        m.command(&["marketplace", "install", name, "--index", "idx"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("alpha"), spawn("beta"));
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let lock = std::fs::read_to_string(m.path("clnrm.lock")).unwrap();
    assert!(
        lock.contains("\"alpha\"") && lock.contains("\"beta\""),
        "{lock}"
    );
}

#[test]
fn a_project_plugin_folder_is_listed_as_local_and_checked() {
    let m = Market::new("local");
    std::fs::write(m.path("clnrm.toml"), "[plugins]\ndir = \"my-plugins\"\n").unwrap();
    std::fs::create_dir_all(m.path("my-plugins/cachy")).unwrap();
    std::fs::write(
        m.path("my-plugins/cachy/plugin.toml"),
        manifest("cachy", "0.3.0", &[]),
    )
    .unwrap();
    let out = m.ok(&["plugins"]);
    let row = out
        .lines()
        .find(|l| l.starts_with("cachy"))
        .unwrap_or_default();
    assert!(
        row.contains("0.3.0") && row.contains("local") && row.contains("my-plugins"),
        "{out}"
    );
    // A broken local manifest: the plugin is not used, and a suite naming it says why.
    std::fs::write(
        m.path("my-plugins/cachy/plugin.toml"),
        manifest("cachy", "0.3.0", &[]).replace("ports = [11211]", "portz = [11211]"),
    )
    .unwrap();
    std::fs::write(
        m.path("s.clnrm.toml"),
        "version = 1\n[suite]\nname = \"s\"\n[services.c]\nplugin = \"cachy\"\n[[scenarios]]\nname = \"a\"\n[[scenarios.steps]]\nname = \"b\"\nrun = [\"true\"]\nservice = \"c\"\n",
    )
    .unwrap();
    let (code, out, err) = m.run(&["validate", "s.clnrm.toml"]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(out.contains("unknown plugin \"cachy\""), "{out}{err}");
    assert!(
        err.contains(
            "plugin.toml:11:1: error: unknown key `portz` in [service], did you mean `ports`?"
        ),
        "{err}"
    );
}

#[test]
fn a_yanked_version_is_skipped_by_new_installs_but_kept_by_the_lockfile() {
    let m = Market::new("yank");
    m.publish("cachy", "1.0.0", &[]);
    m.publish("cachy", "1.1.0", &[]);
    m.ok(&["marketplace", "install", "cachy", "--index", "idx"]);
    let yank = [
        "marketplace",
        "yank",
        "cachy@1.1.0",
        "--index",
        "idx",
        "--index-key",
        "root.key",
    ];
    m.ok(&yank);
    // Locked at 1.1.0: still resolves to it.
    let out = m.ok(&[
        "marketplace",
        "install",
        "cachy",
        "--locked",
        "--index",
        "idx",
    ]);
    assert!(out.contains("cachy 1.1.0"), "{out}");
    // A fresh project takes the newest version that is not yanked.
    std::fs::remove_file(m.path("clnrm.lock")).unwrap();
    let out = m.ok(&["marketplace", "install", "cachy", "--index", "idx"]);
    assert!(out.contains("installed cachy 1.0.0"), "{out}");
}

/// A gzipped tar with one entry `name` of `kind`, written the way an attacker would (no path
/// checks).
fn hostile_tgz(name: &str, kind: tar::EntryType, body: &[u8]) -> Vec<u8> {
    use flate2::{Compression, write::GzEncoder};
    let mut tar = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::best()));
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(body.len() as u64);
    h.set_mode(0o644);
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    if kind.is_symlink() {
        h.set_link_name("/etc/passwd").unwrap();
    }
    h.set_cksum();
    tar.append(&h, body).unwrap();
    tar.into_inner().unwrap().finish().unwrap()
}

#[test]
fn hostile_archives_signed_and_indexed_are_still_refused_with_nothing_written() {
    let m = Market::new("hostile");
    m.publish("cachy", "1.0.0", &[]);
    let publisher = clnrm::marketplace::sign::SigningKey::load(&m.path("pub.key")).unwrap();
    let cases: [(&str, tar::EntryType, Vec<u8>, &str); 5] = [
        (
            "../plugin.toml",
            tar::EntryType::Regular,
            b"x".to_vec(),
            "climbs out with `..`",
        ),
        (
            "/plugin.toml",
            tar::EntryType::Regular,
            b"x".to_vec(),
            "absolute path",
        ),
        (
            "plugin.toml",
            tar::EntryType::Symlink,
            Vec::new(),
            "is a link",
        ),
        ("plugin.toml", tar::EntryType::Block, Vec::new(), "device"),
        (
            "plugin.toml",
            tar::EntryType::Regular,
            vec![b' '; 16 << 20],
            "larger than the limit",
        ),
    ];
    let line_path = m.path("idx/index/cachy.jsonl");
    let original: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&line_path).unwrap().trim()).unwrap();
    for (name, kind, body, expected) in cases {
        // A publisher the index trusts signs the hostile package, and the index lists it: only
        // the archive reader stands in the way.
        let bytes = hostile_tgz(name, kind, &body);
        let sha = clnrm::marketplace::package::sha256_hex(&bytes);
        let rel = "idx/packages/cachy/cachy-1.0.0.tgz";
        std::fs::write(m.path(rel), &bytes).unwrap();
        let comment = clnrm::marketplace::index::package_comment("cachy", "1.0.0", &sha);
        std::fs::write(
            m.path(&format!("{rel}.minisig")),
            publisher.sign(&bytes, &comment),
        )
        .unwrap();
        let mut line = original.clone();
        line["cksum"] = format!("sha256:{sha}").into();
        line["len"] = bytes.len().into();
        std::fs::write(&line_path, format!("{line}\n")).unwrap();
        m.ok(&["marketplace", "index", "resign", "idx", "--key", "root.key"]);
        m.refused(
            &["marketplace", "install", "cachy", "--index", "idx"],
            2,
            expected,
        );
    }
}
