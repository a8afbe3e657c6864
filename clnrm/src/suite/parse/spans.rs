//! `[expect]`: span expectations (`[[expect.span]]`, `[[expect.order]]`, `[expect.trace]`,
//! `[expect.hermetic]`, `settle_ms`), plus the older clnrm's span tables mapped onto them
//! (`[expect.graph]`, `[expect.counts]`, `[expect.status]`, `[expect.order]` with
//! `must_precede`/`must_follow`, `[expect.hermeticity]`, `[[expect.window]]`, `attrs.all`,
//! `events.all`), each with a warning naming the mapping; what has no clear meaning is refused
//! at its position.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::de::{DeTable, DeValue};

use super::{Value, Walker, entries, integer};
use crate::suite::compat::Place;
use crate::suite::diagnostic::DiagnosticKind;
use crate::suite::keys::{self, Table};
use crate::suite::spec::ServiceSpec;
use crate::telemetry::{
    AttrValue, Bounds, HermeticExpect, OrderExpect, SpanExpect, SpanExpectations, SpanKind,
    SpanStatus, TraceExpect,
};

/// The older format's spellings, read as its own (see `compat::OLD_KEYS`).
const UPSTREAM_ORDER_KEYS: &[&str] = &["must_precede", "must_follow"];
const UPSTREAM_BOUND_KEYS: &[&str] = &["eq", "gte", "lte", "gt", "lt"];

/// Why an expectation on clnrm's own spans is refused.
const OWN_SPAN: &str = "names a span of clnrm itself: it proves only that clnrm ran, not that the system under test did anything; expect a span the system under test sends";

