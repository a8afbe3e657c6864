//! `clnrm::main!()`: every registered test handed to libtest-mimic (so `--list`, `--exact`,
//! filters, `--skip`, `--ignored`, `--include-ignored`, `--test-threads` and `cargo nextest run`
//! work), executed on one shared tokio runtime with shared services, retries, timeouts and
//! exclusive groups.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use libtest_mimic::{Arguments, Failed, Trial};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use super::context::{ServiceView, TestContext};
use super::shared::{REAPER_ENV, Share, SharedServices, reap_when_owner_ends};
use super::spec::{Scope, TestSpec};
use crate::__macro_support::{TestDef, TestFn, TestResult};
use crate::engine::{self, Attempt, Policy, Prepared, failure_message};
use crate::report::Outcome as Verdict;
use crate::telemetry::tree;
use tracing::Instrument as _;

static RUNTIME: OnceLock<Runtime> = OnceLock::new();
static SHARED: OnceLock<SharedServices> = OnceLock::new();
static GROUPS: Mutex<Option<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> = Mutex::new(None);
static PENDING: Mutex<Vec<JoinHandle<()>>> = Mutex::new(Vec::new());
static RESULTS: Mutex<Vec<TestRun>> = Mutex::new(Vec::new());
/// Tests running now: (name, file, line, started), for the report of an interrupted run.
static RUNNING: Mutex<Vec<(String, &'static str, u32, SystemTime)>> = Mutex::new(Vec::new());
/// Set by whoever reports the run: the end of `run_main`, or the interrupt watcher.
static REPORTED: Mutex<bool> = Mutex::new(false);
/// The run's span and the test binary's (`suite`) span, ended by whoever reports the run.
static SPANS: Mutex<Option<(tracing::Span, tracing::Span)>> = Mutex::new(None);

/// The span of this test binary (the parent of its tests and of its shared services' starts).
fn suite_span() -> tracing::Span {
    lock(&SPANS)
        .as_ref()
        .map_or_else(tracing::Span::none, |(_, suite)| suite.clone())
}

/// Ends the run's spans with the tests' outcomes.
fn end_spans(results: &[TestRun]) {
    if let Some((run, suite)) = lock(&SPANS).take() {
        tree::finish_suite(&suite, results.iter().map(|r| &r.verdict));
        tree::finish_suite(&run, results.iter().map(|r| &r.verdict));
    }
}

/// Claims the one report of this run (history, JSON, JUnit); false when it was claimed.
fn claim_report() -> bool {
    !std::mem::replace(&mut *lock(&REPORTED), true)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn runtime() -> &'static Runtime {
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("clnrm-test")
            .build()
            .expect("the tokio runtime of the test harness starts")
    })
}

/// The directory of the crate whose tests run: as `clnrm::main!()` compiled it in, so that
/// `migrations` and the history resolve the same when the binary is run directly (not by cargo,
/// from another directory); else `CARGO_MANIFEST_DIR` when cargo runs it; else the current
/// directory.
fn manifest_dir() -> PathBuf {
    MANIFEST_DIR
        .get()
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from))
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_default()
}

static MANIFEST_DIR: OnceLock<&'static str> = OnceLock::new();

fn shared() -> &'static SharedServices {
    SHARED.get_or_init(|| {
        let manifest_dir = manifest_dir();
        let clnrm_dir =
            crate::history::default_history_path(&manifest_dir, |k| std::env::var(k).ok())
                .parent()
                .map(PathBuf::from)
                .unwrap_or_default();
        SharedServices::new(8, Share::from_env(clnrm_dir))
    })
}

/// One test's run, for history and reports.
#[derive(Debug, Clone)]
pub(crate) struct TestRun {
    pub(crate) name: String,
    pub(crate) file: &'static str,
    pub(crate) line: u32,
    pub(crate) verdict: Verdict,
    pub(crate) duration: Duration,
    pub(crate) attempts: u32,
    pub(crate) message: Option<String>,
    pub(crate) started_at: SystemTime,
    /// How long the test waited for its services and isolation, over all attempts.
    pub(crate) setup_wait: Duration,
    /// Of that, per service, in its last attempt: the container, then the isolation inside.
    pub(crate) service_waits: Vec<(String, engine::ServiceWait)>,
    /// The faults injected into its services (the last attempt's).
    pub(crate) faults: Vec<crate::chaos::FaultRecord>,
}

