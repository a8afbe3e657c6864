//! A process the end-to-end tests start, break and kill: it starts a run with one Redis service
//! and then ends as the first argument says.
//!
//! `e2e-child drop|panic|hang [IMAGE]`: prints `run=<id> container=<id> image=<image>` once the
//! service is ready, then drops everything (drop), panics (panic) or sleeps until killed (hang).

use std::io::Write;

#[tokio::main]
async fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let image = std::env::args().nth(2);
    let config = clnrm::RunConfig::from_env().expect("configuration loads");
    let env = clnrm::RunEnv::start(config)
        .await
        .expect("docker reachable");
    let spec = match &image {
        Some(image) => clnrm::ServiceSpec::new("svc", "generic")
            .image(image)
            .cmd(["sleep", "600"]),
        None => clnrm::ServiceSpec::new("svc", "redis"),
    };
    let services = clnrm::Registry::builtin()
        .start_all(&env, &[spec])
        .await
        .expect("service starts");
    let handle = services.get("svc").expect("started").clone();
    println!(
        "run={} container={} image={}",
        env.id(),
        handle.container_id(),
        handle.image()
    );
    std::io::stdout().flush().expect("stdout");
    match mode.as_str() {
        "drop" => {
            drop(handle);
            drop(services);
            drop(env);
        }
        "panic" => panic!("the child panics on purpose"),
        "hang" => loop {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        },
        other => panic!("unknown mode {other:?}: expected drop, panic or hang"),
    }
}
