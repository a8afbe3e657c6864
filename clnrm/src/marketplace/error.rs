//! Marketplace errors: each names the file or URL involved and says what to do.

use crate::suite::Diagnostic;

/// A marketplace failure. Transport problems (a 404, a refused connection) are kept apart from
/// integrity problems (a hash or a signature that does not match): the first is a broken mirror,
/// the second an attack or a corrupted upload.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MarketError {
    /// A `plugin.toml` has problems; every one is carried, as `file:line:col: error: message`.
    #[error("invalid plugin manifest:\n{}", render(.0))]
    Manifest(Vec<Diagnostic>),
    /// Downloading or reading a file failed (not an integrity problem).
    #[error("download error: {url}: {message}")]
    Transport {
        /// The URL or path.
        url: String,
        /// What happened (`HTTP 404 Not Found`).
        message: String,
    },
    /// A file is larger than allowed.
    #[error("{what}: larger than the limit of {limit} bytes; refusing it (a bomb or a wrong file)")]
    TooLarge {
        /// The URL, path or archive entry.
        what: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// A file's SHA-256 or length does not match what the signed metadata says.
    #[error(
        "integrity error: {what}: expected {expected}, got {got}; the file was changed after it was signed: do not use this index or mirror until its owner republishes it"
    )]
    Integrity {
        /// The URL or path.
        what: String,
        /// What the signed metadata says.
        expected: String,
        /// What was downloaded.
        got: String,
    },
    /// A signature is missing, malformed or does not verify.
    #[error("signature error: {what}: {reason}")]
    Signature {
        /// The signed file.
        what: String,
        /// Why it was refused, and the fix.
        reason: String,
    },
    /// A package has no signature and `--allow-unsigned` was not given.
    #[error(
        "{what} is unsigned; refusing it (pass --allow-unsigned to install it anyway, marked unverified)"
    )]
    Unsigned {
        /// The package URL or path.
        what: String,
    },
    /// A key signed a plugin name the index root does not allow it to sign.
    #[error(
        "{what}: key {key} is not allowed to sign plugin `{name}` (root.json `publishers`); ask the index owner to add it"
    )]
    Unauthorized {
        /// The signed file.
        what: String,
        /// The key id.
        key: String,
        /// The plugin name.
        name: String,
    },
    /// The index served an older snapshot than one seen before.
    #[error(
        "rollback refused: {url} has snapshot serial {got}, older than serial {seen} seen before; the mirror is stale or replaying old metadata"
    )]
    Rollback {
        /// The snapshot URL.
        url: String,
        /// The last serial this machine trusted.
        seen: u64,
        /// The serial served now.
        got: u64,
    },
    /// The snapshot's expiry is past.
    #[error(
        "{url} expired at {expires}; the index is frozen or stale (its owner must re-sign the snapshot; --offline uses what is installed)"
    )]
    Expired {
        /// The snapshot URL.
        url: String,
        /// When it expired (RFC 3339).
        expires: String,
    },
    /// An index file is not listed in the snapshot, or does not match it.
    #[error(
        "mix-and-match refused: {url} does not match the signed snapshot ({reason}); the index files are from different publications"
    )]
    MixAndMatch {
        /// The index file URL.
        url: String,
        /// Which check failed.
        reason: String,
    },
    /// A package archive breaks the rules (paths, links, devices, unexpected entries).
    #[error("bad package {what}: {reason}")]
    Archive {
        /// The package.
        what: String,
        /// Which rule it breaks.
        reason: String,
    },
    /// No set of versions satisfies the requirements.
    #[error("cannot resolve: {0}")]
    Resolve(String),
    /// The lockfile disagrees with the index or the store.
    #[error("{path}: {message}")]
    Lock {
        /// The lockfile.
        path: String,
        /// What differs and the fix.
        message: String,
    },
    /// An installed plugin or the store is not as expected.
    #[error("{0}")]
    Store(String),
    /// Another install holds the store lock.
    #[error("another clnrm process is installing into {0}; waited, then gave up")]
    Busy(String),
    /// Input the command cannot use (names, versions, keys).
    #[error("{0}")]
    Invalid(String),
}

fn render(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl From<MarketError> for crate::Error {
    fn from(e: MarketError) -> Self {
        crate::Error::Marketplace(e)
    }
}
