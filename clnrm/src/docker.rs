//! The only place that talks to Docker: the run environment (network, labels, teardown, reaping
//! of dead runs), container start-up with readiness, exec and logs, and image substitution.
//!
//! Containers are created through `testcontainers`; `bollard` (the client testcontainers itself
//! uses, re-exported by it) is used where testcontainers has no API: networks with aliases,
//! exec with env and working directory, listing and removing by label.

mod client;
mod container;
mod env;
mod front;
mod images;
mod owner;

pub use client::{bind_address, connect, docker_endpoint};
pub(crate) use container::start_container;
pub use container::{
    ContainerRecipe, Endpoint, ExecOutput, Gpus, Readiness, ReadyCheck, StartedContainer, exec_in,
    logs_of,
};
pub(crate) use env::remove_owned_blocking;
pub use env::{GcReport, RemovedContainer, RunConfig, RunEnv, gc_dead_runs, remove_run};
pub use front::{FRONT_OF, Front, FrontLease, front_of};
pub use images::{ImageMap, pin_note};
pub use owner::Owner;
/// The Docker client crate, as testcontainers uses it: for what clnrm has no API for.
pub use testcontainers::bollard;

/// Labels put on every container and network clnrm creates.
pub mod labels {
    /// Present on everything clnrm creates.
    pub const MANAGED: &str = "dev.clnrm.managed";
    /// The run id.
    pub const RUN: &str = "dev.clnrm.run";
    /// The owning process: `HOST/PID/START`, see [`super::Owner`].
    pub const OWNER: &str = "dev.clnrm.owner";
    /// The service name inside its run.
    pub const SERVICE: &str = "dev.clnrm.service";
}
