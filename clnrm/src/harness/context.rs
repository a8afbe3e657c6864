//! What a test receives.

use std::collections::BTreeMap;

use crate::chaos::{Chaos, ChaosSession};
use crate::docker::ExecOutput;
use crate::error::{Error, Result, ServiceError};
use crate::service::ServiceHandle;
use crate::telemetry::query::SpanSource;
use crate::telemetry::{Span, SpanExpectations};

/// One service as a test sees it: the running instance and the test's own URL into it (its own
/// database, schema or logical database).
#[derive(Debug, Clone)]
pub(crate) struct ServiceView {
    pub(crate) handle: Option<ServiceHandle>,
    pub(crate) url: Option<String>,
}

/// The services of one test and the test's own name. Every URL points at what only this test
/// sees: a Postgres database (or schema) of its own, a Redis logical database of its own.
#[derive(Debug)]
pub struct TestContext {
    name: String,
    services: BTreeMap<String, ServiceView>,
    chaos: Option<ChaosSession>,
    traceparent: Option<String>,
    spans: Option<SpanSource>,
}

impl TestContext {
    pub(crate) fn new(name: String, services: BTreeMap<String, ServiceView>) -> Self {
        TestContext {
            name,
            services,
            chaos: None,
            traceparent: None,
            spans: None,
        }
    }

    /// With the test's chaos session: faults through `ctx.chaos(..)`, URLs through proxies.
    pub(crate) fn with_chaos(mut self, chaos: ChaosSession) -> Self {
        self.chaos = Some(chaos);
        self
    }

    /// With the `traceparent` of the test's current attempt (when clnrm exports traces).
    pub(crate) fn with_traceparent(mut self, traceparent: Option<String>) -> Self {
        self.traceparent = traceparent;
        self
    }

    /// With where the spans of the test's `otel = true` services are.
    pub(crate) fn with_spans(mut self, spans: Option<SpanSource>) -> Self {
        self.spans = spans;
        self
    }

    /// The W3C `traceparent` of this test's attempt span, when clnrm exports its traces
    /// (`OTEL_EXPORTER_OTLP_ENDPOINT` set), or of a trace of the test's own when it has
    /// `otel = true` services: send it with the test's own requests and the spans of the system
    /// under test sit inside the test's trace (and [`Self::spans`] finds them). `None` when
    /// neither.
    pub fn traceparent(&self) -> Option<&str> {
        self.traceparent.as_deref()
    }

    /// [`Self::traceparent`] as an HTTP header (`("traceparent", value)`), for
    /// `request.header(name, value)` of any HTTP client.
    pub fn traceparent_header(&self) -> Option<(&'static str, &str)> {
        self.traceparent().map(|value| ("traceparent", value))
    }

    /// A context with fixed URLs and no running services, for testing code that takes a
    /// `TestContext` without Docker.
    #[doc(hidden)]
    pub fn detached(name: &str, urls: &[(&str, &str)]) -> Self {
        let services = urls
            .iter()
            .map(|(service, url)| {
                let view = ServiceView {
                    handle: None,
                    url: Some((*url).to_owned()),
                };
                ((*service).to_owned(), view)
            })
            .collect();
        TestContext::new(name.to_owned(), services)
    }

    /// The test's name (`module::test_fn`).
    pub fn name(&self) -> &str {
        &self.name
    }

    fn view(&self, service: &str) -> Result<&ServiceView> {
        self.services.get(service).ok_or_else(|| {
            Error::Service(ServiceError::NotFound {
                service: service.to_owned(),
                known: self.services.keys().cloned().collect::<Vec<_>>().join(", "),
            })
        })
    }

    /// The service the test calls `service`.
    pub fn service(&self, service: &str) -> Result<&ServiceHandle> {
        self.view(service)?.handle.as_ref().ok_or_else(|| {
            Error::Service(ServiceError::NotFound {
                service: service.to_owned(),
                known: "(this context has URLs only)".to_owned(),
            })
        })
    }

    /// The URL of `service` for this test: `postgres://…/<this test's database>`,
    /// `redis://…/<this test's logical database>`.
    ///
    /// A service declared with `chaos = true` is reached through its proxy, and after a
    /// [`Chaos::restart`] the URL follows the new ports.
    pub fn url(&self, service: &str) -> Result<String> {
        let view = self.view(service)?;
        if let Some(url) = self.chaos.as_ref().and_then(|c| c.url(service)) {
            return Ok(url);
        }
        view.url.clone().ok_or_else(|| {
            Error::Service(ServiceError::InvalidOption {
                service: service.to_owned(),
                option: "url".to_owned(),
                message: "this service has no URL; use `ctx.host()` and `ctx.port()`".to_owned(),
            })
        })
    }

