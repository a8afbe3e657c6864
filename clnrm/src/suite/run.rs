//! Executing loaded suites on the engine: one [`RunEnv`] per suite, its shared services started
//! through [`Registry::start_all`], then per scenario the engine's preparation (a database,
//! schema or logical database of the scenario's own inside an isolated service; a fresh
//! container for each `scope = "test"` service), the steps run in order, each through the
//! engine's attempt loop (`retries`, `timeout`), results as [`TestRecord`]s named
//! `suite::scenario`.
//!
//! A step running "in a fresh container of an image" runs in a `generic` container of that image
//! kept alive with `sleep infinity`, started once per suite and image (steps of a suite share it).
//!
//! Command steps get, for every service `NAME` of the scenario (upper-cased, `-` as `_`):
//! `CLNRM_NAME_URL`, its URL as seen from the suite's network (`postgres://u:p@db:5432/t_1_0`),
//! and for an isolated one `CLNRM_NAME_DATABASE` / `CLNRM_NAME_SCHEMA` (Postgres) or
//! `CLNRM_NAME_DB` (Redis). A command in an isolated Postgres service's own container also gets
//! `PGDATABASE` (or `PGOPTIONS` with the `search_path`), so a plain `psql` lands in the
//! scenario's database. A step's own `env` wins.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt;

use super::spec::{
    Action, ExecSpec, Expectations, HttpBody, HttpSpec, Isolation as SuiteIsolation, OutputExpect,
    ScenarioSpec, Scope as SuiteScope, ServiceSpec as SuiteServiceSpec, StepSpec, SuiteSpec,
    SurqlSpec, Target, WaitFor,
};
use crate::docker::{Readiness, RunConfig, RunEnv};
use crate::engine::{
    self, Attempt, Isolation, Namespace, Policy, PreparedService, Scope, ServiceNeed,
    SharedServices,
};
use crate::report::{Outcome, RunEvent, RunRecord, TestRecord};
use crate::service::{Registry, ServiceHandle, ServiceSpec, Services};
use crate::telemetry::{ScenarioTelemetry, SpanVerdict, SuiteTelemetry, tree};
use crate::{DockerError, Error, Result};
use tracing::Instrument as _;

/// A step without `timeout` may run this long per attempt.
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(120);

/// How a run goes.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Suites running at once (at least 1).
    pub jobs: usize,
    /// Start no further suite after the first failure.
    pub fail_fast: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            jobs: 1,
            fail_fast: false,
        }
    }
}