/// The `main` of a `harness = false` test target: what `clnrm::main!()` expands into, with the
/// crate's directory (`env!("CARGO_MANIFEST_DIR")`), against which `migrations` resolve.
pub fn run_main_in(manifest_dir: &'static str) -> std::process::ExitCode {
    let _ = MANIFEST_DIR.set(manifest_dir);
    run_main()
}

/// [`run_main_in`] without a compiled-in crate directory: `CARGO_MANIFEST_DIR` when cargo runs
/// the binary, else the current directory.
pub fn run_main() -> std::process::ExitCode {
    if let Ok(spec) = std::env::var(REAPER_ENV) {
        return reap_when_owner_ends(&spec);
    }
    if let Ok(spec) = std::env::var(engine::otel::RECEIVER_ENV) {
        return engine::otel::serve_until_owner_ends(&spec);
    }
    let (args, outputs, choice) = match super::report::split_args(std::env::args().collect()) {
        Ok(split) => split,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    if choice.partition.is_some() && std::env::var_os("NEXTEST").is_some() {
        // nextest runs one process per test, each appending to the history between the
        // listing and the runs: shards computed here would shift under it.
        eprintln!(
            "error: --partition / CLNRM_PARTITION does not work under nextest, which runs one \
             process per test; use `cargo nextest run --partition count:K/N` instead"
        );
        return std::process::ExitCode::from(2);
    }
    let mut args = Arguments::from_iter(args);
    let run_started = SystemTime::now();
    let run_t0 = Instant::now();
    crate::logging::init();
    let manifest_dir = manifest_dir();

    let mut defs: Vec<&'static TestDef> = inventory::iter::<TestDef>.into_iter().collect();
    defs.sort_by_key(|d| super::spec::test_name(d.module_path, d.fn_name));
    let target = super::report::target_name();
    if !args.list {
        let run_id = std::env::var("NEXTEST_RUN_ID").unwrap_or_else(|_| {
            let millis = run_started
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis());
            format!("{target}-{}-{millis}", std::process::id())
        });
        let run = tree::run("test", &run_id);
        let suite = tree::suite(&run, &target);
        *lock(&SPANS) = Some((run, suite));
    }
    let history = Arc::new(super::report::open_history(&manifest_dir));
    // Likely failures first, then the shortest: the planner's order from this binary's history
    // (file order when there is none, or with `--order file`), and only shard K of N.
    let other_shards = super::report::select_tests(
        &mut defs,
        &manifest_dir,
        history.as_ref().as_ref(),
        &target,
        &choice,
        args.list,
    );
    // Tests of other shards stay trials, so libtest counts them as filtered out: they get a
    // kind no test name carries, and a skip filter for it (their exact names under `--exact`).
    let other_kind = choice
        .partition
        .map(|p| format!("not in shard {p}"))
        .unwrap_or_default();
    if !other_shards.is_empty() {
        if args.exact {
            for def in &other_shards {
                let name = super::spec::test_name(def.module_path, def.fn_name);
                args.skip.push(format!("[{other_kind}] {name}"));
            }
        } else {
            args.skip.push(format!("[{other_kind}] "));
        }
    }
    let in_other_shard: HashSet<String> = other_shards
        .iter()
        .map(|d| super::spec::test_name(d.module_path, d.fn_name))
        .collect();
    defs.extend(other_shards);

    let mut trials = Vec::new();
    let mut specs = Vec::new();
    for def in defs {
        let name = super::spec::test_name(def.module_path, def.fn_name);
        let spec = TestSpec::from_def(def, &manifest_dir);
        let ignored = def.ignore.is_some();
        let for_trial = spec.clone();
        let trial = Trial::test(name.clone(), move || match for_trial {
            Ok(spec) => execute(def, spec),
            Err(problem) => Err(Failed::from(problem)),
        })
        .with_ignored_flag(ignored);
        trials.push(if in_other_shard.contains(&name) {
            trial.with_kind(other_kind.clone())
        } else {
            trial
        });
        specs.push(spec);
    }

    if !args.list {
        // Start what the selected tests need in the background, while tests that need
        // nothing already run.
        let mut seen = HashSet::new();
        let mut wanted = Vec::new();
        for (trial, spec) in trials.iter().zip(&specs) {
            let Ok(spec) = spec else { continue };
            let selected_by_ignore = if args.ignored {
                spec.ignore.is_some()
            } else {
                spec.ignore.is_none() || args.include_ignored
            };
            if args.is_filtered_out(trial) || !selected_by_ignore || spec.scope != Scope::Shared {
                continue;
            }
            for service in &spec.services {
                // Each such test takes a database clone: all are made ahead.
                if service.isolation == super::spec::Isolation::Database {
                    shared().forecast(&service.key, 1);
                }
                if seen.insert(service.key.clone()) {
                    wanted.push(service.clone());
                }
            }
        }
        for service in wanted {
            let handle = runtime()
                .spawn(async move { shared().prepare(&service).await }.instrument(suite_span()));
            PENDING
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(handle);
        }
    }

    let test_threads = args
        .test_threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let outputs = Arc::new(outputs);
    if !args.list {
        // Ctrl-C / SIGTERM: no test starts, running ones are cut short (and never reported as
        // failures), the run is reported as interrupted, the containers are removed, and the
        // process exits 130 / 143 (`crate::interrupt`).
        crate::interrupt::install();
        let hold = crate::interrupt::hold();
        let watched = InterruptedRun {
            target: target.clone(),
            started_at: run_started,
            clock: run_t0,
            test_threads,
            history: Arc::clone(&history),
            outputs: Arc::clone(&outputs),
        };
        let _ = std::thread::Builder::new()
            .name("clnrm-interrupt".to_owned())
            .spawn(move || {
                let signal = crate::interrupt::wait_blocking();
                watched.report(signal);
                drop(hold);
            });
    }

    let conclusion = libtest_mimic::run(&args, trials);
    // The run ended: a signal from now on only removes what is left.
    let _reporting = crate::interrupt::hold();
    let report_here = claim_report();

    let service_starts = runtime().block_on(
        async {
            let pending: Vec<JoinHandle<()>> =
                std::mem::take(&mut *PENDING.lock().unwrap_or_else(|p| p.into_inner()));
            for handle in pending {
                let _ = handle.await;
            }
            match SHARED.get() {
                Some(shared) => {
                    let starts = shared.start_times();
                    shared.shutdown().await;
                    starts
                }
                None => Vec::new(),
            }
        }
        .instrument(suite_span()),
    );
    let results = std::mem::take(&mut *RESULTS.lock().unwrap_or_else(|p| p.into_inner()));
    for run in results.iter().filter(|r| r.verdict == Verdict::Flaky) {
        println!(
            "clnrm: FLAKY {}: failed, then passed on attempt {}",
            run.name, run.attempts
        );
    }
    if !args.list && report_here {
        let run = super::report::Finished {
            target,
            started_at: run_started,
            duration: run_t0.elapsed(),
            test_threads,
            service_starts,
        };
        super::report::finish(&run, &results, history.as_ref().as_ref(), &outputs);
    }
    // Every span is delivered before the process exits (libtest-mimic's caller exits it).
    end_spans(&results);
    crate::telemetry::flush();
    conclusion.exit_code()
}

