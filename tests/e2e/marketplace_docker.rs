//! The official index (`marketplace/index`) served over HTTP on 127.0.0.1: each of its five
//! plugins is installed with the CLI, started on Docker from its locally built image
//! (scripts/build-market-images.sh), and spoken to with its own protocol or client.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clnrm::plugins::ManifestPlugin;
use clnrm::service::PluginSource;
use clnrm::{Registry, ServiceSpec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::marketplace::serve;
use crate::support::run_env;

const CLNRM: &str = env!("CARGO_BIN_EXE_clnrm-under-test");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Installs `name` from the official index served over HTTP into a fresh `CLNRM_HOME`; returns
/// the project folder (holding `home/` and `clnrm.lock`) and the index URL.
fn install_official(name: &str) -> (PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("clnrm-official-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(repo().join("clnrm.toml"), dir.join("clnrm.toml")).unwrap();
    let url = serve(&repo().join("marketplace/index"));
    let root_key = repo().join("marketplace/root.pub");
    let out = std::process::Command::new(CLNRM)
        .args([
            "marketplace",
            "install",
            name,
            "--index",
            &url,
            "--root-key",
        ])
        .arg(&root_key)
        .current_dir(&dir)
        .env("CLNRM_HOME", dir.join("home"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "install {name}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("(verified)"));
    (dir, url)
}

/// The installed plugin as the registry sees it.
fn registry_with(dir: &Path, name: &str, url: &str) -> Registry {
    // the one version installed (the newest the index serves)
    let versions: Vec<PathBuf> = std::fs::read_dir(dir.join("home/plugins").join(name))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(versions.len(), 1, "{versions:?}");
    let manifest_path = versions[0].join("plugin.toml");
    let manifest = clnrm::marketplace::load_manifest(&manifest_path).unwrap();
    let mut registry = Registry::builtin();
    registry.register(Arc::new(ManifestPlugin::new(
        manifest,
        PluginSource::Installed(url.to_owned()),
    )));
    registry
}

async fn exchange(host: &str, port: u16, send: &[u8], until: &[u8]) -> Vec<u8> {
    let talk = async {
        let mut s = TcpStream::connect((host, port)).await.unwrap();
        s.write_all(send).await.unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !got.windows(until.len()).any(|w| w == until) {
            let n = s.read(&mut buf).await.unwrap();
            assert!(
                n > 0,
                "connection closed; got {:?}",
                String::from_utf8_lossy(&got)
            );
            got.extend_from_slice(&buf[..n]);
        }
        got
    };
    tokio::time::timeout(Duration::from_secs(20), talk)
        .await
        .expect("the server answered in time")
}

/// Starts the installed plugin; the run environment is returned so it outlives the test body.
async fn start(name: &str) -> (clnrm::Services, PathBuf, Arc<clnrm::RunEnv>) {
    let (dir, url) = install_official(name);
    let env = run_env().await;
    let services = registry_with(&dir, name, &url)
        .start_all(&env, &[ServiceSpec::new("svc", name)])
        .await
        .unwrap_or_else(|e| panic!("{name} did not start: {e:?}"));
    (services, dir, env)
}

#[tokio::test]
async fn official_memcached_stores_and_returns_a_value() {
    let (services, dir, _env) = start("memcached").await;
    let svc = services.get("svc").unwrap();
    assert!(svc.url().unwrap().starts_with("memcache://"));
    let port = svc.port(11211).unwrap();
    let got = exchange(
        svc.host(),
        port,
        b"set k 0 0 5\r\nhello\r\nget k\r\n",
        b"END\r\n",
    )
    .await;
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.contains("STORED") && text.contains("VALUE k 0 5\r\nhello"),
        "{text}"
    );
    services.stop_all().await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn official_nats_answers_ping_and_delivers_a_message() {
    let (services, dir, _env) = start("nats").await;
    let svc = services.get("svc").unwrap();
    let port = svc.port(4222).unwrap();
    let got = exchange(
        svc.host(),
        port,
        b"CONNECT {\"verbose\":false}\r\nSUB greet 1\r\nPUB greet 2\r\nhi\r\nPING\r\n",
        b"PONG\r\n",
    )
    .await;
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("INFO ") && text.contains("MSG greet 1 2\r\nhi"),
        "{text}"
    );
    services.stop_all().await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn official_mosquitto_accepts_an_mqtt_connect() {
    let (services, dir, _env) = start("mosquitto").await;
    let svc = services.get("svc").unwrap();
    let port = svc.port(1883).unwrap();
    // MQTT 3.1.1 CONNECT, clean session, client id "clnrm"; the broker answers CONNACK accepted.
    let connect = [
        0x10, 17, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 5, b'c', b'l', b'n', b'r', b'm',
    ];
    let got = exchange(svc.host(), port, &connect, &[0x20, 0x02]).await;
    let at = got.windows(2).position(|w| w == [0x20, 0x02]).unwrap();
    assert_eq!(
        &got[at..at + 4],
        &[0x20, 0x02, 0x00, 0x00],
        "CONNACK accepted"
    );
    services.stop_all().await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn official_mariadb_runs_queries_with_per_run_credentials() {
    let (services, dir, _env) = start("mariadb").await;
    let svc = services.get("svc").unwrap();
    let creds = svc
        .credentials()
        .expect("credentials generated per run")
        .clone();
    assert!(svc.url().unwrap().starts_with("mysql://clnrm:"));
    let out = svc
        .exec(&[
            "mariadb".to_owned(),
            "-h".to_owned(),
            "127.0.0.1".to_owned(),
            "-u".to_owned(),
            creds.user.clone(),
            format!("-p{}", creds.password),
            "clnrm".to_owned(),
            "-N".to_owned(),
            "-e".to_owned(),
            "CREATE TABLE t (x INT); INSERT INTO t VALUES (42); SELECT x FROM t".to_owned(),
        ])
        .await
        .unwrap();
    assert_eq!(out.exit_code, 0, "{out:?}");
    assert_eq!(out.stdout.trim(), "42");
    services.stop_all().await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn official_rabbitmq_starts_an_amqp_handshake() {
    let (services, dir, _env) = start("rabbitmq").await;
    let svc = services.get("svc").unwrap();
    let port = svc.port(5672).unwrap();
    // The AMQP 0-9-1 protocol header; the broker answers with a Connection.Start method frame
    // that lists its SASL mechanisms.
    let got = exchange(svc.host(), port, b"AMQP\x00\x00\x09\x01", b"PLAIN").await;
    assert_eq!(got[0], 1, "a method frame");
    assert_eq!(
        &got[7..11],
        &[0, 10, 0, 10],
        "class connection, method start"
    );
    services.stop_all().await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_installed_plugin_runs_in_a_suite_by_name() {
    let (dir, _url) = install_official("memcached");
    std::fs::write(
        dir.join("cache.clnrm.toml"),
        r#"version = 1
[suite]
name = "installed-plugin"
[services.cache]
plugin = "memcached"
[[scenarios]]
name = "memcached answers"
[[scenarios.steps]]
name = "version"
run = ["sh", "-c", "printf 'version\r\nquit\r\n' | nc -q 2 127.0.0.1 11211"]
service = "cache"
expect.stdout.contains = "VERSION 1.6"
"#,
    )
    .unwrap();
    let out = std::process::Command::new(CLNRM)
        .args(["run", "cache.clnrm.toml"])
        .current_dir(&dir)
        .env("CLNRM_HOME", dir.join("home"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("PASS installed-plugin/memcached answers"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(dir);
}

const MARKET_FIXTURE: &str = env!("CARGO_BIN_EXE_market-fixture");

#[test]
fn an_installed_plugin_runs_in_a_clnrm_test_by_name() {
    let (dir, _url) = install_official("memcached");
    let out = crate::support::own_run(MARKET_FIXTURE)
        .current_dir(&dir)
        .env("CLNRM_HOME", dir.join("home"))
        .env("CLNRM_HISTORY", dir.join("history.db"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("installed_memcached_stores_a_value ... ok"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(dir);
}
