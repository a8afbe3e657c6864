//! Executing loaded suites on the engine: one [`RunEnv`] per suite, its services started through
//! [`Registry::start_all`], the steps of every scenario run in order, results as
//! [`TestRecord`]s named `suite::scenario`.
//!
//! A step running "in a fresh container of an image" runs in a `generic` container of that image
//! kept alive with `sleep infinity`, started once per suite and image (steps of a suite share it).

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt;

use super::spec::{
    Action, ExecSpec, Expectations, HttpBody, HttpSpec, OutputExpect, ScenarioSpec,
    ServiceSpec as SuiteServiceSpec, StepSpec, SuiteSpec, Target, WaitFor,
};
use crate::docker::{Readiness, RunConfig, RunEnv};
use crate::report::{Outcome, RunEvent, RunRecord, TestRecord};
use crate::service::{Registry, ServiceSpec, Services};
use crate::{DockerError, Error, Result};

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
    // Fail early, once, when Docker is not there: that is the environment, not the suites.
    crate::docker::connect().await?;
    let failed = std::sync::atomic::AtomicBool::new(false);
    let results: Vec<Result<Vec<TestRecord>>> = futures::stream::iter(suites)
        .map(|(path, spec)| {
            let config = config.clone();
            let failed = &failed;
            async move {
                if options.fail_fast && failed.load(std::sync::atomic::Ordering::SeqCst) {
                    let records = skipped(&path, &spec, "not run: an earlier suite failed");
                    return Ok(report_all(records, on_event));
                }
                let records = run_suite(&path, &spec, config, on_event).await?;
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
    let mut tests = Vec::new();
    for result in results {
        tests.extend(result?);
    }
    Ok(RunRecord {
        run_id: format!(
            "suites-{}-{}",
            std::process::id(),
            started_at
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis())
        ),
        target: "clnrm-suites".to_owned(),
        started_at,
        duration: clock.elapsed(),
        tests,
    })
}

fn record_name(spec: &SuiteSpec, scenario: &ScenarioSpec) -> String {
    format!("{}::{}", spec.name.get_ref(), scenario.name.get_ref())
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
        })
        .collect()
}

