#[clnrm::test]
struct NotATest;

fn main() {}
