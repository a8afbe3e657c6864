//! A page-visit counter on Redis with retry logic: every attempt has a deadline, failed
//! attempts are retried with a growing pause, and a retry never counts a visit twice (each
//! visit carries an id, and a Lua script counts an id once), even when Redis counted it but
//! its reply was lost on the way back.
//!
//! Its tests (`tests/chaos.rs`) break the connection on purpose with clnrm's chaos proxy.

use std::time::Duration;

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all (at least 1).
    pub attempts: u32,
    /// Deadline of one attempt (connecting and the command).
    pub per_attempt: Duration,
    /// Pause after the first failure; doubled after each next one.
    pub backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            per_attempt: Duration::from_millis(300),
            backoff: Duration::from_millis(100),
        }
    }
}

/// A visit counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// The page's count after this visit.
    pub count: u64,
    /// Attempts it took.
    pub attempts: u32,
}

/// Why a visit could not be counted.
#[derive(Debug, thiserror::Error)]
pub enum VisitError {
    /// Every attempt failed.
    #[error("gave up after {attempts} attempts; last: {last}")]
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// The last attempt's failure.
        last: String,
    },
    /// The URL is not a Redis URL.
    #[error(transparent)]
    Url(#[from] redis::RedisError),
}

/// Counts an id once: `SET seen:<id> NX`, then `INCR` only if it was not seen.
const COUNT_ONCE: &str = r"
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', 3600) then
  return redis.call('INCR', KEYS[2])
end
return tonumber(redis.call('GET', KEYS[2]) or '0')
";

/// The counter.
#[derive(Debug, Clone)]
pub struct VisitCounter {
    client: redis::Client,
    policy: RetryPolicy,
}

impl VisitCounter {
    /// A counter on the Redis at `url`.
    pub fn new(url: &str, policy: RetryPolicy) -> Result<Self, VisitError> {
        Ok(VisitCounter {
            client: redis::Client::open(url)?,
            policy,
        })
    }

    /// Counts visit `visit_id` of `page`, retrying as the policy says.
    pub async fn hit(&self, page: &str, visit_id: &str) -> Result<Hit, VisitError> {
        let mut pause = self.policy.backoff;
        let mut last = String::new();
        for attempt in 1..=self.policy.attempts.max(1) {
            match tokio::time::timeout(self.policy.per_attempt, self.once(page, visit_id)).await {
                Ok(Ok(count)) => {
                    return Ok(Hit {
                        count,
                        attempts: attempt,
                    });
                }
                Ok(Err(e)) => last = e.to_string(),
                Err(_) => last = format!("no answer within {:?}", self.policy.per_attempt),
            }
            if attempt < self.policy.attempts {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
        Err(VisitError::GaveUp {
            attempts: self.policy.attempts.max(1),
            last,
        })
    }

    /// One attempt, on a fresh connection (a broken one is not reused).
    async fn once(&self, page: &str, visit_id: &str) -> redis::RedisResult<u64> {
        let mut conn = self.client.get_multiplexed_async_connection().await?;
        redis::cmd("EVAL")
            .arg(COUNT_ONCE)
            .arg(2)
            .arg(format!("seen:{visit_id}"))
            .arg(format!("visits:{page}"))
            .query_async(&mut conn)
            .await
    }

    /// The page's count.
    pub async fn count(&self, page: &str) -> Result<u64, VisitError> {
        let mut conn = self.client.get_multiplexed_async_connection().await?;
        let count: Option<u64> = redis::cmd("GET")
            .arg(format!("visits:{page}"))
            .query_async(&mut conn)
            .await?;
        Ok(count.unwrap_or(0))
    }
}
