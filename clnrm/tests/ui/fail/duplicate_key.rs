#[clnrm::test(timeout = 5, retries = 1, timeout = 10)]
async fn t() {}

fn main() {}
