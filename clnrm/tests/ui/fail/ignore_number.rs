#[clnrm::test(ignore = 5)]
fn t() {}

fn main() {}
