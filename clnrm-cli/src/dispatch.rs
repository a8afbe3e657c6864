//! One module per subcommand.

pub(crate) mod init;
pub(crate) mod list;
pub(crate) mod plugins;
pub(crate) mod replay;
pub(crate) mod run;
pub(crate) mod services;
pub(crate) mod validate;
pub(crate) mod watch;
