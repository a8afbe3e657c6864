#![forbid(unsafe_code)]
#![deny(warnings)]

#[clnrm::test(services(db = postgres))]
async fn first(ctx: clnrm::TestContext) -> clnrm::Result<()> {
    ctx.url("db").map(drop)
}

#[clnrm::test(services(db = postgres))]
async fn second(ctx: clnrm::TestContext) -> clnrm::Result<()> {
    ctx.url("db").map(drop)
}

/// Named like the expansion's own locals: hygiene keeps them apart.
#[clnrm::test]
fn ctx() {}

#[clnrm::test]
fn _ctx(ctx: clnrm::TestContext) {
    let _ = ctx;
}

fn main() {}
