//! Where the history database lives by default.

use std::path::{Path, PathBuf};

/// The environment variable that overrides the history database path.
pub const HISTORY_ENV: &str = "CLNRM_HISTORY";

/// The history database path for a process started in `start`, reading the environment through
/// `env` (pass `|k| std::env::var(k).ok()`).
///
/// In order: `CLNRM_HISTORY` (the file itself); `$CARGO_TARGET_DIR/clnrm/history.db`;
/// `<workspace>/target/clnrm/history.db` where `<workspace>` is the nearest ancestor of `start`
/// (itself included) holding a `Cargo.lock`; else `start/target/clnrm/history.db`. Relative
/// paths from the environment are taken relative to `start`; empty values are ignored.
///
/// Pure apart from looking for `Cargo.lock` files.
pub fn default_history_path(start: &Path, env: impl Fn(&str) -> Option<String>) -> PathBuf {
    let var = |key: &str| env(key).filter(|value| !value.is_empty());
    if let Some(path) = var(HISTORY_ENV) {
        return start.join(path);
    }
    let target_dir = match var("CARGO_TARGET_DIR") {
        Some(dir) => start.join(dir),
        None => start
            .ancestors()
            .find(|dir| dir.join("Cargo.lock").is_file())
            .unwrap_or(start)
            .join("target"),
    };
    target_dir.join("clnrm").join("history.db")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::scratch::ScratchDir;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn clnrm_history_overrides_everything() {
        let env = |k: &str| match k {
            HISTORY_ENV => Some("/data/h.db".to_owned()),
            "CARGO_TARGET_DIR" => Some("/elsewhere".to_owned()),
            _ => None,
        };
        assert_eq!(
            default_history_path(Path::new("/ws"), env),
            Path::new("/data/h.db")
        );
    }

    #[test]
    fn cargo_target_dir_is_used_when_set_and_relative_values_resolve_from_start() {
        let env = |k: &str| (k == "CARGO_TARGET_DIR").then(|| "build".to_owned());
        assert_eq!(
            default_history_path(Path::new("/ws/crate"), env),
            Path::new("/ws/crate/build/clnrm/history.db")
        );
    }

    #[test]
    fn empty_variables_are_ignored() {
        let env = |_: &str| Some(String::new());
        let dir = ScratchDir::new();
        assert_eq!(
            default_history_path(dir.path(), env),
            dir.path().join("target/clnrm/history.db")
        );
    }

    #[test]
    fn the_workspace_target_dir_is_found_by_walking_up_to_cargo_lock() {
        let dir = ScratchDir::new();
        std::fs::write(dir.path().join("Cargo.lock"), "").unwrap();
        let member = dir.path().join("crates/api/tests");
        std::fs::create_dir_all(&member).unwrap();
        assert_eq!(
            default_history_path(&member, no_env),
            dir.path().join("target/clnrm/history.db")
        );
    }

    #[test]
    fn without_cargo_lock_the_start_dir_holds_target() {
        let dir = ScratchDir::new();
        // The scratch dir is under the system temp dir, which holds no Cargo.lock.
        assert_eq!(
            default_history_path(dir.path(), no_env),
            dir.path().join("target/clnrm/history.db")
        );
    }
}
