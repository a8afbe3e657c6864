#[clnrm::test]
async fn t(ctx: &clnrm::TestContext) {
    let _ = ctx;
}

fn main() {}
