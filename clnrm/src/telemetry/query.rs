//! Span queries for `#[clnrm::test]`: the receiver answers `GET /v1/spans?trace_id=T` with the
//! spans of one trace, so every test process of a run (under nextest, one per test) reads what
//! the `otel = true` services it shares with other tests sent for *its* trace, and nothing of
//! theirs. [`SpanSource`] is what a test holds: where to ask, its trace, its services.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::expect::SpanExpectations;
use super::matcher::{Evaluation, evaluate, trace_tree};
use super::span::Span;

/// No new span of the trace for this long: the exporters have sent what they had.
const QUIET: Duration = Duration::from_millis(300);
/// How long a query waits at most for late spans, unless `settle_ms` says otherwise.
const DEFAULT_WAIT: Duration = Duration::from_secs(5);

/// The answer to `GET /v1/spans?trace_id=T`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct SpanAnswer {
    /// The spans of trace `T`, in arrival order.
    pub(crate) spans: Vec<Span>,
    /// Every `service.name` the receiver heard from (any trace) and how many spans it sent: a
    /// service that sent nothing at all is misconfigured, not merely quiet.
    pub(crate) services: BTreeMap<String, usize>,
    /// Requests the receiver refused, with why.
    pub(crate) refused: Vec<String>,
}

impl SpanAnswer {
    /// The spans of `query`'s trace (under its `parent` span when given), and every service.
    pub(crate) fn of(all: &[Span], refused: &[String], query: &SpanQuery) -> Self {
        let mut services = BTreeMap::new();
        for span in all {
            *services.entry(span.service.clone()).or_insert(0) += 1;
        }
        let in_trace: Vec<Span> = all
            .iter()
            .filter(|s| s.trace_id == query.trace_id)
            .cloned()
            .collect();
        let spans = match &query.parent {
            Some(parent) => descendants(&in_trace, std::slice::from_ref(parent)),
            None => in_trace,
        };
        SpanAnswer {
            spans,
            services,
            refused: refused.to_vec(),
        }
    }
}

/// `GET /v1/spans?trace_id=T[&parent=S]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SpanQuery {
    /// 32 hex digits (empty: none).
    pub(crate) trace_id: String,
    /// 16 hex digits: only the spans under this one (a trace shared by several tests).
    pub(crate) parent: Option<String>,
}

impl SpanQuery {
    /// From a query string; malformed ids read as absent.
    pub(crate) fn parse(query: &str) -> Self {
        let param = |key: &str, len: usize| {
            query
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_ascii_lowercase())
                .filter(|v| v.len() == len && v.chars().all(|c| c.is_ascii_hexdigit()))
        };
        SpanQuery {
            trace_id: param("trace_id", 32).unwrap_or_default(),
            parent: param("parent", 16),
        }
    }

    fn to_query(&self) -> String {
        match &self.parent {
            Some(parent) => format!("trace_id={}&parent={parent}", self.trace_id),
            None => format!("trace_id={}", self.trace_id),
        }
    }
}

/// The spans (of one trace) whose chain of parents, among `spans`, reaches one of `roots`.
pub(crate) fn descendants(spans: &[Span], roots: &[String]) -> Vec<Span> {
    let parents: std::collections::HashMap<&str, &str> = spans
        .iter()
        .map(|s| (s.span_id.as_str(), s.parent_span_id.as_str()))
        .collect();
    let under = |span: &Span| {
        let mut parent = span.parent_span_id.as_str();
        // Bounded: a malformed cycle of ids never loops.
        for _ in 0..=spans.len() {
            if roots.iter().any(|r| r == parent) {
                return true;
            }
            match parents.get(parent) {
                Some(next) => parent = next,
                None => return false,
            }
        }
        false
    };
    spans.iter().filter(|s| under(s)).cloned().collect()
}

/// Asks the receiver at `endpoint` for the spans of `trace_id`.
pub(crate) async fn fetch(endpoint: &str, query: &SpanQuery) -> Result<SpanAnswer, String> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())?;
    let url = format!("{endpoint}/v1/spans?{}", query.to_query());
    let answer = client
        .get(&url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| format!("clnrm's OTLP receiver does not answer at {url}: {e}"))?;
    answer
        .json()
        .await
        .map_err(|e| format!("clnrm's OTLP receiver at {url} answered something else: {e}"))
}

/// The trace id of a `traceparent`.
pub(crate) fn trace_id_of(traceparent: &str) -> Option<&str> {
    traceparent.split('-').nth(1).filter(|t| t.len() == 32)
}

/// The span id of a `traceparent`.
pub(crate) fn span_id_of(traceparent: &str) -> Option<&str> {
    traceparent.split('-').nth(2).filter(|t| t.len() == 16)
}

