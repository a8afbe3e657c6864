#![forbid(unsafe_code)]
#![deny(warnings)]

#[clnrm::test]
fn needs_no_services() {}

clnrm::main!();
