//! Containers per test, the usual way: each test starts its own Postgres and Redis with
//! `testcontainers`, waits for them and applies the migration. Used by `usual_way.rs` and
//! `scale_usual.rs`.

use std::time::Duration;

use clnrm::Error;
use testcontainers::core::{ContainerPort, Mount, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

/// Names this process on its containers, so `bench-scale` can find them for `docker stats`.
const BENCH_LABEL: &str = "dev.clnrm.usual-way";

/// How long Postgres may refuse connections after logging that it is ready.
const CONNECT_DEADLINE: Duration = Duration::from_secs(30);

/// One test's own containers; dropping it removes them.
pub(crate) struct Services {
    pub(crate) db_url: String,
    pub(crate) cache_url: String,
    _postgres: ContainerAsync<GenericImage>,
    _redis: ContainerAsync<GenericImage>,
}

impl Services {
    /// Starts Postgres and Redis concurrently and applies the migration.
    pub(crate) async fn start() -> clnrm::Result<Services> {
        let images = clnrm::RunConfig::from_env()?.images;
        let (postgres_image, redis_image) =
            (images.resolve("postgres:16"), images.resolve("redis:7"));
        let ((postgres, db_url), (redis, cache_url)) =
            tokio::try_join!(start_postgres(&postgres_image), start_redis(&redis_image),)?;
        let (client, connection) = tokio_postgres::connect(&db_url, tokio_postgres::NoTls)
            .await
            .map_err(Error::other)?;
        tokio::spawn(connection);
        clnrm_examples::migrate(&client)
            .await
            .map_err(Error::other)?;
        Ok(Services {
            db_url,
            cache_url,
            _postgres: postgres,
            _redis: redis,
        })
    }
}

fn split_image(image: &str) -> (&str, &str) {
    image.rsplit_once(':').unwrap_or((image, "latest"))
}

async fn start_postgres(image: &str) -> clnrm::Result<(ContainerAsync<GenericImage>, String)> {
    let (name, tag) = split_image(image);
    let container = GenericImage::new(name, tag)
        .with_exposed_port(ContainerPort::Tcp(5432))
        .with_wait_for(WaitFor::message_on_stderr(
            "database system is ready to accept connections",
        ))
        .with_mount(Mount::tmpfs_mount("/var/lib/postgresql"))
        .with_label(BENCH_LABEL, std::process::id().to_string())
        .with_env_var("POSTGRES_USER", "test")
        .with_env_var("POSTGRES_PASSWORD", "test")
        .with_env_var("POSTGRES_DB", "test")
        .with_cmd([
            "postgres",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ])
        .start()
        .await
        .map_err(Error::other)?;
    let port = container
        .get_host_port_ipv4(5432)
        .await
        .map_err(Error::other)?;
    let url = format!("postgres://test:test@127.0.0.1:{port}/test");
    // The ready line can come from the entrypoint's temporary server; retry until the real one
    // answers.
    let deadline = tokio::time::Instant::now() + CONNECT_DEADLINE;
    loop {
        let attempt = async {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
            tokio::spawn(connection);
            client.simple_query("SELECT 1").await.map(drop)
        };
        match attempt.await {
            Ok(()) => break,
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(Error::other(e)),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    Ok((container, url))
}

async fn start_redis(image: &str) -> clnrm::Result<(ContainerAsync<GenericImage>, String)> {
    let (name, tag) = split_image(image);
    let container = GenericImage::new(name, tag)
        .with_exposed_port(ContainerPort::Tcp(6379))
        .with_wait_for(WaitFor::message_on_stdout("Ready to accept connections"))
        .with_label(BENCH_LABEL, std::process::id().to_string())
        .start()
        .await
        .map_err(Error::other)?;
    let port = container
        .get_host_port_ipv4(6379)
        .await
        .map_err(Error::other)?;
    Ok((container, format!("redis://127.0.0.1:{port}/0")))
}
