#![forbid(unsafe_code)]
#![deny(warnings)]

use clnrm::TestContext;

#[clnrm::test(
    services(
        db = postgres(image = "postgres:16", port = 5432, offset = -1, fsync = false),
        cache = redis(image = "redis:7", isolation = "schema", memory = "256m", env("A=1", "B=2")),
        llm = "my-plugin",
    ),
    scope = "test",
    timeout = "1m 30s",
    retries = 2,
    tags("slow", "db"),
    exclusive = "migrations",
    ignore = "needs a GPU",
)]
async fn every_key_together(ctx: TestContext) -> Result<(), std::io::Error> {
    let _ = ctx.name();
    Ok(())
}

#[clnrm::test(timeout = 30, ignore)]
fn seconds_and_bare_ignore(_ctx: TestContext) {}

fn main() {}
