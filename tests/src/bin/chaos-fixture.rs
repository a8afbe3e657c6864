//! A clnrm test binary whose tests inject faults, run by `tests/e2e/chaos.rs` with
//! `--test-threads 1 --order file`: the first panics with faults in force, the ones after it
//! check that the shared services it broke were healed. A `[[bin]]`, not a `[[test]]`: one of
//! its tests fails on purpose.

use std::time::Duration;

async fn pg(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

#[clnrm::test(services(db = postgres, cache = redis(chaos = true)))]
async fn a_panics_with_faults_in_force(ctx: clnrm::TestContext) -> clnrm::Result<()> {
    let _lag = ctx
        .chaos("cache")?
        .latency(Duration::from_millis(300))
        .await?;
    // A guard that never drops: only the end of the test can heal this one.
    std::mem::forget(ctx.chaos("db")?.pause().await?);
    panic!("boom with the shared database paused");
}

#[clnrm::test(services(db = postgres, cache = redis(chaos = true)))]
async fn b_finds_the_shared_services_healed(ctx: clnrm::TestContext) -> clnrm::Result<()> {
    let client = pg(&ctx.url("db")?).await.map_err(clnrm::Error::other)?;
    tokio::time::timeout(Duration::from_secs(5), client.simple_query("SELECT 1"))
        .await
        .map_err(|_| clnrm::Error::other("the shared database still hangs"))?
        .map_err(clnrm::Error::other)?;
    let cache = redis::Client::open(ctx.url("cache")?).map_err(clnrm::Error::other)?;
    let mut conn = cache
        .get_multiplexed_async_connection()
        .await
        .map_err(clnrm::Error::other)?;
    let t0 = std::time::Instant::now();
    let _: String = redis::cmd("PING")
        .query_async(&mut conn)
        .await
        .map_err(clnrm::Error::other)?;
    if t0.elapsed() >= Duration::from_millis(300) {
        return Err(clnrm::Error::other(
            "the latency of the test before is still there",
        ));
    }
    Ok(())
}

#[clnrm::test(services(db = postgres))]
async fn c_kill_on_a_shared_service_is_refused(ctx: clnrm::TestContext) -> clnrm::Result<()> {
    match ctx.chaos("db")?.kill("SIGKILL").await {
        Ok(_) => Err(clnrm::Error::other("a shared service was killed")),
        Err(e) if e.to_string().contains("scope = \"test\"") => Ok(()),
        Err(e) => Err(clnrm::Error::other(format!(
            "refused without saying how: {e}"
        ))),
    }
}

#[clnrm::test(scope = "test", services(db = postgres(chaos = true)))]
async fn d_kill_on_a_test_scoped_service_heals_on_drop(
    ctx: clnrm::TestContext,
) -> clnrm::Result<()> {
    let url = ctx.url("db")?;
    let killed = ctx.chaos("db")?.kill("SIGKILL").await?;
    if pg(&url).await.is_ok() {
        return Err(clnrm::Error::other(
            "a killed postgres accepted a connection",
        ));
    }
    killed.heal().await?;
    pg(&url)
        .await
        .map_err(clnrm::Error::other)?
        .simple_query("SELECT 1")
        .await
        .map_err(clnrm::Error::other)?;
    Ok(())
}

clnrm::main!();
