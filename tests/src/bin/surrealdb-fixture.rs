//! A clnrm test binary on one shared SurrealDB server, run by `tests/e2e/surrealdb.rs` with
//! `--test-threads 3`: two tests write the same record id at the same time (they meet after
//! writing, and fail if the other never comes), each in its own namespace, and must read back
//! only their own; a third runs a statement SurrealDB refuses and fails on purpose. A `[[bin]]`,
//! not a `[[test]]`, for that failure.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

static WRITTEN: AtomicUsize = AtomicUsize::new(0);

/// Writes `item:shared` as `who`, waits until the other writer has written too, then reads
/// back: only `who`'s record is there.
async fn write_meet_and_read(ctx: &clnrm::TestContext, who: &str) -> clnrm::Result<()> {
    let url = ctx.url("db")?;
    assert!(
        url.contains("?ns=clnrm_") && url.contains("&db="),
        "the test's URL names its namespace: {url}"
    );
    ctx.surql("db", &format!("CREATE item:shared SET writer = '{who}';"))
        .await?;
    WRITTEN.fetch_add(1, Ordering::SeqCst);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while WRITTEN.load(Ordering::SeqCst) < 2 {
        if std::time::Instant::now() > deadline {
            return Err(clnrm::Error::other(
                "the other writer never wrote: run both tests at once (--test-threads 2 or more)",
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let results = ctx
        .surql(
            "db",
            "SELECT writer FROM item; SELECT VALUE writer FROM item:shared;",
        )
        .await?;
    assert_eq!(
        results[0],
        serde_json::json!([{ "writer": who }]),
        "{who} sees only its own record"
    );
    assert_eq!(results[1], serde_json::json!([who]));
    println!("{who} wrote item:shared and read back only its own");
    Ok(())
}

#[clnrm::test(services(db = surrealdb))]
async fn writer_a(ctx: clnrm::TestContext) -> clnrm::Result<()> {
    write_meet_and_read(&ctx, "a").await
}

#[clnrm::test(services(db = surrealdb))]
async fn writer_b(ctx: clnrm::TestContext) -> clnrm::Result<()> {
    write_meet_and_read(&ctx, "b").await
}

#[clnrm::test(services(db = surrealdb))]
async fn refused_statement_fails_the_test(ctx: clnrm::TestContext) -> clnrm::Result<()> {
    ctx.surql(
        "db",
        "CREATE item:one SET n = 1; THROW 'the fixture refuses this';",
    )
    .await?;
    Ok(())
}

clnrm::main!();