impl Walker<'_> {
    /// Reads `[expect]`; every expectation id is unique and every reference resolves, or an
    /// error says where.
    pub(super) fn span_expectations(
        &mut self,
        root: &DeTable<'_>,
        services: &[ServiceSpec],
    ) -> SpanExpectations {
        let mut out = SpanExpectations::default();
        let Some((table, expect_span)) = self.table(root, "expect", "the top level") else {
            return out;
        };
        self.check_keys(
            table,
            "[expect]",
            &keys::names(Table::Spans),
            Some(Place::Expect),
        );
        // Where each expectation was written (for errors about it).
        let mut at: Vec<Range<usize>> = Vec::new();
        for (index, (t, header)) in self
            .tables(table, "span", "[expect]")
            .into_iter()
            .enumerate()
        {
            if let Some(e) = self.span_expect(t, &header, index) {
                out.spans.push(e);
                at.push(header);
            }
        }
        match table.get("order").map(|v| (v.get_ref(), v.span())) {
            Some((DeValue::Table(t), span)) if self.legacy => {
                self.upstream_order(t, span, &mut out);
            }
            Some(_) => {
                for (t, _) in self.tables(table, "order", "[expect]") {
                    let what = "[[expect.order]]";
                    self.check_keys(t, what, &keys::names(Table::Order), None);
                    let before = self.string(t, "before", what);
                    let after = self.string(t, "after", what);
                    let slack_ms = t
                        .get("slack_ms")
                        .and_then(|v| {
                            self.int_in(
                                v,
                                "slack_ms",
                                what,
                                0..i64::MAX,
                                "milliseconds (0 or more)",
                            )
                        })
                        .map_or(0, |n| n.into_inner().unsigned_abs());
                    match (before, after) {
                        (Some(before), Some(after)) => out.order.push(OrderExpect {
                            before: before.into_inner(),
                            after: after.into_inner(),
                            slack_ms,
                        }),
                        _ => {
                            for key in ["before", "after"] {
                                if !t.contains_key(key) {
                                    self.sink.error(
                                        0..0,
                                        format!("{what} has no `{key}`; expected an expectation id or a span name"),
                                    );
                                }
                            }
                        }
                    }
                }
            }
            None => {}
        }
        if let Some((t, _)) = self.table(table, "trace", "[expect]") {
            let what = "[expect.trace]";
            self.check_keys(t, what, &keys::names(Table::Trace), None);
            let mut trace = TraceExpect::default();
            if let Some(v) = t.get("services") {
                trace.services = self
                    .strings(v, "services", what)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|s| s.into_inner())
                    .collect();
            }
            trace.errors = self.count_key(t, "errors", what);
            trace.max_spans = self.count_key(t, "max_spans", what);
            trace.min_spans = self.count_key(t, "min_spans", what);
            out.trace = Some(trace);
        }
        if let Some((t, _)) = self.table(table, "hermetic", "[expect]") {
            let what = "[expect.hermetic]";
            self.check_keys(t, what, &keys::names(Table::Hermetic), None);
            let allow = match t.get("allow") {
                Some(v) => self.strings(v, "allow", what).unwrap_or_default(),
                None => Vec::new(),
            };
            out.hermetic = Some(HermeticExpect {
                allow: allow.into_iter().map(|s| s.into_inner()).collect(),
            });
        }
        out.settle_ms = self.count_key(table, "settle_ms", "[expect]");
        if self.legacy {
            self.upstream_tables(table, services, &mut out, &mut at, &expect_span);
        }
        self.check_references(&out, &at);
        if !out.is_empty() && !services.iter().any(|s| s.otel) {
            self.sink.warning(
                expect_span,
                "span expectations, but no service has `otel = true`: nothing points a system under test at clnrm's receiver, so only spans from commands that set OTEL_EXPORTER_OTLP_ENDPOINT themselves can meet them",
            );
        }
        out
    }

    /// A non-negative integer key.
    fn count_key(&mut self, t: &DeTable<'_>, key: &str, what: &str) -> Option<u64> {
        let v = t.get(key)?;
        self.int_in(v, key, what, 0..i64::MAX, "a whole number (0 or more)")
            .map(|n| n.into_inner().unsigned_abs())
    }

    fn span_expect(
        &mut self,
        t: &DeTable<'_>,
        header: &Range<usize>,
        index: usize,
    ) -> Option<SpanExpect> {
        let fallback = format!("[[expect.span]] #{}", index + 1);
        self.check_keys(t, &fallback, &keys::names(Table::Span), None);
        let name = self.string(t, "name", &fallback);
        let name_re = self.string(t, "name_re", &fallback);
        let id = self
            .string(t, "id", &fallback)
            .map(|s| s.into_inner())
            .or_else(|| name.as_ref().map(|n| n.get_ref().clone()))
            .or_else(|| name_re.as_ref().map(|n| n.get_ref().clone()))
            .unwrap_or_else(|| format!("{}", index + 1));
        let what = format!("expect.span[{id}]");
        let what = what.as_str();
        let mut e = SpanExpect::new(id.clone());
        if let (Some(_), Some(re)) = (&name, &name_re) {
            self.sink.error(
                re.span(),
                format!("{what} has both `name` and `name_re`; keep one"),
            );
        }
        if let Some(n) = &name
            && n.get_ref().starts_with("clnrm.")
        {
            self.sink.error(
                n.span(),
                format!("`name = {:?}` in {what} {OWN_SPAN}", n.get_ref()),
            );
        }
        if let Some(re) = &name_re
            && let Some(problem) = regex_error(re.get_ref())
        {
            self.sink
                .error(re.span(), format!("`name_re` in {what}: {problem}"));
        }
        e.name = name.map(|n| n.into_inner());
        e.name_re = name_re.map(|n| n.into_inner());
        e.service = self.string(t, "service", what).map(|s| s.into_inner());
        if let Some(kind) = self.string(t, "kind", what) {
            match SpanKind::parse(kind.get_ref()) {
                Some(k) => e.kind = Some(k),
                None => self.sink.error(
                    kind.span(),
                    format!(
                        "unknown span kind {:?} in {what}; expected internal, server, client, producer or consumer",
                        kind.get_ref()
                    ),
                ),
            }
        }
        if let Some(status) = self.string(t, "status", what) {
            match SpanStatus::parse(status.get_ref()) {
                Some(s) => e.status = Some(s),
                None => self.sink.error(
                    status.span(),
                    format!(
                        "unknown span status {:?} in {what}; expected ok, error or unset",
                        status.get_ref()
                    ),
                ),
            }
        }
        if let Some((attrs, _)) = self.table(t, "attrs", what) {
            let upstream = self.legacy
                && !attrs.is_empty()
                && attrs
                    .keys()
                    .all(|k| matches!(k.get_ref().as_ref(), "all" | "any"));
            if upstream {
                if let Some(v) = attrs.get("any") {
                    self.sink.error(
                        v.span(),
                        format!("`attrs.any` in {what} (one of several attributes) is not evaluated by clnrm; write the attribute the span must have in `attrs`"),
                    );
                }
                if let Some((all, span)) = self.table(attrs, "all", what) {
                    self.sink.note(
                        DiagnosticKind::Mapped,
                        span,
                        format!(
                            "`attrs.all` in {what} read as `attrs` (typed: 200 is not \"200\")"
                        ),
                    );
                    e.attrs = self.typed_attrs(all, what);
                }
            } else {
                e.attrs = self.typed_attrs(attrs, what);
            }
        }
        for (key, pattern) in self.string_map(t, "attrs_re", what) {
            if let Some(problem) = regex_error(&pattern) {
                let span = t.get("attrs_re").map_or(header.clone(), |v| v.span());
                self.sink
                    .error(span, format!("`attrs_re.{key:?}` in {what}: {problem}"));
            }
            e.attrs_re.push((key, pattern));
        }
        if let Some(v) = t.get("absent") {
            e.absent = self
                .strings(v, "absent", what)
                .unwrap_or_default()
                .into_iter()
                .map(|s| s.into_inner())
                .collect();
        }
        if let Some(v) = t.get("events") {
            match v.get_ref() {
                DeValue::Table(events) if self.legacy => {
                    if let Some(any) = events.get("any") {
                        self.sink.error(
                            any.span(),
                            format!("`events.any` in {what} (one of several events) is not evaluated by clnrm; list the events the span must have"),
                        );
                    }
                    if let Some(all) = events.get("all") {
                        self.sink.note(
                            DiagnosticKind::Mapped,
                            all.span(),
                            format!("`events.all` in {what} read as `events`"),
                        );
                        e.events = self
                            .strings(all, "events.all", what)
                            .unwrap_or_default()
                            .into_iter()
                            .map(|s| s.into_inner())
                            .collect();
                    }
                }
                _ => {
                    e.events = self
                        .strings(v, "events", what)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|s| s.into_inner())
                        .collect();
                }
            }
        }
        if let Some(v) = t.get("duration_ms") {
            e.duration_ms = self.bounds(v, "duration_ms", what);
        }
        if let Some(v) = t.get("count")
            && let Some(b) = self.bounds(v, "count", what)
        {
            e.count = b;
        }
        e.parent = self.string(t, "parent", what).map(|s| s.into_inner());
        e.ancestor = self.string(t, "ancestor", what).map(|s| s.into_inner());
        Some(e)
    }

    /// `attrs = { key = value }` with typed values.
    fn typed_attrs(&mut self, t: &DeTable<'_>, what: &str) -> Vec<(String, AttrValue)> {
        let mut out = Vec::new();
        for (k, v) in entries(t) {
            let value = match v.get_ref() {
                DeValue::String(s) => AttrValue::String(s.to_string()),
                DeValue::Boolean(b) => AttrValue::Bool(*b),
                DeValue::Integer(_) => match integer(v.get_ref()).flatten() {
                    Some(n) => AttrValue::Int(n),
                    None => {
                        self.sink.error(
                            v.span(),
                            format!(
                                "`attrs.{:?}` in {what}: integer does not fit in 64 bits",
                                k.get_ref()
                            ),
                        );
                        continue;
                    }
                },
                DeValue::Float(f) => match f.as_str().parse::<f64>() {
                    Ok(d) => AttrValue::Double(d),
                    Err(_) => continue,
                },
                _ => {
                    self.expected(
                        v,
                        &format!("attrs.{:?}", k.get_ref()),
                        what,
                        "a string, integer, float or boolean",
                    );
                    continue;
                }
            };
            out.push((k.get_ref().to_string(), value));
        }
        out
    }

    /// `{ min, max }`, or a bare number meaning exactly that; the older `{ eq, gte, lte, gt, lt }`
    /// in old-format files.
    fn bounds(&mut self, v: &Value<'_>, key: &str, what: &str) -> Option<Bounds> {
        let number = |v: &DeValue<'_>| -> Option<f64> {
            match v {
                DeValue::Integer(_) => integer(v).flatten().map(|n| n as f64),
                DeValue::Float(f) => f.as_str().parse().ok(),
                _ => None,
            }
        };
        match v.get_ref() {
            DeValue::Table(t) => {
                let upstream = self.legacy
                    && t.keys()
                        .any(|k| UPSTREAM_BOUND_KEYS.contains(&k.get_ref().as_ref()));
                let inner = format!("`{key}` of {what}");
                if upstream {
                    self.check_keys(t, &inner, UPSTREAM_BOUND_KEYS, None);
                } else {
                    self.check_keys(t, &inner, &keys::names(Table::Bounds), None);
                }
                let mut b = Bounds::default();
                for (k, val) in entries(t) {
                    let Some(n) = number(val.get_ref()) else {
                        self.expected(val, k.get_ref(), &inner, "a number");
                        return None;
                    };
                    match k.get_ref().as_ref() {
                        "min" | "gte" => b.min = Some(n),
                        "max" | "lte" => b.max = Some(n),
                        "eq" => {
                            b.min = Some(n);
                            b.max = Some(n);
                        }
                        "gt" => b.min = Some(n + 1.0),
                        "lt" => b.max = Some(n - 1.0),
                        _ => {}
                    }
                }
                if let (Some(a), Some(z)) = (b.min, b.max)
                    && a > z
                {
                    self.sink
                        .error(v.span(), format!("{inner}: min {a} is above max {z}"));
                    return None;
                }
                Some(b)
            }
            other => match number(other) {
                Some(n) if n >= 0.0 => Some(Bounds {
                    min: Some(n),
                    max: Some(n),
                }),
                _ => {
                    self.expected(v, key, what, "a number or { min = N, max = N }");
                    None
                }
            },
        }
    }

    /// Every `parent` / `ancestor` / `within` names an expectation; ids are unique; no cycle.
    fn check_references(&mut self, out: &SpanExpectations, at: &[Range<usize>]) {
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, e) in out.spans.iter().enumerate() {
            let span = at.get(i).cloned().unwrap_or(0..0);
            if let Some(first) = seen.insert(e.id.as_str(), i) {
                let line = at
                    .get(first)
                    .map_or(0, |r| self.sink.source.line_col(r.start).0);
                self.sink.error(
                    span.clone(),
                    format!(
                        "two span expectations have the id `{}` (the first on line {line}); give one an `id`",
                        e.id
                    ),
                );
            }
            for (key, target) in [
                ("parent", &e.parent),
                ("ancestor", &e.ancestor),
                ("within", &e.within),
            ] {
                if let Some(target) = target
                    && out.span(target).is_none()
                {
                    let known: Vec<&str> = out.spans.iter().map(|s| s.id.as_str()).collect();
                    self.sink.error(
                        span.clone(),
                        format!(
                            "`{key} = {target:?}` in {} names no span expectation; known ids: {}",
                            e.rule(),
                            known.join(", ")
                        ),
                    );
                }
            }
            // Follow parent links: a cycle never resolves.
            let mut at_id = e.id.as_str();
            for _ in 0..=out.spans.len() {
                match out.span(at_id).and_then(|s| {
                    s.parent
                        .as_deref()
                        .or(s.ancestor.as_deref())
                        .or(s.within.as_deref())
                }) {
                    Some(next) if next == e.id => {
                        self.sink.error(
                            span.clone(),
                            format!(
                                "{} is its own parent or ancestor (a cycle of `parent`/`ancestor`)",
                                e.rule()
                            ),
                        );
                        break;
                    }
                    Some(next) => at_id = next,
                    None => break,
                }
            }
        }
    }

    // ---- the older clnrm's tables --------------------------------------------------------

    fn upstream_order(&mut self, t: &DeTable<'_>, span: Range<usize>, out: &mut SpanExpectations) {
        let what = "[expect.order]";
        self.check_keys(t, what, UPSTREAM_ORDER_KEYS, None);
        self.sink.note(
            DiagnosticKind::Mapped,
            span,
            "`[expect.order]` read as `[[expect.order]]`: every span of the later name must start after the end of some span of the earlier one (the older clnrm was satisfied by one such pair)",
        );
        for (key, flip) in [("must_precede", false), ("must_follow", true)] {
            for (a, b) in self.pairs(t, key, what) {
                let (before, after) = if flip { (b, a) } else { (a, b) };
                out.order.push(OrderExpect {
                    before,
                    after,
                    slack_ms: 0,
                });
            }
        }
    }

    /// `key = [["a", "b"], ...]`.
    fn pairs(&mut self, t: &DeTable<'_>, key: &str, what: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let Some(v) = t.get(key) else {
            return out;
        };
        let Some(items) = v.get_ref().as_array() else {
            self.expected(v, key, what, "an array of [\"a\", \"b\"] pairs");
            return out;
        };
        for item in items.iter() {
            match self.strings(item, key, what).as_deref() {
                Some([a, b]) => {
                    for n in [a, b] {
                        if n.get_ref().starts_with("clnrm.") {
                            self.sink.error(
                                n.span(),
                                format!("{:?} in `{key}` of {what} {OWN_SPAN}", n.get_ref()),
                            );
                        }
                    }
                    out.push((a.get_ref().clone(), b.get_ref().clone()));
                }
                Some(_) => self.expected(item, key, what, "a pair [\"a\", \"b\"]"),
                None => {}
            }
        }
        out
    }

    /// An expectation `id` matching spans named `name` (at least one), unless one exists.
    fn ensure_named(
        out: &mut SpanExpectations,
        at: &mut Vec<Range<usize>>,
        name: &str,
        span: &Range<usize>,
        min: f64,
    ) {
        if out.span(name).is_none() {
            let mut e = SpanExpect::new(name);
            e.name = Some(name.to_owned());
            e.count.min = Some(min);
            out.spans.push(e);
            at.push(span.clone());
        }
    }

    fn upstream_tables(
        &mut self,
        table: &DeTable<'_>,
        services: &[ServiceSpec],
        out: &mut SpanExpectations,
        at: &mut Vec<Range<usize>>,
        _expect_span: &Range<usize>,
    ) {
        if let Some((t, span)) = self.table(table, "graph", "[expect]") {
            let what = "[expect.graph]";
            self.check_keys(
                t,
                what,
                &["must_include", "must_not_cross", "acyclic"],
                None,
            );
            self.sink.note(
                DiagnosticKind::Mapped,
                span.clone(),
                "`[expect.graph]` read as `parent` edges of `[[expect.span]]` (`must_include`; `must_not_cross` as `count = 0` on the edge; `acyclic` always holds)",
            );
            for (i, (parent, child)) in self.pairs(t, "must_include", what).into_iter().enumerate()
            {
                Self::ensure_named(out, at, &parent, &span, 1.0);
                let mut e = SpanExpect::new(format!("graph.must_include[{i}]"));
                e.name = Some(child);
                e.parent = Some(parent);
                out.spans.push(e);
                at.push(span.clone());
            }
            for (i, (parent, child)) in self
                .pairs(t, "must_not_cross", what)
                .into_iter()
                .enumerate()
            {
                Self::ensure_named(out, at, &parent, &span, 0.0);
                let mut e = SpanExpect::new(format!("graph.must_not_cross[{i}]"));
                e.name = Some(child);
                e.parent = Some(parent);
                e.count = Bounds {
                    min: Some(0.0),
                    max: Some(0.0),
                };
                out.spans.push(e);
                at.push(span.clone());
            }
        }
        if let Some((t, span)) = self.table(table, "counts", "[expect]") {
            let what = "[expect.counts]";
            self.check_keys(t, what, &["spans_total", "errors_total", "by_name"], None);
            self.sink.note(
                DiagnosticKind::Mapped,
                span.clone(),
                "`[expect.counts]` read as `[expect.trace]` `min_spans`/`max_spans` (`spans_total`) and `errors` (`errors_total`), and a `count` per span name (`by_name`)",
            );
            let trace = out.trace.get_or_insert_with(TraceExpect::default);
            let mut trace = std::mem::take(trace);
            if let Some(v) = t.get("spans_total")
                && let Some(b) = self.bounds(v, "spans_total", what)
            {
                trace.min_spans = b.min.map(|m| m.max(0.0) as u64);
                trace.max_spans = b.max.map(|m| m.max(0.0) as u64);
            }
            if let Some(v) = t.get("errors_total")
                && let Some(b) = self.bounds(v, "errors_total", what)
            {
                if b.min.is_some_and(|m| m > 0.0) {
                    self.sink.error(
                        v.span(),
                        format!("`errors_total` in {what} with a lower bound is not evaluated by clnrm; only an upper bound (`lte`, `eq = 0`) maps onto `[expect.trace] errors`"),
                    );
                }
                trace.errors = b.max.map(|m| m.max(0.0) as u64);
            }
            out.trace = Some(trace);
            if let Some((by_name, _)) = self.table(t, "by_name", what) {
                for (name, v) in entries(by_name) {
                    let name = name.get_ref().to_string();
                    if name.starts_with("clnrm.") {
                        self.sink.error(
                            v.span(),
                            format!("{name:?} in `by_name` of {what} {OWN_SPAN}"),
                        );
                    }
                    if let Some(b) = self.bounds(v, &name, what) {
                        let mut e = SpanExpect::new(format!("counts.by_name.{name}"));
                        e.name = Some(name);
                        e.count = b;
                        out.spans.push(e);
                        at.push(v.span());
                    }
                }
            }
        }
        if let Some((t, span)) = self.table(table, "status", "[expect]") {
            let what = "[expect.status]";
            self.check_keys(t, what, &["all", "by_name"], None);
            self.sink.note(
                DiagnosticKind::Mapped,
                span.clone(),
                "`[expect.status]` read as `[expect.trace] errors = 0` (`all = \"OK\"`) and a `status` per span name (`by_name`)",
            );
            if let Some(all) = self.string(t, "all", what) {
                if all.get_ref().eq_ignore_ascii_case("ok") {
                    out.trace.get_or_insert_with(TraceExpect::default).errors = Some(0);
                } else {
                    self.sink.error(
                        all.span(),
                        format!("`all = {:?}` in {what}: only \"OK\" (no span in error) has a clear meaning", all.get_ref()),
                    );
                }
            }
            for (name, status) in self.string_map(t, "by_name", what) {
                match SpanStatus::parse(&status) {
                    Some(s) => {
                        let mut e = SpanExpect::new(format!("status.by_name.{name}"));
                        e.name = Some(name);
                        e.status = Some(s);
                        out.spans.push(e);
                        at.push(span.clone());
                    }
                    None => self.sink.error(
                        span.clone(),
                        format!(
                            "status {status:?} for {name:?} in {what}; expected OK, ERROR or UNSET"
                        ),
                    ),
                }
            }
        }
        if let Some((t, span)) = self.table(table, "hermeticity", "[expect]") {
            let what = "[expect.hermeticity]";
            self.check_keys(t, what, &["no_external_services"], None);
            match self.bool(t, "no_external_services", what) {
                Some(true) => {
                    let allow: Vec<String> =
                        services.iter().map(|s| s.name.get_ref().clone()).collect();
                    self.sink.note(
                        DiagnosticKind::Mapped,
                        span,
                        format!(
                            "`[expect.hermeticity] no_external_services = true` read as `[expect.hermetic] allow = [{}]`: spans may point only at the suite's services or loopback (judged by `server.address`, `url.full`, `network.peer.address`)",
                            allow.join(", ")
                        ),
                    );
                    out.hermetic = Some(HermeticExpect { allow });
                }
                Some(false) => self.sink.note(
                    DiagnosticKind::Descriptive,
                    span,
                    "`no_external_services = false` asks for nothing; ignored",
                ),
                None => {}
            }
        }
        for (i, (t, span)) in self
            .tables(table, "window", "[expect]")
            .into_iter()
            .enumerate()
        {
            let what = "[[expect.window]]";
            self.check_keys(t, what, &["outer", "contains"], None);
            self.sink.note(
                DiagnosticKind::Mapped,
                span.clone(),
                "`[[expect.window]]` read as `within`: each `contains` span must descend from an `outer` span and lie inside its interval",
            );
            let Some(outer) = self.string(t, "outer", what) else {
                continue;
            };
            if outer.get_ref().starts_with("clnrm.") {
                self.sink.error(
                    outer.span(),
                    format!("`outer = {:?}` in {what} {OWN_SPAN}", outer.get_ref()),
                );
            }
            Self::ensure_named(out, at, outer.get_ref(), &span, 1.0);
            if let Some(v) = t.get("contains") {
                for inner in self.strings(v, "contains", what).unwrap_or_default() {
                    let mut e = SpanExpect::new(format!("window[{i}].{}", inner.get_ref()));
                    e.name = Some(inner.into_inner());
                    e.within = Some(outer.get_ref().clone());
                    out.spans.push(e);
                    at.push(span.clone());
                }
            }
        }
    }
}

fn regex_error(pattern: &str) -> Option<String> {
    regex::Regex::new(pattern)
        .err()
        .map(|e| format!("invalid regex: {e}"))
}
