//! Errors of the command line, mapped to exit codes.

use crate::exit_codes;

/// A failure of a `clnrm` command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A library error.
    #[error(transparent)]
    Clnrm(#[from] clnrm::Error),
    /// Bad input (suite files with errors); the diagnostics were printed already.
    #[error("{0}")]
    Invalid(String),
    /// The environment is not usable (services that did not start); reported already.
    #[error("{0}")]
    Environment(String),
    /// Tests failed; the summary was printed already.
    #[error("{0}")]
    TestsFailed(String),
    /// Ctrl-C / SIGTERM cut the run short; what was interrupted was printed already.
    #[error("interrupted by {0}")]
    Interrupted(clnrm::interrupt::Signal),
}

impl CliError {
    /// The documented exit code for this failure (see `exit_codes`).
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::TestsFailed(_) => exit_codes::TESTS_FAILED,
            CliError::Invalid(_) => exit_codes::USAGE,
            CliError::Environment(_) => exit_codes::ENVIRONMENT,
            CliError::Interrupted(signal) => signal.exit_code(),
            CliError::Clnrm(clnrm::Error::Interrupted(signal)) => signal.exit_code(),
            CliError::Clnrm(e) if e.is_infrastructure() => exit_codes::ENVIRONMENT,
            CliError::Clnrm(clnrm::Error::Marketplace(
                clnrm::marketplace::MarketError::Transport { .. },
            )) => exit_codes::ENVIRONMENT,
            CliError::Clnrm(_) => exit_codes::USAGE,
        }
    }
}

impl From<clnrm::marketplace::MarketError> for CliError {
    fn from(e: clnrm::marketplace::MarketError) -> Self {
        CliError::Clnrm(e.into())
    }
}
