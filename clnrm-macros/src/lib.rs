//! Procedural macros of clnrm: `#[clnrm::test]` and `clnrm::main!()`.
//!
//! Use them through the `clnrm` crate, which re-exports them. They stay thin: they parse their
//! input, check its syntax and expand into calls of `clnrm::__macro_support`. Whether a plugin
//! name exists, a duration string parses or a service option makes sense is checked at run time
//! by the same validator the TOML suites use.

use proc_macro::TokenStream;

mod main_macro;
mod test_attr;

/// Registers a function as a clnrm test.
///
/// ```ignore
/// #[clnrm::test(services(db = postgres, cache = redis(image = "redis:7")), timeout = 60)]
/// async fn signup_stores_user(ctx: clnrm::TestContext) -> clnrm::Result<()> {
///     let url = ctx.url("db")?;
///     Ok(())
/// }
/// clnrm::main!();
/// ```
///
/// The function may be `async` or not, takes nothing or one `clnrm::TestContext` by value, and
/// returns `()` or a `Result<(), E>` whose error implements `Debug`. Arguments, all optional:
///
/// | key | example | meaning |
/// |---|---|---|
/// | `services` | `services(db = postgres, cache = redis(image = "redis:7", env("A=1")))` | local name = plugin (identifier or string), with options `key = literal` or `key("a", "b")` |
/// | `scope` | `scope = "test"` | `"shared"` (default): one container per run; `"test"`: one per test |
/// | `timeout` | `timeout = 30`, `timeout = "1m 30s"` | seconds, or a duration string |
/// | `retries` | `retries = 2` | extra attempts; a test passing only on retry is flaky |
/// | `tags` | `tags("slow", "db")` | labels for filtering and reports |
/// | `exclusive` | `exclusive = "migrations"` | tests of one group never run at the same time |
/// | `ignore` | `ignore`, `ignore = "reason"` | skipped unless run with `--ignored` |
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    test_attr::expand(args.into(), item.into()).into()
}

/// The `main` of a `harness = false` test target: runs every `#[clnrm::test]` of the binary.
///
/// ```ignore
/// clnrm::main!();
/// ```
#[proc_macro]
pub fn main(input: TokenStream) -> TokenStream {
    main_macro::expand(input.into()).into()
}
