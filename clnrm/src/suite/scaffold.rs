//! `clnrm init`: a starter suite that validates and runs as written.

use std::path::{Path, PathBuf};

use crate::error::{ConfigError, Error, Result};

/// The file `clnrm init` writes.
pub const STARTER_FILE: &str = "smoke.clnrm.toml";

/// A small suite that passes against the `redis:7` image: one service, two steps, expectations on
/// exit code and output.
pub const STARTER_SUITE: &str = r#"# A starter suite written by `clnrm init`. Run it with `clnrm run`, check it with
# `clnrm validate`; every key is described in the clnrm README ("TOML suites").
version = 1

[suite]
name = "smoke"
description = "a Redis answers and keeps what it is given"
timeout = "2m"

[services.cache]
plugin = "redis"
image = "redis:7"

[[steps]]
name = "redis answers"
service = "cache"
run = ["redis-cli", "ping"]
expect.exit_code = 0
expect.stdout.contains = "PONG"

[[steps]]
name = "a value round-trips"
service = "cache"
shell = "redis-cli set greeting hello >/dev/null && redis-cli get greeting"
expect.stdout.regex = "^hello\\s*$"
"#;

/// Writes [`STARTER_SUITE`] to `dir/`[`STARTER_FILE`], creating `dir`. An existing file is kept
/// unless `force`.
pub fn scaffold(dir: &Path, force: bool) -> Result<PathBuf> {
    let path = dir.join(STARTER_FILE);
    if path.exists() && !force {
        return Err(Error::Config(ConfigError::Invalid(format!(
            "{} exists already; pass --force to overwrite it",
            path.display()
        ))));
    }
    crate::report::write_atomically(&path, STARTER_SUITE.as_bytes())?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::{SuiteSource, check_suite};

    #[test]
    fn the_starter_suite_is_valid() {
        let checked = check_suite(
            &SuiteSource::new(STARTER_FILE, STARTER_SUITE.to_owned()),
            &["generic", "postgres", "redis"],
        );
        assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
        assert!(checked.spec.is_some());
    }
}
