#[clnrm::test(retries = "two")]
async fn t() {}

fn main() {}
