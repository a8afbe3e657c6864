//! The one error type of the library.

use std::fmt;
use std::path::PathBuf;

/// A `Result` whose error defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every failure clnrm reports, by category. Reporters print the whole `source()` chain.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Docker could not be reached or refused a request.
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// A service could not be started, became unhealthy or was misconfigured.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// A configuration file or a test declaration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A TOML suite file could not be read or is invalid (every diagnostic is carried).
    #[error(transparent)]
    Suite(#[from] crate::suite::SuiteError),
    /// A test plan could not be made from its input.
    #[error(transparent)]
    Plan(#[from] crate::plan::PlanError),
    /// A replay of a CI history could not be run (unreadable or malformed file).
    #[error(transparent)]
    Replay(#[from] crate::plan::ReplayError),
    /// The LLM advisor could not be configured, reached or understood.
    #[error(transparent)]
    Ai(#[from] crate::ai::AiError),
    /// The history store could not be opened, read or written.
    #[error(transparent)]
    History(#[from] crate::history::HistoryError),
    /// A marketplace operation failed (manifest, index, signature, install store).
    #[error(transparent)]
    Marketplace(crate::marketplace::MarketError),
    /// A fault could not be injected or healed.
    #[error(transparent)]
    Chaos(#[from] crate::chaos::ChaosError),
    /// A file could not be read or written.
    #[error("{action} `{}`", path.display())]
    Io {
        /// What was being done ("failed to read").
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The process was interrupted (Ctrl-C, SIGTERM): nothing more is started.
    #[error("interrupted by {0}")]
    Interrupted(crate::interrupt::Signal),
    /// Anything else, for plugin authors and test bodies.
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl Error {
    /// Wraps any error, for plugin authors and test bodies.
    pub fn other(error: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        Error::Other(error.into())
    }

    /// Is this an infrastructure problem (Docker, a service) rather than a problem of the code
    /// under test? The harness reports those apart from test failures.
    pub fn is_infrastructure(&self) -> bool {
        matches!(self, Error::Docker(_) | Error::Service(_))
    }
}

/// `Debug` prints the message and its causes, one per line, as anyhow does: this is what a test
/// returning `Err` shows.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")?;
        let mut source = std::error::Error::source(self);
        // A transparent variant's own message is its source's; skip the repeat.
        if let Some(s) = source
            && s.to_string() == self.to_string()
        {
            source = s.source();
        }
        while let Some(s) = source {
            write!(f, "\n  caused by: {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

/// Docker is unreachable or a Docker request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DockerError {
    /// No Docker engine answered.
    #[error(
        "cannot reach Docker at {endpoint}: {reason}\n\
         hint: start Docker (`sudo systemctl start docker`, or `dockerd &` on a machine without \
         systemd), or point DOCKER_HOST at a running engine"
    )]
    Unreachable {
        /// The socket path or `DOCKER_HOST` value that was tried.
        endpoint: String,
        /// What the client said.
        reason: String,
    },
    /// A request to a reachable engine failed.
    #[error("docker: failed to {action}")]
    Request {
        /// What was being done ("create network `clnrm-…`").
        action: String,
        /// The engine's or client's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

/// A service failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// No plugin of that name is registered.
    #[error("unknown plugin `{plugin}` for service `{service}`; known: {known}")]
    UnknownPlugin {
        /// The service that asked for it.
        service: String,
        /// The name asked for.
        plugin: String,
        /// The registered names, comma-separated.
        known: String,
    },
    /// A `depends_on` names no declared service.
    #[error("service `{service}` depends on `{missing}`, which is not declared; declared: {known}")]
    UnknownDependency {
        /// The dependent service.
        service: String,
        /// The missing name.
        missing: String,
        /// The declared names, comma-separated.
        known: String,
    },
    /// `depends_on` forms a cycle.
    #[error("services depend on each other in a cycle: {cycle}")]
    DependencyCycle {
        /// The cycle, `a -> b -> a`.
        cycle: String,
    },
    /// Two services share a name.
    #[error("service `{service}` is declared twice")]
    Duplicate {
        /// The name.
        service: String,
    },
    /// An option has a bad value.
    #[error("service `{service}`: invalid `{option}`: {message}")]
    InvalidOption {
        /// The service.
        service: String,
        /// The option key.
        option: String,
        /// What was expected.
        message: String,
    },
    /// The container could not be created or started.
    #[error("failed to start service `{service}` (image `{image}`)")]
    Start {
        /// The service.
        service: String,
        /// The image, after substitution.
        image: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// The service did not become ready in time.
    #[error(
        "service `{service}` (image `{image}`) was not ready after {:.1} s: {last_check}\n\
         last log lines:\n{logs}",
        timeout.as_secs_f64()
    )]
    NotReady {
        /// The service.
        service: String,
        /// The image, after substitution.
        image: String,
        /// The startup timeout that ran out.
        timeout: std::time::Duration,
        /// What the last readiness check said.
        last_check: String,
        /// The container's last log lines, indented.
        logs: String,
    },
    /// A service of the environment was asked for but is not there.
    #[error("no service `{service}` in this environment; started: {known}")]
    NotFound {
        /// The name asked for.
        service: String,
        /// The started names.
        known: String,
    },
    /// A command inside the service failed to run (not: ran and exited non-zero).
    #[error("failed to exec {argv:?} in service `{service}`")]
    Exec {
        /// The service.
        service: String,
        /// The command.
        argv: Vec<String>,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

/// A configuration problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A TOML file did not parse; the source carries line and column.
    #[error("{}: invalid configuration", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The TOML error with its position and snippet.
        #[source]
        source: Box<toml::de::Error>,
    },
    /// A value is invalid; the message names where and what was expected.
    #[error("{0}")]
    Invalid(String),
}

/// The error and its causes, `: `-separated (a transport error says little without them).
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Maps a Docker client error for `action`.
pub(crate) fn docker_request(
    action: impl Into<String>,
    source: impl std::error::Error + Send + Sync + 'static,
) -> Error {
    Error::Docker(DockerError::Request {
        action: action.into(),
        source: Box::new(source),
    })
}
