//! What clnrm's chaos proxy (a service declared with `chaos = true`) costs when no toxic is set:
//! the round trip of Redis PINGs and the throughput of a bulk GET, straight to the service's
//! published port and through the proxy, interleaved in one run on the same Redis.
//!
//! Then the same from another container of the run, reaching a `chaos = true` Redis by its
//! name (`redis-benchmark -c 1` in the toolbox image): straight to the service
//! (`NAME-upstream`), through its front alone (no test in progress), and through its front and
//! a test's proxy (a chaos session in progress), interleaved.
//!
//! `cargo run --release -p clnrm-examples --bin bench-chaos-proxy [-- PINGS [MIB]]`
//! (default 1000 PINGs each way, an 8 MiB value fetched 10 times each way).

use std::time::{Duration, Instant};

use clnrm::chaos::{ChaosService, ChaosSession, Proxy};
use clnrm::{Registry, RunConfig, RunEnv, ServiceSpec};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pings: usize = std::env::args().nth(1).map_or(Ok(1000), |a| a.parse())?;
    let mib: usize = std::env::args().nth(2).map_or(Ok(8), |a| a.parse())?;
    let env = RunEnv::start(RunConfig::from_env()?).await?;
    let services = Registry::builtin()
        .start_all(&env, &[ServiceSpec::new("cache", "redis")])
        .await?;
    let cache = services.get("cache")?;
    let direct_url = cache.url().ok_or("redis has a URL")?.to_owned();
    let upstream = format!("{}:{}", cache.host(), cache.port(6379)?);
    let proxy = Proxy::start("cache", "127.0.0.1:0", upstream).await?;
    let proxied_url = direct_url.replace(
        &format!("{}:{}", cache.host(), cache.port(6379)?),
        &proxy.listen_addr().to_string(),
    );

    let mut direct = redis::Client::open(direct_url.as_str())?
        .get_multiplexed_async_connection()
        .await?;
    let mut proxied = redis::Client::open(proxied_url.as_str())?
        .get_multiplexed_async_connection()
        .await?;

    // Warm-up, then PINGs alternating direct / proxied so both see the same machine load.
    for _ in 0..50 {
        let _: String = redis::cmd("PING").query_async(&mut direct).await?;
        let _: String = redis::cmd("PING").query_async(&mut proxied).await?;
    }
    let (mut d, mut p) = (Vec::with_capacity(pings), Vec::with_capacity(pings));
    for _ in 0..pings {
        let t = Instant::now();
        let _: String = redis::cmd("PING").query_async(&mut direct).await?;
        d.push(t.elapsed());
        let t = Instant::now();
        let _: String = redis::cmd("PING").query_async(&mut proxied).await?;
        p.push(t.elapsed());
    }
    d.sort();
    p.sort();
    println!("Redis PING round trip, {pings} each, µs");
    println!("{:<10} {:>9} {:>9}", "", "p50", "p99");
    for (name, s) in [("direct", &d), ("proxied", &p)] {
        println!(
            "{name:<10} {:>9.1} {:>9.1}",
            micros(percentile(s, 0.5)),
            micros(percentile(s, 0.99))
        );
    }
    println!(
        "{:<10} {:>9.1} {:>9.1}",
        "added",
        micros(percentile(&p, 0.5)) - micros(percentile(&d, 0.5)),
        micros(percentile(&p, 0.99)) - micros(percentile(&d, 0.99))
    );

    // Bulk: one value of MIB MiB fetched with GET, alternating.
    let value = vec![b'x'; mib * 1024 * 1024];
    let _: () = redis::cmd("SET")
        .arg("bulk")
        .arg(&value)
        .query_async(&mut direct)
        .await?;
    let rounds = 10;
    let (mut dt, mut pt) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..rounds {
        for (conn, total) in [(&mut direct, &mut dt), (&mut proxied, &mut pt)] {
            let t = Instant::now();
            let got: Vec<u8> = redis::cmd("GET").arg("bulk").query_async(conn).await?;
            *total += t.elapsed();
            assert_eq!(got.len(), value.len());
        }
    }
    let mb = (mib * rounds) as f64 * 1024.0 * 1024.0 / 1e6;
    println!("bulk GET of {mib} MiB x {rounds}, MB/s (1 MB = 10^6 bytes)");
    println!("{:<10} {:>9.1}", "direct", mb / dt.as_secs_f64());
    println!("{:<10} {:>9.1}", "proxied", mb / pt.as_secs_f64());

    drop(proxy);
    services.stop_all().await?;

    // From another container, by name.
    let specs = [
        ServiceSpec::new("kv", "redis").chaos(true),
        ServiceSpec::new("app", "generic")
            .image("clnrm-local/toolbox:bookworm")
            .cmd(["sleep", "infinity"]),
    ];
    let services = Registry::builtin().start_all(&env, &specs).await?;
    let kv = services.get("kv")?;
    let app = services.get("app")?;
    let n = pings.to_string();
    // p50 and p99 in µs of `redis-benchmark` PINGs (one connection) to `host`.
    let bench = |host: &'static str| {
        let n = n.clone();
        async move {
            let argv = [
                "redis-benchmark",
                "-h",
                host,
                "-t",
                "ping",
                "-n",
                n.as_str(),
                "-c",
                "1",
                "--csv",
            ];
            let out = app.exec(&argv).await?;
            let line = out
                .stdout
                .lines()
                .find(|l| l.starts_with("\"PING_MBULK\""))
                .ok_or_else(|| format!("no PING_MBULK line: {out:?}"))?
                .to_owned();
            let fields: Vec<f64> = line
                .split(',')
                .skip(1)
                .map(|f| f.trim_matches('"').parse::<f64>())
                .collect::<Result<_, _>>()?;
            // rps, avg, min, p50, p95, p99, max (ms)
            Ok::<_, Box<dyn std::error::Error>>((fields[3] * 1e3, fields[5] * 1e3))
        }
    };
    let (mut direct, mut front, mut both) = (Vec::new(), Vec::new(), Vec::new());
    let rounds = 3;
    for _ in 0..rounds {
        direct.push(bench("kv-upstream").await?);
        front.push(bench("kv").await?);
        let session = ChaosSession::new(vec![ChaosService {
            name: "kv".to_owned(),
            handle: Some(kv.clone()),
            url: kv.url().map(str::to_owned),
            shared: false,
            proxied: true,
        }])
        .await?;
        both.push(bench("kv").await?);
        session.heal_all().await;
    }
    let median = |v: &mut Vec<(f64, f64)>| {
        let mut p50: Vec<f64> = v.iter().map(|x| x.0).collect();
        let mut p99: Vec<f64> = v.iter().map(|x| x.1).collect();
        p50.sort_by(f64::total_cmp);
        p99.sort_by(f64::total_cmp);
        (p50[p50.len() / 2], p99[p99.len() / 2])
    };
    println!(
        "Redis PING from another container by name, redis-benchmark -c 1, {pings} each, \
         median of {rounds} rounds, µs"
    );
    println!("{:<22} {:>9} {:>9}", "", "p50", "p99");
    for (name, v) in [
        ("direct (NAME-upstream)", &mut direct),
        ("front", &mut front),
        ("front + proxy", &mut both),
    ] {
        let (p50, p99) = median(v);
        println!("{name:<22} {p50:>9.1} {p99:>9.1}");
    }
    services.stop_all().await?;
    env.stop().await?;
    Ok(())
}
