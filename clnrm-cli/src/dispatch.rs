//! One module per subcommand.

pub(crate) mod plugins;
pub(crate) mod services;
