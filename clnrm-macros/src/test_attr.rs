//! `#[clnrm::test(...)]`: parse the arguments ([`args`]), check the function's signature
//! ([`signature`]), then expand into a `TestDef` registration ([`expand`]).
//!
//! Only syntax is checked here. What the arguments mean (does plugin `postgres` exist, does
//! `"1m 30s"` parse) is checked at run time by the harness, with the same validator as the TOML
//! suites, and reported with the test's file and line.

mod args;
mod expand;
mod signature;

pub(crate) use expand::expand;
