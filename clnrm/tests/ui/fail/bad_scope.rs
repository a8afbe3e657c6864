#[clnrm::test(services(db = postgres), scope = "global")]
async fn t(ctx: clnrm::TestContext) {
    let _ = ctx;
}

fn main() {}
