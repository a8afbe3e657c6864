//! The cargo test front end: `#[clnrm::test]` tests run through libtest-mimic.

mod context;

pub use context::TestContext;
