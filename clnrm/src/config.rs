//! The project's configuration file, `clnrm.toml`: the one `CLNRM_CONFIG` names, else the
//! nearest from a directory upwards. Each concern reads its own table from it (`[images]` in
//! [`crate::docker`], `[ai]` in [`crate::ai::config`], `[plugins]` in [`crate::plugins`]).

use std::path::{Path, PathBuf};

/// The variable naming the configuration file explicitly.
pub const ENV_CONFIG: &str = "CLNRM_CONFIG";

/// The configuration file in force for `dir`: `CLNRM_CONFIG` (looked up with `lookup`) when
/// set and not empty, else the nearest `clnrm.toml` from `dir` upwards, else `None`.
pub fn project_config_path(dir: &Path, lookup: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    match lookup(ENV_CONFIG).filter(|v| !v.trim().is_empty()) {
        Some(explicit) => Some(PathBuf::from(explicit)),
        None => dir
            .ancestors()
            .map(|d| d.join("clnrm.toml"))
            .find(|p| p.is_file()),
    }
}

/// 1-based line of byte `offset` in `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}
