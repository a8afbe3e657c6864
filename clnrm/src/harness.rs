//! The cargo test front end: `#[clnrm::test]` tests registered at link time, run through
//! libtest-mimic by `clnrm::main!()`, on one shared tokio runtime, with services shared per test
//! binary and every test isolated inside them.

mod context;
mod otel;
mod report;
mod runner;
mod shared;
mod spec;

pub use context::TestContext;
pub use runner::{run_main, run_main_in};
pub use spec::{Isolation, Scope, TestService, TestSpec};
