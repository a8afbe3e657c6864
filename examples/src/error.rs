//! The shortener's one error type.

/// A `Result` whose error defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the shortener can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL to shorten is not an absolute `http`/`https` URL the shortener accepts.
    #[error("invalid url `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A requested custom code has the wrong length or characters.
    #[error("invalid code `{code}`: {reason}")]
    InvalidCode {
        /// The code as given.
        code: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A requested custom code already stands for a URL.
    #[error("code `{0}` is already taken")]
    CodeTaken(String),
    /// Every randomly drawn code was taken; the code space is (nearly) full.
    #[error("no free code after {0} attempts")]
    CodesExhausted(u32),
    /// Postgres failed.
    #[error("database request failed")]
    Db(#[from] tokio_postgres::Error),
    /// Redis failed.
    #[error("cache request failed")]
    Cache(#[from] redis::RedisError),
}
