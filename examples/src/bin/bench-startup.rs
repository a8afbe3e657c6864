//! Start-to-ready of each built-in plugin, against plain testcontainers starting the same image
//! with the same readiness criterion, interleaved on the same machine.
//!
//! `cargo run --release -p clnrm-examples --bin bench-startup [-- ROUNDS]` (default 5 rounds).
//! `... --bin bench-startup -- ROUNDS models` measures the model servers instead (vllm, tgi,
//! ollama with one model pulled), against testcontainers starting the same image with the same
//! command line and polling the same endpoints; on this repository's CI all three are the
//! local stand-in image (llama.cpp with Gemma 3 270M), so the figures are model load time plus
//! what each side adds.
//! `... --bin bench-startup -- ROUNDS surrealdb` measures SurrealDB (the real server; on this
//! repository's CI the image scripts/build-surrealdb-image.sh compiles), against testcontainers
//! starting the same image with the same command and waiting for the same things: the `Started
//! web server` line, `/health` 200 and a first successful `RETURN 1` as root.
//!
//! clnrm's time includes what it adds: image substitution, labels, joining the run network under
//! the service's name, readiness polling. The plain side starts the same (substituted) image
//! with testcontainers and waits for the same condition (Postgres: the ready log line and a
//! first successful `SELECT 1`; Redis: a `PONG`; generic: started).

use std::time::{Duration, Instant};

