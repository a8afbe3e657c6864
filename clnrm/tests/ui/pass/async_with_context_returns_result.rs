#![forbid(unsafe_code)]
#![deny(warnings)]

#[clnrm::test(services(db = postgres))]
async fn signup_stores_user(ctx: clnrm::TestContext) -> clnrm::Result<()> {
    let _url = ctx.url("db")?;
    Ok(())
}

fn main() {}
