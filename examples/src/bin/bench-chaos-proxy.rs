//! What clnrm's chaos proxy (a service declared with `chaos = true`) costs when no toxic is set:
//! the round trip of Redis PINGs and the throughput of a bulk GET, straight to the service's
//! published port and through the proxy, interleaved in one run on the same Redis.
//!
//! `cargo run --release -p clnrm-examples --bin bench-chaos-proxy [-- PINGS [MIB]]`
//! (default 1000 PINGs each way, an 8 MiB value fetched 10 times each way).

use std::time::{Duration, Instant};

use clnrm::chaos::Proxy;
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
    env.stop().await?;
    Ok(())
}
