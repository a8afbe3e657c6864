//! The visit counter's retry logic tested against a Redis that misbehaves on purpose.
//!
//! `cache = redis(chaos = true)` puts clnrm's proxy in front of the test's Redis: `ctx.url`
//! goes through it, and `ctx.chaos("cache")` injects connection faults there. Each fault
//! touches only this test's connections, and is healed when the test ends, whatever happens.
//!
//! Run with `cargo test -p clnrm-examples --test chaos`.

use std::time::Duration;

use clnrm::chaos::Toxic;
use clnrm_examples::visits::{RetryPolicy, VisitCounter, VisitError};

#[clnrm::test(services(cache = redis(chaos = true)))]
async fn a_reset_connection_is_retried(ctx: clnrm::TestContext) -> clnrm::Result<()> {
    let counter = VisitCounter::new(&ctx.url("cache")?, RetryPolicy::default())
        .map_err(clnrm::Error::other)?;
    // Every connection is reset for the next 300 ms, then the fault heals itself.
    ctx.chaos("cache")?
        .reset_peer(Duration::ZERO)
        .await?
        .for_duration(Duration::from_millis(300));
    let hit = counter
        .hit("home", "visit-1")
        .await
        .map_err(clnrm::Error::other)?;
    assert_eq!(hit.count, 1);
    assert!(hit.attempts > 1, "the first attempt met the reset: {hit:?}");
    Ok(())
}

#[clnrm::test(services(cache = redis(chaos = true)))]
async fn a_lost_reply_is_retried_without_counting_twice(
    ctx: clnrm::TestContext,
) -> clnrm::Result<()> {
    let counter = VisitCounter::new(&ctx.url("cache")?, RetryPolicy::default())
        .map_err(clnrm::Error::other)?;
    // Redis gets the command and counts, but its reply goes into a blackhole for 500 ms.
    ctx.chaos("cache")?
        .toxic(Toxic::timeout(Duration::ZERO).downstream())
        .await?
        .for_duration(Duration::from_millis(500));
    let hit = counter
        .hit("home", "visit-1")
        .await
        .map_err(clnrm::Error::other)?;
    assert!(hit.attempts > 1, "the first reply was lost: {hit:?}");
    assert_eq!(hit.count, 1, "the retry counted the visit again");
    assert_eq!(counter.count("home").await.map_err(clnrm::Error::other)?, 1);
    Ok(())
}

#[clnrm::test(services(cache = redis(chaos = true)))]
async fn it_gives_up_after_its_attempts_while_redis_is_down(
    ctx: clnrm::TestContext,
) -> clnrm::Result<()> {
    let policy = RetryPolicy {
        attempts: 3,
        per_attempt: Duration::from_millis(200),
        backoff: Duration::from_millis(20),
    };
    let counter = VisitCounter::new(&ctx.url("cache")?, policy).map_err(clnrm::Error::other)?;
    let down = ctx.chaos("cache")?.down().await?;
    match counter.hit("home", "visit-1").await {
        Err(VisitError::GaveUp { attempts: 3, .. }) => {}
        other => panic!("expected to give up after 3 attempts, got {other:?}"),
    }
    down.heal().await?;
    let hit = counter
        .hit("home", "visit-1")
        .await
        .map_err(clnrm::Error::other)?;
    assert_eq!((hit.count, hit.attempts), (1, 1));
    Ok(())
}

clnrm::main!();
