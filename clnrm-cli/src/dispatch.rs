//! One module per subcommand.

pub(crate) mod ai_common;
pub(crate) mod ai_optimize;
pub(crate) mod ai_orchestrate;
pub(crate) mod ai_predict;
pub(crate) mod init;
pub(crate) mod list;
pub(crate) mod marketplace;
pub(crate) mod plugins;
pub(crate) mod replay;
pub(crate) mod run;
pub(crate) mod services;
pub(crate) mod validate;
pub(crate) mod watch;
