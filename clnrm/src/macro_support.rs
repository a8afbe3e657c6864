//! What `#[clnrm::test]` and `clnrm::main!()` expand into. Not a public API: the names here may
//! change in any release. Everything an expansion touches is reachable from this module, so a
//! user crate needs no direct dependency on inventory, tokio or testcontainers.

use std::future::Future;
use std::pin::Pin;

pub use inventory;

use crate::harness::TestContext;

/// The `main` of a `harness = false` test target; what `clnrm::main!()` expands into.
pub use crate::harness::{run_main, run_main_in};

/// A boxed future of a test body.
pub type BoxTestFuture = Pin<Box<dyn Future<Output = TestResult> + Send + 'static>>;

/// What a test body returns once normalised: `Err` carries the failure message.
pub type TestResult = std::result::Result<(), String>;

/// The body of a registered test.
#[derive(Debug, Clone, Copy)]
pub enum TestFn {
    /// An `async fn` test.
    Async(fn(TestContext) -> BoxTestFuture),
    /// A plain `fn` test; run on a blocking thread.
    Sync(fn(TestContext) -> TestResult),
}

/// One literal value of a service option, as written in the macro.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptValue {
    /// `key = "text"`
    Str(&'static str),
    /// `key = 42`
    Int(i64),
    /// `key = true`
    Bool(bool),
    /// `key("a", "b")`
    List(&'static [&'static str]),
}

/// One `key = value` option of a service, as written in the macro.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Opt {
    /// The option's key.
    pub key: &'static str,
    /// The option's value.
    pub value: OptValue,
}

/// A service a test declares: `db = postgres` or `db = postgres(image = "postgres:16")`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServiceDecl {
    /// The local name the test uses (`ctx.url("db")`).
    pub name: &'static str,
    /// The plugin that provides it (`postgres`).
    pub plugin: &'static str,
    /// The options written after the plugin name.
    pub options: &'static [Opt],
}

/// Everything `#[clnrm::test(...)]` says about one test, unvalidated: the harness validates it
/// at run time with the same validator the TOML suites use, and reports problems with `file` and
/// `line`.
#[derive(Debug, Clone, Copy)]
pub struct TestDef {
    /// `module_path!()` of the test function; the harness strips the crate name.
    pub module_path: &'static str,
    /// The function's name.
    pub fn_name: &'static str,
    /// `file!()` of the test function.
    pub file: &'static str,
    /// `line!()` of the test function.
    pub line: u32,
    /// `services(...)`.
    pub services: &'static [ServiceDecl],
    /// `scope = "shared" | "test"`, when given.
    pub scope: Option<&'static str>,
    /// `timeout = 30` (seconds) or `timeout = "1m 30s"`, when given.
    pub timeout: Option<OptValue>,
    /// `retries = 2`, when given.
    pub retries: Option<u32>,
    /// `tags("slow", "db")`.
    pub tags: &'static [&'static str],
    /// `exclusive = "migrations"`: tests of one group never overlap.
    pub exclusive: Option<&'static str>,
    /// `ignore` or `ignore = "reason"`.
    pub ignore: Option<Option<&'static str>>,
    /// The test body.
    pub body: TestFn,
}

inventory::collect!(TestDef);

/// Normalises what a test function returns (`()` or a `Result` whose error can be displayed).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a test result",
    label = "a clnrm test returns `()` or `Result<(), E>` where `E: Debug`"
)]
pub trait IntoTestResult {
    /// Converts into a [`TestResult`].
    fn into_test_result(self) -> TestResult;
}

impl IntoTestResult for () {
    fn into_test_result(self) -> TestResult {
        Ok(())
    }
}

impl<E: std::fmt::Debug> IntoTestResult for std::result::Result<(), E> {
    fn into_test_result(self) -> TestResult {
        // Debug, like `#[test]` functions returning `Result`: anyhow and clnrm errors print their
        // whole chain that way.
        self.map_err(|e| format!("{e:?}"))
    }
}
