#[clnrm::test]
async fn t(ctx: clnrm::TestContext, db: clnrm::TestContext) {
    let _ = (ctx, db);
}

fn main() {}
