//! A clnrm test binary that the interruption tests (`tests/e2e/interrupt.rs`) stop with SIGINT or
//! SIGTERM at random points: eight tests on a shared Postgres and Redis (and one on a container of
//! its own), each doing real work for about a second and a half, so a signal finds services
//! starting, tests running and tests waiting.

use std::time::Duration;

type R = Result<(), Box<dyn std::error::Error + Send + Sync>>;

async fn work(ctx: &clnrm::TestContext, me: &str) -> R {
    let (db, connection) = tokio_postgres::connect(&ctx.url("db")?, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    db.batch_execute("CREATE TABLE IF NOT EXISTS t (v text)")
        .await?;
    let cache = redis::Client::open(ctx.url("cache")?)?;
    let mut conn = cache.get_multiplexed_async_connection().await?;
    for i in 0..6 {
        db.execute("INSERT INTO t VALUES ($1)", &[&format!("{me}-{i}")])
            .await?;
        let _: () = redis::cmd("SET")
            .arg(me)
            .arg(i)
            .query_async(&mut conn)
            .await?;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(())
}

macro_rules! working_tests {
    ($($name:ident),*) => {$(
        #[clnrm::test(services(db = postgres, cache = redis))]
        async fn $name(ctx: clnrm::TestContext) -> R {
            work(&ctx, stringify!($name)).await
        }
    )*};
}

working_tests!(a, b, c, d, e, f, g, h);

#[clnrm::test(services(db = postgres, cache = redis), scope = "test")]
async fn own_containers(ctx: clnrm::TestContext) -> R {
    work(&ctx, "own").await
}

clnrm::main!();
