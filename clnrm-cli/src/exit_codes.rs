//! The documented exit codes of `clnrm`.

/// Everything passed.
pub const OK: u8 = 0;
/// Tests ran and at least one failed.
pub const TESTS_FAILED: u8 = 1;
/// Bad usage or bad input (arguments, suite files, configuration).
pub const USAGE: u8 = 2;
/// The environment is not usable: Docker unreachable, a service that cannot start.
pub const ENVIRONMENT: u8 = 3;
/// `clnrm watch` stopped by Ctrl-C (128 + SIGINT), after removing the containers of a round in
/// progress.
pub const INTERRUPTED: u8 = 130;
/// `clnrm watch` stopped by SIGTERM (128 + SIGTERM), after removing the containers of a round in
/// progress.
pub const TERMINATED: u8 = 143;
