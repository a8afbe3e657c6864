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

/// A command for a harness binary of this package that is a run of its own, not a test of the
/// nextest run that runs these tests: without nextest's variables it neither joins that run's
/// shared services nor spawns a reaper that would remove them when the calling test ends.
pub(crate) fn own_run(bin: &str) -> Command {
    let mut cmd = Command::new(bin);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("NEXTEST") {
            cmd.env_remove(key);
        }
    }
    cmd
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

/// Runs a binary of this package (a run of its own, see [`own_run`]) and returns its output.
pub(crate) fn run_bin(bin: &str, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = own_run(bin);
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

/// Ids of the containers clnrm labelled as owned by process `pid` of this machine.
pub(crate) async fn containers_owned_by(pid: u32) -> Vec<String> {
    use clnrm::docker::bollard::query_parameters::ListContainersOptions;
    use clnrm::docker::{Owner, connect, labels};
    let docker = connect().await.expect("docker reachable");
    let filters = HashMap::from([("label".to_owned(), vec![labels::MANAGED.to_owned()])]);
    docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .expect("list containers")
        .into_iter()
        .filter(|c| {
            c.labels
                .as_ref()
                .and_then(|l| l.get(labels::OWNER))
                .and_then(|owner| Owner::parse(owner))
                .is_some_and(|owner| owner.pid == pid)
        })
        .filter_map(|c| c.id)
        .collect()
}

/// A directory of one test, removed when dropped.
pub(crate) struct ScratchDir(pub(crate) std::path::PathBuf);

impl ScratchDir {
    /// A fresh, empty directory named after `test`.
    pub(crate) fn new(test: &str) -> ScratchDir {
        let dir = std::env::temp_dir().join(format!("clnrm-e2e-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        ScratchDir(dir)
    }

    /// Writes `text` to `name` (creating its directories) and returns the path.
    pub(crate) fn write(&self, name: &str, text: &str) -> std::path::PathBuf {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write");
        path
    }

    /// The directory as a `&str` argument.
    pub(crate) fn arg(&self) -> &str {
        self.0.to_str().expect("utf-8 temp dir")
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A binary of this package left running, its stdout and stderr lines collected as they come
/// (in one list, in arrival order). Dropping it kills the process.
pub(crate) struct Spawned {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Spawned {
    /// Starts `bin` with `args` and extra environment `envs`, as a run of its own (see
    /// [`own_run`]; `envs` may set nextest's variables again).
    pub(crate) fn start(bin: &str, args: &[&str], envs: &[(&str, &str)]) -> Spawned {
        use std::io::BufRead;
        let mut child = own_run(bin)
            .args(args)
            .envs(envs.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
        let (tx, lines) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let readers: [Box<dyn std::io::Read + Send>; 2] = [Box::new(stdout), Box::new(stderr)];
        for stream in readers {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Spawned {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The process id.
    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    /// How many lines came so far: a mark for [`Self::wait_for`] and [`Self::since`].
    pub(crate) fn mark(&self) -> usize {
        self.seen.len()
    }

    /// The lines that came after `mark`.
    pub(crate) fn since(&self, mark: usize) -> &[String] {
        &self.seen[mark..]
    }

    /// Waits up to `timeout` for a line after `mark` containing `text`; returns its index.
    /// Panics with every line seen when none comes.
    pub(crate) fn wait_for(
        &mut self,
        mark: usize,
        text: &str,
        timeout: std::time::Duration,
    ) -> usize {
        let deadline = std::time::Instant::now() + timeout;
        let mut from = mark;
        loop {
            if let Some(i) = self.seen[from..].iter().position(|l| l.contains(text)) {
                return from + i;
            }
            from = self.seen.len();
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "no line with {text:?} within {timeout:?}; the process said:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Collects lines until none comes for `quiet`, for `quiet` times ten at most.
    pub(crate) fn settle(&mut self, quiet: std::time::Duration) {
        let deadline = std::time::Instant::now() + quiet * 10;
        while let Ok(line) = self.lines.recv_timeout(quiet) {
            self.seen.push(line);
            if std::time::Instant::now() >= deadline {
                break;
            }
        }
    }

    /// Still running?
    pub(crate) fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Sends `signal` (a `kill` name: `TERM`, `INT`) to the process.
    pub(crate) fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits up to `timeout` for the process to end; returns its exit code (`None`: killed by a
    /// signal it did not handle).
    pub(crate) fn wait_exit(&mut self, timeout: std::time::Duration) -> Option<i32> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // Keep what it said last, for the caller's messages.
                while let Ok(line) = self.lines.try_recv() {
                    self.seen.push(line);
                }
                return status.code();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "still running after {timeout:?}; it said:\n{}",
                self.seen.join("\n")
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Every line seen, for assertion messages.
    pub(crate) fn transcript(&self) -> String {
        self.seen.join("\n")
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        // Never panics: this may run while a failed test unwinds.
        let running = |child: &mut std::process::Child| matches!(child.try_wait(), Ok(None));
        if running(&mut self.child) {
            // SIGTERM first: clnrm removes its containers on it.
            let _ = Command::new("kill")
                .args(["-TERM".to_owned(), self.child.id().to_string()])
                .status();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while running(&mut self.child) && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A fresh directory for one run under this test binary's target tmp dir: `AREA/TAG-PID-NANOS`.
pub(crate) fn scratch(area: &str, tag: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(area)
        .join(format!("{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}
