#[clnrm::test(services(db postgres))]
async fn t(ctx: clnrm::TestContext) {
    let _ = ctx;
}

fn main() {}