/// The failure text of an evaluation: the first unmet rule, every rule's verdict and the
/// trace's tree (shared by suites and `TestContext`).
pub(crate) fn failure_text(
    evaluation: &Evaluation,
    spans: &[Span],
    trace_id: &str,
) -> Option<String> {
    let first = evaluation.first_failure()?;
    let summary = evaluation
        .results
        .iter()
        .map(|r| format!("{} {}", if r.passed { "ok" } else { "FAILED" }, r.rule))
        .collect::<Vec<_>>()
        .join(", ");
    let tree = trace_tree(spans, trace_id, 30);
    let tree = if tree.is_empty() {
        "(no span)".to_owned()
    } else {
        format!(
            "\n{}",
            tree.lines()
                .map(|l| format!("    {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        )
    };
    Some(format!(
        "span expectations: {}\n  rules: {summary}\n  the trace {trace_id}: {tree}",
        first.message
    ))
}

/// Checks what the suite parser checks for TOML: regexes compile, `parent`, `ancestor` and
/// `within` name an expectation, bounds are ordered.
pub(crate) fn validate(expectations: &SpanExpectations) -> Result<(), String> {
    let mut problems = Vec::new();
    let ids: Vec<&str> = expectations.spans.iter().map(|s| s.id.as_str()).collect();
    for span in &expectations.spans {
        let rule = span.rule();
        let regexes = span
            .name_re
            .iter()
            .map(|re| ("name_re".to_owned(), re))
            .chain(
                span.attrs_re
                    .iter()
                    .map(|(k, re)| (format!("attrs_re.{k}"), re)),
            );
        for (key, re) in regexes {
            if let Err(e) = regex::Regex::new(re) {
                problems.push(format!("{rule}: {key}: not a regex: {e}"));
            }
        }
        for (key, target) in [
            ("parent", &span.parent),
            ("ancestor", &span.ancestor),
            ("within", &span.within),
        ] {
            if let Some(target) = target
                && !ids.contains(&target.as_str())
            {
                problems.push(format!(
                    "{rule}: {key} `{target}` is no expectation's id; ids: {}",
                    ids.join(", ")
                ));
            }
        }
        for (key, bounds) in [
            ("count", Some(span.count)),
            ("duration_ms", span.duration_ms),
        ] {
            if let Some(b) = bounds
                && let (Some(min), Some(max)) = (b.min, b.max)
                && min > max
            {
                problems.push(format!("{rule}: {key}: min {min} is above max {max}"));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "invalid span expectations: {}",
            problems.join("; ")
        ))
    }
}

/// Where a test's spans are: the receiver its `otel = true` services export to, the test's
/// trace (and, when that trace is clnrm's exported one, shared by every test of the run, the
/// attempt span they must descend from), and `(local name, OTEL_SERVICE_NAME)` of each such
/// service.
#[derive(Debug, Clone)]
pub(crate) struct SpanSource {
    pub(crate) endpoint: String,
    pub(crate) query: SpanQuery,
    pub(crate) services: Vec<(String, String)>,
}

impl SpanSource {
    /// Waits until no span of the trace arrived for a while (at most `cap`), then answers.
    async fn settled(&self, cap: Duration) -> Result<SpanAnswer, String> {
        let start = Instant::now();
        let mut answer = fetch(&self.endpoint, &self.query).await?;
        let mut changed = Instant::now();
        loop {
            if changed.elapsed() >= QUIET || start.elapsed() >= cap {
                return Ok(answer);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            let next = fetch(&self.endpoint, &self.query).await?;
            if next.spans.len() != answer.spans.len() {
                changed = Instant::now();
            }
            answer = next;
        }
    }

    /// An `otel = true` service that sent no span at all (in any trace): a configuration
    /// problem, never a pass.
    fn silent(&self, answer: &SpanAnswer) -> Result<(), String> {
        for (local, name) in &self.services {
            if answer.services.get(name).copied().unwrap_or(0) == 0 {
                let refused = if answer.refused.is_empty() {
                    String::new()
                } else {
                    format!("; requests refused: {}", answer.refused.join("; "))
                };
                return Err(format!(
                    "configuration problem: service `{local}` is declared `otel = true` but no span with service.name `{name}` reached clnrm's OTLP receiver at {} (given to it as OTEL_EXPORTER_OTLP_ENDPOINT){refused}; does it export traces over OTLP/HTTP?",
                    self.endpoint
                ));
            }
        }
        Ok(())
    }

    fn service_name(&self, local: &str) -> Result<&str, String> {
        self.services
            .iter()
            .find(|(l, _)| l == local)
            .map(|(_, name)| name.as_str())
            .ok_or_else(|| {
                let known: Vec<&str> = self.services.iter().map(|(l, _)| l.as_str()).collect();
                format!(
                    "service `{local}` is not an `otel = true` service of this test; those are: {}",
                    if known.is_empty() {
                        "(none)".to_owned()
                    } else {
                        known.join(", ")
                    }
                )
            })
    }

    /// The spans `service` sent in this test's trace, once they stopped arriving.
    pub(crate) async fn spans(&self, service: &str) -> Result<Vec<Span>, String> {
        let name = self.service_name(service)?.to_owned();
        let answer = self.settled(DEFAULT_WAIT).await?;
        self.silent(&answer)?;
        Ok(answer
            .spans
            .into_iter()
            .filter(|s| s.service == name)
            .collect())
    }

    /// Waits (at most `settle_ms`, default 5 s) until `expectations` hold over a settled view
    /// of the test's trace; else the first unmet rule with the nearest misses and the trace.
    pub(crate) async fn expect(&self, expectations: &SpanExpectations) -> Result<String, String> {
        validate(expectations)?;
        if expectations.is_empty() {
            return Err("no span expectation to check (an empty SpanExpectations)".to_owned());
        }
        let cap = expectations
            .settle_ms
            .map_or(DEFAULT_WAIT, Duration::from_millis);
        let start = Instant::now();
        loop {
            let left = cap.saturating_sub(start.elapsed());
            let answer = self.settled(left).await?;
            let evaluation = evaluate(expectations, &self.query.trace_id, &answer.spans);
            match failure_text(&evaluation, &answer.spans, &self.query.trace_id) {
                None => {
                    self.silent(&answer)?;
                    return Ok(evaluation
                        .results
                        .iter()
                        .map(|r| format!("ok {}: {}", r.rule, r.message))
                        .collect::<Vec<_>>()
                        .join("; "));
                }
                Some(failure) if start.elapsed() >= cap => {
                    self.silent(&answer)?;
                    return Err(failure);
                }
                // Late spans may still make it hold.
                Some(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::SpanExpect;

    #[test]
    fn the_query_keeps_one_trace_and_counts_every_service() {
        let span = |trace: &str, service: &str| Span {
            trace_id: trace.to_owned(),
            span_id: "eee19b7ec3c1b174".to_owned(),
            parent_span_id: String::new(),
            name: "work".to_owned(),
            kind: crate::telemetry::SpanKind::Server,
            status: crate::telemetry::SpanStatus::Unset,
            service: service.to_owned(),
            attrs: BTreeMap::new(),
            events: Vec::new(),
            links: Vec::new(),
            start_ns: 1,
            end_ns: 2,
        };
        let a = "5b8efff798038103d269b633813fc60c";
        let b = "0af7651916cd43dd8448eb211c80319c";
        let all = [span(a, "api"), span(b, "api"), span(b, "db")];
        let query = SpanQuery::parse(&format!("x=1&trace_id={a}"));
        assert_eq!(query.trace_id, a);
        let answer = SpanAnswer::of(&all, &[], &query);
        assert_eq!(answer.spans, vec![all[0].clone()]);
        assert_eq!(answer.services.get("api"), Some(&2));
        assert_eq!(answer.services.get("db"), Some(&1));
        assert_eq!(SpanQuery::parse("trace_id=nothex"), SpanQuery::default());
    }

    #[test]
    fn in_a_shared_trace_only_the_spans_under_the_parent_count() {
        let span = |id: &str, parent: &str| Span {
            trace_id: "5b8efff798038103d269b633813fc60c".to_owned(),
            span_id: id.to_owned(),
            parent_span_id: parent.to_owned(),
            name: id.to_owned(),
            kind: crate::telemetry::SpanKind::Server,
            status: crate::telemetry::SpanStatus::Unset,
            service: "api".to_owned(),
            attrs: BTreeMap::new(),
            events: Vec::new(),
            links: Vec::new(),
            start_ns: 1,
            end_ns: 2,
        };
        // `mine` under attempt A (not received), `child` under it; `theirs` under attempt B.
        let spans = [
            span("mine", "A"),
            span("child", "mine"),
            span("theirs", "B"),
        ];
        let got: Vec<String> = descendants(&spans, &["A".to_owned()])
            .into_iter()
            .map(|s| s.span_id)
            .collect();
        assert_eq!(got, ["mine", "child"]);
    }

    #[test]
    fn bad_regexes_and_dangling_references_are_refused() {
        let mut broken = SpanExpect::new("a");
        broken.name_re = Some("(".to_owned());
        broken.parent = Some("nope".to_owned());
        let expectations = SpanExpectations {
            spans: vec![broken],
            ..SpanExpectations::default()
        };
        let err = validate(&expectations).unwrap_err();
        assert!(
            err.contains("expect.span[a]: name_re: not a regex"),
            "{err}"
        );
        assert!(
            err.contains("parent `nope` is no expectation's id"),
            "{err}"
        );
    }
}
