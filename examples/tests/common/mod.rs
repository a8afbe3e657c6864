//! The shortener's integration-test bodies, shared by `shortener.rs` (clnrm: services shared per
//! test binary, every test isolated inside them) and `usual_way.rs` (testcontainers: containers
//! per test), so both run identical test logic.
//!
//! Every body takes the URL of a Postgres database with the migrations applied and the URL of a
//! Redis logical database, both seen by the calling test only. Several bodies touch the same
//! code (`abc`) or the same Redis key (`visits`) and count rows or keys: they pass only if
//! nothing else writes there while they run.

use std::time::Duration;

use clnrm::Error;
use clnrm_examples::shortener::{cache_key, hits_key};
use clnrm_examples::{Error as AppError, Shortener};
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;

/// The application under test, plus a Redis connection of the test's own to look behind its back.
struct Fixture {
    app: Shortener,
    cache: MultiplexedConnection,
}

impl Fixture {
    async fn new(db_url: &str, cache_url: &str) -> clnrm::Result<Fixture> {
        let app = Shortener::connect(db_url, cache_url)
            .await
            .map_err(Error::other)?;
        let cache = redis::Client::open(cache_url)
            .map_err(Error::other)?
            .get_multiplexed_async_connection()
            .await
            .map_err(Error::other)?;
        Ok(Fixture { app, cache })
    }

    /// Rows in `links`, optionally only those with `code`.
    async fn count_links(&self, code: Option<&str>) -> clnrm::Result<i64> {
        let row = match code {
            Some(code) => {
                self.app
                    .db()
                    .query_one("SELECT count(*) FROM links WHERE code = $1", &[&code])
                    .await
            }
            None => {
                self.app
                    .db()
                    .query_one("SELECT count(*) FROM links", &[])
                    .await
            }
        }
        .map_err(Error::other)?;
        Ok(row.get(0))
    }

    /// Keys in the test's Redis logical database.
    async fn cache_size(&mut self) -> clnrm::Result<i64> {
        redis::cmd("DBSIZE")
            .query_async(&mut self.cache)
            .await
            .map_err(Error::other)
    }

    async fn cached(&mut self, code: &str) -> clnrm::Result<Option<String>> {
        self.cache.get(cache_key(code)).await.map_err(Error::other)
    }
}

pub(crate) async fn shorten_then_resolve_round_trips(db: &str, cache: &str) -> clnrm::Result<()> {
    let f = Fixture::new(db, cache).await?;
    let url = "https://example.com/some/long/path?with=query#and-fragment";
    let code = f.app.shorten(url).await.map_err(Error::other)?;
    assert_eq!(code.len(), clnrm_examples::validate::CODE_LEN);
    assert_eq!(
        f.app.resolve(&code).await.map_err(Error::other)?.as_deref(),
        Some(url)
    );
    Ok(())
}

pub(crate) async fn shorten_rejects_invalid_urls(db: &str, cache: &str) -> clnrm::Result<()> {
    let f = Fixture::new(db, cache).await?;
    for bad in [
        "",
        "example.com",
        "ftp://example.com/file",
        "https://exa mple.com/",
        "https://bank.example@evil.example/",
    ] {
        match f.app.shorten(bad).await {
            Err(AppError::InvalidUrl { url, .. }) => assert_eq!(url, bad),
            other => panic!("shorten({bad:?}) should be refused, got {other:?}"),
        }
    }
    assert_eq!(f.count_links(None).await?, 0, "nothing was stored");
    Ok(())
}

pub(crate) async fn shorten_returns_the_same_code_for_the_same_url(
    db: &str,
    cache: &str,
) -> clnrm::Result<()> {
    let f = Fixture::new(db, cache).await?;
    let first = f
        .app
        .shorten("https://example.com/same")
        .await
        .map_err(Error::other)?;
    let again = f
        .app
        .shorten("https://example.com/same")
        .await
        .map_err(Error::other)?;
    let normalised = f
        .app
        .shorten("  HTTPS://EXAMPLE.com/same ")
        .await
        .map_err(Error::other)?;
    assert_eq!(first, again);
    assert_eq!(first, normalised);
    assert_eq!(f.count_links(None).await?, 1);
    Ok(())
}

