//! `[expect]`: span expectations parse into typed rules, every mistake is an error at its
//! position, and the older clnrm's span tables are mapped with a warning naming the mapping
//! (or refused where their meaning is not clear).

use clnrm::suite::{DiagnosticKind, Severity, SuiteSource, check_suite};
use clnrm::telemetry::{AttrValue, SpanKind, SpanStatus};

const PLUGINS: &[&str] = &["generic", "postgres", "redis"];

fn check(text: &str) -> (clnrm::suite::CheckedSuite, Vec<String>) {
    let checked = check_suite(&SuiteSource::new("s.clnrm.toml", text), PLUGINS);
    let shown = checked
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    (checked, shown)
}

const CURRENT: &str = r#"version = 1
[services.api]
image = "debian:bookworm"
otel = true

[[steps]]
name = "call"
service = "api"
run = ["true"]

[expect]
settle_ms = 500

[[expect.span]]
id = "get"
name = "GET /orders/{id}"
service = "api"
kind = "server"
status = "ok"
attrs = { "http.response.status_code" = 200, "ratio" = 0.5, "cached" = false, "m" = "GET" }
attrs_re = { "url.path" = "^/orders/" }
absent = ["error.type"]
events = ["cache.miss"]
duration_ms = { max = 500 }
count = { min = 1, max = 1 }

[[expect.span]]
name_re = "^SELECT "
parent = "get"
count = 0

[[expect.order]]
before = "get"
after = "^SELECT "
slack_ms = 5

[expect.trace]
services = ["api"]
errors = 0
max_spans = 20

[expect.hermetic]
allow = ["api"]
"#;

#[test]
fn every_kind_of_expectation_parses_into_typed_rules() {
    let (checked, shown) = check(CURRENT);
    assert!(!checked.has_errors(), "{}", shown.join("\n"));
    assert!(shown.is_empty(), "{}", shown.join("\n"));
    let spec = checked.spec.expect("spec");
    assert!(spec.services[0].otel);
    let expect = &spec.expect;
    assert_eq!(expect.settle_ms, Some(500));
    let get = &expect.spans[0];
    assert_eq!(get.id, "get");
    assert_eq!(get.kind, Some(SpanKind::Server));
    assert_eq!(get.status, Some(SpanStatus::Ok));
    assert_eq!(
        get.attrs,
        vec![
            ("http.response.status_code".to_owned(), AttrValue::Int(200)),
            ("ratio".to_owned(), AttrValue::Double(0.5)),
            ("cached".to_owned(), AttrValue::Bool(false)),
            ("m".to_owned(), AttrValue::String("GET".into())),
        ]
    );
    assert_eq!(get.count.min, Some(1.0));
    assert_eq!(get.count.max, Some(1.0));
    assert_eq!(get.duration_ms.and_then(|d| d.max), Some(500.0));
    let select = &expect.spans[1];
    assert_eq!(select.id, "^SELECT ", "id defaults to the name or name_re");
    assert_eq!(select.parent.as_deref(), Some("get"));
    assert_eq!((select.count.min, select.count.max), (Some(0.0), Some(0.0)));
    assert_eq!(expect.order[0].slack_ms, 5);
    assert_eq!(expect.trace.as_ref().map(|t| t.errors), Some(Some(0)));
    assert_eq!(
        expect.hermetic.as_ref().map(|h| h.allow.clone()),
        Some(vec!["api".to_owned()])
    );
}

#[test]
fn mistakes_in_expectations_are_errors_at_their_position() {
    let text = r#"version = 1
[services.api]
image = "debian:bookworm"
otel = true

[[steps]]
name = "call"
service = "api"
run = ["true"]

[[expect.span]]
name = "a"
name_re = "(unclosed"
kind = "sever"
colour = "red"

[[expect.span]]
name = "b"
parent = "nope"
attrs = { "x" = [1, 2] }
count = { min = 3, max = 1 }

[[expect.span]]
name = "clnrm.run"
"#;
    let (checked, shown) = check(text);
    assert!(checked.has_errors());
    let want = [
        "s.clnrm.toml:13:11: error: expect.span[a] has both `name` and `name_re`; keep one",
        "s.clnrm.toml:13:11: error: `name_re` in expect.span[a]: invalid regex",
        "s.clnrm.toml:14:8: error: unknown span kind \"sever\" in expect.span[a]; expected internal, server, client, producer or consumer",
        "s.clnrm.toml:15:1: error: unknown key `colour` in [[expect.span]] #1",
        "s.clnrm.toml:17:1: error: `parent = \"nope\"` in expect.span[b] names no span expectation; known ids: a, b, clnrm.run",
        "s.clnrm.toml:20:17: error: `attrs.\"x\"` in expect.span[b]: expected a string, integer, float or boolean, found an array",
        "s.clnrm.toml:21:9: error: `count` of expect.span[b]: min 3 is above max 1",
        "s.clnrm.toml:24:8: error: `name = \"clnrm.run\"` in expect.span[clnrm.run] names a span of clnrm itself: it proves only that clnrm ran",
    ];
    for w in want {
        assert!(
            shown.iter().any(|s| s.starts_with(w)),
            "missing {w:?} in:\n{}",
            shown.join("\n")
        );
    }
}

