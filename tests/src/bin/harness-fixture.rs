//! A clnrm test binary the harness tests (`tests/e2e/harness.rs`) run and judge by its output,
//! exit code and reports. It is a `[[bin]]`, not a `[[test]]`: several of its tests fail, panic
//! or time out on purpose and must not run in the normal test run.
//!
//! Tests that record something write into the directory named by `FIXTURE_DIR` (one per run of
//! this binary): attempt counters, `<name> <start_ns> <end_ns>` intervals, container ids.
//! Tests that must run at the same time wait for each other through marker files there, so a pair
//! that does not run concurrently fails instead of passing vacuously.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

type R = Result<(), Box<dyn std::error::Error + Send + Sync>>;

fn fixture_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("FIXTURE_DIR").expect("FIXTURE_DIR names a writable directory"))
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_nanos()
}

/// Appends one line to `FIXTURE_DIR/file` in a single write.
fn append(file: &str, line: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(fixture_dir().join(file))
        .expect("the fixture file opens");
    f.write_all(format!("{line}\n").as_bytes())
        .expect("the fixture file is written");
}

/// Marks `me` as having reached the barrier and waits (up to 20 s) for `peer` to reach it too.
async fn meet(me: &str, peer: &str) -> Result<(), String> {
    std::fs::write(fixture_dir().join(format!("{me}.ready")), b"")
        .map_err(|e| format!("marker: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !fixture_dir().join(format!("{peer}.ready")).exists() {
        if Instant::now() > deadline {
            return Err(format!(
                "{peer} never reached the barrier while {me} waited: the two did not run concurrently"
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

async fn pg(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

mod basic {
    #[clnrm::test]
    async fn passes() {}

    #[clnrm::test]
    async fn fails_with_message() -> Result<(), String> {
        Err("the fixture fails on purpose: expected 1, found 2".to_owned())
    }

    #[clnrm::test]
    async fn panics_with_message() {
        panic!("the fixture panics on purpose: boom 42");
    }

    #[clnrm::test]
    fn sync_without_ctx() {}

    #[clnrm::test]
    fn sync_with_ctx(ctx: clnrm::TestContext) -> Result<(), String> {
        if ctx.name() == "basic::sync_with_ctx" {
            Ok(())
        } else {
            Err(format!("ctx.name() is {:?}", ctx.name()))
        }
    }
}

mod timing {
    use std::time::Duration;

    #[clnrm::test(timeout = "1s")]
    async fn times_out() {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }

    /// Named to sort after `times_out`: with one thread and no history it runs after it.
    #[clnrm::test]
    async fn z_runs_after_the_timeout() {}
}

mod retry {
    use super::fixture_dir;

    /// Counts its attempts in `FIXTURE_DIR/<name>.attempts` and returns the new count.
    fn attempt(name: &str) -> u32 {
        let path = fixture_dir().join(format!("{name}.attempts"));
        let n = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok())
            .unwrap_or(0)
            + 1;
        std::fs::write(&path, n.to_string()).expect("the attempt counter is written");
        n
    }

    #[clnrm::test(retries = 2)]
    async fn flaky_then_passes() -> Result<(), String> {
        match attempt("flaky_then_passes") {
            1 => Err("first attempt fails on purpose".to_owned()),
            _ => Ok(()),
        }
    }

    #[clnrm::test(retries = 1)]
    async fn always_fails() -> Result<(), String> {
        let n = attempt("always_fails");
        Err(format!("attempt {n} fails on purpose"))
    }
}

mod groups {
    use std::time::Duration;

    use super::{append, now_ns};

    async fn hold(name: &str) {
        let start = now_ns();
        tokio::time::sleep(Duration::from_millis(300)).await;
        append("groups.log", &format!("{name} {start} {}", now_ns()));
    }

    #[clnrm::test(exclusive = "g")]
    async fn exclusive_a() {
        hold("a").await;
    }

    #[clnrm::test(exclusive = "g")]
    async fn exclusive_b() {
        hold("b").await;
    }

    #[clnrm::test(exclusive = "g")]
    async fn exclusive_c() {
        hold("c").await;
    }
}

mod ignored {
    #[clnrm::test(ignore = "the fixture's ignored test")]
    async fn skipped() {
        super::append("ignored.log", "skipped ran");
    }

    #[clnrm::test]
    async fn not_ignored() {}
}

mod isolation {
    pub(crate) mod pg {
        use super::super::{R, append, meet, now_ns, pg};

        /// Creates table `t`, inserts `me`, waits until `peer` did the same in its own database
        /// (or schema), then expects to see its row only. Records the interval in which both
        /// rows existed as far as this test knows.
        pub(crate) async fn own_rows(url: &str, me: &str, peer: &str, log: &str) -> R {
            let db = pg(url).await?;
            db.batch_execute("CREATE TABLE t (name text NOT NULL)")
                .await?;
            db.execute("INSERT INTO t (name) VALUES ($1)", &[&me])
                .await?;
            let start = now_ns();
            meet(me, peer).await?;
            let rows = db.query("SELECT name FROM t", &[]).await?;
            let names: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
            append(log, &format!("{me} {start} {}", now_ns()));
            if names != [me] {
                return Err(format!("{me} sees rows {names:?}, expected only its own").into());
            }
            let count: i64 = db.query_one("SELECT count(*) FROM t", &[]).await?.get(0);
            if count != 1 {
                return Err(format!("{me}: count(*) = {count}").into());
            }
            Ok(())
        }

        #[clnrm::test(services(db = postgres))]
        async fn a(ctx: clnrm::TestContext) -> R {
            own_rows(&ctx.url("db")?, "pg_a", "pg_b", "pg.log").await
        }

        #[clnrm::test(services(db = postgres))]
        async fn b(ctx: clnrm::TestContext) -> R {
            own_rows(&ctx.url("db")?, "pg_b", "pg_a", "pg.log").await
        }
    }

    mod schema {
        use super::super::R;
        use super::pg::own_rows;

        #[clnrm::test(services(db = postgres(isolation = "schema")))]
        async fn a(ctx: clnrm::TestContext) -> R {
            own_rows(&ctx.url("db")?, "schema_a", "schema_b", "schema.log").await
        }

        #[clnrm::test(services(db = postgres(isolation = "schema")))]
        async fn b(ctx: clnrm::TestContext) -> R {
            own_rows(&ctx.url("db")?, "schema_b", "schema_a", "schema.log").await
        }
    }

    mod redis {
        use super::super::{R, append, meet, now_ns};

        async fn own_keys(url: &str, me: &str, peer: &str) -> R {
            let client = redis::Client::open(url)?;
            let mut conn = client.get_multiplexed_async_connection().await?;
            let _: () = redis::cmd("SET")
                .arg("shared")
                .arg(me)
                .query_async(&mut conn)
                .await?;
            let counter: i64 = redis::cmd("INCR")
                .arg("counter")
                .query_async(&mut conn)
                .await?;
            let start = now_ns();
            meet(me, peer).await?;
            let shared: String = redis::cmd("GET")
                .arg("shared")
                .query_async(&mut conn)
                .await?;
            let counter_now: i64 = redis::cmd("GET")
                .arg("counter")
                .query_async(&mut conn)
                .await?;
            let size: i64 = redis::cmd("DBSIZE").query_async(&mut conn).await?;
            append("redis.log", &format!("{me} {start} {}", now_ns()));
            if (counter, counter_now, shared.as_str(), size) != (1, 1, me, 2) {
                return Err(format!(
                    "{me}: INCR gave {counter}, counter is {counter_now}, shared is {shared:?}, \
                     DBSIZE {size}; expected 1, 1, {me:?}, 2"
                )
                .into());
            }
            Ok(())
        }

        #[clnrm::test(services(cache = redis))]
        async fn a(ctx: clnrm::TestContext) -> R {
            own_keys(&ctx.url("cache")?, "redis_a", "redis_b").await
        }

        #[clnrm::test(services(cache = redis))]
        async fn b(ctx: clnrm::TestContext) -> R {
            own_keys(&ctx.url("cache")?, "redis_b", "redis_a").await
        }
    }
}

mod infra {
    #[clnrm::test(services(db = "nosuchplugin"))]
    async fn unknown_plugin(_ctx: clnrm::TestContext) {
        panic!("the body must not run when its service cannot start");
    }
}

mod diagnostics {
    use super::{R, pg};

    /// Uses Postgres, prints its URL (so the harness test can check that the failure message
    /// masks the password), then fails on purpose.
    #[clnrm::test(services(db = postgres))]
    async fn pg_fails(ctx: clnrm::TestContext) -> R {
        let url = ctx.url("db")?;
        println!("FIXTURE-URL {url}");
        let db = pg(&url).await?;
        let n: i32 = db.query_one("SELECT 41 + 1", &[]).await?.get(0);
        Err(format!("the fixture's query gave {n}, failing on purpose").into())
    }
}

mod scope_test {
    use super::{R, append};

    async fn own_container(ctx: &clnrm::TestContext, me: &str) -> R {
        let id = ctx.service("cache")?.container_id().to_owned();
        let client = redis::Client::open(ctx.url("cache")?)?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        let size: i64 = redis::cmd("DBSIZE").query_async(&mut conn).await?;
        let _: () = redis::cmd("SET")
            .arg("k")
            .arg(me)
            .query_async(&mut conn)
            .await?;
        append("scope.log", &format!("{me} {id}"));
        if size != 0 {
            return Err(format!("{me}: a fresh container holds {size} keys").into());
        }
        Ok(())
    }

    #[clnrm::test(services(cache = redis), scope = "test")]
    async fn fresh_container_a(ctx: clnrm::TestContext) -> R {
        own_container(&ctx, "a").await
    }

    #[clnrm::test(services(cache = redis), scope = "test")]
    async fn fresh_container_b(ctx: clnrm::TestContext) -> R {
        own_container(&ctx, "b").await
    }
}

mod load {
    //! Fifty tests sharing one Postgres (migrated once) and one Redis, each holding data of its
    //! own while the others run: the harness test runs them on eight threads.

    use std::time::Duration;

    use super::{R, append, now_ns, pg};

    /// Looks at everything the test can see: the migration's row and its own only, its own keys
    /// only.
    async fn sees_only_its_own(
        db: &tokio_postgres::Client,
        cache: &mut redis::aio::MultiplexedConnection,
        me: &str,
    ) -> R {
        let rows = db.query("SELECT body FROM notes ORDER BY id", &[]).await?;
        let bodies: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        if bodies != ["from the migration", me] {
            return Err(format!(
                "{me} sees notes {bodies:?}, expected the migration's and its own"
            )
            .into());
        }
        let owner: String = redis::cmd("GET").arg("owner").query_async(cache).await?;
        let counter: i64 = redis::cmd("GET").arg("counter").query_async(cache).await?;
        let size: i64 = redis::cmd("DBSIZE").query_async(cache).await?;
        if (owner.as_str(), counter, size) != (me, 1, 2) {
            return Err(format!(
                "{me}: owner {owner:?}, counter {counter}, DBSIZE {size}; expected {me:?}, 1, 2"
            )
            .into());
        }
        Ok(())
    }

    /// Writes a row and two keys, then checks four times over 150 ms that it sees only them;
    /// records `name database redis_db pg_container redis_container start end`.
    async fn own_data(ctx: &clnrm::TestContext, me: &str) -> R {
        let db = pg(&ctx.url("db")?).await?;
        db.execute("INSERT INTO notes (body) VALUES ($1)", &[&me])
            .await?;
        let database: String = db.query_one("SELECT current_database()", &[]).await?.get(0);
        let url = ctx.url("cache")?;
        let redis_db = url.rsplit('/').next().unwrap_or_default().to_owned();
        let mut cache = redis::Client::open(url)?
            .get_multiplexed_async_connection()
            .await?;
        let _: () = redis::cmd("SET")
            .arg("owner")
            .arg(me)
            .query_async(&mut cache)
            .await?;
        let counter: i64 = redis::cmd("INCR")
            .arg("counter")
            .query_async(&mut cache)
            .await?;
        if counter != 1 {
            return Err(format!("{me}: INCR gave {counter} in a fresh logical database").into());
        }
        let start = now_ns();
        for round in 0..4 {
            if round > 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            sees_only_its_own(&db, &mut cache, me).await?;
        }
        append(
            "load.log",
            &format!(
                "{me} {database} {redis_db} {} {} {start} {}",
                ctx.service("db")?.container_id(),
                ctx.service("cache")?.container_id(),
                now_ns()
            ),
        );
        Ok(())
    }

    macro_rules! load_tests {
        ($($name:ident)*) => {$(
            #[clnrm::test(services(db = postgres(migrations = "fixtures/migrations"), cache = redis))]
            async fn $name(ctx: clnrm::TestContext) -> R {
                own_data(&ctx, stringify!($name)).await
            }
        )*};
    }

    load_tests!(
        t00 t01 t02 t03 t04 t05 t06 t07 t08 t09 t10 t11 t12 t13 t14 t15 t16 t17 t18 t19
        t20 t21 t22 t23 t24 t25 t26 t27 t28 t29 t30 t31 t32 t33 t34 t35 t36 t37 t38 t39
        t40 t41 t42 t43 t44 t45 t46 t47 t48 t49
    );
}

clnrm::main!();
