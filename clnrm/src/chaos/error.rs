//! Why a fault could not be injected or healed.

/// A chaos failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChaosError {
    /// The fault would leave a service other tests share broken.
    #[error(
        "fault `{fault}` on service `{service}` would damage it for the other tests that share \
         it: declare the service with scope = \"test\", or opt in with \
         `ctx.chaos(\"{service}\")?.allow_damage()`"
    )]
    SharedDamage {
        /// The fault.
        fault: String,
        /// The service.
        service: String,
    },
    /// A connection fault on a service without a proxy in front of it.
    #[error(
        "fault `{fault}` on service `{service}` needs a proxy in front of it: declare the \
         service with `chaos = true`"
    )]
    NoProxy {
        /// The fault.
        fault: String,
        /// The service.
        service: String,
    },
    /// A container fault on a service this context only has a URL for.
    #[error("service `{service}` has no container here (this context has URLs only)")]
    NoContainer {
        /// The service.
        service: String,
    },
    /// Docker refused a request.
    #[error("fault `{fault}` on service `{service}`: docker refused `{action}`")]
    Docker {
        /// The fault.
        fault: String,
        /// The service.
        service: String,
        /// The request.
        action: &'static str,
        /// The cause.
        #[source]
        source: Box<testcontainers::bollard::errors::Error>,
    },
    /// The service did not come back.
    #[error("service `{service}` is not ready again after `{fault}`: {message}")]
    NotReady {
        /// The fault.
        fault: String,
        /// The service.
        service: String,
        /// What was seen.
        message: String,
    },
    /// The proxy refused a change.
    #[error(transparent)]
    Proxy(#[from] super::proxy::ProxyError),
}
