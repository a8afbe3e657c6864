#[clnrm::test(scope = "test")]
async fn t() {}

fn main() {}
