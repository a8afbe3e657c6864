#[clnrm::test]
unsafe fn t() {}

fn main() {}
