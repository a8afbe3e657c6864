//! `clnrm watch [PATH...]`: run the suites, then re-run the ones a file change affects, until
//! Ctrl-C or SIGTERM.
//!
//! Which suites a change affects is [`clnrm::suite::affected_suites`]'s rule: a changed suite
//! re-runs alone, a new one runs, a deleted one is dropped, any other file re-runs the suites of
//! its nearest directory holding suites, and a change below a suite's `migrations` directory
//! (watched too, wherever it is) re-runs that suite. A suite with errors prints its diagnostics and waits for
//! the next change. Bursts of events (an editor saving, a `git checkout`) are debounced into one
//! round. A change during a round is picked up by the next one. Every round is appended to the
//! history like a `clnrm run`.
//!
//! Results go to stdout as with `run`; what the watcher does (`watch: ...`) goes to stderr. On
//! Ctrl-C / SIGTERM the engine removes the containers of a round in progress; the process exits
//! 130 / 143 either way.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use clnrm::suite::{RunOptions, affected_suites_referencing, discover_suites};
use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::run::{append_history, execute, history_path, load_printing_problems, summary_line};
use crate::CliError;
use crate::reporter::ProgressMode;

/// A burst of events ends after this long without one.
const QUIET: Duration = Duration::from_millis(300);
/// A round starts at the latest this long after the first event of a burst.
const MAX_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    /// Suite files, or directories searched for `*.clnrm.toml` (default: the current directory).
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Suites running at once.
    #[arg(long, short = 'j', default_value_t = 2, value_name = "N")]
    jobs: usize,
    /// Within a round, start no further suite after the first failure.
    #[arg(long)]
    fail_fast: bool,
    /// Show a live status area (running suites, counts, elapsed) redrawn in place on stderr.
    #[arg(long, value_enum, default_value_t, value_name = "WHEN")]
    progress: ProgressMode,
    /// Serve the metrics of every round so far at `http://ADDR/metrics` (Prometheus text),
    /// e.g. `127.0.0.1:9464`.
    #[arg(long, value_name = "ADDR")]
    metrics_addr: Option<std::net::SocketAddr>,
}

