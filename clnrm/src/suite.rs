//! The TOML suite format (`*.clnrm.toml`): parse, validate, run.
//!
//! - [`parse_suite`] turns text into a [`SuiteSpec`] (both the current `version = 1` format and
//!   the older upstream clnrm format), reporting structural problems (unknown keys with a
//!   suggestion, wrong types, bad durations, sizes, ports, steps with no or two actions).
//! - [`validate_suite`] checks what needs the whole spec: plugins, service references,
//!   dependency cycles, regexes, image references, timeouts, duplicate names.
//! - [`check_suite`] does both and returns every diagnostic of a file at once;
//!   [`load_suite`] reads a file and fails with [`SuiteError`] unless it is clean of errors.
//! - [`check_suite_file`] does the same for a file's text, rendering a `*.clnrm.toml.tera`
//!   template first (the older clnrm's Tera templates).
//! - [`discover_suites`] expands files and directories into `*.clnrm.toml` (and
//!   `*.clnrm.toml.tera`) files.
//! - [`run_suites`] executes loaded suites on the engine (services, steps, expectations).
//! - [`scaffold`] writes a starter suite (`clnrm init`).
//! - [`select_loaded_suites`] orders and shards loaded suites by the planner (`clnrm run`).
//! - [`affected_suites`] tells which suites a batch of changed files affects (`clnrm watch`).

mod affected;
mod compat;
mod diagnostic;
mod discover;
mod error;
mod keys;
mod load;
mod parse;
mod run;
mod scaffold;
mod select;
mod spec;
mod template;
mod validate;

/// The value parsers moved to [`crate::values`]; this path keeps older imports working.
#[doc(hidden)]
pub use crate::values;

pub use affected::{Affected, affected_suites, affected_suites_referencing};
pub use compat::old_keys_markdown;
pub use diagnostic::{Diagnostic, DiagnosticKind, Severity, SuiteSource};
pub use discover::{Discovery, SUITE_EXTENSION, discover, discover_suites};
pub use error::SuiteError;
pub use keys::keys_markdown;
pub use load::{
    CheckedSuite, LoadedSuite, check_suite, check_suite_file, load_suite, load_suite_str,
};
pub use parse::{ParsedSuite, SuiteFormat, parse_suite};
pub use run::{DEFAULT_STEP_TIMEOUT, RunOptions, run_suites};
pub use scaffold::{STARTER_FILE, STARTER_SUITE, scaffold};
pub use select::{select_loaded_suites, suites_changed_since_green};
pub use spec::*;
pub use template::{TEMPLATE_EXTENSION, TemplateVars, is_template, set_template_vars};
pub use validate::validate_suite;
