//! Two clnrm tests on an installed `mariadb` whose `[isolation]` hooks give each test a database
//! of its own: `tests/e2e/isolation_hooks.rs` installs it into a scratch `CLNRM_HOME` (from a
//! folder index made by the test) and runs this binary from that project. Both tests create the
//! same table and insert their own row; they meet (files in `CLNRM_HOOKS_MEET`) while both hold
//! their namespace, so they really run at the same time, and each must see only its own row.
//! Each writes its namespace to `<test>.ns` there, for the caller to check it was dropped.

use std::path::PathBuf;
use std::time::{Duration, Instant};

async fn isolated_table(ctx: &clnrm::TestContext, me: &str, other: &str) -> clnrm::Result<()> {
    let url = ctx.url("db")?;
    let namespace = url
        .rsplit_once('/')
        .map(|(_, db)| db.to_owned())
        .filter(|db| db.starts_with("clnrm_"))
        .ok_or_else(|| clnrm::Error::other(format!("the URL names no namespace: {url}")))?;
    let credentials = ctx
        .service("db")?
        .credentials()
        .cloned()
        .ok_or_else(|| clnrm::Error::other("mariadb has no credentials"))?;
    let sql = |statements: &str| {
        vec![
            "mariadb".to_owned(),
            "-h".to_owned(),
            "127.0.0.1".to_owned(),
            "-u".to_owned(),
            credentials.user.clone(),
            format!("-p{}", credentials.password),
            namespace.clone(),
            "-N".to_owned(),
            "-e".to_owned(),
            statements.to_owned(),
        ]
    };
    let created = ctx
        .exec(
            "db",
            &sql(&format!(
                "CREATE TABLE items (who VARCHAR(20)); INSERT INTO items VALUES ('{me}')"
            )),
        )
        .await?;
    if created.exit_code != 0 {
        return Err(clnrm::Error::other(format!(
            "create table failed: {}",
            created.stderr
        )));
    }
    let meet = PathBuf::from(
        std::env::var("CLNRM_HOOKS_MEET")
            .map_err(|_| clnrm::Error::other("CLNRM_HOOKS_MEET is not set"))?,
    );
    std::fs::write(meet.join(format!("{me}.ns")), &namespace).map_err(clnrm::Error::other)?;
    // Wait (at most a minute) until the other test has made its table too.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !meet.join(format!("{other}.ns")).exists() {
        if Instant::now() > deadline {
            return Err(clnrm::Error::other(format!(
                "test {other} never came: the two tests did not overlap"
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rows = ctx.exec("db", &sql("SELECT who FROM items")).await?;
    if rows.exit_code != 0 || rows.stdout.trim() != me {
        return Err(clnrm::Error::other(format!(
            "expected only the row '{me}' in {namespace}.items, got {:?} (exit {}, {})",
            rows.stdout, rows.exit_code, rows.stderr
        )));
    }
    Ok(())
}

#[clnrm::test(services(db = mariadb))]
async fn first_sees_only_its_rows(ctx: clnrm::TestContext) -> clnrm::Result<()> {
    isolated_table(&ctx, "first", "second").await
}

#[clnrm::test(services(db = mariadb))]
async fn second_sees_only_its_rows(ctx: clnrm::TestContext) -> clnrm::Result<()> {
    isolated_table(&ctx, "second", "first").await
}

clnrm::main!();
