#![forbid(unsafe_code)]
#![deny(warnings)]

#[clnrm::test]
fn arithmetic_still_works() {
    assert_eq!(1 + 1, 2);
}

fn main() {}
