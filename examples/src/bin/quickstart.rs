//! Starts Postgres, Redis and a generic container in one run, uses them through real clients,
//! prints what happened and tears everything down.
//!
//! `cargo run -p clnrm-examples --bin quickstart`

use std::time::Instant;

use clnrm::{Registry, RunConfig, RunEnv, ServiceSpec};

#[tokio::main]
async fn main() -> Result<(), clnrm::Error> {
    let t0 = Instant::now();
    let env = RunEnv::start(RunConfig::from_env()?).await?;
    let specs = [
        ServiceSpec::new("db", "postgres"),
        ServiceSpec::new("cache", "redis"),
        ServiceSpec::new("client", "generic")
            .image("debian:bookworm")
            .cmd(["sleep", "infinity"])
            .depends_on("db"),
    ];
    let services = Registry::builtin().start_all(&env, &specs).await?;
    println!("run {} on network {}", env.id(), env.network());
    for (name, took) in services.start_times() {
        let handle = services.get(name)?;
        println!(
            "  {name:<7} ready in {:>5} ms  image {:<30} {}",
            took.as_millis(),
            handle.image(),
            handle.redacted_url().unwrap_or_default()
        );
    }

    let db = services.get("db")?;
    let (client, connection) =
        tokio_postgres::connect(db.url().unwrap_or_default(), tokio_postgres::NoTls)
            .await
            .map_err(clnrm::Error::other)?;
    tokio::spawn(connection);
    client
        .batch_execute(
            "CREATE TABLE links (code text PRIMARY KEY, url text NOT NULL);
             INSERT INTO links VALUES ('clnrm', 'https://example.org/clnrm'), ('rust', 'https://www.rust-lang.org');",
        )
        .await
        .map_err(clnrm::Error::other)?;
    let rows = client
        .query("SELECT code, url FROM links ORDER BY code", &[])
        .await
        .map_err(clnrm::Error::other)?;
    println!("postgres: {} rows", rows.len());
    for row in &rows {
        println!("  {} -> {}", row.get::<_, &str>(0), row.get::<_, &str>(1));
    }

    let cache = redis::Client::open(services.get("cache")?.url().unwrap_or_default())
        .map_err(clnrm::Error::other)?;
    let mut conn = cache
        .get_multiplexed_async_connection()
        .await
        .map_err(clnrm::Error::other)?;
    let hits: i64 = redis::cmd("INCRBY")
        .arg("hits:clnrm")
        .arg(3)
        .query_async(&mut conn)
        .await
        .map_err(clnrm::Error::other)?;
    println!("redis: hits:clnrm = {hits}");

    // From inside the run network, by service name, with psql in the generic container.
    let creds = db.credentials().cloned().expect("postgres has credentials");
    let url = format!(
        "postgres://{}:{}@db:5432/{}",
        creds.user,
        creds.password,
        creds.database.unwrap_or_default()
    );
    let out = services
        .get("client")?
        .exec(&["psql", &url, "-Atc", "SELECT count(*) FROM links"])
        .await?;
    println!(
        "client container, psql via db:5432: count = {}",
        out.stdout.trim()
    );

    services.stop_all().await?;
    env.stop().await?;
    println!(
        "done in {} ms, containers removed",
        t0.elapsed().as_millis()
    );
    Ok(())
}