/// What the interrupt watcher needs to report a run cut short.
struct InterruptedRun {
    target: String,
    started_at: SystemTime,
    clock: Instant,
    test_threads: usize,
    history: Arc<Option<crate::history::HistoryStore>>,
    outputs: Arc<super::report::Outputs>,
}

impl InterruptedRun {
    /// Prints what was cut short and records the run as interrupted (so the planner ignores
    /// it): the finished tests as they ended, the running ones as [`Verdict::Interrupted`].
    fn report(self, signal: crate::interrupt::Signal) {
        if !claim_report() {
            return;
        }
        let mut results = lock(&RESULTS).clone();
        let now = SystemTime::now();
        let cut: Vec<TestRun> = lock(&RUNNING)
            .iter()
            .filter(|(name, ..)| !results.iter().any(|r| &r.name == name))
            .map(|(name, file, line, started_at)| TestRun {
                name: name.clone(),
                file,
                line: *line,
                verdict: Verdict::Interrupted,
                duration: now.duration_since(*started_at).unwrap_or_default(),
                attempts: 1,
                message: Some(format!("interrupted by {signal}")),
                started_at: *started_at,
                setup_wait: Duration::ZERO,
                service_waits: Vec::new(),
                faults: Vec::new(),
            })
            .collect();
        let names: Vec<&str> = cut.iter().map(|r| r.name.as_str()).collect();
        eprintln!(
            "clnrm: interrupted by {signal} after {:.1} s: {} test(s) finished, {} cut short{}; \
             no further test starts, and the run is recorded as interrupted",
            self.clock.elapsed().as_secs_f64(),
            results.len(),
            cut.len(),
            if names.is_empty() {
                String::new()
            } else {
                format!(" ({})", names.join(", "))
            }
        );
        results.extend(cut);
        end_spans(&results);
        let run = super::report::Finished {
            target: self.target,
            started_at: self.started_at,
            duration: self.clock.elapsed(),
            test_threads: self.test_threads,
            service_starts: Vec::new(),
        };
        super::report::finish(
            &run,
            &results,
            self.history.as_ref().as_ref(),
            &self.outputs,
        );
    }
}

