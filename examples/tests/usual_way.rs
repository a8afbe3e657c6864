//! The shortener's integration tests, the usual way today: every test starts its own Postgres
//! and Redis containers with `testcontainers`, waits for them, runs the migration, and runs the
//! same body as the clnrm version (`shortener.rs`); the bodies live in `common/`.
//!
//! The images are the ones clnrm uses, after the same substitution (`clnrm.toml`,
//! `CLNRM_IMAGE_*`), so this runs where no registry is reachable. Postgres runs with the same
//! durability settings clnrm gives it (fsync and friends off, data directory on a tmpfs), so the
//! comparison is fair. The containers are started by `usual/`, shared with `scale_usual.rs`.

mod common;
mod usual;

use usual::Services;

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
