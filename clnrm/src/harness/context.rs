//! What a test receives.

/// The services of one test and the test's own name.
#[derive(Debug)]
pub struct TestContext {
    name: String,
}

impl TestContext {
    /// The test's name (`module::test_fn`).
    pub fn name(&self) -> &str {
        &self.name
    }
}
