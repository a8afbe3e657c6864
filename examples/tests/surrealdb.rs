//! SurrealDB as a service: every test gets a namespace and database of its own on one shared
//! server, named in `ctx.url("db")` (`http://root:PASSWORD@HOST:PORT?ns=…&db=…`), so two tests
//! can write the same record id at the same time and never see each other's.
//!
//! `ctx.surql` runs SurrealQL there and fails on any statement the server refuses (SurrealDB
//! answers those with HTTP 200 and an `ERR` inside; a plain HTTP call would pass).
//!
//! On a machine that reaches Docker Hub this runs `surrealdb/surrealdb`; this repository's
//! clnrm.toml redirects it to the real server compiled from crates.io
//! (scripts/build-surrealdb-image.sh). Run with `cargo test -p clnrm-examples --test surrealdb`.

use serde_json::json;

/// Writes the same record id as the other test, then reads back only its own.
async fn same_id_own_record(ctx: &clnrm::TestContext, owner: &str) -> clnrm::Result<()> {
    ctx.surql(
        "db",
        &format!("CREATE account:main SET owner = '{owner}', balance = 10;"),
    )
    .await?;
    let results = ctx
        .surql(
            "db",
            "UPDATE account:main SET balance += 5; SELECT owner, balance FROM account;",
        )
        .await?;
    assert_eq!(results[1], json!([{ "owner": owner, "balance": 15 }]));
    Ok(())
}

#[clnrm::test(services(db = surrealdb))]
async fn alice_writes_account_main(ctx: clnrm::TestContext) -> clnrm::Result<()> {
    same_id_own_record(&ctx, "alice").await
}

#[clnrm::test(services(db = surrealdb))]
async fn bob_writes_account_main(ctx: clnrm::TestContext) -> clnrm::Result<()> {
    same_id_own_record(&ctx, "bob").await
}

clnrm::main!();
