//! Image substitution: any image a plugin or a test asks for can be redirected, for private
//! registries and machines that reach no registry.
//!
//! Sources, later ones winning:
//! 1. the `[images]` table of a `clnrm.toml` found in the current directory or a parent (or
//!    the file `CLNRM_CONFIG` names): `"postgres:16" = "registry.local/postgres:16"` redirects
//!    one tag, `"postgres" = "..."` every tag of a repository;
//! 2. `CLNRM_IMAGE_<REPO>=image` in the environment, where `<REPO>` is the repository in upper
//!    case with every other character than a letter or digit replaced by `_`
//!    (`CLNRM_IMAGE_POSTGRES`, `CLNRM_IMAGE_BITNAMI_REDIS`): redirects every tag;
//! 3. `CLNRM_IMAGE_PREFIX=registry.local/mirror/` is put before every image that no rule
//!    redirected (like a registry mirror).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{ConfigError, Error, Result};

/// Where images are redirected. Built from configuration and environment by [`ImageMap::load`],
/// or by hand for tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageMap {
    exact: BTreeMap<String, String>,
    by_repo: BTreeMap<String, String>,
    prefix: Option<String>,
    /// `CLNRM_IMAGE_<REPO>` values by `<REPO>`.
    env_repo: BTreeMap<String, String>,
    /// The configuration file the table came from, if any.
    pub source: Option<PathBuf>,
}

#[derive(Deserialize)]
struct ConfigFile {
    #[serde(default)]
    images: BTreeMap<String, String>,
}

impl ImageMap {
    /// Redirects `from` (`repo` for every tag, or `repo:tag`) to `to`.
    pub fn redirect(mut self, from: &str, to: &str) -> Self {
        let (repo, tag) = split_reference(from);
        if from.contains(':') && !from.ends_with(':') && tag.is_some() {
            self.exact.insert(normalize(from), to.to_owned());
        } else {
            self.by_repo.insert(normalize_repo(repo), to.to_owned());
        }
        self
    }

    /// Puts `prefix` before every image no rule redirects.
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.prefix = (!prefix.is_empty()).then(|| prefix.to_owned());
        self
    }

    /// The image to use for `image`.
    pub fn resolve(&self, image: &str) -> String {
        let (repo, _) = split_reference(image);
        if let Some(to) = self.env_repo.get(&env_key(repo)) {
            return to.clone();
        }
        if let Some(to) = self.exact.get(&normalize(image)) {
            return to.clone();
        }
        if let Some(to) = self.by_repo.get(&normalize_repo(repo)) {
            return to.clone();
        }
        match &self.prefix {
            Some(prefix) => format!("{prefix}{image}"),
            None => image.to_owned(),
        }
    }

    /// Loads the configuration file found from `dir` upwards (or named by `CLNRM_CONFIG`) and
    /// then applies the environment `vars` (pass `std::env::vars()`).
    pub fn load(dir: &Path, vars: impl IntoIterator<Item = (String, String)>) -> Result<ImageMap> {
        let vars: Vec<(String, String)> = vars.into_iter().collect();
        let path = crate::config::project_config_path(dir, |key| {
            vars.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
        });
        let mut map = match &path {
            Some(path) => Self::from_file(path)?,
            None => ImageMap::default(),
        };
        map = map.apply_env(vars);
        Ok(map)
    }

    fn from_file(path: &Path) -> Result<ImageMap> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            action: "failed to read configuration",
            path: path.to_owned(),
            source,
        })?;
        let file: ConfigFile = toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })?;
        let mut map = ImageMap::default();
        for (from, to) in &file.images {
            map = map.redirect(from, to);
        }
        map.source = Some(path.to_owned());
        Ok(map)
    }

    /// Applies `CLNRM_IMAGE_*` variables.
    pub fn apply_env(mut self, vars: impl IntoIterator<Item = (String, String)>) -> ImageMap {
        for (key, value) in vars {
            if key == "CLNRM_IMAGE_PREFIX" {
                self = self.with_prefix(&value);
            } else if let Some(repo_key) = key.strip_prefix("CLNRM_IMAGE_")
                && !value.is_empty()
            {
                self.env_repo.insert(repo_key.to_owned(), value);
            }
        }
        self
    }

    /// The rules in force, for display (`clnrm plugins`, failure reports).
    pub fn rules(&self) -> Vec<(String, String)> {
        let mut rules: Vec<(String, String)> = Vec::new();
        rules.extend(self.exact.iter().map(|(k, v)| (k.clone(), v.clone())));
        rules.extend(
            self.by_repo
                .iter()
                .map(|(k, v)| (format!("{k}:*"), v.clone())),
        );
        rules.extend(
            self.env_repo
                .iter()
                .map(|(k, v)| (format!("CLNRM_IMAGE_{k}"), v.clone())),
        );
        if let Some(prefix) = &self.prefix {
            rules.push(("CLNRM_IMAGE_PREFIX".to_owned(), prefix.clone()));
        }
        rules
    }
}

/// The `sha256:<hex>` digest `image` is pinned to (`repo:tag@sha256:...`), if any.
pub(crate) fn digest_of(image: &str) -> Option<&str> {
    image
        .split_once('@')
        .map(|(_, digest)| digest)
        .filter(|d| d.starts_with("sha256:"))
}

