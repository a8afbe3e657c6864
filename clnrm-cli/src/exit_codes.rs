//! The documented exit codes of `clnrm`.

/// Everything passed.
pub const OK: u8 = 0;
/// Tests ran and at least one failed.
pub const TESTS_FAILED: u8 = 1;
/// Bad usage or bad input (arguments, suite files, configuration).
pub const USAGE: u8 = 2;
/// The environment is not usable: Docker unreachable, a service that cannot start.
pub const ENVIRONMENT: u8 = 3;
/// Stopped by Ctrl-C (128 + SIGINT): `run`, `watch` and `ai-orchestrate` stop starting work,
/// report what was cut short, record the run as interrupted and remove their containers first.
pub const INTERRUPTED: u8 = 130;
/// Stopped by SIGTERM (128 + SIGTERM), the same way as [`INTERRUPTED`].
pub const TERMINATED: u8 = 143;
