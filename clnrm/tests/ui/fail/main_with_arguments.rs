#[clnrm::test]
fn t() {}

clnrm::main!(test_threads = 4);
