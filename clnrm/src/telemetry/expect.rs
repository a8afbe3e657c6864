//! Span expectations: what a suite says the system under test must have sent
//! (`[[expect.span]]`, `[[expect.order]]`, `[expect.trace]`, `[expect.hermetic]`), already
//! checked by the suite parser (regexes compile, references resolve, no cycles).

use super::span::{AttrValue, SpanKind, SpanStatus};

/// Every span expectation of a suite; evaluated for each scenario.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpanExpectations {
    /// `[[expect.span]]`, in file order.
    pub spans: Vec<SpanExpect>,
    /// `[[expect.order]]`.
    pub order: Vec<OrderExpect>,
    /// `[expect.trace]`.
    pub trace: Option<TraceExpect>,
    /// `[expect.hermetic]`.
    pub hermetic: Option<HermeticExpect>,
    /// `[expect] settle_ms`: how long to wait at most for late spans after the last step.
    pub settle_ms: Option<u64>,
}

impl SpanExpectations {
    /// Whether there is nothing to check.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
            && self.order.is_empty()
            && self.trace.is_none()
            && self.hermetic.is_none()
    }

    /// The expectation with id `id`.
    pub fn span(&self, id: &str) -> Option<&SpanExpect> {
        self.spans.iter().find(|s| s.id == id)
    }
}

/// A typed attribute expectation.
pub type AttrExpect = (String, AttrValue);

/// `{ min, max }`, both optional, both inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Bounds {
    /// Lower bound.
    pub min: Option<f64>,
    /// Upper bound.
    pub max: Option<f64>,
}

impl Bounds {
    /// Whether `value` lies within.
    pub fn contains(&self, value: f64) -> bool {
        self.min.is_none_or(|m| value >= m) && self.max.is_none_or(|m| value <= m)
    }
}

impl std::fmt::Display for Bounds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.min, self.max) {
            (Some(a), Some(b)) if a == b => write!(f, "exactly {a}"),
            (Some(a), Some(b)) => write!(f, "between {a} and {b}"),
            (Some(a), None) => write!(f, "at least {a}"),
            (None, Some(b)) => write!(f, "at most {b}"),
            (None, None) => f.write_str("any"),
        }
    }
}

/// `[[expect.span]]`: spans that must (or must not) have been sent.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanExpect {
    /// Handle for `parent`, `ancestor` and `[[expect.order]]` (defaults to the name).
    pub id: String,
    /// Exact span name.
    pub name: Option<String>,
    /// Regex on the span name.
    pub name_re: Option<String>,
    /// Resource `service.name`.
    pub service: Option<String>,
    /// Span kind.
    pub kind: Option<SpanKind>,
    /// Status code.
    pub status: Option<SpanStatus>,
    /// Attributes with typed values (200 equals 200.0, never `"200"`).
    pub attrs: Vec<AttrExpect>,
    /// Attributes whose value (as text) must match a regex.
    pub attrs_re: Vec<(String, String)>,
    /// Attributes that must not be there.
    pub absent: Vec<String>,
    /// Events that must all occur on the span.
    pub events: Vec<String>,
    /// Bounds on the span's duration in milliseconds.
    pub duration_ms: Option<Bounds>,
    /// How many spans must match, over all matches (default: at least 1).
    pub count: Bounds,
    /// Id of the expectation the span's direct parent must match.
    pub parent: Option<String>,
    /// Id of the expectation some ancestor of the span must match.
    pub ancestor: Option<String>,
    /// Id of the expectation whose span must contain this span's interval (the older
    /// `[[expect.window]]`).
    pub within: Option<String>,
}

impl SpanExpect {
    /// An expectation with only its id; at least one span must match it.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: None,
            name_re: None,
            service: None,
            kind: None,
            status: None,
            attrs: Vec::new(),
            attrs_re: Vec::new(),
            absent: Vec::new(),
            events: Vec::new(),
            duration_ms: None,
            count: Bounds {
                min: Some(1.0),
                max: None,
            },
            parent: None,
            ancestor: None,
            within: None,
        }
    }

    /// `expect.span[ID]`, the rule's name in messages.
    pub fn rule(&self) -> String {
        format!("expect.span[{}]", self.id)
    }
}

/// `[[expect.order]]`: every span matching `after` starts after the end of some span matching
/// `before`.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderExpect {
    /// An expectation id, or a plain span name.
    pub before: String,
    /// An expectation id, or a plain span name.
    pub after: String,
    /// Tolerance in milliseconds.
    pub slack_ms: u64,
}

/// `[expect.trace]`: rules over the whole scenario's trace.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TraceExpect {
    /// Each of these services sent at least one span in the scenario's trace.
    pub services: Vec<String>,
    /// At most this many ERROR spans that no `status = "error"` expectation matches.
    pub errors: Option<u64>,
    /// At most this many spans.
    pub max_spans: Option<u64>,
    /// At least this many spans.
    pub min_spans: Option<u64>,
}

/// `[expect.hermetic]`: where the system under test may reach out to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HermeticExpect {
    /// Allowed destinations (service names, aliases, host names); loopback is always allowed.
    pub allow: Vec<String>,
}