    /// The host to connect to `service` from the test.
    pub fn host(&self, service: &str) -> Result<&str> {
        let handle = self.service(service)?;
        match self.chaos.as_ref().and_then(|c| c.host(service)) {
            Some(proxy_host) => Ok(proxy_host),
            None => Ok(handle.host()),
        }
    }

    /// The host port mapped to `container_port` of `service` (its proxy's port with
    /// `chaos = true`, the new one after a restart).
    pub fn port(&self, service: &str, container_port: u16) -> Result<u16> {
        let handle = self.service(service)?;
        match self
            .chaos
            .as_ref()
            .and_then(|c| c.port(service, container_port))
        {
            Some(port) => Ok(port),
            None => handle.port(container_port),
        }
    }

    /// Faults for `service`: pause, kill, stop, restart, partition; and with `chaos = true`
    /// on the service, connection faults through its proxy (latency, bandwidth, timeout,
    /// reset, slow close, data limit, down). Each returns a guard that heals on drop, and
    /// whatever is still in force is healed when the test ends, however it ends.
    pub fn chaos(&self, service: &str) -> Result<Chaos> {
        self.view(service)?;
        match &self.chaos {
            Some(session) => session.chaos(service),
            None => Err(Error::Service(ServiceError::NotFound {
                service: service.to_owned(),
                known: "(this context has no running services to inject faults into)".to_owned(),
            })),
        }
    }

    /// A Toxiproxy-compatible REST API (`/proxies`, `/proxies/{name}/toxics`, `/reset`) over
    /// the proxies of this test's `chaos = true` services, named after them; its base URL.
    pub async fn chaos_api(&self) -> Result<String> {
        match &self.chaos {
            Some(session) => session.control_api().await,
            None => Err(Error::Service(ServiceError::NotFound {
                service: "chaos".to_owned(),
                known: "(this context has no running services)".to_owned(),
            })),
        }
    }

    /// Runs `argv` in the container of `service` (no shell).
    pub async fn exec<S: AsRef<str>>(&self, service: &str, argv: &[S]) -> Result<ExecOutput> {
        self.service(service)?.exec(argv).await
    }

    /// Runs SurrealQL on the `surrealdb` service `service`, in this test's own namespace and
    /// database, and returns each statement's `result`. A statement that fails is an error
    /// naming its position and carrying the server's message (SurrealDB itself answers such a
    /// request with HTTP 200).
    pub async fn surql(&self, service: &str, query: &str) -> Result<Vec<serde_json::Value>> {
        let url = self.url(service)?;
        Ok(crate::plugins::surql(&url, query).await?)
    }

    /// The last `lines` lines of `service`'s output.
    pub async fn logs(&self, service: &str, lines: usize) -> Result<String> {
        self.service(service)?.logs(lines).await
    }

    fn span_source(&self) -> Result<&SpanSource> {
        self.spans.as_ref().ok_or_else(|| {
            Error::other(format!(
                "test `{}` has no `otel = true` service: declare one (`services(app = generic(..., otel = true))`) to query its spans",
                self.name
            ))
        })
    }

    /// The spans `service` (declared `otel = true`) sent in this test's trace, once they
    /// stopped arriving (no new one for 300 ms, at most 5 s). Only this test's: the spans of
    /// other tests sharing the service are in their own traces. A service that sent no span at
    /// all is an error (a configuration problem), never an empty answer.
    pub async fn spans(&self, service: &str) -> Result<Vec<Span>> {
        self.span_source()?
            .spans(service)
            .await
            .map_err(Error::other)
    }

    /// Checks span expectations (the suites' `[[expect.span]]`, `[[expect.order]]`,
    /// `[expect.trace]`, `[expect.hermetic]`, built as [`SpanExpectations`]) against the spans
    /// this test's `otel = true` services sent in its trace, waiting for late spans up to
    /// `settle_ms` (default 5 s). `Ok` carries every rule's verdict; the error names the first
    /// unmet expectation with the nearest misses and the trace's tree, or says which
    /// `otel = true` service sent nothing at all.
    pub async fn expect_spans(&self, expectations: &SpanExpectations) -> Result<String> {
        self.span_source()?
            .expect(expectations)
            .await
            .map_err(Error::other)
    }
}