/// Runs `suites` (path, spec) and reports what happens to `on_event` as it happens.
///
/// Scenario failures are results, not errors. Errors: Docker unreachable (before anything runs).
/// A suite whose services cannot start yields [`Outcome::InfraError`] for its scenarios.
pub async fn run_suites(
    suites: Vec<(PathBuf, SuiteSpec)>,
    config: RunConfig,
    options: &RunOptions,
    on_event: &(dyn Fn(&RunEvent<'_>) + Sync),
) -> Result<RunRecord> {
    let started_at = SystemTime::now();
    let clock = Instant::now();
    let run_id = format!(
        "suites-{}-{}",
        std::process::id(),
        started_at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
    );
    let run_span = tree::run("run", &run_id);
    let record = run_traced(suites, config, options, on_event, &run_span)
        .instrument(run_span.clone())
        .await;
    if let Ok(record) = &record {
        tree::finish_suite(&run_span, record.tests.iter().map(|t| &t.outcome));
    }
    Ok(RunRecord {
        run_id,
        target: crate::history::SUITES_TARGET.to_owned(),
        started_at,
        duration: clock.elapsed(),
        tests: record?.tests,
    })
}

/// [`run_suites`] in its run span.
async fn run_traced(
    suites: Vec<(PathBuf, SuiteSpec)>,
    config: RunConfig,
    options: &RunOptions,
    on_event: &(dyn Fn(&RunEvent<'_>) + Sync),
    run_span: &tracing::Span,
) -> Result<RunRecord> {
    let started_at = SystemTime::now();
    let clock = Instant::now();
    // Fail early, once, when Docker is not there: that is the environment, not the suites.
    crate::docker::connect().await?;
    let failed = std::sync::atomic::AtomicBool::new(false);
    let teardowns = std::sync::Mutex::new(Vec::new());
    let results: Vec<Result<Vec<TestRecord>>> = futures::stream::iter(suites)
        .map(|(path, spec)| {
            let config = config.clone();
            let (failed, teardowns) = (&failed, &teardowns);
            async move {
                let records = if let Some(signal) = crate::interrupt::signal() {
                    report_all(interrupted(&path, &spec, 0, false, signal), on_event)
                } else if options.fail_fast && failed.load(std::sync::atomic::Ordering::SeqCst) {
                    let records = skipped(&path, &spec, "not run: an earlier suite failed");
                    report_all(records, on_event)
                } else {
                    let span = tree::suite(run_span, spec.name.get_ref());
                    let (records, teardown) = run_suite(&path, &spec, config, on_event)
                        .instrument(span.clone())
                        .await?;
                    tree::finish_suite(&span, records.iter().map(|r| &r.outcome));
                    lock(teardowns).push(teardown);
                    records
                };
                let metrics = crate::telemetry::metrics::global();
                for record in &records {
                    metrics.test_finished(spec.name.get_ref(), record);
                }
                if records
                    .iter()
                    .any(|r| r.outcome != Outcome::Passed && r.outcome != Outcome::Flaky)
                {
                    failed.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                Ok(records)
            }
        })
        .buffer_unordered(options.jobs.max(1))
        .collect()
        .await;
    let teardowns = std::mem::take(&mut *lock(&teardowns));
    for teardown in teardowns {
        let _ = teardown.await;
    }
    let mut tests = Vec::new();
    for result in results {
        tests.extend(result?);
    }
    Ok(RunRecord {
        run_id: String::new(),
        target: crate::history::SUITES_TARGET.to_owned(),
        started_at,
        duration: clock.elapsed(),
        tests,
    })
}

fn record_name(spec: &SuiteSpec, scenario: &ScenarioSpec) -> String {
    format!("{}::{}", spec.name.get_ref(), scenario.name.get_ref())
}

/// The scenarios of `spec` from the `finished`-th on, cut short (the first, when `running`) or
/// never started because the run was interrupted.
fn interrupted(
    path: &std::path::Path,
    spec: &SuiteSpec,
    finished: usize,
    running: bool,
    signal: crate::interrupt::Signal,
) -> Vec<TestRecord> {
    let mut records: Vec<TestRecord> = skipped(path, spec, "").into_iter().skip(finished).collect();
    for (i, r) in records.iter_mut().enumerate() {
        r.outcome = Outcome::Interrupted;
        r.message = Some(if i == 0 && running {
            format!("interrupted by {signal}")
        } else {
            format!("not started: interrupted by {signal}")
        });
    }
    records
}

fn skipped(path: &std::path::Path, spec: &SuiteSpec, why: &str) -> Vec<TestRecord> {
    spec.scenarios
        .iter()
        .map(|s| TestRecord {
            name: record_name(spec, s),
            outcome: Outcome::Ignored,
            duration: Duration::ZERO,
            attempts: 0,
            message: Some(why.to_owned()),
            started_at: SystemTime::now(),
            file: Some(path.display().to_string()),
            line: None,
            faults: Vec::new(),
        })
        .collect()
}

/// One suite: environment, services, scenarios, teardown.
async fn run_suite(
    path: &std::path::Path,
    spec: &SuiteSpec,
    config: RunConfig,
    on_event: &(dyn Fn(&RunEvent<'_>) + Sync),
) -> Result<(Vec<TestRecord>, tokio::task::JoinHandle<()>)> {
    let suite = spec.name.get_ref().as_str();
    on_event(&RunEvent::SuiteStarted {
        path,
        suite,
        scenarios: spec.scenarios.len(),
    });
    let clock = Instant::now();
    let env = match RunEnv::start(config).await {
        Ok(env) => env,
        Err(e @ Error::Docker(DockerError::Unreachable { .. })) => return Err(e),
        Err(e) => {
            let records = report_all(skipped_as_infra(path, spec, &e), on_event);
            on_event(&RunEvent::SuiteFinished { suite });
            return Ok((records, tokio::spawn(async {})));
        }
    };
    // Isolation leases and `scope = "test"` containers; the suite's shared services are adopted.
    let pool = SharedServices::in_env(std::sync::Arc::clone(&env), 1);
    // Finished scenarios, kept outside `work` so a suite timeout reports only the others.
    let done: std::sync::Mutex<Vec<TestRecord>> = std::sync::Mutex::new(Vec::new());
    let work = async {
        // The OTLP receiver, before the services it must be handed to.
        let telemetry = if SuiteTelemetry::needed(spec) {
            match SuiteTelemetry::start(&env, spec).await {
                Ok(telemetry) => Some(telemetry),
                Err(e) => {
                    let records = report_all(skipped_as_infra(path, spec, &e), on_event);
                    lock(&done).extend(records);
                    return None;
                }
            }
        } else {
            None
        };
        let (specs, images) = service_specs(path, spec, telemetry.as_ref());
        let needs = service_needs(path, spec, telemetry.as_ref());
        let project = path.parent().unwrap_or(std::path::Path::new("."));
        let services = match Registry::with_installed(project)
            .start_all(&env, &specs)
            .await
        {
            Ok(services) => services,
            Err(e) => {
                let records = report_all(skipped_as_infra(path, spec, &e), on_event);
                lock(&done).extend(records);
                return None;
            }
        };
        for need in needs.iter().filter(|n| n.scope == Scope::Shared) {
            if let Ok(handle) = services.get(&need.local) {
                pool.adopt(&need.key, handle.clone());
            }
        }
        on_event(&RunEvent::ServicesReady {
            suite,
            took: clock.elapsed(),
        });
        let ctx = SuiteContext {
            suite: spec,
            services: &services,
            images: &images,
            pool: &pool,
            needs: &needs,
            http: reqwest::Client::new(),
            telemetry: telemetry.as_ref(),
        };
        for scenario in &spec.scenarios {
            let name = record_name(spec, scenario);
            on_event(&RunEvent::ScenarioStarted { name: &name });
            let span = tree::case(&tracing::Span::current(), spec.name.get_ref(), &name);
            let record = run_scenario(path, &ctx, scenario)
                .instrument(span.clone())
                .await;
            tree::finish_case(
                &span,
                record.outcome,
                record.attempts,
                record.message.as_deref(),
            );
            on_event(&RunEvent::ScenarioFinished(&record));
            lock(&done).push(record);
        }
        Some(services)
    };
    let limit = spec.timeout.as_ref().map(|t| *t.get_ref());
    let limited = async {
        match limit {
            None => Ok(work.await),
            Some(limit) => tokio::time::timeout(limit, work).await.map_err(|_| limit),
        }
    };
    // Ctrl-C / SIGTERM: what runs is cut short and reported as interrupted, never as failed.
    // Biased: once the signal is in, it wins over work that failed because of it (a container
    // creation refused after the signal must not read as an infrastructure error).
    let finished = tokio::select! {
        biased;
        signal = crate::interrupt::wait() => {
            let mut records = lock(&done);
            for r in interrupted(path, spec, records.len(), true, signal) {
                on_event(&RunEvent::ScenarioFinished(&r));
                records.push(r);
            }
            Ok(None)
        }
        finished = limited => finished,
    };
    let services = match finished {
        Ok(services) => services,
        Err(limit) => {
            // The services' handles were dropped with `work`; `env.stop` removes them.
            let mut records = lock(&done);
            let finished = records.len();
            for mut r in skipped(path, spec, "").into_iter().skip(finished) {
                r.outcome = Outcome::TimedOut;
                r.message = Some(format!(
                    "suite timeout of {:.1} s ran out",
                    limit.as_secs_f64()
                ));
                on_event(&RunEvent::ScenarioFinished(&r));
                records.push(r);
            }
            None
        }
    };
    let records = std::mem::take(&mut *lock(&done));
    on_event(&RunEvent::SuiteFinished { suite });
    // The results are in: the containers and the network go while the next suite starts
    // (`run_suites` waits for every teardown before it returns; an interrupt's sweep removes
    // what a teardown under way has not).
    let teardown = tokio::spawn(
        async move {
            pool.settle().await;
            if let Some(services) = services {
                let _ = services.stop_all().await;
            }
            // Stops the run environment (and with it anything left behind).
            pool.shutdown().await;
        }
        // Its stop spans stay in the suite's.
        .in_current_span(),
    );
    Ok((records, teardown))
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn report_all(
    records: Vec<TestRecord>,
    on_event: &(dyn Fn(&RunEvent<'_>) + Sync),
) -> Vec<TestRecord> {
    for record in &records {
        on_event(&RunEvent::ScenarioFinished(record));
    }
    records
}

fn skipped_as_infra(path: &std::path::Path, spec: &SuiteSpec, error: &Error) -> Vec<TestRecord> {
    // Services refused to start because the run was interrupted: not the infrastructure's fault.
    if let Some(signal) = crate::interrupt::signal() {
        return interrupted(path, spec, 0, true, signal);
    }
    let mut records = skipped(path, spec, "");
    for r in &mut records {
        r.outcome = Outcome::InfraError;
        r.message = Some(format!("{error:?}"));
    }
    records
}

/// The engine's service specs for the suite's shared services, plus one `generic` service per image
/// named by an `image = ...` step; returns (specs, image -> service name).
fn service_specs(
    path: &std::path::Path,
    spec: &SuiteSpec,
    telemetry: Option<&SuiteTelemetry>,
) -> (Vec<ServiceSpec>, Vec<(String, String)>) {
    // `scope = "test"` services start per scenario (`engine::prepare`), never for the suite.
    let mut specs: Vec<ServiceSpec> = spec
        .services
        .iter()
        .filter(|s| s.scope == SuiteScope::Shared)
        .map(|s| engine_spec(path, s, telemetry))
        .collect();
    let mut images: Vec<(String, String)> = Vec::new();
    for step in spec.scenarios.iter().flat_map(|s| &s.steps) {
        if let Action::Exec(ExecSpec {
            target: Target::Image(image),
            ..
        }) = &step.action
        {
            let image = image.get_ref();
            if !images.iter().any(|(i, _)| i == image) {
                let name = format!("step-image-{}", images.len() + 1);
                specs.push(
                    ServiceSpec::new(&name, "generic")
                        .image(image.clone())
                        .cmd(["sleep", "infinity"]),
                );
                images.push((image.clone(), name));
            }
        }
    }
    (specs, images)
}

fn engine_spec(
    path: &std::path::Path,
    s: &SuiteServiceSpec,
    telemetry: Option<&SuiteTelemetry>,
) -> ServiceSpec {
    let mut out = ServiceSpec::new(s.name.get_ref(), s.plugin.get_ref()).chaos(s.chaos);
    for volume in &s.volumes {
        let host = volume.host_path_for(path);
        // Docker binds absolute host paths only.
        let host = std::path::absolute(&host).unwrap_or(host);
        out = out.mount(
            host.display().to_string(),
            volume.container_path.get_ref().clone(),
            volume.read_only,
        );
    }
    if let Some(image) = &s.image {
        out = out.image(image.get_ref().clone());
    }
    for (k, v) in &s.env {
        out = out.env(k, v);
    }
    for (k, v) in telemetry.map(|t| t.service_env(s)).unwrap_or_default() {
        out = out.env(k, v);
    }
    for port in &s.ports {
        out = out.port(*port.get_ref());
    }
    if let Some(cmd) = &s.cmd {
        out = out.cmd(cmd.clone());
    }
    if let Some(entrypoint) = &s.entrypoint {
        out = out.entrypoint(entrypoint.clone());
    }
    if let Some(wait) = &s.wait_for {
        let only_port = s.ports.first().map(|p| *p.get_ref()).unwrap_or(80);
        out = out.wait_for(match wait.get_ref() {
            WaitFor::Log(text) => Readiness::LogLine(text.clone()),
            WaitFor::Tcp(port) => Readiness::Port(*port),
            WaitFor::Http { path, port, status } => Readiness::Http {
                port: port.unwrap_or(only_port),
                path: path.clone(),
                status: *status,
            },
            WaitFor::Command(argv) => Readiness::Command(argv.clone()),
        });
    }
    if let Some(memory) = &s.memory {
        out = out.memory(i64::try_from(*memory.get_ref()).unwrap_or(i64::MAX));
    }
    if let Some(user) = &s.user {
        out = out.user(user.get_ref().clone());
    }
    if let Some(cpus) = &s.cpus {
        out = out.cpus(*cpus.get_ref());
    }
    if let Some(timeout) = &s.startup_timeout {
        out = out.startup_timeout(*timeout.get_ref());
    }
    for dep in &s.depends_on {
        out = out.depends_on(dep.get_ref());
    }
    if let Some(model) = &s.model {
        out = out.model(model.get_ref().clone());
    }
    out = out.models(s.models.iter().map(|m| m.get_ref().clone()));
    if let Some(gpus) = &s.gpus {
        out = out.gpus(*gpus.get_ref());
    }
    out
}

/// What each scenario needs of the suite's services: shared ones borrowed (isolated inside when
/// the service says so), `scope = "test"` ones started fresh.
fn service_needs(
    path: &std::path::Path,
    spec: &SuiteSpec,
    telemetry: Option<&SuiteTelemetry>,
) -> Vec<ServiceNeed> {
    spec.services
        .iter()
        .map(|s| {
            let plugin = s.plugin.get_ref().as_str();
            let isolation = match (s.isolation.as_ref().map(|i| *i.get_ref()), plugin) {
                (Some(SuiteIsolation::Database), "postgres") => Isolation::Database,
                (Some(SuiteIsolation::Schema), "postgres") => Isolation::Schema,
                (Some(SuiteIsolation::Database), "redis") => Isolation::LogicalDb,
                (Some(SuiteIsolation::Database | SuiteIsolation::Namespace), "surrealdb") => {
                    Isolation::Namespace
                }
                (Some(SuiteIsolation::Namespace), _) => Isolation::Hooks { required: true },
                _ => Isolation::None,
            };
            ServiceNeed {
                local: s.name.get_ref().clone(),
                spec: engine_spec(path, s, telemetry),
                isolation,
                migrations: s
                    .migrations
                    .as_ref()
                    .map(|m| super::validate::migrations_dir(path, m.get_ref())),
                key: s.name.get_ref().clone(),
                scope: match s.scope {
                    SuiteScope::Shared => Scope::Shared,
                    SuiteScope::Test => Scope::Test,
                },
            }
        })
        .collect()
}

/// What every scenario of a suite runs with.
struct SuiteContext<'a> {
    suite: &'a SuiteSpec,
    /// The suite's shared services and step-image containers.
    services: &'a Services,
    images: &'a [(String, String)],
    pool: &'a SharedServices,
    needs: &'a [ServiceNeed],
    http: reqwest::Client,
    /// The OTLP receiver, when the suite has span expectations or `otel = true` services.
    telemetry: Option<&'a SuiteTelemetry>,
}

/// What the steps of one scenario run with: the suite's, plus the scenario's own services.
struct StepContext<'a> {
    suite: &'a SuiteContext<'a>,
    scenario: &'a std::collections::BTreeMap<String, PreparedService>,
    /// `CLNRM_*` variables for command steps.
    env: Vec<(String, String)>,
    /// The scenario's faults, when it has `chaos` steps.
    chaos: Option<crate::chaos::ChaosSession>,
    /// The scenario's trace, when the suite has telemetry.
    trace: Option<ScenarioTelemetry>,
}

impl StepContext<'_> {
    /// The scenario's instance of service `name` (its own container under `scope = "test"`),
    /// or a step-image container.
    fn handle(&self, name: &str) -> std::result::Result<&ServiceHandle, String> {
        match self.scenario.get(name) {
            Some(service) => Ok(&service.handle),
            None => self.suite.services.get(name).map_err(|e| e.to_string()),
        }
    }
}

async fn run_scenario(
    path: &std::path::Path,
    ctx: &SuiteContext<'_>,
    scenario: &ScenarioSpec,
) -> TestRecord {
    let started_at = SystemTime::now();
    let clock = Instant::now();
    let record = |outcome, attempts: u32, message: Option<String>| {
        // What failed after a signal failed because of it (a refused container, a removed one).
        let (outcome, message) = match crate::interrupt::signal() {
            Some(signal) if !matches!(outcome, Outcome::Passed | Outcome::Flaky) => (
                Outcome::Interrupted,
                Some(format!("interrupted by {signal}")),
            ),
            _ => (outcome, message),
        };
        TestRecord {
            name: record_name(ctx.suite, scenario),
            outcome,
            duration: clock.elapsed(),
            attempts: attempts.max(1),
            // Step output and diagnostics may carry passwords, tokens and terminal escapes.
            message: crate::report::clean_message(message),
            started_at,
            file: Some(path.display().to_string()),
            line: None,
            faults: Vec::new(),
        }
    };
    let prepared = match engine::prepare(ctx.pool, ctx.needs).await {
        Ok(prepared) => prepared,
        Err(e) => return record(Outcome::InfraError, 1, Some(e)),
    };
    let mut steps = StepContext {
        suite: ctx,
        scenario: &prepared.services,
        env: scenario_env(&prepared.services),
        chaos: None,
        trace: ctx.telemetry.map(|t| {
            // With clnrm's own export on, the scenario's steps run in its exported trace.
            t.scenario(tree::traceparent(&tracing::Span::current()).as_deref())
        }),
    };
    match chaos_session(&steps, scenario).await {
        Ok(chaos) => steps.chaos = chaos,
        Err(e) => {
            prepared.finish(ctx.pool).await;
            return record(Outcome::InfraError, 1, Some(e));
        }
    }
    let mut outcome = Outcome::Passed;
    let mut message = None;
    let mut attempts_total = 0;
    for (index, step) in scenario.steps.iter().enumerate() {
        let run = run_step(&steps, step, index).await;
        attempts_total = attempts_total.max(run.attempts);
        match run.verdict {
            Outcome::Passed => {}
            Outcome::Flaky => {
                if outcome == Outcome::Passed {
                    outcome = Outcome::Flaky;
                }
            }
            failed => {
                let reason = format!(
                    "step `{}`: {}",
                    step.name.get_ref(),
                    run.message.unwrap_or_default()
                );
                if step.continue_on_failure {
                    // Reported, but (as `continue-on-error` in CI) it does not fail the scenario.
                    message.get_or_insert(format!("{reason} (continue_on_failure)"));
                    continue;
                }
                outcome = failed;
                message = Some(reason);
                break;
            }
        }
    }
    // Every fault is healed before the scenario's services go back to the pool.
    let mut faults = Vec::new();
    if let Some(chaos) = &steps.chaos {
        faults = chaos.heal_all().await;
        if let Some(message) = message.as_mut().filter(|_| !faults.is_empty()) {
            message.push_str("\nfaults injected:");
            for fault in &faults {
                message.push_str("\n  - ");
                message.push_str(&fault.describe());
            }
        }
    }
    // The spans the scenario's systems under test sent, once its steps passed.
    if let (Some(telemetry), Some(trace)) = (ctx.telemetry, &steps.trace)
        && matches!(outcome, Outcome::Passed | Outcome::Flaky)
    {
        match telemetry.verdict(trace, ctx.suite).await {
            // Reported like a step's result: in the record (JSON), not on the terminal.
            Ok(rules) if outcome == Outcome::Passed && message.is_none() && !rules.is_empty() => {
                message = Some(format!("span expectations: {rules}"));
            }
            Ok(_) => {}
            Err(SpanVerdict::Failed(why)) => {
                outcome = Outcome::Failed;
                message = Some(why);
            }
            Err(SpanVerdict::Infra(why)) => {
                outcome = Outcome::InfraError;
                message = Some(why);
            }
        }
    }
    prepared.finish(ctx.pool).await;
    let mut done = record(outcome, attempts_total, message);
    done.faults = faults;
    done
}

/// A chaos session over the services the scenario's `chaos` steps name; `None` without any.
async fn chaos_session(
    steps: &StepContext<'_>,
    scenario: &ScenarioSpec,
) -> std::result::Result<Option<crate::chaos::ChaosSession>, String> {
    let mut names: Vec<&String> = scenario
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::Chaos(chaos) => Some(chaos.service.get_ref()),
            _ => None,
        })
        .collect();
    if names.is_empty() {
        return Ok(None);
    }
    names.sort();
    names.dedup();
    let mut services = Vec::new();
    for name in names {
        let handle = steps.handle(name)?.clone();
        // Only a `scope = "test"` service is the scenario's own.
        let shared = !steps.scenario.contains_key(name)
            || steps
                .suite
                .needs
                .iter()
                .any(|n| &n.local == name && n.scope == engine::Scope::Shared);
        let proxied = steps
            .suite
            .suite
            .services
            .iter()
            .any(|s| s.name.get_ref() == name && s.chaos);
        services.push(crate::chaos::ChaosService {
            name: name.clone(),
            url: handle.url().map(str::to_owned),
            handle: Some(handle),
            shared,
            proxied,
        });
    }
    crate::chaos::ChaosSession::new(services)
        .await
        .map(Some)
        .map_err(|e| e.to_string())
}

/// `CLNRM_NAME_URL` (as seen from the suite's network) and the namespace of every service.
fn scenario_env(
    services: &std::collections::BTreeMap<String, PreparedService>,
) -> Vec<(String, String)> {
    let mut env = Vec::new();
    for (name, service) in services {
        let var = format!(
            "CLNRM_{}",
            name.to_ascii_uppercase()
                .replace(|c: char| !c.is_ascii_alphanumeric(), "_")
        );
        if let Some(url) = &service.url {
            env.push((
                format!("{var}_URL"),
                network_url(url, &service.handle, name),
            ));
        }
        match &service.namespace {
            Some(Namespace::Database(db)) => env.push((format!("{var}_DATABASE"), db.clone())),
            Some(Namespace::Schema(schema)) => env.push((format!("{var}_SCHEMA"), schema.clone())),
            Some(Namespace::RedisDb(db)) => env.push((format!("{var}_DB"), db.to_string())),
            Some(Namespace::Named(namespace)) => {
                env.push((format!("{var}_NAMESPACE"), namespace.clone()));
            }
            Some(Namespace::Surreal { ns, db }) => {
                env.push((format!("{var}_NS"), ns.clone()));
                env.push((format!("{var}_DB"), db.clone()));
            }
            None => {}
        }
    }
    env
}

/// `url` (host-facing: `scheme://user:pw@HOST:HOSTPORT/rest`) as the suite's containers reach it:
/// `scheme://user:pw@ALIAS:CONTAINERPORT/rest`. Unchanged when it names no published port.
fn network_url(url: &str, handle: &ServiceHandle, alias: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((userinfo, host_port)) => (Some(userinfo), host_port),
        None => (None, authority),
    };
    let Some(container_port) = host_port
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse::<u16>().ok())
        .and_then(|port| {
            handle
                .ports()
                .iter()
                .find(|(_, host)| **host == port)
                .map(|(container, _)| *container)
        })
    else {
        return url.to_owned();
    };
    let userinfo = userinfo.map(|u| format!("{u}@")).unwrap_or_default();
    format!("{scheme}://{userinfo}{alias}:{container_port}{tail}")
}

/// For a command in the own container of a service isolated by `[isolation]` hooks: its
/// `[service] env` entries that name `{namespace}`, filled with the scenario's namespace.
fn namespace_env(service: &PreparedService) -> Vec<(String, String)> {
    match (&service.namespace, service.handle.namespace_hooks()) {
        (Some(Namespace::Named(namespace)), Some(hooks)) => {
            crate::isolation::hooks::namespace_env(&service.handle, &hooks, namespace)
        }
        _ => Vec::new(),
    }
}

/// For a command in an isolated Postgres service's own container: the libpq variables that make
/// a plain `psql` connect to the scenario's database (or schema) as the service's user.
fn libpq_env(service: &PreparedService) -> Vec<(String, String)> {
    let mut env = Vec::new();
    match &service.namespace {
        Some(Namespace::Database(db)) => env.push(("PGDATABASE".to_owned(), db.clone())),
        Some(Namespace::Schema(schema)) => {
            env.push(("PGOPTIONS".to_owned(), format!("-c search_path={schema}")));
            if let Some(db) = service
                .handle
                .credentials()
                .and_then(|c| c.database.clone())
            {
                env.push(("PGDATABASE".to_owned(), db));
            }
        }
        _ => return env,
    }
    if let Some(credentials) = service.handle.credentials() {
        env.push(("PGUSER".to_owned(), credentials.user.clone()));
        env.push(("PGPASSWORD".to_owned(), credentials.password.clone()));
    }
    env
}

/// Runs a step on the engine with its `retries` and `timeout`.
async fn run_step(ctx: &StepContext<'_>, step: &StepSpec, index: usize) -> engine::Execution {
    let policy = Policy {
        retries: step.retries,
        timeout: Some(
            step.timeout
                .as_ref()
                .map_or(DEFAULT_STEP_TIMEOUT, |t| *t.get_ref()),
        ),
    };
    engine::execute(policy, &mut StepAttempt { ctx, step })
        .instrument(tree::step(step.name.get_ref(), index))
        .await
}

/// One attempt of a step. The scenario's services are prepared once for all its steps (the
/// steps build on each other), so an attempt prepares nothing itself.
struct StepAttempt<'a> {
    ctx: &'a StepContext<'a>,
    step: &'a StepSpec,
}

impl Attempt for StepAttempt<'_> {
    type Prepared = ();

    async fn prepare(&mut self) -> std::result::Result<(), String> {
        Ok(())
    }

    async fn run(&mut self, (): &()) -> std::result::Result<(), String> {
        let clock = Instant::now();
        attempt_step(self.ctx, self.step).await?;
        let elapsed = clock.elapsed();
        match self.step.expect.max_duration.as_ref().map(|d| *d.get_ref()) {
            Some(max) if elapsed > max => Err(format!(
                "took {:.2} s, more than max_duration {:.2} s",
                elapsed.as_secs_f64(),
                max.as_secs_f64()
            )),
            _ => Ok(()),
        }
    }

    /// A failure because the step's service died (Docker's "container is not running") is an
    /// infrastructure error with the service's log tail, not a step failure. Looked at only
    /// after a failure, so passing steps pay nothing for it.
    async fn finish(&mut self, (): (), failure: Option<&mut engine::Failure>) {
        if let Some(failure) = failure
            && let Some(why) = service_gone(self.ctx, self.step).await
        {
            *failure = engine::Failure::Infra(why);
        }
    }
}

/// The service (or step-image container) a command step runs in, when the step has one.
fn step_service(ctx: &StepContext<'_>, step: &StepSpec) -> Option<String> {
    match &step.action {
        Action::Exec(exec) => match &exec.target {
            Target::Service(name) => Some(name.get_ref().clone()),
            Target::Image(image) => ctx
                .suite
                .images
                .iter()
                .find(|(i, _)| i == image.get_ref())
                .map(|(_, s)| s.clone()),
        },
        Action::Http(http) => Some(http.service.get_ref().clone()),
        Action::Surql(surql) => Some(surql.service.get_ref().clone()),
        // A fault step's service may be down on purpose.
        Action::Chaos(_) => None,
    }
}

/// `Some(why)` when the container of the step's service has stopped: its exit code and last
/// log lines.
async fn service_gone(ctx: &StepContext<'_>, step: &StepSpec) -> Option<String> {
    let name = step_service(ctx, step)?;
    let handle = ctx.handle(&name).ok()?;
    let docker = crate::docker::connect().await.ok()?;
    let state = docker
        .inspect_container(handle.container_id(), None)
        .await
        .ok()?
        .state?;
    if state.running == Some(true) {
        return None;
    }
    let logs = handle
        .logs(20)
        .await
        .unwrap_or_else(|e| format!("(logs unavailable: {e})"));
    let shown = if logs.trim().is_empty() {
        " (none)".to_owned()
    } else {
        format!("\n{}", indent_lines(logs.trim_end()))
    };
    Some(format!(
        "service `{name}` is not running: its container exited (exit code {}) after it started; its last log lines:{shown}",
        state.exit_code.unwrap_or(-1)
    ))
}

fn indent_lines(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn attempt_step(ctx: &StepContext<'_>, step: &StepSpec) -> std::result::Result<(), String> {
    match &step.action {
        Action::Exec(exec) => {
            let service = match &exec.target {
                Target::Service(name) => name.get_ref().clone(),
                Target::Image(image) => ctx
                    .suite
                    .images
                    .iter()
                    .find(|(i, _)| i == image.get_ref())
                    .map(|(_, s)| s.clone())
                    .ok_or_else(|| format!("no container for image {}", image.get_ref()))?,
            };
            let handle = ctx.handle(&service)?;
            let argv = exec.command.get_ref().to_argv();
            let mut env = ctx.env.clone();
            if let Some(own) = ctx.scenario.get(&service) {
                env.extend(libpq_env(own));
                env.extend(namespace_env(own));
            }
            let span = tree::exec(&service, handle.container_id(), &argv);
            if let (Some(telemetry), Some(trace)) = (ctx.suite.telemetry, &ctx.trace) {
                // The scenario's trace (the exec span's when clnrm exports): the suite's span
                // expectations are scoped by it.
                env.extend(telemetry.step_env(
                    trace,
                    ctx.suite.suite.service(&service),
                    tree::traceparent(&span),
                ));
            } else if let Some(traceparent) = tree::traceparent(&span) {
                env.push(("TRACEPARENT".to_owned(), traceparent));
            }
            // The step's own `env` wins.
            env.retain(|(k, _)| !step.env.contains_key(k));
            env.extend(step.env.iter().map(|(k, v)| (k.clone(), v.clone())));
            let workdir = step.workdir.as_ref().map(|w| w.get_ref().as_str());
            let output = handle
                .exec_with(&argv, &env, workdir)
                .instrument(span.clone())
                .await
                .map_err(|e| format!("{e:?}"))?;
            tree::finish_exec(&span, output.exit_code);
            drop(span);
            let expected = i64::from(step.expect.expected_exit_code());
            if step.expect.fails {
                if output.exit_code == 0 {
                    return Err(format!(
                        "exit code 0 (expected a failure: should_fail); stdout: {}",
                        tail(&output.stdout)
                    ));
                }
            } else if output.exit_code != expected {
                return Err(format!(
                    "exit code {} (expected {expected}); stderr: {}",
                    output.exit_code,
                    tail(&output.stderr)
                ));
            }
            check_output("stdout", &output.stdout, &step.expect.stdout)?;
            check_output("stderr", &output.stderr, &step.expect.stderr)?;
            check_json(&output.stdout, &step.expect)
        }
        Action::Http(http) => attempt_http(ctx, http, &step.expect).await,
        Action::Surql(surql) => attempt_surql(ctx, surql, &step.expect).await,
        Action::Chaos(chaos) => match &ctx.chaos {
            Some(session) => crate::chaos::suite::run_step(session, chaos).await,
            None => Err("no chaos session for this scenario".to_owned()),
        },
    }
}

async fn attempt_http(
    ctx: &StepContext<'_>,
    http: &HttpSpec,
    expect: &Expectations,
) -> std::result::Result<(), String> {
    let name = http.service.get_ref();
    let handle = ctx.handle(name)?;
    let port = match &http.port {
        Some(p) => *p.get_ref(),
        None => ctx
            .suite
            .suite
            .service(name)
            .and_then(|s| s.ports.first())
            .map(|p| *p.get_ref())
            .ok_or_else(|| format!("service `{name}` has no port to call"))?,
    };
    // Through the proxy of a `chaos = true` service (or to its new port after a restart).
    let (host, host_port) = match ctx.chaos.as_ref().and_then(|c| c.addr(name, port)) {
        Some(addr) => addr,
        None => (
            handle.host().to_owned(),
            handle.port(port).map_err(|e| e.to_string())?,
        ),
    };
    let url = format!("http://{host}:{host_port}{}", http.path);
    let method = reqwest::Method::from_bytes(http.method.as_bytes()).map_err(|e| e.to_string())?;
    let mut request = ctx.suite.http.request(method, &url);
    if let (Some(telemetry), Some(trace)) = (ctx.suite.telemetry, &ctx.trace)
        && !http
            .headers
            .keys()
            .any(|k| k.eq_ignore_ascii_case("traceparent"))
    {
        request = request.header("traceparent", telemetry.traceparent(trace));
    }
    for (k, v) in &http.headers {
        request = request.header(k, v);
    }
    request = match &http.body {
        None => request,
        Some(HttpBody::Text(text)) => request.body(text.clone()),
        Some(HttpBody::Json(value)) => request.json(value),
    };
    let response = request
        .send()
        .await
        .map_err(|e| format!("{} {url}: {}", http.method, crate::error::chain(&e)))?;
    let status = response.status().as_u16();
    let body = response.text().await.map_err(|e| e.to_string())?;
    match expect.status.as_ref().map(|s| *s.get_ref()) {
        Some(want) if want != status => {
            return Err(format!(
                "status {status} (expected {want}); body: {}",
                tail(&body)
            ));
        }
        None if !(200..300).contains(&status) => {
            return Err(format!(
                "status {status} (expected 2xx); body: {}",
                tail(&body)
            ));
        }
        _ => {}
    }
    check_output("body", &body, &expect.stdout)?;
    check_json(&body, expect)
}

/// Sends the step's SurrealQL to the scenario's URL of the service (its own namespace and
/// database when isolated); fails on any failed statement, then checks the results (a JSON
/// list, one entry per statement) against `expect.stdout` and `expect.json`.
async fn attempt_surql(
    ctx: &StepContext<'_>,
    surql: &SurqlSpec,
    expect: &Expectations,
) -> std::result::Result<(), String> {
    let name = surql.service.get_ref();
    // Through the proxy of a `chaos = true` service (or to its new port after a restart).
    let proxied = ctx.chaos.as_ref().and_then(|c| c.url(name));
    let url = match proxied.or_else(|| ctx.scenario.get(name).and_then(|s| s.url.clone())) {
        Some(url) => url,
        None => ctx
            .handle(name)?
            .url()
            .map(str::to_owned)
            .ok_or_else(|| format!("service `{name}` has no URL"))?,
    };
    let results = crate::plugins::surql(&url, surql.query.get_ref())
        .await
        .map_err(|e| e.to_string())?;
    let text = serde_json::Value::Array(results).to_string();
    check_output("results", &text, &expect.stdout)?;
    check_json(&text, expect)
}

fn check_output(
    stream: &str,
    text: &str,
    expect: &OutputExpect,
) -> std::result::Result<(), String> {
    for needle in &expect.contains {
        if !text.contains(needle.as_str()) {
            return Err(format!(
                "{stream} does not contain {needle:?}; {stream}: {:?}",
                tail(text)
            ));
        }
    }
    for needle in &expect.not_contains {
        if text.contains(needle.as_str()) {
            return Err(format!(
                "{stream} contains {needle:?}; {stream}: {:?}",
                tail(text)
            ));
        }
    }
    let regexes = expect.regex.iter().map(|p| (p, true));
    for (pattern, must_match) in regexes.chain(expect.not_regex.iter().map(|p| (p, false))) {
        let re = regex::RegexBuilder::new(pattern.get_ref())
            .multi_line(true)
            .build()
            .map_err(|e| e.to_string())?;
        if re.is_match(text) != must_match {
            let does = if must_match {
                "does not match"
            } else {
                "matches"
            };
            return Err(format!(
                "{stream} {does} /{}/; {stream}: {:?}",
                pattern.get_ref(),
                tail(text)
            ));
        }
    }
    Ok(())
}

fn check_json(text: &str, expect: &Expectations) -> std::result::Result<(), String> {
    if expect.json.is_empty() {
        return Ok(());
    }
    let doc: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| format!("output is not JSON ({e}): {:?}", tail(text)))?;
    for check in &expect.json {
        let pointer = check.pointer.get_ref();
        match doc.pointer(pointer) {
            Some(found) if *found == check.value => {}
            Some(found) => {
                return Err(format!(
                    "JSON {pointer} is {found}, expected {}",
                    check.value
                ));
            }
            None => {
                return Err(format!(
                    "JSON {pointer} is missing, expected {}",
                    check.value
                ));
            }
        }
    }
    Ok(())
}

/// The last 400 characters of `text`.
fn tail(text: &str) -> &str {
    let mut start = text.len().saturating_sub(400);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_checks_name_what_was_missing() {
        let expect = OutputExpect {
            contains: vec!["b".into()],
            ..OutputExpect::default()
        };
        let err = check_output("stdout", "a\n", &expect).unwrap_err();
        assert!(err.contains("stdout does not contain \"b\""), "{err}");
        assert!(check_output("stdout", "ab", &expect).is_ok());
    }
}
