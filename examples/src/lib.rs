//! The example application: a URL shortener on Postgres with a Redis cache, and its
//! integration tests written the clnrm way (`tests/shortener.rs`) and the usual way
//! (`tests/usual_way.rs`), sharing one set of test bodies (`tests/common/`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), clnrm_examples::Error> {
//! use clnrm_examples::Shortener;
//!
//! let shortener = Shortener::connect("postgres://u:p@localhost/links", "redis://localhost/0").await?;
//! clnrm_examples::migrate(shortener.db()).await?;
//! let code = shortener.shorten("https://example.com/a/long/path").await?;
//! assert_eq!(
//!     shortener.resolve(&code).await?.as_deref(),
//!     Some("https://example.com/a/long/path")
//! );
//! # Ok(()) }
//! ```
//!
//! The pieces: [`validate`] (pure URL and code checks, code generation), [`shortener`] (the
//! service over Postgres and Redis), [`error`]; and [`visits`], a Redis visit counter whose
//! retry logic `tests/chaos.rs` tests with injected faults.

#[doc(hidden)]
pub mod bench;
pub mod error;
pub mod shortener;
pub mod validate;
pub mod visits;

pub use error::{Error, Result};
pub use shortener::{MIGRATION, Shortener, migrate};