#[test]
fn expectations_without_an_otel_service_are_a_warning() {
    let text = "version = 1\n[[steps]]\nname = \"a\"\nrun = [\"true\"]\nimage = \"debian:bookworm\"\n[[expect.span]]\nname = \"x\"\n";
    let (checked, shown) = check(text);
    assert!(!checked.has_errors(), "{}", shown.join("\n"));
    assert!(
        shown
            .iter()
            .any(|s| s.contains("warning: span expectations, but no service has `otel = true`")),
        "{}",
        shown.join("\n")
    );
}

#[test]
fn older_span_tables_are_mapped_with_a_warning_or_refused_at_their_position() {
    let text = r#"[meta]
name = "old"

[service.app]
plugin = "generic_container"
image = "debian:bookworm"
args = ["sleep", "infinity"]

[[scenario]]
name = "s"
service = "app"
run = "echo success"

[[expect.span]]
name = "db.query"
kind = "client"
attrs.all = { "db.system" = "postgresql" }
events.all = ["rows"]

[[expect.span]]
name = "cache.get"
attrs.any = { "hit" = true }

[expect.graph]
must_include = [["http.request", "db.query"]]
must_not_cross = [["db.query", "http.request"]]
acyclic = true

[expect.counts]
spans_total = { gte = 2, lte = 50 }
errors_total = { eq = 0 }
by_name = { "db.query" = { eq = 1 } }

[expect.status]
all = "OK"
by_name = { "http.request" = "ERROR" }

[expect.order]
must_precede = [["http.request", "db.query"]]
must_follow = [["db.query", "db.connect"]]

[expect.hermeticity]
no_external_services = true

[[expect.window]]
outer = "http.request"
contains = ["db.query"]
"#;
    let (checked, shown) = check(text);
    let errors: Vec<&String> = shown.iter().filter(|s| s.contains(": error: ")).collect();
    assert_eq!(errors.len(), 1, "{}", shown.join("\n"));
    assert!(
        errors[0].starts_with("s.clnrm.toml:22:13: error: `attrs.any` in expect.span[cache.get]"),
        "{}",
        errors[0]
    );
    let mapped: Vec<&clnrm::suite::Diagnostic> = checked
        .diagnostics
        .iter()
        .filter(|d| d.kind == DiagnosticKind::Mapped && d.severity == Severity::Warning)
        .collect();
    for what in [
        "`attrs.all`",
        "`events.all`",
        "`[expect.graph]`",
        "`[expect.counts]`",
        "`[expect.status]`",
        "`[expect.order]`",
        "`[expect.hermeticity] no_external_services = true` read as `[expect.hermetic] allow = [app]`",
        "`[[expect.window]]`",
    ] {
        assert!(
            mapped.iter().any(|d| d.message.starts_with(what)),
            "no mapping warning for {what}:\n{}",
            shown.join("\n")
        );
    }
}

#[test]
fn mapped_older_tables_become_the_rules_they_mean() {
    let text = r#"[meta]
name = "old"

[service.app]
plugin = "generic_container"
image = "debian:bookworm"

[[scenario]]
name = "s"
service = "app"
run = "echo success"

[expect.graph]
must_include = [["http.request", "db.query"]]

[expect.counts]
spans_total = { gte = 2 }
errors_total = { eq = 0 }

[expect.order]
must_follow = [["db.query", "db.connect"]]

[[expect.window]]
outer = "http.request"
contains = ["db.query"]
"#;
    let (checked, shown) = check(text);
    assert!(!checked.has_errors(), "{}", shown.join("\n"));
    let expect = checked.spec.expect("spec").expect;
    let ids: Vec<&str> = expect.spans.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "http.request",
            "graph.must_include[0]",
            "window[0].db.query"
        ]
    );
    assert_eq!(expect.spans[1].name.as_deref(), Some("db.query"));
    assert_eq!(expect.spans[1].parent.as_deref(), Some("http.request"));
    assert_eq!(expect.spans[2].within.as_deref(), Some("http.request"));
    let trace = expect.trace.expect("trace rule");
    assert_eq!(
        (trace.min_spans, trace.max_spans, trace.errors),
        (Some(2), None, Some(0))
    );
    assert_eq!(
        (
            expect.order[0].before.as_str(),
            expect.order[0].after.as_str()
        ),
        ("db.connect", "db.query")
    );
}