pub(crate) async fn different_urls_get_different_codes(db: &str, cache: &str) -> clnrm::Result<()> {
    let f = Fixture::new(db, cache).await?;
    let mut codes = Vec::new();
    for i in 0..20 {
        let url = format!("https://example.com/page/{i}");
        codes.push(f.app.shorten(&url).await.map_err(Error::other)?);
    }
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), 20);
    assert_eq!(f.count_links(None).await?, 20);
    Ok(())
}

pub(crate) async fn resolve_unknown_code_is_none(db: &str, cache: &str) -> clnrm::Result<()> {
    let mut f = Fixture::new(db, cache).await?;
    assert_eq!(f.app.resolve("nope").await.map_err(Error::other)?, None);
    assert_eq!(f.app.resolve("../etc").await.map_err(Error::other)?, None);
    assert_eq!(f.app.hits("nope").await.map_err(Error::other)?, 0);
    assert_eq!(f.cache_size().await?, 0, "a miss caches and counts nothing");
    Ok(())
}

pub(crate) async fn resolve_fills_the_cache_with_a_ttl(db: &str, cache: &str) -> clnrm::Result<()> {
    let mut f = Fixture::new(db, cache).await?;
    f.app = f.app.with_cache_ttl(Duration::from_secs(60));
    let url = "https://example.com/cached";
    let code = f.app.shorten(url).await.map_err(Error::other)?;
    assert_eq!(f.cached(&code).await?, None, "shorten does not cache");
    f.app.resolve(&code).await.map_err(Error::other)?;
    assert_eq!(f.cached(&code).await?.as_deref(), Some(url));
    let ttl: i64 = f.cache.ttl(cache_key(&code)).await.map_err(Error::other)?;
    assert!((1..=60).contains(&ttl), "ttl {ttl}");
    Ok(())
}

pub(crate) async fn resolve_prefers_the_cache_over_the_database(
    db: &str,
    cache: &str,
) -> clnrm::Result<()> {
    let mut f = Fixture::new(db, cache).await?;
    let code = f
        .app
        .shorten("https://example.com/in-postgres")
        .await
        .map_err(Error::other)?;
    let () = f
        .cache
        .set(cache_key(&code), "https://example.com/in-redis")
        .await
        .map_err(Error::other)?;
    assert_eq!(
        f.app.resolve(&code).await.map_err(Error::other)?.as_deref(),
        Some("https://example.com/in-redis")
    );
    Ok(())
}

pub(crate) async fn resolve_reads_postgres_when_the_cache_entry_is_gone(
    db: &str,
    cache: &str,
) -> clnrm::Result<()> {
    let mut f = Fixture::new(db, cache).await?;
    let code = f
        .app
        .shorten("https://example.com/old")
        .await
        .map_err(Error::other)?;
    f.app.resolve(&code).await.map_err(Error::other)?;
    // Change the row behind the cache's back, then evict: the next resolve must see the change.
    f.app
        .db()
        .execute(
            "UPDATE links SET url = 'https://example.com/new' WHERE code = $1",
            &[&code],
        )
        .await
        .map_err(Error::other)?;
    let _: i64 = f.cache.del(cache_key(&code)).await.map_err(Error::other)?;
    assert_eq!(
        f.app.resolve(&code).await.map_err(Error::other)?.as_deref(),
        Some("https://example.com/new")
    );
    assert_eq!(
        f.cached(&code).await?.as_deref(),
        Some("https://example.com/new")
    );
    Ok(())
}