fn exclusive_lock(group: &str) -> Arc<tokio::sync::Mutex<()>> {
    let mut groups = GROUPS.lock().unwrap_or_else(|p| p.into_inner());
    Arc::clone(
        groups
            .get_or_insert_with(HashMap::new)
            .entry(group.to_owned())
            .or_default(),
    )
}

/// Runs one test with its retries on the engine; the libtest-mimic trial's body. Once the
/// process is interrupted, a test does not start, and a running one stops where it is and never
/// returns: libtest-mimic reports no invented failure while the interrupt watcher reports the
/// run and the process exits.
fn execute(def: &'static TestDef, spec: TestSpec) -> Result<(), Failed> {
    if crate::interrupt::is_interrupted() {
        park();
    }
    let name = spec.name.clone();
    lock(&RUNNING).push((name.clone(), spec.file, spec.line, SystemTime::now()));
    let result = runtime().block_on(async move {
        tokio::select! {
            result = execute_test(def, spec) => result,
            _ = crate::interrupt::wait() => std::future::pending().await,
        }
    });
    lock(&RUNNING).retain(|(running, ..)| *running != name);
    if crate::interrupt::is_interrupted() {
        park();
    }
    result
}

/// Blocks this test thread until the process exits.
fn park() -> ! {
    loop {
        std::thread::park();
    }
}

async fn execute_test(def: &'static TestDef, spec: TestSpec) -> Result<(), Failed> {
    {
        let lock = spec.exclusive.as_deref().map(exclusive_lock);
        let _guard = match &lock {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        let policy = Policy {
            retries: spec.retries,
            timeout: spec.timeout,
        };
        let mut attempt = TestAttempt {
            def,
            spec: &spec,
            waits: Vec::new(),
            chaos: None,
            faults: Vec::new(),
        };
        let span = tree::case(&suite_span(), &super::report::target_name(), &spec.name);
        tree::case_location(&span, spec.file, spec.line);
        let mut run = engine::execute(policy, &mut attempt)
            .instrument(span.clone())
            .await;
        // The message, its log tails and diagnostics may carry passwords, tokens and terminal
        // escapes.
        run.message = crate::report::clean_message(run.message);
        tree::finish_case(&span, run.verdict, run.attempts, run.message.as_deref());
        drop(span);
        let faults = attempt.faults;
        RESULTS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(TestRun {
                name: spec.name.clone(),
                file: spec.file,
                line: spec.line,
                verdict: run.verdict,
                duration: run.duration,
                attempts: run.attempts,
                message: run.message.clone(),
                started_at: run.started_at,
                setup_wait: run.setup_wait,
                service_waits: attempt.waits,
                faults,
            });
        match (run.verdict, run.message) {
            (Verdict::Passed | Verdict::Flaky, _) => Ok(()),
            (Verdict::InfraError, Some(m)) => Err(Failed::from(format!(
                "infrastructure error (not a failure of the test's code): {m}"
            ))),
            (_, m) => Err(Failed::from(m.unwrap_or_default())),
        }
    }
}

/// One attempt of a registered test: its services prepared by the engine, its body run as a
/// task (aborted when the attempt runs out of time), diagnostics added to a failure.
struct TestAttempt<'a> {
    def: &'static TestDef,
    spec: &'a TestSpec,
    /// What the last attempt waited for, per service.
    waits: Vec<(String, engine::ServiceWait)>,
    /// The attempt's faults, healed in `finish`.
    chaos: Option<crate::chaos::ChaosSession>,
    faults: Vec<crate::chaos::FaultRecord>,
}

