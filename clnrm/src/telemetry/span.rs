//! The spans clnrm received, in a form the matcher reads: ids as lower-case hex, the resource's
//! `service.name` on every span, attributes typed.

use std::collections::BTreeMap;
use std::fmt;

/// `SpanKind` of the OTLP data model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum SpanKind {
    /// `SPAN_KIND_UNSPECIFIED` (0).
    Unspecified,
    /// `internal` (1).
    Internal,
    /// `server` (2).
    Server,
    /// `client` (3).
    Client,
    /// `producer` (4).
    Producer,
    /// `consumer` (5).
    Consumer,
}

impl SpanKind {
    /// From the OTLP enum value; unknown values read as unspecified.
    pub fn from_otlp(value: i32) -> Self {
        match value {
            1 => Self::Internal,
            2 => Self::Server,
            3 => Self::Client,
            4 => Self::Producer,
            5 => Self::Consumer,
            _ => Self::Unspecified,
        }
    }

    /// From a suite's `kind = "..."`.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.to_ascii_lowercase().as_str() {
            "internal" => Self::Internal,
            "server" => Self::Server,
            "client" => Self::Client,
            "producer" => Self::Producer,
            "consumer" => Self::Consumer,
            _ => return None,
        })
    }
}

impl fmt::Display for SpanKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unspecified => "unspecified",
            Self::Internal => "internal",
            Self::Server => "server",
            Self::Client => "client",
            Self::Producer => "producer",
            Self::Consumer => "consumer",
        })
    }
}

/// A span's status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum SpanStatus {
    /// `STATUS_CODE_UNSET` (0).
    Unset,
    /// `STATUS_CODE_OK` (1).
    Ok,
    /// `STATUS_CODE_ERROR` (2).
    Error,
}

impl SpanStatus {
    /// From the OTLP enum value.
    pub fn from_otlp(value: i32) -> Self {
        match value {
            1 => Self::Ok,
            2 => Self::Error,
            _ => Self::Unset,
        }
    }

    /// From a suite's `status = "..."`.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.to_ascii_lowercase().as_str() {
            "unset" => Self::Unset,
            "ok" => Self::Ok,
            "error" => Self::Error,
            _ => return None,
        })
    }
}

impl fmt::Display for SpanStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unset => "unset",
            Self::Ok => "ok",
            Self::Error => "error",
        })
    }
}

/// An attribute value, typed as the sender typed it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum AttrValue {
    /// A string.
    String(String),
    /// A boolean.
    Bool(bool),
    /// A 64-bit integer.
    Int(i64),
    /// A double.
    Double(f64),
    /// An array (or anything else, rendered as text).
    Other(String),
}

impl AttrValue {
    /// The type's name in messages (`a string`, `an integer`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::String(_) => "a string",
            Self::Bool(_) => "a boolean",
            Self::Int(_) => "an integer",
            Self::Double(_) => "a float",
            Self::Other(_) => "an array or map",
        }
    }

    /// Typed equality: 200 equals 200.0, never `"200"`.
    pub fn same(&self, other: &AttrValue) -> bool {
        match (self, other) {
            (Self::Int(a), Self::Double(b)) | (Self::Double(b), Self::Int(a)) => (*a as f64) == *b,
            (a, b) => a == b,
        }
    }

    /// The value as text, for regexes (`attrs_re`) and destinations.
    pub fn as_text(&self) -> String {
        match self {
            Self::String(s) | Self::Other(s) => s.clone(),
            Self::Bool(b) => b.to_string(),
            Self::Int(i) => i.to_string(),
            Self::Double(d) => d.to_string(),
        }
    }
}

impl fmt::Display for AttrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::String(s) => write!(f, "{s:?}"),
            Self::Other(s) => f.write_str(s),
            other => f.write_str(&other.as_text()),
        }
    }
}

/// One received span.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Span {
    /// 32 lower-case hex digits.
    pub trace_id: String,
    /// 16 lower-case hex digits.
    pub span_id: String,
    /// 16 lower-case hex digits; empty for a root span.
    pub parent_span_id: String,
    /// The span's name.
    pub name: String,
    /// Its kind.
    pub kind: SpanKind,
    /// Its status code.
    pub status: SpanStatus,
    /// `service.name` of its resource (empty when the sender set none).
    pub service: String,
    /// Its attributes.
    pub attrs: BTreeMap<String, AttrValue>,
    /// The names of its events, in order.
    pub events: Vec<String>,
    /// The span ids of the spans it links to.
    pub links: Vec<String>,
    /// Start, nanoseconds since the Unix epoch.
    pub start_ns: u64,
    /// End, nanoseconds since the Unix epoch.
    pub end_ns: u64,
}

impl Span {
    /// Its duration in milliseconds.
    pub fn duration_ms(&self) -> f64 {
        self.end_ns.saturating_sub(self.start_ns) as f64 / 1e6
    }

    /// `name (service, kind)` for messages.
    pub fn describe(&self) -> String {
        format!(
            "`{}` (service `{}`, {}, span {})",
            self.name, self.service, self.kind, self.span_id
        )
    }
}
