//! Shared helpers of the end-to-end tests.

use std::collections::HashMap;
use std::process::{Command, Output};
use std::sync::Arc;

use clnrm::{RunConfig, RunEnv};

/// A run environment configured like a user's (this repository's clnrm.toml redirects images to
/// the locally built ones).
pub(crate) async fn run_env() -> Arc<RunEnv> {
    let config = RunConfig::from_env().expect("clnrm.toml loads");
    match RunEnv::start(config).await {
        Ok(env) => env,
        Err(e) => panic!("these tests need Docker: {e:?}"),
    }
}

/// Ids of the containers (running or not) carrying `label=value`.
pub(crate) async fn containers_with_label(label: &str, value: &str) -> Vec<String> {
    use clnrm::docker::bollard::query_parameters::ListContainersOptions;
    use clnrm::docker::connect;
    let docker = connect().await.expect("docker reachable");
    let filters = HashMap::from([("label".to_owned(), vec![format!("{label}={value}")])]);
    docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .expect("list containers")
        .into_iter()
        .filter_map(|c| c.id)
        .collect()
}

/// Runs a binary of this package and returns its output.
pub(crate) fn run_bin(bin: &str, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin);
    cmd.args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"))
}

/// Reads `key=value` pairs from the child's first line.
pub(crate) fn fields(line: &str) -> HashMap<String, String> {
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}