pub(crate) async fn run(args: WatchArgs) -> Result<(), CliError> {
    // Before anything runs: an address that cannot be served is a usage error.
    let _metrics = match args.metrics_addr {
        Some(addr) => {
            let server = clnrm::telemetry::metrics::MetricsServer::start(addr)
                .await
                .map_err(|e| {
                    CliError::Invalid(format!("--metrics-addr {addr}: cannot listen there: {e}"))
                })?;
            eprintln!("watch: metrics at http://{}/metrics", server.addr());
            Some(server)
        }
        None => None,
    };
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    // One form for every path: the watcher reports canonical paths of canonical roots.
    let roots = paths
        .iter()
        .map(|p| {
            std::fs::canonicalize(p)
                .map_err(|e| CliError::Invalid(format!("cannot watch {}: {e}", p.display())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let cwd = std::env::current_dir()
        .and_then(std::fs::canonicalize)
        .unwrap_or_default();
    let history = canonical_file(&history_path());
    // What clnrm itself writes must never start a round: the history (and its journal), and
    // this process's own output when it is redirected into a watched directory.
    let own_writes: Vec<PathBuf> = std::iter::once(history).chain(own_output_files()).collect();

    // Watch before the first round, so that edits made while it runs are seen.
    let (tx, mut rx) = unbounded_channel();
    let mut watcher = notify::recommended_watcher(forward(tx)).map_err(watch_error)?;
    for root in &roots {
        let dir = if root.is_dir() {
            root.as_path()
        } else {
            root.parent().unwrap_or(root)
        };
        watch_tree(&mut watcher, dir);
    }

    let registry = super::marketplace::registry();
    let known_plugins = registry.names();
    let options = RunOptions {
        jobs: args.jobs,
        fail_fast: args.fail_fast,
    };
    let shown = |p: &Path| p.strip_prefix(&cwd).unwrap_or(p).to_path_buf();

    let mut suites = discover(&roots, &[]);
    if suites.is_empty() {
        eprintln!(
            "watch: no `*{}` suite under {} yet",
            clnrm::suite::SUITE_EXTENSION,
            super::validate::join_paths(&paths)
        );
    } else {
        eprintln!("watch: running {} suite(s)", suites.len());
    }
    let first: Vec<&Path> = suites.iter().map(PathBuf::as_path).collect();
    let mut references = Vec::new();
    let fresh = run_round(&first, &known_plugins, &options, args.progress, &shown).await;
    note_references(&mut references, fresh, &mut watcher);

    let mut announce = true;
    loop {
        if let Some(signal) = clnrm::interrupt::signal() {
            return Err(CliError::Interrupted(signal));
        }
        if announce {
            eprintln!(
                "watch: waiting for changes to {} suite(s) under {}; Ctrl-C to stop",
                suites.len(),
                super::validate::join_paths(&paths)
            );
        }
        let mut changed = tokio::select! {
            batch = next_batch(&mut rx) => batch,
            signal = clnrm::interrupt::wait() => return Err(CliError::Interrupted(signal)),
        };
        changed.retain(|p| {
            !own_writes
                .iter()
                .any(|own| p.to_string_lossy().starts_with(&*own.to_string_lossy()))
        });
        // Nor a `target/` directory appearing (where the history goes by default; what is
        // below it is ignored already), nor what the repository's `.gitignore` ignores (build
        // output, logs, caches).
        changed.retain(|p| !(p.ends_with("target") && p.is_dir()));
        let ignored = git_ignored(&roots, &changed);
        changed.retain(|p| !ignored.contains(p));
        // New directories: watch them too.
        for dir in changed.iter().filter(|p| p.is_dir()) {
            if roots.iter().any(|r| dir.starts_with(r)) {
                watch_tree(&mut watcher, dir);
            }
        }
        let now = discover(&roots, &suites);
        references.retain(|(suite, _)| now.contains(suite));
        let affected = affected_suites_referencing(&suites, &now, &changed, &references);
        suites = now;
        announce = !affected.is_empty();
        if affected.is_empty() {
            continue;
        }
        for p in &affected.removed {
            eprintln!("watch: {} removed", shown(p).display());
        }
        for p in &affected.added {
            eprintln!("watch: new suite {}", shown(p).display());
        }
        for p in &affected.changed {
            eprintln!("watch: {} changed", shown(p).display());
        }
        for (suite, cause) in &affected.touched {
            eprintln!(
                "watch: {} changed: re-running {}",
                shown(cause).display(),
                shown(suite).display()
            );
        }
        let fresh = run_round(
            &affected.to_run(),
            &known_plugins,
            &options,
            args.progress,
            &shown,
        )
        .await;
        note_references(&mut references, fresh, &mut watcher);
    }
}

/// Loads and runs `files`; suites with errors print their diagnostics and are left out.
/// Returns, per loaded suite file (as given), the directories it references (canonical).
async fn run_round(
    files: &[&Path],
    known_plugins: &[&str],
    options: &RunOptions,
    progress: ProgressMode,
    shown: &dyn Fn(&Path) -> PathBuf,
) -> Vec<(PathBuf, Vec<PathBuf>)> {
    let mut loaded = Vec::new();
    let mut references = Vec::new();
    for given in files {
        let file = shown(given);
        match load_printing_problems(&file, known_plugins) {
            Some(spec) => {
                let dirs = spec
                    .referenced_dirs(given)
                    .iter()
                    .filter_map(|d| std::fs::canonicalize(d).ok())
                    .collect();
                references.push((given.to_path_buf(), dirs));
                loaded.push((file, spec));
            }
            None => eprintln!(
                "watch: {} has errors; not run until it changes",
                file.display()
            ),
        }
    }
    if loaded.is_empty() {
        return references;
    }
    match execute(loaded, options, progress).await {
        Ok(record) => {
            append_history(&record);
            println!("{}", summary_line(&record));
        }
        // Docker gone, for instance: say so and keep watching.
        Err(CliError::Clnrm(e)) => eprintln!("error: {e:?}"),
        Err(e) => eprintln!("error: {e}"),
    }
    references
}

/// The regular files this process's stdout and stderr are redirected to, if any.
fn own_output_files() -> Vec<PathBuf> {
    [1, 2]
        .iter()
        .filter_map(|fd| std::fs::read_link(format!("/proc/self/fd/{fd}")).ok())
        .filter(|target| target.is_file())
        .filter_map(|target| std::fs::canonicalize(target).ok())
        .collect()
}

/// Those of `changed` that git ignores in the repository of the watched roots (`git
/// check-ignore`, which reads every `.gitignore`, `.git/info/exclude` and the global excludes);
/// none without git or outside a repository. A root that is itself ignored keeps what is
/// below it: the user asked to watch it.
fn git_ignored(roots: &[PathBuf], changed: &[PathBuf]) -> Vec<PathBuf> {
    use std::io::Write as _;
    let Some(root) = roots.first() else {
        return Vec::new();
    };
    let dir = if root.is_dir() {
        root.as_path()
    } else {
        root.parent().unwrap_or(root)
    };
    let ask = |paths: &[&PathBuf]| -> Vec<PathBuf> {
        let child = std::process::Command::new("git")
            .args(["check-ignore", "--no-index", "-z", "--stdin"])
            .current_dir(dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn();
        let Ok(mut child) = child else {
            return Vec::new();
        };
        if let Some(mut stdin) = child.stdin.take() {
            for p in paths {
                let _ = stdin.write_all(p.as_os_str().as_encoded_bytes());
                let _ = stdin.write_all(b"\0");
            }
        }
        // Exit 1: none is ignored; 128: not a repository. Either way the output says it all.
        let Ok(out) = child.wait_with_output() else {
            return Vec::new();
        };
        out.stdout
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
            .collect()
    };
    let ignored_roots = ask(&roots.iter().collect::<Vec<_>>());
    let candidates: Vec<&PathBuf> = changed
        .iter()
        .filter(|p| !ignored_roots.iter().any(|r| p.starts_with(r)))
        .collect();
    if candidates.is_empty() {
        return Vec::new();
    }
    ask(&candidates)
}

/// Keeps `references` current with a round's `fresh` ones, watching directories not seen yet.
fn note_references(
    references: &mut Vec<(PathBuf, Vec<PathBuf>)>,
    fresh: Vec<(PathBuf, Vec<PathBuf>)>,
    watcher: &mut impl Watcher,
) {
    for (suite, dirs) in fresh {
        for dir in &dirs {
            if !references.iter().any(|(_, known)| known.contains(dir)) {
                watch_tree(watcher, dir);
            }
        }
        references.retain(|(s, _)| *s != suite);
        references.push((suite, dirs));
    }
}

/// The suites under the roots that exist now; on a discovery error, `previous`.
fn discover(roots: &[PathBuf], previous: &[PathBuf]) -> Vec<PathBuf> {
    let existing: Vec<PathBuf> = roots.iter().filter(|r| r.exists()).cloned().collect();
    discover_suites(&existing).unwrap_or_else(|e| {
        eprintln!("warning: {e}");
        previous.to_vec()
    })
}

/// The watcher's callback: paths of events that can change a file's content or existence.
fn forward(tx: UnboundedSender<PathBuf>) -> impl notify::EventHandler {
    move |event: notify::Result<notify::Event>| match event {
        Ok(event) if changes_files(&event.kind) => {
            for path in event.paths {
                let _ = tx.send(path);
            }
        }
        Ok(_) => {}
        Err(e) => eprintln!("warning: watching files: {e}"),
    }
}

/// Writes, creations, removals, renames and metadata changes; not reads (loading a suite reads
/// it, which must not start another round).
fn changes_files(kind: &EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode, MetadataKind, ModifyKind};
    match kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime)) => false,
        EventKind::Modify(_) => true,
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        _ => false,
    }
}

/// Watches `dir` and its subdirectories, skipping hidden ones and `target/` as discovery does
/// (a recursive watch of a Rust project would put a watch on every directory of `target/`).
fn watch_tree(watcher: &mut impl Watcher, dir: &Path) {
    if let Err(e) = watcher.watch(dir, RecursiveMode::NonRecursive) {
        eprintln!("warning: cannot watch {}: {e}", dir.display());
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if entry.file_type().is_ok_and(|t| t.is_dir()) && !name.starts_with('.') && name != "target"
        {
            watch_tree(watcher, &entry.path());
        }
    }
}

/// The changed paths of the next burst of events, once it is over.
async fn next_batch(rx: &mut UnboundedReceiver<PathBuf>) -> Vec<PathBuf> {
    let Some(first) = rx.recv().await else {
        // The watcher is gone (it lives as long as the loop): nothing will change any more.
        return std::future::pending().await;
    };
    let mut batch = BTreeSet::from([first]);
    let deadline = Instant::now() + MAX_WAIT;
    while let Ok(Some(path)) = tokio::time::timeout(QUIET, rx.recv()).await {
        batch.insert(path);
        if Instant::now() >= deadline {
            break;
        }
    }
    batch.into_iter().collect()
}

/// `path` with its directory canonical (the file itself may not exist yet).
fn canonical_file(path: &Path) -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_default();
    let path = cwd.join(path);
    match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => std::fs::canonicalize(dir)
            .map(|d| d.join(name))
            .unwrap_or(path.clone()),
        _ => path,
    }
}

fn watch_error(e: notify::Error) -> CliError {
    CliError::Environment(format!("cannot watch files: {e}"))
}
