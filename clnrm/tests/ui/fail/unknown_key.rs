#[clnrm::test(retry = 2)]
async fn t() {}

fn main() {}
