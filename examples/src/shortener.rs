//! The service: links in Postgres, a cache-aside copy and hit counters in Redis.
//!
//! Redis keys: `link:{code}` holds the URL for [`Shortener::cache_ttl`]; `hits:{code}` counts
//! successful resolves and never expires (Redis is the only place hits are kept).

use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use tokio_postgres::{Client, NoTls};

use crate::error::{Error, Result};
use crate::validate::{generate_code, validate_code, validate_url};

/// The schema, `migrations/0001_links.sql`; [`migrate`] applies it.
pub const MIGRATION: &str = include_str!("../migrations/0001_links.sql");

/// How long a resolved link stays in the cache unless [`Shortener::with_cache_ttl`] says otherwise.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(3600);

/// How many random codes [`Shortener::shorten`] draws before giving up.
const MAX_CODE_ATTEMPTS: u32 = 8;

/// Creates the shortener's table if it is not there. Idempotent.
pub async fn migrate(client: &Client) -> Result<()> {
    client.batch_execute(MIGRATION).await?;
    Ok(())
}

/// The Redis key caching the URL of `code`.
pub fn cache_key(code: &str) -> String {
    format!("link:{code}")
}

/// The Redis key counting resolves of `code`.
pub fn hits_key(code: &str) -> String {
    format!("hits:{code}")
}

/// A URL shortener over one Postgres client and one multiplexed Redis connection. Every method
/// takes `&self`: both connections serve concurrent requests.
pub struct Shortener {
    db: Client,
    cache: MultiplexedConnection,
    cache_ttl: Duration,
}

impl std::fmt::Debug for Shortener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shortener")
            .field("cache_ttl", &self.cache_ttl)
            .finish_non_exhaustive()
    }
}

impl Shortener {
    /// A shortener over connections the caller made. The schema must exist ([`migrate`]).
    pub fn new(db: Client, cache: MultiplexedConnection) -> Self {
        Shortener {
            db,
            cache,
            cache_ttl: DEFAULT_CACHE_TTL,
        }
    }

    /// Connects to Postgres (no TLS) and Redis; the Postgres connection is driven by a task
    /// spawned on the current tokio runtime.
    pub async fn connect(db_url: &str, cache_url: &str) -> Result<Self> {
        let (db, connection) = tokio_postgres::connect(db_url, NoTls).await?;
        tokio::spawn(async move {
            // The error resurfaces on the next request through `Client`; nothing to do here.
            let _ = connection.await;
        });
        let cache = redis::Client::open(cache_url)?
            .get_multiplexed_async_connection()
            .await?;
        Ok(Shortener::new(db, cache))
    }

    /// Sets how long resolved links stay cached (rounded up to whole seconds, at least 1 s).
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// How long resolved links stay cached.
    pub fn cache_ttl(&self) -> Duration {
        self.cache_ttl
    }

    /// The Postgres client, e.g. for [`migrate`].
    pub fn db(&self) -> &Client {
        &self.db
    }

    /// Returns a code for `url`: the existing one if the URL was shortened before, else a new
    /// random one. The URL is validated and normalised first ([`validate_url`]).
    ///
    /// Two concurrent calls for a URL nobody shortened yet may mint two codes; both resolve to
    /// the URL, which is all a shortener promises.
    pub async fn shorten(&self, url: &str) -> Result<String> {
        let url = validate_url(url)?;
        if let Some(row) = self
            .db
            .query_opt(
                "SELECT code FROM links WHERE url = $1 ORDER BY created_at, code LIMIT 1",
                &[&url],
            )
            .await?
        {
            return Ok(row.get(0));
        }
        for _ in 0..MAX_CODE_ATTEMPTS {
            let code = generate_code(&mut rand::rng());
            if self.insert(&code, &url).await? {
                return Ok(code);
            }
        }
        Err(Error::CodesExhausted(MAX_CODE_ATTEMPTS))
    }

    /// Shortens `url` under the custom `code`. Fails with [`Error::CodeTaken`] if the code
    /// already stands for any URL, the same one included.
    pub async fn shorten_as(&self, url: &str, code: &str) -> Result<String> {
        let url = validate_url(url)?;
        validate_code(code)?;
        if self.insert(code, &url).await? {
            Ok(code.to_owned())
        } else {
            Err(Error::CodeTaken(code.to_owned()))
        }
    }

    /// Inserts a link; `false` when the code is taken.
    async fn insert(&self, code: &str, url: &str) -> Result<bool> {
        let inserted = self
            .db
            .execute(
                "INSERT INTO links (code, url) VALUES ($1, $2) ON CONFLICT (code) DO NOTHING",
                &[&code, &url],
            )
            .await?;
        Ok(inserted == 1)
    }

    /// The URL `code` stands for, counting the hit. Cache-aside: Redis first; on a miss,
    /// Postgres, and the answer is cached for [`Shortener::cache_ttl`]. Unknown codes (and
    /// strings that cannot be codes) are `None` and count nothing.
    pub async fn resolve(&self, code: &str) -> Result<Option<String>> {
        if validate_code(code).is_err() {
            return Ok(None);
        }
        let mut cache = self.cache.clone();
        let cached: Option<String> = cache.get(cache_key(code)).await?;
        let url = match cached {
            Some(url) => url,
            None => {
                let Some(row) = self
                    .db
                    .query_opt("SELECT url FROM links WHERE code = $1", &[&code])
                    .await?
                else {
                    return Ok(None);
                };
                let url: String = row.get(0);
                let ttl = self.cache_ttl.as_secs_f64().ceil().max(1.0) as u64;
                let () = cache.set_ex(cache_key(code), &url, ttl).await?;
                url
            }
        };
        let _: i64 = cache.incr(hits_key(code), 1).await?;
        Ok(Some(url))
    }

    /// How many times `code` was resolved (0 for unknown codes).
    pub async fn hits(&self, code: &str) -> Result<u64> {
        let mut cache = self.cache.clone();
        let hits: Option<u64> = cache.get(hits_key(code)).await?;
        Ok(hits.unwrap_or(0))
    }

    /// Removes `code` from Postgres, then its cached URL and hit counter from Redis. `false` if
    /// the code did not exist.
    ///
    /// A resolve that read Postgres just before the delete may cache the URL again just after;
    /// the cache TTL bounds how long such a stale entry lives.
    pub async fn delete(&self, code: &str) -> Result<bool> {
        let deleted = self
            .db
            .execute("DELETE FROM links WHERE code = $1", &[&code])
            .await?;
        let mut cache = self.cache.clone();
        let _: i64 = cache.del(&[cache_key(code), hits_key(code)]).await?;
        Ok(deleted == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_namespaced_by_purpose() {
        assert_eq!(cache_key("abc"), "link:abc");
        assert_eq!(hits_key("abc"), "hits:abc");
    }

    #[test]
    fn migration_creates_the_links_table_idempotently() {
        assert!(MIGRATION.contains("CREATE TABLE IF NOT EXISTS links"));
        assert!(MIGRATION.contains("CREATE INDEX IF NOT EXISTS"));
    }
}
