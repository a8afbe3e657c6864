//! Evaluates [`SpanExpectations`] against the spans of one scenario.
//!
//! A span counts for a scenario when its trace id is the scenario's (clnrm handed it to the
//! steps through `TRACEPARENT`): it is *linked*. Spans of other traces that arrived while the
//! scenario ran are *unlinked*: they never match, but they are shown as near misses, so a
//! system under test that ignores `TRACEPARENT` is told so.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::expect::{Bounds, OrderExpect, SpanExpect, SpanExpectations};
use super::span::{AttrValue, Span, SpanStatus};

/// The verdict of one rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleResult {
    /// `expect.span[get_order]`, `expect.order[0]`, `expect.trace`, `expect.hermetic`.
    pub rule: String,
    /// Whether it held.
    pub passed: bool,
    /// What was found (on success: how many spans matched); on failure: the first unmet part,
    /// expected against actual, with up to 3 nearest misses.
    pub message: String,
}

/// Every rule's verdict, in the order of the suite.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Evaluation {
    /// One per rule.
    pub results: Vec<RuleResult>,
}

impl Evaluation {
    /// The first rule that did not hold.
    pub fn first_failure(&self) -> Option<&RuleResult> {
        self.results.iter().find(|r| !r.passed)
    }
}

/// One unmet predicate of a span against an expectation.
struct Miss {
    /// `attrs."http.response.status_code"`, `name`, `trace`, ...
    part: String,
    expected: String,
    actual: String,
}

