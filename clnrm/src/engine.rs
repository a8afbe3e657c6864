//! The one engine both front ends run on (the `#[clnrm::test]` harness and TOML suites): the
//! attempt loop (retries, per-attempt timeout, verdict) and the preparation of an attempt's
//! services (shared instances with a namespace of the attempt's own inside them, or fresh
//! containers for `scope = "test"`).

mod attempt;
pub(crate) mod otel;
pub(crate) mod pool;
mod prepare;

pub use attempt::{Attempt, Execution, Failure, Policy, execute, failure_message};
pub(crate) use pool::{REAPER_ENV, Share, SharedServices};
pub use prepare::{Isolation, Namespace, Scope, ServiceNeed, ServiceWait};
pub(crate) use prepare::{Prepared, PreparedService, prepare};
