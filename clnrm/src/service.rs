//! Services: the [`ServicePlugin`] trait (a recipe), [`ServiceHandle`] (a running instance),
//! [`ServiceSpec`] (what a test or suite asks for) and the [`Registry`] that looks plugins up by
//! name and starts a set of services in `depends_on` order.

mod handle;
mod plugin;
mod registry;
mod spec;

pub use handle::{Credentials, ServiceHandle};
pub use plugin::{HealthStatus, PluginMetadata, PluginSource, ServicePlugin};
pub use registry::{Registry, Services};
pub use spec::ServiceSpec;
