//! The shortener's integration tests, the usual way today: every test starts its own Postgres
//! and Redis containers with `testcontainers`, waits for them, runs the migration, and runs the
//! same body as the clnrm version (`shortener.rs`); the bodies live in `common/`.
//!
//! The images are the ones clnrm uses, after the same substitution (`clnrm.toml`,
//! `CLNRM_IMAGE_*`), so this runs where no registry is reachable. Postgres runs with the same
//! durability settings clnrm gives it (fsync and friends off), so the comparison is fair.

mod common;

use std::time::Duration;

use clnrm::Error;
use testcontainers::core::{ContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

/// How long Postgres may refuse connections after logging that it is ready.
const CONNECT_DEADLINE: Duration = Duration::from_secs(30);

/// One test's own containers; dropping it removes them.
struct Services {
    db_url: String,
    cache_url: String,
    _postgres: ContainerAsync<GenericImage>,
    _redis: ContainerAsync<GenericImage>,
}

impl Services {
    /// Starts Postgres and Redis concurrently and applies the migration.
    async fn start() -> clnrm::Result<Services> {
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
        .start()
        .await
        .map_err(Error::other)?;
    let port = container
        .get_host_port_ipv4(6379)
        .await
        .map_err(Error::other)?;
    Ok((container, format!("redis://127.0.0.1:{port}/0")))
}

#[tokio::test]
async fn shorten_then_resolve_round_trips() -> clnrm::Result<()> {
    let services = Services::start().await?;
    common::shorten_then_resolve_round_trips(&services.db_url, &services.cache_url).await
}

#[tokio::test]
async fn shorten_rejects_invalid_urls() -> clnrm::Result<()> {
    let services = Services::start().await?;
    common::shorten_rejects_invalid_urls(&services.db_url, &services.cache_url).await
}

#[tokio::test]
async fn shorten_returns_the_same_code_for_the_same_url() -> clnrm::Result<()> {
    let services = Services::start().await?;
    common::shorten_returns_the_same_code_for_the_same_url(&services.db_url, &services.cache_url)
        .await
}

#[tokio::test]
async fn different_urls_get_different_codes() -> clnrm::Result<()> {
    let services = Services::start().await?;
    common::different_urls_get_different_codes(&services.db_url, &services.cache_url).await
}

#[tokio::test]
async fn resolve_unknown_code_is_none() -> clnrm::Result<()> {
    let services = Services::start().await?;
    common::resolve_unknown_code_is_none(&services.db_url, &services.cache_url).await
}

#[tokio::test]
async fn resolve_fills_the_cache_with_a_ttl() -> clnrm::Result<()> {
    let services = Services::start().await?;
    common::resolve_fills_the_cache_with_a_ttl(&services.db_url, &services.cache_url).await
}

#[tokio::test]
async fn resolve_prefers_the_cache_over_the_database() -> clnrm::Result<()> {
    let services = Services::start().await?;
    common::resolve_prefers_the_cache_over_the_database(&services.db_url, &services.cache_url).await
}

#[tokio::test]
async fn resolve_reads_postgres_when_the_cache_entry_is_gone() -> clnrm::Result<()> {
    let services = Services::start().await?;
    common::resolve_reads_postgres_when_the_cache_entry_is_gone(
        &services.db_url,
        &services.cache_url,
    )
    .await
}

#[tokio::test]
async fn hits_count_resolves() -> clnrm::Result<()> {
    let services = Services::start().await?;
    common::hits_count_resolves(&services.db_url, &services.cache_url).await
}

#[tokio::test]
async fn delete_removes_from_database_and_cache() -> clnrm::Result<()> {
    let services = Services::start().await?;
    common::delete_removes_from_database_and_cache(&services.db_url, &services.cache_url).await
}

#[tokio::test]
async fn custom_code_cannot_be_taken_twice() -> clnrm::Result<()> {
    let services = Services::start().await?;
    common::custom_code_cannot_be_taken_twice(&services.db_url, &services.cache_url).await
}

#[tokio::test]
async fn same_code_in_every_test_is_stored_once() -> clnrm::Result<()> {
    let services = Services::start().await?;
    common::same_code_in_every_test_is_stored_once(&services.db_url, &services.cache_url).await
}

#[tokio::test]
async fn same_redis_key_in_every_test_starts_from_zero() -> clnrm::Result<()> {
    let services = Services::start().await?;
    common::same_redis_key_in_every_test_starts_from_zero(&services.db_url, &services.cache_url)
        .await
}

#[tokio::test]
async fn migration_is_idempotent() -> clnrm::Result<()> {
    let services = Services::start().await?;
    common::migration_is_idempotent(&services.db_url, &services.cache_url).await
}
