#[clnrm::test]
async fn t<D: Default>(ctx: clnrm::TestContext) {
    let _ = (ctx, D::default());
}

fn main() {}
