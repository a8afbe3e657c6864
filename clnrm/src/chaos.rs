//! Fault injection on the services clnrm started, healed at the end of every test or scenario.
//!
//! - Container faults through the Docker API ([`Chaos::pause`], [`Chaos::kill`],
//!   [`Chaos::stop`], [`Chaos::restart`], [`Chaos::partition`]).
//! - Connection faults through a TCP [`Proxy`] in front of a service declared with
//!   `chaos = true`: the test's URL goes through it without the test changing anything, and so
//!   do the other containers that reach the service by name (its front, see
//!   [`crate::docker::Front`], routes them to the proxy, which listens on the run network's
//!   gateway).
//!   Its [`Toxic`]s are Toxiproxy's (latency, bandwidth, timeout, reset_peer, slow_close,
//!   limit_data, slicer, plus "down"), and a [`ControlApi`] speaks Toxiproxy's REST API.
//! - A [`ChaosSession`] holds one test's faults: each injection returns a [`FaultGuard`] that
//!   heals on drop, every fault is recorded ([`FaultRecord`]), and the harness heals whatever
//!   is left when the test ends (passed, failed, panicked or timed out).
//!
//! Kill, stop and restart would break a service other tests share: they need `scope = "test"`
//! or [`Chaos::allow_damage`].

mod api;
mod container;
mod error;
mod proxy;
mod session;
pub(crate) mod suite;
mod toxic;

pub use api::ControlApi;
pub use error::ChaosError;
pub use proxy::{Proxy, ProxyError, ProxyInfo};
pub use session::{Chaos, ChaosService, ChaosSession, FaultGuard, FaultRecord};
pub use toxic::{Stream, Toxic, ToxicKind};
