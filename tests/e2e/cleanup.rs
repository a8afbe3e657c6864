//! Teardown: on drop, on panic, on SIGTERM, and after SIGKILL at the next start; `clnrm services
//! gc`; the message when Docker is down.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use clnrm::docker::labels;

use crate::support::{containers_with_label, fields, run_bin, run_env};

const CHILD: &str = env!("CARGO_BIN_EXE_e2e-child");
const CLNRM: &str = env!("CARGO_BIN_EXE_clnrm-under-test");

/// Starts the child in `mode` and returns it with the fields of its first line.
fn spawn_child(
    mode: &str,
) -> (
    std::process::Child,
    std::collections::HashMap<String, String>,
) {
    let mut child = Command::new(CHILD)
        .arg(mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("child starts");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .expect("child prints its run");
    let fields = fields(&line);
    assert!(fields.contains_key("run"), "child said {line:?}");
    (child, fields)
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_the_environment_removes_its_containers() {
    let out = run_bin(CHILD, &["drop"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = fields(&String::from_utf8_lossy(&out.stdout))["run"].clone();
    assert!(containers_with_label(labels::RUN, &run).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panic_removes_the_containers_while_unwinding() {
    let out = run_bin(CHILD, &["panic"], &[]);
    assert_eq!(out.status.code(), Some(101), "a panic exits 101");
    assert!(String::from_utf8_lossy(&out.stderr).contains("the child panics on purpose"));
    let run = fields(&String::from_utf8_lossy(&out.stdout))["run"].clone();
    assert!(containers_with_label(labels::RUN, &run).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_removes_the_containers_and_exits_143() {
    let (child, f) = spawn_child("hang");
    assert_eq!(containers_with_label(labels::RUN, &f["run"]).await.len(), 1);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143));
    assert!(
        containers_with_label(labels::RUN, &f["run"])
            .await
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_leaves_containers_that_the_next_start_removes() {
    let (mut child, f) = spawn_child("hang");
    child.kill().unwrap(); // SIGKILL: nothing of the child runs any more
    child.wait().unwrap();
    assert_eq!(
        containers_with_label(labels::RUN, &f["run"]).await.len(),
        1,
        "SIGKILL cannot clean up: the container is still there"
    );
    let env = run_env().await;
    assert!(
        containers_with_label(labels::RUN, &f["run"])
            .await
            .is_empty()
    );
    // Another test may have reaped it first; if this start did, it says so.
    let reaped_here = env.reaped().containers.iter().any(|c| c.run == f["run"]);
    if reaped_here {
        let c = env
            .reaped()
            .containers
            .iter()
            .find(|c| c.run == f["run"])
            .unwrap();
        assert_eq!(c.service, "svc");
    }
    env.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn services_gc_lists_and_removes_what_a_killed_run_left() {
    let (mut child, f) = spawn_child("hang");
    child.kill().unwrap();
    child.wait().unwrap();
    let out = run_bin(CLNRM, &["services", "gc"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A concurrent test's start may have reaped it already (Docker then answers gc "removal
    // already in progress" and finishes it within moments); either way it is gone, and when gc
    // removed it, gc names it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut left = containers_with_label(labels::RUN, &f["run"]).await;
    while !left.is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        left = containers_with_label(labels::RUN, &f["run"]).await;
    }
    assert!(
        left.is_empty(),
        "still there 10 s after gc: {left:?}\n{stdout}"
    );
    assert!(stdout.contains("gc: removed"), "{stdout}");
    if stdout.contains(&f["run"]) {
        assert!(stdout.contains("service svc"), "{stdout}");
    }
}

#[test]
fn unreachable_docker_gives_one_clear_error_and_exit_code_3() {
    let out = run_bin(
        CLNRM,
        &["services", "gc"],
        &[("DOCKER_HOST", "unix:///tmp/clnrm-no-docker-here.sock")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("cannot reach Docker at DOCKER_HOST=unix:///tmp/clnrm-no-docker-here.sock"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: start Docker"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.matches("error:").count(), 1, "one error: {stderr}");
}

#[test]
fn image_substitution_from_the_environment_is_honoured() {
    let out = run_bin(
        CHILD,
        &["drop", "registry.invalid/team/tools:9"],
        &[(
            "CLNRM_IMAGE_REGISTRY_INVALID_TEAM_TOOLS",
            "clnrm-local/toolbox:bookworm",
        )],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(fields(&stdout)["image"], "clnrm-local/toolbox:bookworm");
}

/// `docker` with `args`; its stdout, trimmed. Panics with its stderr when it fails.
fn docker_cli(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("the docker CLI runs");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clnrm_in_a_container_sharing_the_machine_id_is_never_reaped_from_the_host() {
    // A clnrm process (the e2e child) in a container of its own: its own PID namespace, but the
    // machine id and the Docker engine of this host, as in many CI setups.
    let name = format!("clnrm-e2e-pidns-{}", std::process::id());
    let socket = "/var/run/docker.sock";
    let outer = docker_cli(&[
        "run",
        "-d",
        "--name",
        &name,
        "-v",
        &format!("{socket}:{socket}"),
        "-v",
        "/etc/machine-id:/etc/machine-id:ro",
        "-v",
        &format!("{CHILD}:/usr/local/bin/clnrm-child:ro"),
        "clnrm-local/toolbox:bookworm",
        "/usr/local/bin/clnrm-child",
        "hang",
        "clnrm-local/toolbox:bookworm",
    ]);
    let remove_outer = || {
        let _ = Command::new("docker").args(["rm", "-f", &name]).output();
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let line = loop {
        let logs = docker_cli(&["logs", &outer]);
        if let Some(line) = logs.lines().find(|l| l.starts_with("run=")) {
            break line.to_owned();
        }
        if std::time::Instant::now() > deadline {
            remove_outer();
            panic!("the containerised clnrm never started its run: {logs}");
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let run = fields(&line)["run"].clone();
    assert_eq!(containers_with_label(labels::RUN, &run).await.len(), 1);

    // The host's clnrm: a new run reaps dead runs, and `services gc` does the same on demand.
    let env = run_env().await;
    env.stop().await.unwrap();
    let gc = run_bin(CLNRM, &["services", "gc"], &[]);
    let alive = containers_with_label(labels::RUN, &run).await.len();
    let said = String::from_utf8_lossy(&gc.stdout).into_owned();

    // Now the containerised clnrm dies as with SIGKILL (its whole container goes): the host,
    // which sees every PID namespace, reaps what it left.
    remove_outer();
    let gc_after = run_bin(CLNRM, &["services", "gc"], &[]);
    let left_after_death = containers_with_label(labels::RUN, &run).await.len();
    assert_eq!(
        alive, 1,
        "the host reaped a live run of a clnrm in another PID namespace: {said}"
    );
    assert!(!said.contains(&run), "{said}");
    assert_eq!(
        left_after_death,
        0,
        "the dead containerised owner's run is reaped: {}",
        String::from_utf8_lossy(&gc_after.stdout)
    );
}
