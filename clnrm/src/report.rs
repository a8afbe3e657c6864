//! The record of a run and its serialised forms.
//!
//! A [`RunRecord`] is what one run of a test target produced: one [`TestRecord`] per test with
//! its [`Outcome`], duration and attempts. This module turns it into the two files CI reads:
//! JUnit XML ([`junit_xml`], [`write_junit`]) in the schema Jenkins, GitLab, GitHub Actions and
//! nextest agree on, and a stable JSON document ([`json`], [`write_json`], read back with
//! [`read_json`] / [`parse_json`]). The history store
//! ([`crate::history`]) keeps the same records for planning.
//!
//! Everything here is synchronous and pure apart from writing the file, which is atomic (a
//! temporary file in the same directory, then a rename), so a reader never sees half a report.

mod event;
mod json;
mod junit;
mod record;
#[cfg(test)]
pub(crate) mod scratch;
mod terminal;
mod time;
mod write;

pub use event::RunEvent;
pub use json::{JSON_VERSION, JsonReportError, json, parse_json, read_json, write_json};
pub use junit::{junit_xml, write_junit};
pub use record::{Outcome, RunRecord, Summary, TestRecord};
pub use terminal::{clean_message, printable};
pub(crate) use time::{rfc3339_utc, unix_millis};
pub(crate) use write::write_atomically;
