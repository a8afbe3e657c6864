//! A clnrm test binary whose test needs `migrations` (relative to this crate): the harness tests
//! run it directly, from another directory and without cargo's environment, to prove the
//! directory resolves against the crate as `clnrm::main!()` compiled it in.

#[clnrm::test(services(db = postgres(migrations = "fixtures/migrations")))]
async fn migrated(ctx: clnrm::TestContext) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let (db, connection) = tokio_postgres::connect(&ctx.url("db")?, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let row = db.query_one("SELECT body FROM notes", &[]).await?;
    let body: String = row.get(0);
    if body != "from the migration" {
        return Err(format!("the migration did not run: {body:?}").into());
    }
    Ok(())
}

clnrm::main!();