/// Evaluates `expectations` for the scenario whose trace is `trace_id`, over the `spans` that
/// arrived for it (its own trace's, and any other that arrived while it ran).
pub fn evaluate(expectations: &SpanExpectations, trace_id: &str, spans: &[Span]) -> Evaluation {
    let linked: Vec<&Span> = spans.iter().filter(|s| s.trace_id == trace_id).collect();
    let by_id: BTreeMap<&str, &Span> = linked.iter().map(|s| (s.span_id.as_str(), *s)).collect();
    let mut ctx = Ctx {
        exp: expectations,
        trace_id,
        spans,
        by_id,
        matches: BTreeMap::new(),
    };
    let mut results = Vec::new();
    for expect in &expectations.spans {
        results.push(ctx.span_rule(expect));
    }
    for (index, order) in expectations.order.iter().enumerate() {
        results.push(ctx.order_rule(index, order));
    }
    if let Some(trace) = &expectations.trace {
        let rule = "expect.trace".to_owned();
        let mut failure = None;
        if linked.is_empty() && trace.max_spans != Some(0) {
            failure = Some(format!(
                "{rule}: no span of the scenario's trace {trace_id} reached clnrm; nothing to check{}",
                unlinked_note(spans, trace_id)
            ));
        }
        for service in &trace.services {
            if failure.is_none() && !linked.iter().any(|s| &s.service == service) {
                failure = Some(format!(
                    "{rule}.services: expected spans from service `{service}`, found none (services seen: {})",
                    seen_services(&linked)
                ));
            }
        }
        if failure.is_none()
            && let Some(max) = trace.errors
        {
            let allowed: BTreeSet<&str> = expectations
                .spans
                .iter()
                .filter(|e| e.status == Some(SpanStatus::Error))
                .flat_map(|e| ctx.matched(e).into_iter().map(|s| s.span_id.as_str()))
                .collect();
            let errors: Vec<&&Span> = linked
                .iter()
                .filter(|s| s.status == SpanStatus::Error && !allowed.contains(s.span_id.as_str()))
                .collect();
            if errors.len() as u64 > max {
                failure = Some(format!(
                    "{rule}.errors: expected at most {max} ERROR span(s), found {}: {}",
                    errors.len(),
                    errors
                        .iter()
                        .take(3)
                        .map(|s| s.describe())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        let n = linked.len() as u64;
        if failure.is_none()
            && let Some(max) = trace.max_spans
            && n > max
        {
            failure = Some(format!(
                "{rule}.max_spans: expected at most {max} span(s), found {n}"
            ));
        }
        if failure.is_none()
            && let Some(min) = trace.min_spans
            && n < min
        {
            failure = Some(format!(
                "{rule}.min_spans: expected at least {min} span(s), found {n}{}",
                unlinked_note(spans, trace_id)
            ));
        }
        results.push(match failure {
            Some(message) => RuleResult {
                rule,
                passed: false,
                message,
            },
            None => RuleResult {
                rule,
                passed: true,
                message: format!("{n} span(s) in the scenario's trace"),
            },
        });
    }
    if let Some(hermetic) = &expectations.hermetic {
        let rule = "expect.hermetic".to_owned();
        let mut offending = Vec::new();
        let mut checked = 0;
        for span in spans {
            let Some((key, destination)) = destination(span) else {
                continue;
            };
            checked += 1;
            let host = host_of(&destination);
            if is_loopback(&host) || hermetic.allow.iter().any(|a| a.eq_ignore_ascii_case(&host)) {
                continue;
            }
            offending.push(format!(
                "{} reaches {host:?} ({key} = {destination:?})",
                span.describe()
            ));
        }
        results.push(if spans.is_empty() {
            RuleResult {
                rule: rule.clone(),
                passed: false,
                message: format!(
                    "{rule}: no span reached clnrm while the scenario ran; nothing shows where the system under test reached out"
                ),
            }
        } else if offending.is_empty() {
            RuleResult {
                rule,
                passed: true,
                message: format!("{checked} span(s) with a destination, all allowed"),
            }
        } else {
            RuleResult {
                passed: false,
                message: format!(
                    "{rule}.allow: expected destinations among [{}] or loopback, found {} outside: {}",
                    hermetic.allow.join(", "),
                    offending.len(),
                    offending.join("; ")
                ),
                rule,
            }
        });
    }
    Evaluation { results }
}

struct Ctx<'a> {
    exp: &'a SpanExpectations,
    trace_id: &'a str,
    spans: &'a [Span],
    by_id: BTreeMap<&'a str, &'a Span>,
    /// Expectation id -> the span ids that match it (computed once, parents first).
    matches: BTreeMap<String, Vec<&'a Span>>,
}

impl<'a> Ctx<'a> {
    /// The spans matching `expect` (every predicate holds and the span is linked).
    fn matched(&mut self, expect: &SpanExpect) -> Vec<&'a Span> {
        if let Some(found) = self.matches.get(&expect.id) {
            return found.clone();
        }
        // Guards a cycle the parser missed: an expectation in progress matches nothing.
        self.matches.insert(expect.id.clone(), Vec::new());
        let spans = self.spans;
        let found: Vec<&'a Span> = spans
            .iter()
            .filter(|s| self.misses(expect, s, true).is_empty())
            .collect();
        self.matches.insert(expect.id.clone(), found.clone());
        found
    }

    fn ids_of(&mut self, id: &str) -> BTreeSet<String> {
        match self.exp.span(id) {
            Some(e) => {
                let e = e.clone();
                self.matched(&e)
                    .into_iter()
                    .map(|s| s.span_id.clone())
                    .collect()
            }
            None => BTreeSet::new(),
        }
    }

    /// Every predicate of `expect` that `span` fails, in the order they are written about.
    /// With `first_only`, stops at the first.
    fn misses(&mut self, expect: &SpanExpect, span: &Span, first_only: bool) -> Vec<Miss> {
        let mut out = Vec::new();
        macro_rules! miss {
            ($part:expr, $expected:expr, $actual:expr) => {{
                out.push(Miss {
                    part: $part,
                    expected: $expected,
                    actual: $actual,
                });
                if first_only {
                    return out;
                }
            }};
        }
        if let Some(name) = &expect.name
            && &span.name != name
        {
            miss!(
                "name".into(),
                format!("{name:?}"),
                format!("{:?}", span.name)
            );
        }
        if let Some(pattern) = &expect.name_re {
            let ok = regex::Regex::new(pattern).is_ok_and(|re| re.is_match(&span.name));
            if !ok {
                miss!(
                    "name_re".into(),
                    format!("a name matching /{pattern}/"),
                    format!("{:?}", span.name)
                );
            }
        }
        if let Some(service) = &expect.service
            && &span.service != service
        {
            miss!(
                "service".into(),
                format!("{service:?}"),
                format!("{:?}", span.service)
            );
        }
        if let Some(kind) = expect.kind
            && span.kind != kind
        {
            miss!("kind".into(), kind.to_string(), span.kind.to_string());
        }
        if let Some(status) = expect.status
            && span.status != status
        {
            miss!("status".into(), status.to_string(), span.status.to_string());
        }
        for (key, want) in &expect.attrs {
            let part = format!("attrs.{key:?}");
            match span.attrs.get(key) {
                Some(found) if found.same(want) => {}
                Some(found) => {
                    let types = if std::mem::discriminant(found) != std::mem::discriminant(want)
                        && !matches!(
                            (found, want),
                            (AttrValue::Int(_), AttrValue::Double(_))
                                | (AttrValue::Double(_), AttrValue::Int(_))
                        ) {
                        format!(" ({}, expected {})", found.type_name(), want.type_name())
                    } else {
                        String::new()
                    };
                    miss!(part, want.to_string(), format!("{found}{types}"));
                }
                None => miss!(part, want.to_string(), "no such attribute".into()),
            }
        }
        for (key, pattern) in &expect.attrs_re {
            let part = format!("attrs_re.{key:?}");
            match span.attrs.get(key) {
                Some(found) => {
                    let ok =
                        regex::Regex::new(pattern).is_ok_and(|re| re.is_match(&found.as_text()));
                    if !ok {
                        miss!(
                            part,
                            format!("a value matching /{pattern}/"),
                            found.to_string()
                        );
                    }
                }
                None => miss!(
                    part,
                    format!("a value matching /{pattern}/"),
                    "no such attribute".into()
                ),
            }
        }
        for key in &expect.absent {
            if let Some(found) = span.attrs.get(key) {
                miss!(
                    format!("absent.{key:?}"),
                    "no such attribute".into(),
                    found.to_string()
                );
            }
        }
        for event in &expect.events {
            if !span.events.contains(event) {
                miss!(
                    format!("events.{event:?}"),
                    format!("an event {event:?}"),
                    format!("events {:?}", span.events)
                );
            }
        }
        if let Some(bounds) = &expect.duration_ms
            && !bounds.contains(span.duration_ms())
        {
            miss!(
                "duration_ms".into(),
                format!("{bounds} ms"),
                format!("{:.1} ms", span.duration_ms())
            );
        }
        if let Some(parent) = &expect.parent {
            let ids = self.ids_of(parent);
            if !ids.contains(&span.parent_span_id) {
                let actual = match self.by_id.get(span.parent_span_id.as_str()) {
                    Some(p) => format!("parent {}", p.describe()),
                    None if span.parent_span_id.is_empty() => "a root span".into(),
                    None => format!(
                        "parent span {} (not a span clnrm received)",
                        span.parent_span_id
                    ),
                };
                miss!(
                    "parent".into(),
                    format!("a direct child of a span matching expect.span[{parent}]"),
                    actual
                );
            }
        }
        if let Some(ancestor) = &expect.ancestor {
            let ids = self.ids_of(ancestor);
            if !self
                .ancestors(span)
                .iter()
                .any(|a| ids.contains(&a.span_id))
            {
                miss!(
                    "ancestor".into(),
                    format!("a descendant of a span matching expect.span[{ancestor}]"),
                    format!(
                        "ancestors [{}]",
                        self.ancestors(span)
                            .iter()
                            .map(|a| a.name.as_str())
                            .collect::<Vec<_>>()
                            .join(" <- ")
                    )
                );
            }
        }
        if let Some(outer) = &expect.within {
            let ids = self.ids_of(outer);
            let inside = self.ancestors(span).iter().any(|a| {
                ids.contains(&a.span_id) && a.start_ns <= span.start_ns && span.end_ns <= a.end_ns
            });
            if !inside {
                miss!(
                    "within".into(),
                    format!(
                        "inside a span matching expect.span[{outer}] (descendant, interval contained)"
                    ),
                    "not inside one".into()
                );
            }
        }
        if span.trace_id != self.trace_id {
            miss!(
                "trace".into(),
                format!(
                    "a span in the scenario's trace {} (handed to the steps as TRACEPARENT)",
                    self.trace_id
                ),
                format!(
                    "trace {}: not linked to the scenario; does the system under test read TRACEPARENT?",
                    span.trace_id
                )
            );
        }
        out
    }

    fn ancestors(&self, span: &Span) -> Vec<&'a Span> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        let mut at = span.parent_span_id.as_str();
        while let Some(parent) = self.by_id.get(at) {
            if !seen.insert(parent.span_id.as_str()) {
                break;
            }
            out.push(*parent);
            at = parent.parent_span_id.as_str();
        }
        out
    }

    fn span_rule(&mut self, expect: &SpanExpect) -> RuleResult {
        let rule = expect.rule();
        let matched = self.matched(expect);
        let n = matched.len() as f64;
        if expect.count.contains(n) {
            return RuleResult {
                rule,
                passed: true,
                message: format!("{} matching span(s)", matched.len()),
            };
        }
        let message = if matched.is_empty() || expect.count.min.is_some_and(|m| n < m) {
            self.too_few(expect, &rule, matched.len())
        } else {
            format!(
                "{rule}.count: expected {} matching span(s), found {}: {}",
                count_text(&expect.count),
                matched.len(),
                matched
                    .iter()
                    .take(5)
                    .map(|s| s.describe())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        RuleResult {
            rule,
            passed: false,
            message,
        }
    }

    /// Fewer matches than the minimum: the nearest miss's first unmet part names the rule.
    fn too_few(&mut self, expect: &SpanExpect, rule: &str, found: usize) -> String {
        let spans = self.spans;
        if spans.is_empty() {
            return format!(
                "{rule}: expected {} matching span(s), found none: no span at all reached clnrm while the scenario ran",
                count_text(&expect.count)
            );
        }
        let mut ranked: Vec<(usize, &Span, Vec<Miss>)> = spans
            .iter()
            .map(|s| {
                let misses = self.misses(expect, s, false);
                (misses.len(), s, misses)
            })
            .filter(|(n, _, _)| *n > 0)
            .collect();
        ranked.sort_by_key(|(n, _, _)| *n);
        let mut out = String::new();
        match ranked.first() {
            Some((_, span, misses)) => {
                let first = &misses[0];
                let _ = write!(
                    out,
                    "{rule}.{}: expected {}, found {} on the nearest span {}",
                    first.part,
                    first.expected,
                    first.actual,
                    span.describe()
                );
            }
            None => {
                let _ = write!(
                    out,
                    "{rule}.count: expected {} matching span(s), found {found}",
                    count_text(&expect.count)
                );
            }
        }
        if found > 0 {
            let _ = write!(
                out,
                " ({found} span(s) matched, expected {})",
                count_text(&expect.count)
            );
        }
        out.push_str("\n  nearest misses:");
        for (_, span, misses) in ranked.iter().take(3) {
            let _ = write!(out, "\n    {}: ", span.describe());
            let parts: Vec<String> = misses
                .iter()
                .map(|m| format!("{} expected {}, found {}", m.part, m.expected, m.actual))
                .collect();
            out.push_str(&parts.join("; "));
        }
        out
    }

    fn order_rule(&mut self, index: usize, order: &OrderExpect) -> RuleResult {
        let rule = format!("expect.order[{index}]");
        let before = self.select(&order.before);
        let after = self.select(&order.after);
        let fail = |message: String| RuleResult {
            rule: rule.clone(),
            passed: false,
            message,
        };
        if before.is_empty() {
            return fail(format!(
                "{rule}.before: no span matches `{}` in the scenario's trace",
                order.before
            ));
        }
        if after.is_empty() {
            return fail(format!(
                "{rule}.after: no span matches `{}` in the scenario's trace",
                order.after
            ));
        }
        let slack = order.slack_ms.saturating_mul(1_000_000);
        for a in &after {
            if !before
                .iter()
                .any(|b| b.end_ns <= a.start_ns.saturating_add(slack))
            {
                let earliest_end = before.iter().map(|b| b.end_ns).min().unwrap_or(0);
                return fail(format!(
                    "{rule}: expected every `{}` to start after the end of some `{}`; {} starts {:.1} ms before the earliest `{}` ends",
                    order.after,
                    order.before,
                    a.describe(),
                    earliest_end.saturating_sub(a.start_ns) as f64 / 1e6,
                    order.before
                ));
            }
        }
        RuleResult {
            rule,
            passed: true,
            message: format!(
                "{} `{}` span(s) after {} `{}` span(s)",
                after.len(),
                order.after,
                before.len(),
                order.before
            ),
        }
    }

    /// An expectation's matches, or the linked spans of that name.
    fn select(&mut self, what: &str) -> Vec<&'a Span> {
        match self.exp.span(what) {
            Some(e) => {
                let e = e.clone();
                self.matched(&e)
            }
            None => self
                .spans
                .iter()
                .filter(|s| s.trace_id == self.trace_id && s.name == what)
                .collect(),
        }
    }
}

/// The spans of trace `trace_id` as an indented tree (children under their parent, in start
/// order), at most `limit` lines; spans whose parent clnrm never received start at the left.
pub fn trace_tree(spans: &[Span], trace_id: &str, limit: usize) -> String {
    let mut linked: Vec<&Span> = spans.iter().filter(|s| s.trace_id == trace_id).collect();
    linked.sort_by_key(|s| s.start_ns);
    let ids: BTreeSet<&str> = linked.iter().map(|s| s.span_id.as_str()).collect();
    let mut lines = Vec::new();
    fn walk<'s>(
        parent: Option<&str>,
        depth: usize,
        spans: &[&'s Span],
        ids: &BTreeSet<&str>,
        lines: &mut Vec<String>,
        seen: &mut BTreeSet<&'s str>,
    ) {
        for span in spans {
            let is_child = match parent {
                Some(p) => span.parent_span_id == p,
                None => !ids.contains(span.parent_span_id.as_str()),
            };
            if is_child && seen.insert(span.span_id.as_str()) {
                lines.push(format!(
                    "{}{} ({}, {}, {:.1} ms)",
                    "  ".repeat(depth),
                    span.name,
                    span.service,
                    span.kind,
                    span.duration_ms()
                ));
                walk(Some(&span.span_id), depth + 1, spans, ids, lines, seen);
            }
        }
    }
    let mut seen = BTreeSet::new();
    walk(None, 0, &linked, &ids, &mut lines, &mut seen);
    let total = lines.len();
    lines.truncate(limit);
    if total > limit {
        lines.push(format!("... and {} more", total - limit));
    }
    lines.join("\n")
}

fn count_text(count: &Bounds) -> String {
    count.to_string()
}

fn seen_services(spans: &[&Span]) -> String {
    let set: BTreeSet<&str> = spans.iter().map(|s| s.service.as_str()).collect();
    if set.is_empty() {
        "none".into()
    } else {
        set.into_iter().collect::<Vec<_>>().join(", ")
    }
}

fn unlinked_note(spans: &[Span], trace_id: &str) -> String {
    let unlinked = spans.iter().filter(|s| s.trace_id != trace_id).count();
    if unlinked == 0 {
        String::new()
    } else {
        format!(
            " ({unlinked} span(s) of other traces arrived: does the system under test read TRACEPARENT?)"
        )
    }
}

/// Where a span points: `server.address`, `url.full`, `network.peer.address`, or the older
/// `net.peer.name` / `http.url`. Client and producer spans without one point nowhere known.
fn destination(span: &Span) -> Option<(&'static str, String)> {
    for key in [
        "server.address",
        "url.full",
        "network.peer.address",
        "net.peer.name",
        "http.url",
    ] {
        if let Some(value) = span.attrs.get(key) {
            return Some((key, value.as_text()));
        }
    }
    None
}

/// The host of a URL or `host[:port]`.
fn host_of(destination: &str) -> String {
    let rest = destination
        .split_once("://")
        .map_or(destination, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6).to_ascii_lowercase();
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) && !host.contains(':') => {
            host.to_ascii_lowercase()
        }
        _ => authority.to_ascii_lowercase(),
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::expect::{HermeticExpect, TraceExpect};
    use crate::telemetry::span::SpanKind;

    const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

    fn span(id: &str, parent: &str, name: &str, kind: SpanKind) -> Span {
        Span {
            trace_id: TRACE.into(),
            span_id: id.into(),
            parent_span_id: parent.into(),
            name: name.into(),
            kind,
            status: SpanStatus::Unset,
            service: "app".into(),
            attrs: BTreeMap::new(),
            events: Vec::new(),
            links: Vec::new(),
            start_ns: 1_000_000,
            end_ns: 5_000_000,
        }
    }

    /// A server span under the step, a client span under it: what `otel-sut honest` sends.
    fn honest() -> Vec<Span> {
        let mut server = span(
            "00000000000000a1",
            "00000000000000f0",
            "handle",
            SpanKind::Server,
        );
        server
            .attrs
            .insert("http.response.status_code".into(), AttrValue::Int(200));
        let mut client = span(
            "00000000000000b2",
            "00000000000000a1",
            "write",
            SpanKind::Client,
        );
        client.start_ns = 2_000_000;
        client.end_ns = 3_000_000;
        client
            .attrs
            .insert("server.address".into(), AttrValue::String("cache".into()));
        vec![server, client]
    }

    fn server_expect() -> SpanExpect {
        let mut e = SpanExpect::new("srv");
        e.name = Some("handle".into());
        e.kind = Some(SpanKind::Server);
        e.attrs = vec![("http.response.status_code".into(), AttrValue::Double(200.0))];
        e
    }

    fn client_expect() -> SpanExpect {
        let mut e = SpanExpect::new("cli");
        e.name_re = Some("^wr".into());
        e.parent = Some("srv".into());
        e.ancestor = Some("srv".into());
        e.within = Some("srv".into());
        e
    }

    fn all() -> SpanExpectations {
        SpanExpectations {
            spans: vec![server_expect(), client_expect()],
            order: vec![],
            trace: Some(TraceExpect {
                services: vec!["app".into()],
                errors: Some(0),
                max_spans: Some(10),
                min_spans: Some(2),
            }),
            hermetic: Some(HermeticExpect {
                allow: vec!["cache".into()],
            }),
            settle_ms: None,
        }
    }

    #[test]
    fn honest_spans_meet_every_kind_of_expectation() {
        let eval = evaluate(&all(), TRACE, &honest());
        assert_eq!(eval.first_failure(), None, "{eval:#?}");
        assert_eq!(eval.results.len(), 4);
    }

    #[test]
    fn the_trace_tree_indents_children_under_their_parent() {
        let tree = trace_tree(&honest(), TRACE, 10);
        assert_eq!(
            tree,
            "handle (app, server, 4.0 ms)\n  write (app, client, 1.0 ms)"
        );
        assert_eq!(
            trace_tree(&honest(), TRACE, 1),
            "handle (app, server, 4.0 ms)\n... and 1 more"
        );
    }

    #[test]
    fn no_span_at_all_fails_the_first_expectation() {
        let eval = evaluate(&all(), TRACE, &[]);
        let first = eval.first_failure().expect("fails");
        assert_eq!(first.rule, "expect.span[srv]");
        assert!(
            first.message.contains("no span at all reached clnrm"),
            "{}",
            first.message
        );
    }

    #[test]
    fn a_wrong_attribute_is_named_with_expected_and_actual_and_its_type() {
        let mut spans = honest();
        spans[0].attrs.insert(
            "http.response.status_code".into(),
            AttrValue::String("200".into()),
        );
        let eval = evaluate(&all(), TRACE, &spans);
        let first = eval.first_failure().expect("fails");
        assert!(
            first.message.starts_with(
                "expect.span[srv].attrs.\"http.response.status_code\": expected 200, found \"200\" (a string, expected a float)"
            ),
            "{}",
            first.message
        );
        assert!(
            first.message.contains("nearest misses:"),
            "{}",
            first.message
        );
    }

    #[test]
    fn spans_of_another_trace_never_match_and_say_why() {
        let spans: Vec<Span> = honest()
            .into_iter()
            .map(|mut s| {
                s.trace_id = "11111111111111111111111111111111".into();
                s
            })
            .collect();
        let eval = evaluate(&all(), TRACE, &spans);
        let first = eval.first_failure().expect("fails");
        assert!(
            first.message.starts_with("expect.span[srv].trace: "),
            "{}",
            first.message
        );
        assert!(
            first
                .message
                .contains("does the system under test read TRACEPARENT?")
        );
    }

    #[test]
    fn count_is_checked_over_all_matches_and_zero_can_forbid() {
        let mut once = server_expect();
        once.count = Bounds {
            min: Some(1.0),
            max: Some(1.0),
        };
        let mut spans = honest();
        let mut again = spans[0].clone();
        again.span_id = "00000000000000c3".into();
        spans.push(again);
        let exp = SpanExpectations {
            spans: vec![once],
            ..Default::default()
        };
        let first = evaluate(&exp, TRACE, &spans)
            .first_failure()
            .cloned()
            .expect("fails");
        assert!(
            first.message.starts_with(
                "expect.span[srv].count: expected exactly 1 matching span(s), found 2"
            ),
            "{}",
            first.message
        );
        let mut none = SpanExpect::new("panic");
        none.name = Some("panic".into());
        none.count = Bounds {
            min: Some(0.0),
            max: Some(0.0),
        };
        let exp = SpanExpectations {
            spans: vec![none],
            ..Default::default()
        };
        assert_eq!(evaluate(&exp, TRACE, &honest()).first_failure(), None);
    }

    #[test]
    fn a_broken_parent_link_fails_the_child() {
        let mut spans = honest();
        spans[1].parent_span_id = "00000000000000ff".into();
        let eval = evaluate(&all(), TRACE, &spans);
        let first = eval.first_failure().expect("fails");
        assert!(
            first.message.starts_with("expect.span[cli].parent: "),
            "{}",
            first.message
        );
    }

    #[test]
    fn order_trace_and_hermetic_rules_fail_with_their_names() {
        let mut exp = all();
        exp.order = vec![OrderExpect {
            before: "cli".into(),
            after: "srv".into(),
            slack_ms: 0,
        }];
        let first = evaluate(&exp, TRACE, &honest())
            .first_failure()
            .cloned()
            .expect("fails");
        assert!(
            first
                .message
                .starts_with("expect.order[0]: expected every `srv`"),
            "{}",
            first.message
        );

        let mut exp = all();
        exp.order = vec![OrderExpect {
            before: "srv".into(),
            after: "write".into(),
            slack_ms: 5,
        }];
        assert_eq!(evaluate(&exp, TRACE, &honest()).first_failure(), None);

        let mut spans = honest();
        spans[0].status = SpanStatus::Error;
        let first = evaluate(&all(), TRACE, &spans)
            .first_failure()
            .cloned()
            .expect("fails");
        assert!(
            first
                .message
                .starts_with("expect.trace.errors: expected at most 0"),
            "{}",
            first.message
        );

        let mut spans = honest();
        spans[1].attrs.insert(
            "server.address".into(),
            AttrValue::String("https://example.com:443/x".into()),
        );
        let first = evaluate(&all(), TRACE, &spans)
            .first_failure()
            .cloned()
            .expect("fails");
        assert!(
            first.message.contains("reaches \"example.com\""),
            "{}",
            first.message
        );
        spans[1].attrs.insert(
            "server.address".into(),
            AttrValue::String("127.0.0.1:6379".into()),
        );
        assert_eq!(evaluate(&all(), TRACE, &spans).first_failure(), None);
    }
}