/// One suite: environment, services, scenarios, teardown.
async fn run_suite(
    path: &std::path::Path,
    spec: &SuiteSpec,
    config: RunConfig,
    on_event: &(dyn Fn(&RunEvent<'_>) + Sync),
) -> Result<Vec<TestRecord>> {
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
            return Ok(records);
        }
    };
    let (specs, images) = service_specs(spec);
    // Finished scenarios, kept outside `work` so a suite timeout reports only the others.
    let done: std::sync::Mutex<Vec<TestRecord>> = std::sync::Mutex::new(Vec::new());
    let work = async {
        let services = match Registry::builtin().start_all(&env, &specs).await {
            Ok(services) => services,
            Err(e) => {
                let records = report_all(skipped_as_infra(path, spec, &e), on_event);
                lock(&done).extend(records);
                return None;
            }
        };
        on_event(&RunEvent::ServicesReady {
            suite,
            took: clock.elapsed(),
        });
        let ctx = StepContext {
            suite: spec,
            services: &services,
            images: &images,
            http: reqwest::Client::new(),
        };
        for scenario in &spec.scenarios {
            let name = record_name(spec, scenario);
            on_event(&RunEvent::ScenarioStarted { name: &name });
            let record = run_scenario(path, &ctx, scenario).await;
            on_event(&RunEvent::ScenarioFinished(&record));
            lock(&done).push(record);
        }
        Some(services)
    };
    let services = match spec.timeout.as_ref().map(|t| *t.get_ref()) {
        None => work.await,
        Some(limit) => match tokio::time::timeout(limit, work).await {
            Ok(services) => services,
            Err(_) => {
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
        },
    };
    let records = std::mem::take(&mut *lock(&done));
    if let Some(services) = services {
        let _ = services.stop_all().await;
    }
    let _ = env.stop().await;
    on_event(&RunEvent::SuiteFinished { suite });
    Ok(records)
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
    let mut records = skipped(path, spec, "");
    for r in &mut records {
        r.outcome = Outcome::InfraError;
        r.message = Some(format!("{error:?}"));
    }
    records
}

/// The engine's service specs for the suite's services, plus one `generic` service per image
/// named by an `image = ...` step; returns (specs, image -> service name).
fn service_specs(spec: &SuiteSpec) -> (Vec<ServiceSpec>, Vec<(String, String)>) {
    let mut specs: Vec<ServiceSpec> = spec.services.iter().map(engine_spec).collect();
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

fn engine_spec(s: &SuiteServiceSpec) -> ServiceSpec {
    let mut out = ServiceSpec::new(s.name.get_ref(), s.plugin.get_ref());
    if let Some(image) = &s.image {
        out = out.image(image.get_ref().clone());
    }
    for (k, v) in &s.env {
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
    if let Some(cpus) = &s.cpus {
        out = out.cpus(*cpus.get_ref());
    }
    if let Some(timeout) = &s.startup_timeout {
        out = out.startup_timeout(*timeout.get_ref());
    }
    for dep in &s.depends_on {
        out = out.depends_on(dep.get_ref());
    }
    out
}

struct StepContext<'a> {
    suite: &'a SuiteSpec,
    services: &'a Services,
    images: &'a [(String, String)],
    http: reqwest::Client,
}

async fn run_scenario(
    path: &std::path::Path,
    ctx: &StepContext<'_>,
    scenario: &ScenarioSpec,
) -> TestRecord {
    let started_at = SystemTime::now();
    let clock = Instant::now();
    let mut outcome = Outcome::Passed;
    let mut message = None;
    let mut attempts_total = 0;
    for step in &scenario.steps {
        let (step_outcome, attempts, failure) = run_step(ctx, step).await;
        attempts_total = attempts_total.max(attempts);
        match step_outcome {
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
                    failure.unwrap_or_default()
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
    TestRecord {
        name: record_name(ctx.suite, scenario),
        outcome,
        duration: clock.elapsed(),
        attempts: attempts_total.max(1),
        message,
        started_at,
        file: Some(path.display().to_string()),
        line: None,
    }
}

/// Runs a step with its retries: (outcome, attempts, reason of the last failure).
async fn run_step(ctx: &StepContext<'_>, step: &StepSpec) -> (Outcome, u32, Option<String>) {
    let limit = step
        .timeout
        .as_ref()
        .map_or(DEFAULT_STEP_TIMEOUT, |t| *t.get_ref());
    let mut last: Option<(Outcome, String)> = None;
    for attempt in 0..=step.retries {
        let clock = Instant::now();
        let result = tokio::time::timeout(limit, attempt_step(ctx, step)).await;
        let elapsed = clock.elapsed();
        let (outcome, reason) = match result {
            Err(_) => (
                Outcome::TimedOut,
                format!("timed out after {:.1} s", limit.as_secs_f64()),
            ),
            Ok(Err(reason)) => (Outcome::Failed, reason),
            Ok(Ok(())) => match step.expect.max_duration.as_ref().map(|d| *d.get_ref()) {
                Some(max) if elapsed > max => (
                    Outcome::Failed,
                    format!(
                        "took {:.2} s, more than max_duration {:.2} s",
                        elapsed.as_secs_f64(),
                        max.as_secs_f64()
                    ),
                ),
                _ => {
                    let outcome = if attempt == 0 {
                        Outcome::Passed
                    } else {
                        Outcome::Flaky
                    };
                    return (outcome, attempt + 1, None);
                }
            },
        };
        last = Some((outcome, reason));
    }
    let (outcome, reason) = last.unwrap_or((Outcome::Failed, String::new()));
    (outcome, step.retries + 1, Some(reason))
}

async fn attempt_step(ctx: &StepContext<'_>, step: &StepSpec) -> std::result::Result<(), String> {
    match &step.action {
        Action::Exec(exec) => {
            let service = match &exec.target {
                Target::Service(name) => name.get_ref().clone(),
                Target::Image(image) => ctx
                    .images
                    .iter()
                    .find(|(i, _)| i == image.get_ref())
                    .map(|(_, s)| s.clone())
                    .ok_or_else(|| format!("no container for image {}", image.get_ref()))?,
            };
            let handle = ctx.services.get(&service).map_err(|e| e.to_string())?;
            let argv = exec.command.get_ref().to_argv();
            let env: Vec<(String, String)> = step
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let workdir = step.workdir.as_ref().map(|w| w.get_ref().as_str());
            let output = handle
                .exec_with(&argv, &env, workdir)
                .await
                .map_err(|e| format!("{e:?}"))?;
            let expected = i64::from(step.expect.expected_exit_code());
            if output.exit_code != expected {
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
    }
}

async fn attempt_http(
    ctx: &StepContext<'_>,
    http: &HttpSpec,
    expect: &Expectations,
) -> std::result::Result<(), String> {
    let name = http.service.get_ref();
    let handle = ctx.services.get(name).map_err(|e| e.to_string())?;
    let port = match &http.port {
        Some(p) => *p.get_ref(),
        None => ctx
            .suite
            .service(name)
            .and_then(|s| s.ports.first())
            .map(|p| *p.get_ref())
            .ok_or_else(|| format!("service `{name}` has no port to call"))?,
    };
    let host_port = handle.port(port).map_err(|e| e.to_string())?;
    let url = format!("http://{}:{host_port}{}", handle.host(), http.path);
    let method = reqwest::Method::from_bytes(http.method.as_bytes()).map_err(|e| e.to_string())?;
    let mut request = ctx.http.request(method, &url);
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
        .map_err(|e| format!("{} {url}: {}", http.method, chain(&e)))?;
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
    for pattern in &expect.regex {
        let re = regex::RegexBuilder::new(pattern.get_ref())
            .multi_line(true)
            .build()
            .map_err(|e| e.to_string())?;
        if !re.is_match(text) {
            return Err(format!(
                "{stream} does not match /{}/; {stream}: {:?}",
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

/// The error and its causes, `: `-separated.
fn chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
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
