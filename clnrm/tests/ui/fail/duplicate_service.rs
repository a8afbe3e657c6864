#[clnrm::test(services(db = postgres, cache = redis, db = "my-postgres"))]
async fn t(ctx: clnrm::TestContext) {
    let _ = ctx;
}

fn main() {}