pub(crate) async fn hits_count_resolves(db: &str, cache: &str) -> clnrm::Result<()> {
    let mut f = Fixture::new(db, cache).await?;
    let code = f
        .app
        .shorten_as("https://example.com/popular", "abc")
        .await
        .map_err(Error::other)?;
    assert_eq!(f.app.hits(&code).await.map_err(Error::other)?, 0);
    for _ in 0..3 {
        f.app.resolve(&code).await.map_err(Error::other)?;
    }
    assert_eq!(f.app.hits(&code).await.map_err(Error::other)?, 3);
    let raw: i64 = f.cache.get(hits_key(&code)).await.map_err(Error::other)?;
    assert_eq!(raw, 3, "hits live in Redis");
    Ok(())
}

pub(crate) async fn delete_removes_from_database_and_cache(
    db: &str,
    cache: &str,
) -> clnrm::Result<()> {
    let mut f = Fixture::new(db, cache).await?;
    let code = f
        .app
        .shorten("https://example.com/doomed")
        .await
        .map_err(Error::other)?;
    f.app.resolve(&code).await.map_err(Error::other)?;
    assert_eq!(f.cache_size().await?, 2, "cached url and hit counter");
    assert!(f.app.delete(&code).await.map_err(Error::other)?);
    assert_eq!(f.count_links(Some(&code)).await?, 0);
    assert_eq!(f.cache_size().await?, 0);
    assert_eq!(f.app.resolve(&code).await.map_err(Error::other)?, None);
    assert!(
        !f.app.delete(&code).await.map_err(Error::other)?,
        "second delete finds nothing"
    );
    Ok(())
}

pub(crate) async fn custom_code_cannot_be_taken_twice(db: &str, cache: &str) -> clnrm::Result<()> {
    let f = Fixture::new(db, cache).await?;
    f.app
        .shorten_as("https://example.com/first", "abc")
        .await
        .map_err(Error::other)?;
    match f.app.shorten_as("https://example.com/second", "abc").await {
        Err(AppError::CodeTaken(code)) => assert_eq!(code, "abc"),
        other => panic!("expected CodeTaken, got {other:?}"),
    }
    match f.app.shorten_as("https://example.com/x", "a b").await {
        Err(AppError::InvalidCode { code, .. }) => assert_eq!(code, "a b"),
        other => panic!("expected InvalidCode, got {other:?}"),
    }
    assert_eq!(
        f.app.resolve("abc").await.map_err(Error::other)?.as_deref(),
        Some("https://example.com/first")
    );
    Ok(())
}

/// Without a database of its own, this fails on the primary key (another test inserted `abc`)
/// or on the count (another test's rows are visible).
pub(crate) async fn same_code_in_every_test_is_stored_once(
    db: &str,
    cache: &str,
) -> clnrm::Result<()> {
    let f = Fixture::new(db, cache).await?;
    f.app
        .db()
        .execute(
            "INSERT INTO links (code, url) VALUES ('abc', 'https://example.com/raw')",
            &[],
        )
        .await
        .map_err(Error::other)?;
    assert_eq!(f.count_links(Some("abc")).await?, 1);
    assert_eq!(f.count_links(None).await?, 1);
    Ok(())
}

/// Without a Redis logical database of its own, INCR would return 2 or more here.
pub(crate) async fn same_redis_key_in_every_test_starts_from_zero(
    db: &str,
    cache: &str,
) -> clnrm::Result<()> {
    let mut f = Fixture::new(db, cache).await?;
    let visits: i64 = f.cache.incr("visits", 1).await.map_err(Error::other)?;
    assert_eq!(visits, 1);
    assert_eq!(f.cache_size().await?, 1);
    Ok(())
}

pub(crate) async fn migration_is_idempotent(db: &str, cache: &str) -> clnrm::Result<()> {
    let f = Fixture::new(db, cache).await?;
    clnrm_examples::migrate(f.app.db())
        .await
        .map_err(Error::other)?;
    let tables: i64 = f
        .app
        .db()
        .query_one(
            "SELECT count(*) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = 'links'",
            &[],
        )
        .await
        .map_err(Error::other)?
        .get(0);
    assert_eq!(tables, 1);
    assert_eq!(f.count_links(None).await?, 0, "a fresh database is empty");
    Ok(())
}
