//! clnrm: hermetic integration tests against real services.
//!
//! Tests declare the services they need (Postgres, Redis, any image); clnrm starts them in
//! Docker through `testcontainers`, shares them across tests while isolating every test, and
//! tears everything down at the end, also after a panic, Ctrl-C or SIGKILL.
//!
//! The pieces, bottom up: [`docker`] (the run environment: network, labels, reaping, image
//! substitution), [`service`] (the plugin trait, handles, the registry), [`plugins`] (the
//! built-ins), [`suite`] (the TOML suite format: parse, validate).
#![warn(missing_docs)]

pub mod ai;
pub mod chaos;
pub mod config;
pub mod docker;
pub mod engine;
mod error;
pub mod harness;
pub mod history;
pub mod interrupt;
mod isolation;
pub mod logging;
pub mod marketplace;
pub mod plan;
pub mod plugins;
pub mod report;
pub mod secrets;
pub mod service;
pub mod suite;
pub mod telemetry;
pub mod values;
pub mod vcs;

#[doc(hidden)]
#[path = "macro_support.rs"]
pub mod __macro_support;

pub use clnrm_macros::{main, test};
pub use docker::{RunConfig, RunEnv};
pub use error::{ConfigError, DockerError, Error, Result, ServiceError};
pub use harness::TestContext;
pub use service::{HealthStatus, Registry, ServiceHandle, ServicePlugin, ServiceSpec, Services};
