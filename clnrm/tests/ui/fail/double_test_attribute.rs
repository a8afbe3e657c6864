#[clnrm::test]
#[test]
fn t() {}

fn main() {}
