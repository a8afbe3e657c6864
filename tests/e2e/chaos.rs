//! The chaos engine on real services with real clients: Docker faults (pause, kill, restart,
//! partition) and proxy toxics (latency, reset, bandwidth, down), the Toxiproxy REST API
//! driven with curl, and healing of everything at the end.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clnrm::chaos::{ChaosService, ChaosSession};
use clnrm::{Registry, ServiceSpec, Services};

use crate::support::run_env;

const TOOLBOX: &str = "clnrm-local/toolbox:bookworm";

/// A chaos session over `services`: proxies in front of `proxied`, `shared` marks services as
/// shared with other tests.
async fn session(services: &Services, proxied: &[&str], shared: &[&str]) -> ChaosSession {
    ChaosSession::new(
        services
            .iter()
            .map(|h| ChaosService {
                name: h.name().to_owned(),
                handle: Some(h.clone()),
                url: h.url().map(str::to_owned),
                shared: shared.contains(&h.name()),
                proxied: proxied.contains(&h.name()),
            })
            .collect(),
    )
    .await
    .expect("chaos session")
}

async fn pg(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

async fn ping(conn: &mut redis::aio::MultiplexedConnection) -> redis::RedisResult<String> {
    redis::cmd("PING").query_async(conn).await
}

fn fastest(samples: Vec<Duration>) -> Duration {
    samples.into_iter().min().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn pause_makes_a_postgres_query_hang_until_healed_and_kill_is_refused_on_a_shared_service() {
    let env = run_env().await;
    let services = Registry::builtin()
        .start_all(&env, &[ServiceSpec::new("db", "postgres")])
        .await
        .unwrap();
    let chaos = session(&services, &[], &["db"]).await;
    let client = pg(services.get("db").unwrap().url().unwrap())
        .await
        .unwrap();
    client.simple_query("SELECT 1").await.unwrap();

    let pause = chaos.chaos("db").unwrap().pause().await.unwrap();
    let hung = tokio::time::timeout(Duration::from_secs(1), client.simple_query("SELECT 1")).await;
    assert!(hung.is_err(), "a paused postgres answered: {hung:?}");
    pause.heal().await.unwrap();
    // The same connection answers again: pause keeps connections open.
    tokio::time::timeout(Duration::from_secs(10), client.simple_query("SELECT 2"))
        .await
        .expect("answers after the heal")
        .unwrap();

    let refused = chaos
        .chaos("db")
        .unwrap()
        .kill("SIGKILL")
        .await
        .unwrap_err();
    let text = refused.to_string();
    assert!(
        text.contains("would damage it for the other tests") && text.contains("scope = \"test\""),
        "{text}"
    );
    let records = chaos.heal_all().await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].fault, "pause");
    assert_eq!(records[0].healed_by.as_deref(), Some("guard"));
    assert!(records[0].duration.unwrap() >= Duration::from_secs(1));
    services.stop_all().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_through_the_proxy_feels_latency_reset_bandwidth_and_down_and_heals() {
    let env = run_env().await;
    let services = Registry::builtin()
        .start_all(&env, &[ServiceSpec::new("cache", "redis")])
        .await
        .unwrap();
    let chaos = session(&services, &["cache"], &[]).await;
    let url = chaos.url("cache").expect("a proxied URL");
    let direct = services.get("cache").unwrap().url().unwrap().to_owned();
    assert_ne!(url, direct, "the URL goes through the proxy");
    let cache = chaos.chaos("cache").unwrap();
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();

    // Latency: the measured round trip grows by at least the injected latency (fastest of
    // several pings before and during).
    let rtt = |n| {
        let mut conn = conn.clone();
        async move {
            let mut samples = Vec::new();
            for _ in 0..n {
                let t0 = Instant::now();
                assert_eq!(ping(&mut conn).await.unwrap(), "PONG");
                samples.push(t0.elapsed());
            }
            fastest(samples)
        }
    };
    let before = rtt(20).await;
    let lag = cache.latency(Duration::from_millis(120)).await.unwrap();
    let during = rtt(5).await;
    assert!(
        during >= before + Duration::from_millis(120),
        "round trip {before:?} -> {during:?} with 120 ms latency"
    );
    drop(lag); // heals in the background
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(rtt(5).await < Duration::from_millis(100), "healed on drop");

    // Reset: the client sees a connection reset.
    let reset = cache.reset_peer(Duration::ZERO).await.unwrap();
    let err = match client.get_multiplexed_async_connection().await {
        Err(e) => e,
        Ok(mut c) => ping(&mut c).await.unwrap_err(),
    };
    assert!(
        err.to_string().to_lowercase().contains("reset"),
        "expected a connection reset, got: {err}"
    );
    // The reset reaches live connections too, as Toxiproxy's does (checked while it is in
    // force: a live connection learns of a toxic when its task next runs, and one that runs
    // only after the heal never sees it).
    assert!(
        ping(&mut conn).await.is_err(),
        "a live connection survived the reset"
    );
    reset.heal().await.unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();

    // Bandwidth: 256 KiB at 128 KB/s takes about two seconds.
    let blob = vec![b'x'; 256 * 1024];
    let _: () = redis::cmd("SET")
        .arg("blob")
        .arg(&blob)
        .query_async(&mut conn)
        .await
        .unwrap();
    let slow = cache.bandwidth(128).await.unwrap();
    let mut fresh = client.get_multiplexed_async_connection().await.unwrap();
    let t0 = Instant::now();
    let got: Vec<u8> = redis::cmd("GET")
        .arg("blob")
        .query_async(&mut fresh)
        .await
        .unwrap();
    let took = t0.elapsed();
    assert_eq!(got.len(), blob.len());
    assert!(
        took >= Duration::from_millis(1800) && took < Duration::from_secs(8),
        "256 KiB at 128 KB/s took {took:?}"
    );
    slow.heal().await.unwrap();

    // Down: new connections are refused until healed.
    let down = cache.down().await.unwrap();
    assert!(client.get_multiplexed_async_connection().await.is_err());
    down.heal().await.unwrap();
    let mut again = client.get_multiplexed_async_connection().await.unwrap();
    assert_eq!(ping(&mut again).await.unwrap(), "PONG");

    let records = chaos.heal_all().await;
    let faults: Vec<&str> = records.iter().map(|r| r.fault.as_str()).collect();
    assert_eq!(
        faults,
        [
            "latency 120ms ±0ms downstream",
            "reset_peer after 0ms upstream",
            "bandwidth 128KB/s downstream",
            "down"
        ]
    );
    assert!(
        records
            .iter()
            .all(|r| r.duration.is_some() && r.heal_error.is_none())
    );
    services.stop_all().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partitioned_redis_is_unreachable_by_name_from_another_container_until_healed() {
    let env = run_env().await;
    let specs = [
        ServiceSpec::new("cache", "redis"),
        ServiceSpec::new("app", "generic")
            .image(TOOLBOX)
            .cmd(["sleep", "infinity"]),
    ];
    let services = Registry::builtin().start_all(&env, &specs).await.unwrap();
    let chaos = session(&services, &[], &[]).await;
    let app = services.get("app").unwrap();
    let ping_by_name = || async {
        app.exec(&["timeout", "5", "redis-cli", "-h", "cache", "ping"])
            .await
            .unwrap()
    };
    assert_eq!(ping_by_name().await.stdout.trim(), "PONG");

    let cut = chaos.chaos("cache").unwrap().partition().await.unwrap();
    let out = ping_by_name().await;
    assert_ne!(
        out.stdout.trim(),
        "PONG",
        "reached a partitioned service: {out:?}"
    );

    cut.heal().await.unwrap();
    assert_eq!(
        ping_by_name().await.stdout.trim(),
        "PONG",
        "reachable by name again"
    );
    // And from the test, on the ports it was published on again.
    let url = chaos
        .url("cache")
        .unwrap_or_else(|| services.get("cache").unwrap().url().unwrap().to_owned());
    let direct = redis::Client::open(url.as_str()).unwrap();
    let mut conn = direct.get_multiplexed_async_connection().await.unwrap();
    assert_eq!(ping(&mut conn).await.unwrap(), "PONG");
    let records = chaos.heal_all().await;
    assert!(
        records[0].fault.starts_with("partition from "),
        "{records:?}"
    );
    services.stop_all().await.unwrap();
}

/// `redis-cli -h cache ping` from another container of the run: what it printed and how long
/// the exec took.
async fn ping_from(app: &clnrm::ServiceHandle) -> (String, Duration) {
    let t0 = Instant::now();
    let out = app
        .exec(&["timeout", "10", "redis-cli", "-h", "cache", "ping"])
        .await
        .unwrap();
    (format!("{}{}", out.stdout, out.stderr), t0.elapsed())
}

#[tokio::test(flavor = "multi_thread")]
async fn another_container_reaching_a_chaos_service_by_name_feels_its_faults_until_healed() {
    let env = run_env().await;
    let specs = [
        ServiceSpec::new("cache", "redis").chaos(true),
        ServiceSpec::new("app", "generic")
            .image(TOOLBOX)
            .cmd(["sleep", "infinity"]),
    ];
    let services = Registry::builtin().start_all(&env, &specs).await.unwrap();
    let app = services.get("app").unwrap();
    // Without a session the name reaches the service (through its front).
    let (out, _) = ping_from(app).await;
    assert_eq!(out.trim(), "PONG", "before any session");

    let chaos = session(&services, &["cache"], &[]).await;
    let cache = chaos.chaos("cache").unwrap();
    let (out, _) = ping_from(app).await;
    assert_eq!(out.trim(), "PONG", "through the proxy, no toxic");

    let lag = cache.latency(Duration::from_secs(3)).await.unwrap();
    let (out, took) = ping_from(app).await;
    assert_eq!(out.trim(), "PONG", "a slow answer is still an answer");
    assert!(
        took >= Duration::from_secs(3),
        "no latency by name: {took:?}"
    );
    // The test's own URL goes through the same proxy.
    let url = chaos.url("cache").unwrap();
    let mut conn = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let t0 = Instant::now();
    assert_eq!(ping(&mut conn).await.unwrap(), "PONG");
    assert!(t0.elapsed() >= Duration::from_secs(3), "{:?}", t0.elapsed());
    lag.heal().await.unwrap();
    let (out, took) = ping_from(app).await;
    assert_eq!(out.trim(), "PONG");
    assert!(
        took < Duration::from_secs(3),
        "latency after the heal: {took:?}"
    );

    let reset = cache.reset_peer(Duration::ZERO).await.unwrap();
    let (out, _) = ping_from(app).await;
    assert!(
        out.to_lowercase().contains("reset by peer"),
        "no reset by name: {out:?}"
    );
    reset.heal().await.unwrap();
    assert_eq!(ping_from(app).await.0.trim(), "PONG");

    let down = cache.down().await.unwrap();
    let (out, _) = ping_from(app).await;
    assert!(
        !out.contains("PONG"),
        "reached a service that is down: {out:?}"
    );
    down.heal().await.unwrap();
    assert_eq!(ping_from(app).await.0.trim(), "PONG");

    // A fault left in force ends with the session, and the name leads to the service again.
    cache.down().await.unwrap().until_end();
    let records = chaos.heal_all().await;
    assert_eq!(records.len(), 4, "{records:?}");
    assert_eq!(ping_from(app).await.0.trim(), "PONG", "after the session");
    services.stop_all().await.unwrap();
}

/// Two sessions on one `chaos = true` service (two tests at the same time, in one process or
/// two: the lease is a file lock either way): the second waits until the first has routed the
/// front back, so neither feels the other's faults and the first's end cannot undo the second's
/// route.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_sessions_on_one_chaos_service_take_turns_at_its_front() {
    let env = run_env().await;
    let specs = [
        ServiceSpec::new("cache", "redis").chaos(true),
        ServiceSpec::new("app", "generic")
            .image(TOOLBOX)
            .cmd(["sleep", "infinity"]),
    ];
    let services = Arc::new(Registry::builtin().start_all(&env, &specs).await.unwrap());
    let app = services.get("app").unwrap().clone();

    let first = session(&services, &["cache"], &[]).await;
    first
        .chaos("cache")
        .unwrap()
        .latency(Duration::from_secs(3))
        .await
        .unwrap()
        .until_end();
    let second = tokio::spawn({
        let services = Arc::clone(&services);
        async move { session(&services, &["cache"], &[]).await }
    });
    // While the first session lasts, the name still leads through its proxy: the second did
    // not take the front over.
    let (out, took) = ping_from(&app).await;
    assert_eq!(out.trim(), "PONG");
    assert!(
        took >= Duration::from_secs(3),
        "the first session's latency is gone while it lasts: {took:?}"
    );
    assert!(!second.is_finished(), "the second session did not wait");
    assert_eq!(first.heal_all().await.len(), 1);

    let second = tokio::time::timeout(Duration::from_secs(30), second)
        .await
        .expect("the second session starts once the first has ended")
        .unwrap();
    // Its route holds: the first's end did not send the name back to the service.
    second
        .chaos("cache")
        .unwrap()
        .down()
        .await
        .unwrap()
        .until_end();
    let (out, _) = ping_from(&app).await;
    assert!(
        !out.contains("PONG"),
        "the second session's fault is not felt by name: {out:?}"
    );
    second.heal_all().await;
    assert_eq!(
        ping_from(&app).await.0.trim(),
        "PONG",
        "after both sessions"
    );
    Arc::into_inner(services)
        .expect("the second session's task is over")
        .stop_all()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_postgres_is_started_again_ready_on_its_ports_and_restart_follows_new_ports() {
    let env = run_env().await;
    let services = Registry::builtin()
        .start_all(&env, &[ServiceSpec::new("db", "postgres")])
        .await
        .unwrap();
    // Per test (not shared), with a proxy in front: the URL the test holds never changes.
    let chaos = session(&services, &["db"], &[]).await;
    let url = chaos.url("db").unwrap();
    let db = chaos.chaos("db").unwrap();
    pg(&url)
        .await
        .unwrap()
        .simple_query("SELECT 1")
        .await
        .unwrap();

    let killed = db.kill("SIGKILL").await.unwrap();
    assert!(
        pg(&url).await.is_err(),
        "a killed postgres accepted a connection"
    );
    killed.heal().await.unwrap();
    pg(&url)
        .await
        .unwrap()
        .simple_query("SELECT 1")
        .await
        .unwrap();

    let endpoint = db.restart().await.unwrap();
    assert!(endpoint.port(5432).is_some(), "{endpoint:?}");
    pg(&url)
        .await
        .unwrap()
        .simple_query("SELECT 1")
        .await
        .unwrap();
    // Without a proxy the URL follows the new ports.
    let plain = session(&services, &[], &[]).await;
    let endpoint = plain.chaos("db").unwrap().restart().await.unwrap();
    let moved = plain.url("db").unwrap();
    assert!(
        moved.contains(&format!(":{}/", endpoint.port(5432).unwrap())),
        "{moved} vs {endpoint:?}"
    );
    pg(&moved)
        .await
        .unwrap()
        .simple_query("SELECT 1")
        .await
        .unwrap();

    let records = chaos.heal_all().await;
    let faults: Vec<&str> = records.iter().map(|r| r.fault.as_str()).collect();
    assert_eq!(faults, ["kill SIGKILL", "restart"]);
    plain.heal_all().await;
    services.stop_all().await.unwrap();
}

fn curl(args: &[&str]) -> (String, String) {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or((&text, ""));
    (body.to_owned(), code.to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn curl_drives_the_toxiproxy_rest_api_and_the_end_of_the_session_heals_its_toxics() {
    let env = run_env().await;
    let services = Registry::builtin()
        .start_all(&env, &[ServiceSpec::new("cache", "redis")])
        .await
        .unwrap();
    let chaos = session(&services, &["cache"], &[]).await;
    let api = chaos.control_api().await.unwrap();
    let client = redis::Client::open(chaos.url("cache").unwrap().as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();

    let (body, code) = curl(&[&format!("{api}/proxies")]);
    assert_eq!(code, "200", "{body}");
    let proxies: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(proxies["cache"]["enabled"], true, "{body}");

    let toxic = r#"{"name":"slow","type":"latency","stream":"downstream","toxicity":1.0,"attributes":{"latency":150,"jitter":0}}"#;
    let url = format!("{api}/proxies/cache/toxics");
    let (body, code) = curl(&["-X", "POST", "-d", toxic, &url]);
    assert_eq!(code, "200", "{body}");
    let (body, code) = curl(&["-X", "POST", "-d", toxic, &url]);
    assert_eq!(code, "409", "a second toxic of the same name: {body}");
    let t0 = Instant::now();
    assert_eq!(ping(&mut conn).await.unwrap(), "PONG");
    assert!(
        t0.elapsed() >= Duration::from_millis(150),
        "{:?}",
        t0.elapsed()
    );

    let (body, code) = curl(&["-X", "DELETE", &format!("{url}/slow")]);
    assert_eq!(code, "204", "{body}");
    let (body, _) = curl(&[&url]);
    assert_eq!(body, "[]");
    let (body, code) = curl(&[&format!("{api}/proxies/nope/toxics")]);
    assert_eq!(code, "404");
    assert!(body.contains("\"error\":\"proxy not found\""), "{body}");

    // A toxic left behind through the API, and the proxy disabled: healed by the session.
    let (_, code) = curl(&["-X", "POST", "-d", toxic, &url]);
    assert_eq!(code, "200");
    let (_, code) = curl(&[
        "-X",
        "POST",
        "-d",
        r#"{"enabled":false}"#,
        &format!("{api}/proxies/cache"),
    ]);
    assert_eq!(code, "200");
    chaos.heal_all().await;
    let mut healed = client.get_multiplexed_async_connection().await.unwrap();
    let t0 = Instant::now();
    assert_eq!(ping(&mut healed).await.unwrap(), "PONG");
    assert!(t0.elapsed() < Duration::from_millis(150));
    services.stop_all().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timed_fault_heals_itself_and_the_end_heals_a_forgotten_guard() {
    let env = run_env().await;
    let services = Registry::builtin()
        .start_all(&env, &[ServiceSpec::new("cache", "redis")])
        .await
        .unwrap();
    let chaos = session(&services, &[], &[]).await;
    let cache = chaos.chaos("cache").unwrap();
    let direct = redis::Client::open(services.get("cache").unwrap().url().unwrap()).unwrap();
    let mut conn = direct.get_multiplexed_async_connection().await.unwrap();

    cache
        .pause()
        .await
        .unwrap()
        .for_duration(Duration::from_millis(500));
    let t0 = Instant::now();
    assert_eq!(ping(&mut conn).await.unwrap(), "PONG");
    assert!(
        t0.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t0.elapsed()
    );

    std::mem::forget(cache.pause().await.unwrap());
    let records = chaos.heal_all().await;
    assert_eq!(records[0].healed_by.as_deref(), Some("timer"));
    assert_eq!(records[1].healed_by.as_deref(), Some("end of test"));
    assert!(
        records.iter().all(|r| r.heal_error.is_none()),
        "{records:?}"
    );
    // A Redis left paused would hold the PING forever: bound the wait, say what was healed.
    let pong = tokio::time::timeout(Duration::from_secs(20), ping(&mut conn))
        .await
        .unwrap_or_else(|_| panic!("Redis does not answer after the heal: {records:?}"));
    assert_eq!(pong.unwrap(), "PONG");
    services.stop_all().await.unwrap();
}

/// The harness side: `#[clnrm::test]`s with `chaos = true` and `ctx.chaos(..)`, one panicking
/// with faults in force, the next ones on the same shared services.
#[test]
fn a_panicking_test_leaves_no_fault_behind_and_its_faults_are_reported() {
    let dir = crate::support::scratch("chaos", "fixture");
    let report = dir.join("report.json");
    let mut cmd = crate::support::own_run(env!("CARGO_BIN_EXE_chaos-fixture"));
    cmd.args(["--test-threads", "1", "--order", "file", "--json"])
        .arg(&report)
        .env("CLNRM_HISTORY", dir.join("history.db"));
    let out = cmd.output().expect("the chaos fixture runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let both = format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(101), "{both}");
    for (name, result) in [
        ("a_panics_with_faults_in_force", "FAILED"),
        ("b_finds_the_shared_services_healed", "ok"),
        ("c_kill_on_a_shared_service_is_refused", "ok"),
        ("d_kill_on_a_test_scoped_service_heals_on_drop", "ok"),
    ] {
        // libtest pads the names.
        let line = stdout.lines().find(|l| {
            l.strip_prefix("test ")
                .is_some_and(|r| r.starts_with(&format!("{name} ")))
        });
        assert!(
            line.is_some_and(|l| l.trim_end().ends_with(&format!("... {result}"))),
            "{name} should be {result}\n{both}"
        );
    }
    // The failure's diagnostics list the faults.
    assert!(both.contains("faults injected:"), "{both}");
    assert!(both.contains("pause on `db`"), "{both}");
    assert!(both.contains("healed by end of test"), "{both}");

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let test = |name: &str| {
        json["tests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {json:#}"))
            .clone()
    };
    let faults = test("a_panics_with_faults_in_force")["faults"].clone();
    let faults = faults.as_array().expect("faults[]");
    assert_eq!(faults.len(), 2, "{faults:?}");
    assert_eq!(faults[0]["fault"], "latency 300ms ±0ms downstream");
    assert_eq!(faults[1]["fault"], "pause");
    assert_eq!(faults[1]["service"], "db");
    assert_eq!(faults[1]["healed_by"], "end of test");
    assert!(faults[1]["duration_secs"].as_f64().unwrap() > 0.0);
    assert!(faults[1]["started_at"].as_str().unwrap().ends_with('Z'));
    let killed = test("d_kill_on_a_test_scoped_service_heals_on_drop")["faults"].clone();
    assert_eq!(killed[0]["fault"], "kill SIGKILL");
    assert_eq!(killed[0]["healed_by"], "guard");
    assert_eq!(
        test("b_finds_the_shared_services_healed")["faults"],
        serde_json::json!([])
    );
}

const CLNRM: &str = env!("CARGO_BIN_EXE_clnrm-under-test");

const SUITE: &str = r#"version = 1
[suite]
name = "chaos"

[services.cache]
plugin = "redis"

[services.app]
plugin = "generic"
image = "debian:bookworm"
cmd = ["sleep", "infinity"]

[[scenarios]]
name = "faults heal"

[[scenarios.steps]]
name = "reachable by name"
run = ["redis-cli", "-h", "cache", "ping"]
service = "app"
expect = { stdout = { contains = ["PONG"] } }

[[scenarios.steps]]
name = "cut for two seconds"
chaos = { fault = "partition", service = "cache", duration = "2s" }

[[scenarios.steps]]
name = "unreachable while cut"
shell = "timeout 1 redis-cli -h cache ping || echo unreachable"
service = "app"
expect = { stdout = { contains = ["unreachable"], not_contains = ["PONG"] } }

[[scenarios.steps]]
name = "reachable after the duration"
shell = "sleep 2.5; redis-cli -h cache ping"
service = "app"
expect = { stdout = { contains = ["PONG"] } }

[[scenarios.steps]]
name = "a pause in the background in half a second, for a second"
chaos = { fault = "pause", service = "cache", after = "500ms", duration = "1s" }

[[scenarios.steps]]
name = "hangs while paused"
shell = "sleep 0.8; timeout 0.5 redis-cli -h cache ping || echo hung"
service = "app"
expect = { stdout = { contains = ["hung"] } }

[[scenarios.steps]]
name = "answers once healed"
shell = "sleep 1; redis-cli -h cache ping"
service = "app"
expect = { stdout = { contains = ["PONG"] } }

[[scenarios.steps]]
name = "kill on a shared service is refused"
chaos = { fault = "kill", service = "cache" }
continue_on_failure = true
"#;

/// Runs `text` as a suite (in a scratch directory named after `tag`) with `--json`, checks
/// that it passed, and returns the JSON report.
fn run_passing_suite(tag: &str, text: &str) -> String {
    let dir = crate::support::scratch("chaos", tag);
    let suite = dir.join(format!("{tag}.clnrm.toml"));
    std::fs::write(&suite, text).unwrap();
    let json = dir.join("report.json");
    let out = crate::support::run_bin(
        CLNRM,
        &[
            "run",
            suite.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
        &[("CLNRM_HISTORY", dir.join("history.db").to_str().unwrap())],
    );
    let both = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{both}");
    std::fs::read_to_string(&json).unwrap()
}

#[test]
fn a_suite_partitions_and_pauses_in_the_background_and_every_fault_heals() {
    let report = run_passing_suite("suite", SUITE);
    // The refused kill is reported (continue_on_failure), with the way out.
    assert!(
        report.contains("would damage it for the other tests") && report.contains("allow_damage"),
        "{report}"
    );
}

#[test]
fn a_bad_chaos_step_is_refused_with_its_position() {
    let dir = crate::support::scratch("chaos", "invalid");
    let suite = dir.join("bad.clnrm.toml");
    std::fs::write(
        &suite,
        r#"version = 1
[suite]
name = "bad"

[services.cache]
plugin = "redis"

[services.front]
plugin = "redis"
chaos = true

[[scenarios]]
name = "s"

[[scenarios.steps]]
name = "lag"
chaos = { fault = "latency", service = "cache", latency = "1s" }

[[scenarios.steps]]
name = "typo"
chaos = { fault = "paus", service = "cahce", after = "soon" }

[[scenarios.steps]]
name = "mixed up"
chaos = { fault = "bandwidth", service = "front", latency = "1s", toxicity = 2.0, direction = "sideways" }

[[scenarios.steps]]
name = "pause"
chaos = { fault = "pause", service = "front", delay = "1s" }
"#,
    )
    .unwrap();
    let out = crate::support::run_bin(CLNRM, &["run", suite.to_str().unwrap()], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for needle in [
        "bad.clnrm.toml:17:19",
        "a connection fault in chaos of step \"lag\" needs a proxy in front of service \"cache\": declare it with `chaos = true`",
        "bad.clnrm.toml:21:19",
        "unknown fault `paus` in chaos of step \"typo\", did you mean `pause`?",
        "`after` in chaos of step \"typo\"",
        "bad.clnrm.toml:25:61",
        "`latency` in chaos of step \"mixed up\": fault `bandwidth` takes only rate",
        "bad.clnrm.toml:25:9",
        "chaos of step \"mixed up\": fault `bandwidth` needs `rate`, like rate = 64 (KB/s)",
        "bad.clnrm.toml:25:78",
        "`toxicity` in chaos of step \"mixed up\": expected a probability from 0.0 to 1.0",
        "bad.clnrm.toml:25:95",
        "unknown direction `sideways` in chaos of step \"mixed up\"",
        "bad.clnrm.toml:29:55",
        "`delay` in chaos of step \"pause\" is for a connection fault",
    ] {
        assert!(stderr.contains(needle), "no {needle:?} in\n{stderr}");
    }
}

const CONNECTION_SUITE: &str = r#"version = 1
[suite]
name = "connection-chaos"

[services.cache]
plugin = "redis"
chaos = true

[services.app]
plugin = "generic"
image = "debian:bookworm"
cmd = ["sleep", "infinity"]

# A tiny HTTP server (Perl's core sockets), for the http steps.
[services.web]
plugin = "generic"
image = "debian:bookworm"
entrypoint = ["perl", "-MIO::Socket::INET", "-e", '$| = 1; my $l = IO::Socket::INET->new(LocalPort => 8080, Listen => 16, ReuseAddr => 1) or die; print "listening\n"; while (my $c = $l->accept) { while (my $h = <$c>) { last if $h =~ /^\r?\n$/ } print $c "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"; close $c }']
ports = [8080]
wait_for = { log = "listening" }
chaos = true

[[scenarios]]
name = "latency"

[[scenarios.steps]]
name = "a value of 40 KB, for bandwidth"
shell = "head -c 40960 /dev/zero | tr '\\0' x | redis-cli -h cache -x set big"
service = "app"
expect = { stdout = { contains = ["OK"] } }

[[scenarios.steps]]
name = "lag"
chaos = { fault = "latency", service = "cache", latency = "1500ms", jitter = "10ms" }

[[scenarios.steps]]
name = "a slow answer by name"
shell = "t0=$(date +%s%N); redis-cli -h cache ping; echo ms=$(( ($(date +%s%N) - t0) / 1000000 ))"
service = "app"
expect = { stdout = { contains = ["PONG"], regex = "ms=(1[5-9][0-9]{2}|[2-9][0-9]{3})" } }

[[scenarios]]
name = "bandwidth"

[[scenarios.steps]]
name = "throttle"
chaos = { fault = "bandwidth", service = "cache", rate = 20, direction = "downstream" }

[[scenarios.steps]]
name = "40 KB at 20 KB/s"
shell = "t0=$(date +%s%N); redis-cli -h cache get big | wc -c; echo ms=$(( ($(date +%s%N) - t0) / 1000000 ))"
service = "app"
expect = { stdout = { contains = ["40961"], regex = "ms=(1[5-9][0-9]{2}|[2-9][0-9]{3})" } }

[[scenarios]]
name = "timeout"

[[scenarios.steps]]
name = "blackhole"
chaos = { fault = "timeout", service = "cache", timeout = "0s" }

[[scenarios.steps]]
name = "no answer"
shell = "timeout 2 redis-cli -h cache ping; echo exit=$?"
service = "app"
expect = { stdout = { contains = ["exit=124"], not_contains = ["PONG"] } }

[[scenarios]]
name = "reset_peer"

[[scenarios.steps]]
name = "reset"
chaos = { fault = "reset_peer", service = "cache", toxicity = 1.0 }

[[scenarios.steps]]
name = "connection reset by peer"
shell = "redis-cli -h cache ping 2>&1; echo exit=$?"
service = "app"
expect = { stdout = { contains = ["reset by peer", "exit=1"], not_contains = ["PONG"] } }

[[scenarios]]
name = "slow_close"

[[scenarios.steps]]
name = "slow close"
chaos = { fault = "slow_close", service = "cache", delay = "1500ms" }

[[scenarios.steps]]
name = "the close comes late"
shell = "t0=$(date +%s%N); printf 'QUIT\\r\\n' | nc cache 6379; echo ms=$(( ($(date +%s%N) - t0) / 1000000 ))"
service = "app"
expect = { stdout = { contains = ["+OK"], regex = "ms=(1[5-9][0-9]{2}|[2-9][0-9]{3})" } }

[[scenarios]]
name = "limit_data"

[[scenarios.steps]]
name = "a hundred bytes"
chaos = { fault = "limit_data", service = "cache", bytes = 100 }

[[scenarios.steps]]
name = "cut short"
shell = "redis-cli -h cache get big 2>&1 | head -c 300"
service = "app"
expect = { stdout = { contains = ["closed"] } }

[[scenarios]]
name = "down in the background, for a second"

[[scenarios.steps]]
name = "down in a second"
chaos = { fault = "down", service = "cache", after = "1s", duration = "1500ms" }

[[scenarios.steps]]
name = "up at first"
run = ["redis-cli", "-h", "cache", "ping"]
service = "app"
expect = { stdout = { contains = ["PONG"] } }

[[scenarios.steps]]
name = "down then"
shell = "sleep 1.5; timeout 2 redis-cli -h cache ping 2>&1 || echo down"
service = "app"
expect = { stdout = { not_contains = ["PONG"] } }

[[scenarios.steps]]
name = "up after the duration"
shell = "sleep 2; redis-cli -h cache ping"
service = "app"
expect = { stdout = { contains = ["PONG"] } }

[[scenarios]]
name = "http steps go through the proxy"

[[scenarios.steps]]
name = "up"
http = { service = "web", path = "/" }
expect = { status = 200 }

[[scenarios.steps]]
name = "down"
chaos = { fault = "down", service = "web" }

[[scenarios.steps]]
name = "refused while down"
http = { service = "web", path = "/" }
expect = { status = 200 }
continue_on_failure = true

[[scenarios]]
name = "healed for the next scenario"

[[scenarios.steps]]
name = "plain again"
run = ["redis-cli", "-h", "cache", "get", "big"]
service = "app"
expect = { stdout = { contains = ["xxxxxxxxxx"] } }
"#;

#[test]
fn a_suite_injects_each_connection_fault_into_a_chaos_service_reached_by_name() {
    let report: serde_json::Value =
        serde_json::from_str(&run_passing_suite("connection", CONNECTION_SUITE)).unwrap();
    let tests = report["tests"].as_array().unwrap();
    let faults = |scenario: &str| {
        tests
            .iter()
            .find(|t| t["name"].as_str().unwrap().ends_with(scenario))
            .unwrap_or_else(|| panic!("{scenario} in {report:#}"))["faults"]
            .as_array()
            .unwrap()
            .clone()
    };
    let lag = faults("latency");
    assert_eq!(lag.len(), 1, "{lag:?}");
    assert_eq!(lag[0]["service"], "cache");
    assert_eq!(lag[0]["fault"], "latency 1500ms ±10ms downstream");
    assert_eq!(lag[0]["healed_by"], "end of test");
    assert!(lag[0]["started_at"].as_str().unwrap().ends_with('Z'));
    assert!(lag[0]["duration_secs"].as_f64().unwrap() >= 1.5);
    let down = faults("down in the background, for a second");
    assert_eq!(down[0]["fault"], "down");
    assert_eq!(down[0]["healed_by"], "timer");
    assert!(down[0]["duration_secs"].as_f64().unwrap() >= 1.5);
    assert_eq!(
        faults("healed for the next scenario"),
        Vec::<serde_json::Value>::new()
    );
    // The http step reached the service through its proxy: refused while it was down.
    let http = tests
        .iter()
        .find(|t| {
            t["name"]
                .as_str()
                .unwrap()
                .ends_with("http steps go through the proxy")
        })
        .unwrap();
    let message = http["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("step `refused while down`") && message.contains("continue_on_failure"),
        "{http:#}"
    );
    assert_eq!(http["faults"][0]["fault"], "down");
    assert_eq!(http["faults"][0]["service"], "web");
    for scenario in [
        "bandwidth",
        "timeout",
        "reset_peer",
        "slow_close",
        "limit_data",
    ] {
        assert_eq!(faults(scenario).len(), 1, "{scenario}: {report:#}");
    }
}