use clnrm::{Registry, RunConfig, RunEnv, ServiceSpec};
use testcontainers::core::{ContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{GenericImage, ImageExt};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rounds: usize = std::env::args().nth(1).map_or(Ok(5), |a| a.parse())?;
    match std::env::args().nth(2).as_deref() {
        Some("models") => return model_servers(rounds).await,
        Some("surrealdb") => return surrealdb(rounds).await,
        _ => {}
    }
    let config = RunConfig::from_env()?;
    let images = config.images.clone();
    let t0 = Instant::now();
    let env = RunEnv::start(config).await?;
    let env_start = t0.elapsed();
    let registry = Registry::builtin();

    println!(
        "run environment (connect, reap, network): {} ms",
        env_start.as_millis()
    );
    println!("start-to-ready, median of {rounds} rounds, ms (all samples below each line)");
    println!(
        "{:<9} {:>9} {:>12} {:>12} {:>12} {:>13}",
        "plugin", "clnrm", "tc bridge", "tc user net", "vs bridge", "vs user net"
    );
    for plugin in ["postgres", "redis", "generic"] {
        let mut ours = Vec::new();
        let mut plain = Vec::new();
        let mut plain_net = Vec::new();
        for _ in 0..rounds {
            // clnrm
            let spec = match plugin {
                "generic" => ServiceSpec::new("svc", "generic")
                    .image("debian:bookworm")
                    .cmd(["sleep", "infinity"]),
                other => ServiceSpec::new("svc", other),
            };
            let t = Instant::now();
            let services = registry.start_all(&env, &[spec]).await?;
            ours.push(t.elapsed());
            services.stop_all().await?;

            // plain testcontainers, same image, same readiness: on Docker's default bridge, and
            // on a user network like clnrm's run network
            for (net, plain) in [(None, &mut plain), (Some(env.network()), &mut plain_net)] {
                let t = Instant::now();
                match plugin {
                    "postgres" => {
                        let image = images.resolve("postgres:16");
                        let (name, tag) = image.rsplit_once(':').unwrap_or((&image, "latest"));
                        let container = GenericImage::new(name, tag)
                            .with_exposed_port(ContainerPort::Tcp(5432))
                            .with_wait_for(WaitFor::message_on_stderr(
                                "database system is ready to accept connections",
                            ))
                            .with_env_var("POSTGRES_USER", "u")
                            .with_env_var("POSTGRES_PASSWORD", "p")
                            .with_env_var("POSTGRES_DB", "d")
                            .with_cmd([
                                "postgres",
                                "-c",
                                "fsync=off",
                                "-c",
                                "synchronous_commit=off",
                                "-c",
                                "full_page_writes=off",
                            ])
                            .with_network(net.unwrap_or("bridge"))
                            .start()
                            .await?;
                        let port = container.get_host_port_ipv4(5432).await?;
                        let url = format!("postgres://u:p@127.0.0.1:{port}/d");
                        loop {
                            if let Ok((client, conn)) =
                                tokio_postgres::connect(&url, tokio_postgres::NoTls).await
                            {
                                tokio::spawn(conn);
                                if client.simple_query("SELECT 1").await.is_ok() {
                                    break;
                                }
                            }
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        plain.push(t.elapsed());
                        container.rm().await?;
                    }
                    "redis" => {
                        let image = images.resolve("redis:7");
                        let (name, tag) = image.rsplit_once(':').unwrap_or((&image, "latest"));
                        let container = GenericImage::new(name, tag)
                            .with_exposed_port(ContainerPort::Tcp(6379))
                            .with_wait_for(WaitFor::message_on_stdout(
                                "Ready to accept connections",
                            ))
                            .with_network(net.unwrap_or("bridge"))
                            .start()
                            .await?;
                        let port = container.get_host_port_ipv4(6379).await?;
                        let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
                        let mut conn = client.get_multiplexed_async_connection().await?;
                        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
                        plain.push(t.elapsed());
                        container.rm().await?;
                    }
                    _ => {
                        let image = images.resolve("debian:bookworm");
                        let (name, tag) = image.rsplit_once(':').unwrap_or((&image, "latest"));
                        let container = GenericImage::new(name, tag)
                            .with_cmd(["sleep", "infinity"])
                            .with_network(net.unwrap_or("bridge"))
                            .start()
                            .await?;
                        plain.push(t.elapsed());
                        container.rm().await?;
                    }
                }
            }
        }
        let (m_ours, m_plain, m_net) = (
            median(&mut ours),
            median(&mut plain),
            median(&mut plain_net),
        );
        let pct = |base: Duration| (m_ours.as_secs_f64() / base.as_secs_f64() - 1.0) * 100.0;
        println!(
            "{plugin:<9} {:>9} {:>12} {:>12} {:>11.1}% {:>12.1}%",
            m_ours.as_millis(),
            m_plain.as_millis(),
            m_net.as_millis(),
            pct(m_plain),
            pct(m_net)
        );
        println!("          clnrm            {:?}", ms(&ours));
        println!("          plain, bridge    {:?}", ms(&plain));
        println!("          plain, user net  {:?}", ms(&plain_net));
    }
    env.stop().await?;
    Ok(())
}

/// The model-server plugins against plain testcontainers on Docker's default bridge.
async fn model_servers(rounds: usize) -> Result<(), Box<dyn std::error::Error>> {
    const MODEL: &str = "google/gemma-3-270m";
    let config = RunConfig::from_env()?;
    let images = config.images.clone();
    let env = RunEnv::start(config).await?;
    let registry = Registry::builtin();
    println!("start-to-ready of the model servers, median of {rounds} rounds, ms");
    println!(
        "{:<9} {:>9} {:>12} {:>12}",
        "plugin", "clnrm", "tc bridge", "vs bridge"
    );
    for plugin in ["vllm", "tgi", "ollama"] {
        let (mut ours, mut plain) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let spec = match plugin {
                "ollama" => ServiceSpec::new("llm", "ollama").models(["gemma3:270m"]),
                other => ServiceSpec::new("llm", other).model(MODEL),
            };
            let t = Instant::now();
            let services = registry.start_all(&env, &[spec]).await?;
            ours.push(t.elapsed());
            services.stop_all().await?;

            let (official, port, cmd): (&str, u16, Vec<&str>) = match plugin {
                "vllm" => (
                    clnrm::plugins::VLLM_IMAGE,
                    8000,
                    vec!["--model", MODEL, "--port", "8000"],
                ),
                "tgi" => (
                    clnrm::plugins::TGI_IMAGE,
                    80,
                    vec!["--model-id", MODEL, "--port", "80"],
                ),
                _ => (clnrm::plugins::OLLAMA_IMAGE, 11434, vec!["serve"]),
            };
            let image = images.resolve(official);
            let (name, tag) = image.rsplit_once(':').unwrap_or((&image, "latest"));
            let t = Instant::now();
            let container = GenericImage::new(name, tag)
                .with_exposed_port(ContainerPort::Tcp(port))
                .with_cmd(cmd)
                .with_env_var("OLLAMA_HOST", "0.0.0.0:11434")
                .start()
                .await?;
            let base = format!(
                "http://127.0.0.1:{}",
                container.get_host_port_ipv4(port).await?
            );
            let http = reqwest::Client::new();
            let ok = |path: &'static str| {
                let (http, base) = (http.clone(), base.clone());
                async move {
                    loop {
                        if let Ok(r) = http.get(format!("{base}{path}")).send().await
                            && r.status().is_success()
                        {
                            return r.text().await.unwrap_or_default();
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            };
            match plugin {
                "vllm" => {
                    ok("/health").await;
                    ok("/v1/models").await;
                }
                "tgi" => {
                    ok("/health").await;
                    ok("/info").await;
                }
                _ => {
                    ok("/api/version").await;
                    http.post(format!("{base}/api/pull"))
                        .json(&serde_json::json!({"model": "gemma3:270m"}))
                        .send()
                        .await?
                        .text()
                        .await?;
                    ok("/api/tags").await;
                }
            }
            plain.push(t.elapsed());
            container.rm().await?;
        }
        print_against_bridge(plugin, &mut ours, &mut plain);
    }
    env.stop().await?;
    Ok(())
}

/// The surrealdb plugin against plain testcontainers on Docker's default bridge.
async fn surrealdb(rounds: usize) -> Result<(), Box<dyn std::error::Error>> {
    let config = RunConfig::from_env()?;
    let images = config.images.clone();
    let env = RunEnv::start(config).await?;
    let registry = Registry::builtin();
    let image = images.resolve(clnrm::plugins::SURREALDB_IMAGE);
    println!("start-to-ready of surrealdb ({image}), median of {rounds} rounds, ms");
    println!(
        "{:<9} {:>9} {:>12} {:>12}",
        "plugin", "clnrm", "tc bridge", "vs bridge"
    );
    let (mut ours, mut plain) = (Vec::new(), Vec::new());
    let http = reqwest::Client::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let services = registry
            .start_all(&env, &[ServiceSpec::new("db", "surrealdb")])
            .await?;
        ours.push(t.elapsed());
        services.stop_all().await?;

        let (name, tag) = image.rsplit_once(':').unwrap_or((&image, "latest"));
        let t = Instant::now();
        let container = GenericImage::new(name, tag)
            .with_exposed_port(ContainerPort::Tcp(8000))
            .with_wait_for(WaitFor::message_on_stdout("Started web server on"))
            .with_env_var("SURREAL_USER", "root")
            .with_env_var("SURREAL_PASS", "bench")
            .with_env_var("SURREAL_BIND", "0.0.0.0:8000")
            .with_cmd(["start", "memory"])
            .start()
            .await?;
        let base = format!(
            "http://127.0.0.1:{}",
            container.get_host_port_ipv4(8000).await?
        );
        loop {
            let health = http.get(format!("{base}/health")).send().await;
            if health.is_ok_and(|r| r.status().is_success()) {
                let query = http
                    .post(format!("{base}/sql"))
                    .basic_auth("root", Some("bench"))
                    .header("accept", "application/json")
                    .body("RETURN 1")
                    .send()
                    .await;
                if let Ok(r) = query
                    && r.status().is_success()
                    && r.text().await.is_ok_and(|t| t.contains("\"OK\""))
                {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        plain.push(t.elapsed());
        container.rm().await?;
    }
    print_against_bridge("surrealdb", &mut ours, &mut plain);
    env.stop().await?;
    Ok(())
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// One plugin's row: the medians of clnrm and of plain testcontainers on the default bridge,
/// the difference, and every sample.
fn print_against_bridge(plugin: &str, ours: &mut [Duration], plain: &mut [Duration]) {
    let (m_ours, m_plain) = (median(ours), median(plain));
    println!(
        "{plugin:<9} {:>9} {:>12} {:>11.1}%",
        m_ours.as_millis(),
        m_plain.as_millis(),
        (m_ours.as_secs_f64() / m_plain.as_secs_f64() - 1.0) * 100.0
    );
    println!("          clnrm            {:?}", ms(ours));
    println!("          plain, bridge    {:?}", ms(plain));
}

fn ms(samples: &[Duration]) -> Vec<u128> {
    samples.iter().map(Duration::as_millis).collect()
}