/// Aborts the test's task when the engine drops the attempt (its timeout ran out).
struct AbortOnDrop(JoinHandle<TestResult>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Attempt for TestAttempt<'_> {
    type Prepared = Prepared;

    async fn prepare(&mut self) -> Result<Prepared, String> {
        engine::prepare(shared(), &self.spec.services).await
    }

    async fn run(&mut self, prepared: &Prepared) -> Result<(), String> {
        self.waits = prepared
            .services
            .iter()
            .map(|(name, service)| (name.clone(), service.waited))
            .collect();
        let views = prepared
            .services
            .iter()
            .map(|(name, service)| {
                let view = ServiceView {
                    handle: Some(service.handle.clone()),
                    url: service.url.clone(),
                };
                (name.clone(), view)
            })
            .collect();
        let chaos = crate::chaos::ChaosSession::new(
            prepared
                .services
                .iter()
                .map(|(name, service)| crate::chaos::ChaosService {
                    name: name.clone(),
                    handle: Some(service.handle.clone()),
                    url: service.url.clone(),
                    shared: self
                        .spec
                        .services
                        .iter()
                        .any(|s| &s.local == name && s.scope == Scope::Shared),
                    proxied: self.spec.chaos.contains(name),
                })
                .collect(),
        )
        .await
        .map_err(|e| format!("{e:?}"))?;
        self.chaos = Some(chaos.clone());
        // The test body runs in the attempt's span: its own spans and `ctx.traceparent()`.
        let span = tracing::Span::current();
        let (traceparent, spans) = super::otel::test_trace(shared(), self.spec, &span).await?;
        let ctx = TestContext::new(self.spec.name.clone(), views)
            .with_chaos(chaos)
            .with_traceparent(traceparent)
            .with_spans(spans);
        let mut task = AbortOnDrop(match self.def.body {
            TestFn::Async(body) => tokio::spawn(body(ctx).instrument(span)),
            TestFn::Sync(body) => tokio::task::spawn_blocking(move || span.in_scope(|| body(ctx))),
        });
        match (&mut task.0).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => {
                let payload = e.into_panic();
                let text = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(a non-text panic payload)".to_owned());
                Err(format!("panicked: {text}"))
            }
            Err(e) => Err(format!("the test task ended: {e}")),
        }
    }

    async fn finish(&mut self, prepared: Prepared, failure: Option<&mut engine::Failure>) {
        // Heal every fault first: the services go back to the pool usable, and the log tails
        // below come from healed services.
        self.faults = match self.chaos.take() {
            Some(chaos) => chaos.heal_all().await,
            None => Vec::new(),
        };
        if let Some(failure) = failure {
            let message = failure_message(failure);
            let mut text = std::mem::take(message);
            if !self.faults.is_empty() {
                text.push_str("\n\nfaults injected:");
                for fault in &self.faults {
                    let _ = write!(text, "\n  - {}", fault.describe());
                }
            }
            *message = with_diagnostics(text, self.spec, &prepared).await;
        }
        prepared.finish(shared()).await;
    }
}

/// Appends what a failing test needs to be debugged: its services' URLs (secrets masked) and
/// log tails, and the command that re-runs just this test.
async fn with_diagnostics(message: String, spec: &TestSpec, prepared: &Prepared) -> String {
    let mut text = message;
    for (name, service) in &prepared.services {
        let handle = &service.handle;
        let mut url = service.url.clone().unwrap_or_default();
        if let Some(c) = handle.credentials()
            && !c.password.is_empty()
        {
            url = url.replace(&c.password, "***");
        }
        let _ = write!(
            text,
            "\n\nservice `{name}` ({}, image {}) {url}\nlast log lines:",
            handle.plugin(),
            handle.image()
        );
        match handle.logs(15).await {
            Ok(logs) => {
                for line in logs.lines() {
                    text.push_str("\n  | ");
                    text.push_str(line);
                }
            }
            Err(e) => {
                let _ = write!(text, " (unavailable: {e})");
            }
        }
    }
    let _ = write!(
        text,
        "\n\nre-run just this test: {}",
        repro_command(&spec.name)
    );
    text
}

fn repro_command(name: &str) -> String {
    let package = std::env::var("CARGO_PKG_NAME").unwrap_or_else(|_| "<package>".to_owned());
    let target = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|stem| match stem.rsplit_once('-') {
            Some((target, hash))
                if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) =>
            {
                target.to_owned()
            }
            _ => stem,
        })
        .unwrap_or_else(|| "<target>".to_owned());
    format!("cargo test -p {package} --test {target} -- --exact {name}")
}