/// What to say when a pinned `wanted` image runs as another image `running` (a redirect by
/// `clnrm.toml` `[images]` or `CLNRM_IMAGE_*`): the redirect wins, and the pin is not verified.
pub fn pin_note(wanted: &str, running: &str) -> Option<String> {
    let digest = digest_of(wanted)?;
    (digest_of(running) != Some(digest)).then(|| {
        format!(
            "image `{wanted}` is pinned to {digest}, but an image redirect (clnrm.toml [images] or \
             CLNRM_IMAGE_*) runs `{running}` instead: the redirect wins, the pin is not verified"
        )
    })
}

/// Splits `repo[:tag]` (a registry host may carry a port: `localhost:5000/x:1`).
pub(crate) fn split_reference(image: &str) -> (&str, Option<&str>) {
    let image = image.split('@').next().unwrap_or(image);
    match image.rfind(':') {
        Some(i) if !image[i + 1..].contains('/') => (&image[..i], Some(&image[i + 1..])),
        _ => (image, None),
    }
}

/// `docker.io/library/postgres` and `postgres` are the same repository.
fn normalize_repo(repo: &str) -> String {
    let repo = repo.strip_prefix("docker.io/").unwrap_or(repo);
    let repo = repo.strip_prefix("library/").unwrap_or(repo);
    repo.to_owned()
}

/// `postgres` and `docker.io/library/postgres:latest` are the same image.
fn normalize(image: &str) -> String {
    let (repo, tag) = split_reference(image);
    format!("{}:{}", normalize_repo(repo), tag.unwrap_or("latest"))
}

/// The `<REPO>` of `CLNRM_IMAGE_<REPO>`.
pub(crate) fn env_key(repo: &str) -> String {
    normalize_repo(repo)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_pin_is_kept_unless_redirected_and_a_redirect_is_said() {
        let pinned = format!("mariadb:10.11@sha256:{}", "ab".repeat(32));
        let map = ImageMap::default().redirect("postgres", "local/pg:15");
        assert_eq!(map.resolve(&pinned), pinned);
        assert_eq!(pin_note(&pinned, &map.resolve(&pinned)), None);
        let map = map.redirect("mariadb", "local/mariadb:10.11");
        let running = map.resolve(&pinned);
        assert_eq!(running, "local/mariadb:10.11");
        let note = pin_note(&pinned, &running).unwrap();
        assert!(note.contains("the pin is not verified"), "{note}");
        assert_eq!(pin_note("mariadb:10.11", "local/mariadb:10.11"), None);
    }

    #[test]
    fn an_exact_rule_redirects_only_its_tag() {
        let map = ImageMap::default().redirect("postgres:16", "local/pg:15");
        assert_eq!(map.resolve("postgres:16"), "local/pg:15");
        assert_eq!(map.resolve("docker.io/library/postgres:16"), "local/pg:15");
        assert_eq!(map.resolve("postgres:17"), "postgres:17");
    }

    #[test]
    fn a_repository_rule_redirects_every_tag() {
        let map = ImageMap::default().redirect("redis", "local/redis:7");
        assert_eq!(map.resolve("redis:6"), "local/redis:7");
        assert_eq!(map.resolve("redis"), "local/redis:7");
        assert_eq!(map.resolve("rediss:1"), "rediss:1");
    }

    #[test]
    fn environment_wins_over_the_file_and_the_prefix_applies_to_the_rest() {
        let map = ImageMap::default()
            .redirect("postgres:16", "file/pg:16")
            .apply_env(vars(&[
                ("CLNRM_IMAGE_POSTGRES", "env/pg:15"),
                ("CLNRM_IMAGE_BITNAMI_REDIS", "env/redis:7"),
                ("CLNRM_IMAGE_PREFIX", "mirror.local/"),
                ("UNRELATED", "x"),
            ]));
        assert_eq!(map.resolve("postgres:16"), "env/pg:15");
        assert_eq!(map.resolve("bitnami/redis:7.2"), "env/redis:7");
        assert_eq!(map.resolve("alpine:3"), "mirror.local/alpine:3");
    }

    #[test]
    fn references_with_registry_ports_split_at_the_tag() {
        assert_eq!(
            split_reference("localhost:5000/x:1"),
            ("localhost:5000/x", Some("1"))
        );
        assert_eq!(
            split_reference("localhost:5000/x"),
            ("localhost:5000/x", None)
        );
        assert_eq!(split_reference("x"), ("x", None));
    }

    #[test]
    fn the_nearest_config_file_is_loaded_and_a_bad_one_names_its_path() {
        let dir = std::env::temp_dir().join(format!("clnrm-images-{}", std::process::id()));
        let nested = dir.join("a/b");
        std::fs::create_dir_all(&nested).unwrap();
        std::fs::write(
            dir.join("clnrm.toml"),
            "[images]\n\"redis:7\" = \"local/redis:7\"\n",
        )
        .unwrap();
        let map = ImageMap::load(&nested, vars(&[])).unwrap();
        assert_eq!(map.resolve("redis:7"), "local/redis:7");
        assert_eq!(
            map.source.as_deref(),
            Some(dir.join("clnrm.toml").as_path())
        );

        std::fs::write(dir.join("clnrm.toml"), "[images]\nredis = 7\n").unwrap();
        let err = ImageMap::load(&nested, vars(&[])).unwrap_err();
        let text = format!("{err:?}");
        assert!(text.contains("clnrm.toml: invalid configuration"), "{text}");
        assert!(text.contains("line 2"), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
