//! Toxics: what a proxy does to the bytes of a connection, in the shape of Toxiproxy's JSON
//! (`{"name","type","stream","toxicity","attributes"}`), so Toxiproxy clients can send them.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Which way the bytes go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// From the client to the service.
    Upstream,
    /// From the service to the client (Toxiproxy's default).
    #[default]
    Downstream,
}

impl Stream {
    fn as_str(self) -> &'static str {
        match self {
            Stream::Upstream => "upstream",
            Stream::Downstream => "downstream",
        }
    }
}

/// What a toxic does, with its Toxiproxy attributes (times in milliseconds, `rate` in KB/s).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "attributes", rename_all = "snake_case")]
pub enum ToxicKind {
    /// Every chunk is delayed by `latency` ± a random `jitter` (ms).
    Latency {
        /// Milliseconds added.
        #[serde(default)]
        latency: u64,
        /// Up to this many milliseconds more or less, at random.
        #[serde(default)]
        jitter: u64,
    },
    /// At most `rate` KB (1024 bytes) per second; 0 lets nothing through.
    Bandwidth {
        /// KB per second.
        #[serde(default)]
        rate: u64,
    },
    /// The connection closes `delay` ms after the other side closed it.
    SlowClose {
        /// Milliseconds.
        #[serde(default)]
        delay: u64,
    },
    /// Nothing gets through (a blackhole); the connection is closed after `timeout` ms, or
    /// never when it is 0.
    Timeout {
        /// Milliseconds; 0 holds the connection open forever.
        #[serde(default)]
        timeout: u64,
    },
    /// The connection is reset (TCP RST, "connection reset by peer") after `timeout` ms.
    ResetPeer {
        /// Milliseconds; 0 resets at once.
        #[serde(default)]
        timeout: u64,
    },
    /// The connection is closed once `bytes` bytes went through.
    LimitData {
        /// Bytes let through.
        #[serde(default)]
        bytes: u64,
    },
    /// Chunks are cut into slices of `average_size` ± `size_variation` bytes, `delay` µs apart.
    Slicer {
        /// Bytes per slice on average.
        #[serde(default)]
        average_size: u64,
        /// Up to this many bytes more or less.
        #[serde(default)]
        size_variation: u64,
        /// Microseconds between slices.
        #[serde(default)]
        delay: u64,
    },
}

impl ToxicKind {
    /// Toxiproxy's type name (`latency`, `reset_peer`, …).
    pub fn type_name(&self) -> &'static str {
        match self {
            ToxicKind::Latency { .. } => "latency",
            ToxicKind::Bandwidth { .. } => "bandwidth",
            ToxicKind::SlowClose { .. } => "slow_close",
            ToxicKind::Timeout { .. } => "timeout",
            ToxicKind::ResetPeer { .. } => "reset_peer",
            ToxicKind::LimitData { .. } => "limit_data",
            ToxicKind::Slicer { .. } => "slicer",
        }
    }
}

fn full() -> f64 {
    1.0
}

/// One toxic on a proxy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Toxic {
    /// Unique on its proxy; `<type>_<stream>` when not given.
    #[serde(default)]
    pub name: String,
    /// What it does.
    #[serde(flatten)]
    pub kind: ToxicKind,
    /// Which way.
    #[serde(default)]
    pub stream: Stream,
    /// The probability (0.0–1.0) that a connection is affected; decided once per connection.
    #[serde(default = "full")]
    pub toxicity: f64,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Toxic {
    /// A toxic on the downstream, affecting every connection.
    pub fn new(kind: ToxicKind) -> Self {
        Toxic {
            name: String::new(),
            kind,
            stream: Stream::Downstream,
            toxicity: 1.0,
        }
        .named_by_default()
    }

    /// Adds `latency` to every chunk.
    pub fn latency(latency: Duration) -> Self {
        Toxic::new(ToxicKind::Latency {
            latency: millis(latency),
            jitter: 0,
        })
    }

    /// At most `kb_per_s` KB per second.
    pub fn bandwidth(kb_per_s: u64) -> Self {
        Toxic::new(ToxicKind::Bandwidth { rate: kb_per_s })
    }

    /// Delays the close by `delay`.
    pub fn slow_close(delay: Duration) -> Self {
        Toxic::new(ToxicKind::SlowClose {
            delay: millis(delay),
        })
    }

    /// A blackhole, closed after `timeout` (never for zero).
    pub fn timeout(timeout: Duration) -> Self {
        Toxic::new(ToxicKind::Timeout {
            timeout: millis(timeout),
        })
    }

    /// Resets connections after `after`.
    pub fn reset_peer(after: Duration) -> Self {
        Toxic::new(ToxicKind::ResetPeer {
            timeout: millis(after),
        })
    }

    /// Closes connections after `bytes` bytes.
    pub fn limit_data(bytes: u64) -> Self {
        Toxic::new(ToxicKind::LimitData { bytes })
    }

    /// Sets the jitter of a latency toxic (ignored by other kinds).
    pub fn jitter(mut self, jitter: Duration) -> Self {
        if let ToxicKind::Latency { jitter: j, .. } = &mut self.kind {
            *j = millis(jitter);
        }
        self
    }

    /// Applies to the bytes from the client to the service.
    pub fn upstream(mut self) -> Self {
        self.stream = Stream::Upstream;
        self.named_by_default()
    }

    /// Applies to the bytes from the service to the client (the default).
    pub fn downstream(mut self) -> Self {
        self.stream = Stream::Downstream;
        self.named_by_default()
    }

    /// The probability that a connection is affected.
    pub fn toxicity(mut self, probability: f64) -> Self {
        self.toxicity = probability;
        self
    }

    /// Names it.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    fn named_by_default(mut self) -> Self {
        let generated =
            |kind: &ToxicKind, stream: Stream| format!("{}_{}", kind.type_name(), stream.as_str());
        let other = match self.stream {
            Stream::Upstream => Stream::Downstream,
            Stream::Downstream => Stream::Upstream,
        };
        if self.name.is_empty() || self.name == generated(&self.kind, other) {
            self.name = generated(&self.kind, self.stream);
        }
        self
    }

    /// Fills in the default name and checks the values.
    pub fn validate(mut self) -> Result<Toxic, String> {
        self = self.named_by_default();
        if !(0.0..=1.0).contains(&self.toxicity) || self.toxicity.is_nan() {
            return Err(format!(
                "toxic `{}`: toxicity must be between 0.0 and 1.0, found {}",
                self.name, self.toxicity
            ));
        }
        if let ToxicKind::Slicer { average_size, .. } = self.kind
            && average_size == 0
        {
            return Err(format!(
                "toxic `{}`: slicer needs an average_size above 0",
                self.name
            ));
        }
        Ok(self)
    }

    /// A short description for reports: `latency 200ms ±0ms downstream`.
    pub fn describe(&self) -> String {
        let what = match &self.kind {
            ToxicKind::Latency { latency, jitter } => format!("latency {latency}ms ±{jitter}ms"),
            ToxicKind::Bandwidth { rate } => format!("bandwidth {rate}KB/s"),
            ToxicKind::SlowClose { delay } => format!("slow_close {delay}ms"),
            ToxicKind::Timeout { timeout } => format!("timeout {timeout}ms"),
            ToxicKind::ResetPeer { timeout } => format!("reset_peer after {timeout}ms"),
            ToxicKind::LimitData { bytes } => format!("limit_data {bytes}B"),
            ToxicKind::Slicer {
                average_size,
                size_variation,
                delay,
            } => format!("slicer {average_size}±{size_variation}B every {delay}µs"),
        };
        let toxicity = if self.toxicity < 1.0 {
            format!(" toxicity {}", self.toxicity)
        } else {
            String::new()
        };
        format!("{what} {}{toxicity}", self.stream.as_str())
    }
}

/// What the toxics in force do to one direction of one connection.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Effects {
    pub(crate) latency: Option<(u64, u64)>,
    pub(crate) bandwidth: Option<u64>,
    pub(crate) slow_close: Option<u64>,
    pub(crate) timeout: Option<(String, u64)>,
    pub(crate) reset_peer: Option<(String, u64)>,
    pub(crate) limit_data: Option<u64>,
    pub(crate) slicer: Option<(u64, u64, u64)>,
}

/// Whether each toxic affects this connection: rolled once per connection and toxic, with the
/// toxic's toxicity as the probability.
#[derive(Debug, Default)]
pub(crate) struct Dice {
    rolled: HashMap<(String, u64), bool>,
}

impl Dice {
    fn affects(&mut self, toxic: &Toxic, version: u64) -> bool {
        *self
            .rolled
            .entry((toxic.name.clone(), version))
            .or_insert_with(|| toxic.toxicity >= 1.0 || rand::random::<f64>() < toxic.toxicity)
    }
}

/// The toxics of a proxy with a version per toxic (a re-created toxic is rolled again).
pub(crate) type Toxics = Vec<(Toxic, u64)>;

/// The effects on `stream` of the toxics that affect this connection (the first of each type).
pub(crate) fn effects(toxics: &Toxics, stream: Stream, dice: &mut Dice) -> Effects {
    let mut fx = Effects::default();
    for (toxic, version) in toxics {
        if toxic.stream != stream || !dice.affects(toxic, *version) {
            continue;
        }
        let key = format!("{}#{version}", toxic.name);
        match toxic.kind {
            ToxicKind::Latency { latency, jitter } => {
                fx.latency.get_or_insert((latency, jitter));
            }
            ToxicKind::Bandwidth { rate } => {
                fx.bandwidth.get_or_insert(rate);
            }
            ToxicKind::SlowClose { delay } => {
                fx.slow_close.get_or_insert(delay);
            }
            ToxicKind::Timeout { timeout } => {
                fx.timeout.get_or_insert((key, timeout));
            }
            ToxicKind::ResetPeer { timeout } => {
                fx.reset_peer.get_or_insert((key, timeout));
            }
            ToxicKind::LimitData { bytes } => {
                fx.limit_data.get_or_insert(bytes);
            }
            ToxicKind::Slicer {
                average_size,
                size_variation,
                delay,
            } => {
                fx.slicer
                    .get_or_insert((average_size, size_variation, delay));
            }
        }
    }
    fx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toxiproxy_json_round_trips_with_defaults_filled_in() {
        let toxic: Toxic = serde_json::from_str(
            r#"{"name":"lag","type":"latency","stream":"upstream","toxicity":0.5,
                "attributes":{"latency":120,"jitter":10}}"#,
        )
        .unwrap();
        assert_eq!(
            toxic,
            Toxic::latency(Duration::from_millis(120))
                .jitter(Duration::from_millis(10))
                .upstream()
                .toxicity(0.5)
                .named("lag")
        );
        let minimal: Toxic =
            serde_json::from_str(r#"{"type":"reset_peer","attributes":{}}"#).unwrap();
        let minimal = minimal.validate().unwrap();
        assert_eq!(minimal.name, "reset_peer_downstream");
        assert_eq!(minimal.toxicity, 1.0);
        let back = serde_json::to_value(&minimal).unwrap();
        assert_eq!(back["type"], "reset_peer");
        assert_eq!(back["attributes"]["timeout"], 0);
        assert_eq!(back["stream"], "downstream");
    }

    #[test]
    fn an_unknown_type_or_a_bad_toxicity_is_refused() {
        let err = serde_json::from_str::<Toxic>(r#"{"type":"netem","attributes":{}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown variant `netem`"), "{err}");
        let err = Toxic::latency(Duration::ZERO)
            .toxicity(1.5)
            .validate()
            .unwrap_err();
        assert!(err.contains("between 0.0 and 1.0"), "{err}");
    }

    #[test]
    fn effects_take_only_toxics_of_the_direction_and_zero_toxicity_never_applies() {
        let toxics = vec![
            (Toxic::latency(Duration::from_millis(50)), 1),
            (Toxic::bandwidth(10).upstream(), 2),
            (Toxic::reset_peer(Duration::ZERO).toxicity(0.0), 3),
        ];
        let mut dice = Dice::default();
        let down = effects(&toxics, Stream::Downstream, &mut dice);
        assert_eq!(down.latency, Some((50, 0)));
        assert_eq!(down.bandwidth, None);
        assert_eq!(down.reset_peer, None);
        let up = effects(&toxics, Stream::Upstream, &mut dice);
        assert_eq!(up.bandwidth, Some(10));
        assert_eq!(up.latency, None);
    }

    #[test]
    fn toxicity_is_rolled_once_per_connection() {
        let toxics = vec![(Toxic::latency(Duration::from_millis(5)).toxicity(0.5), 1)];
        for _ in 0..20 {
            let mut dice = Dice::default();
            let first = effects(&toxics, Stream::Downstream, &mut dice).latency;
            for _ in 0..10 {
                assert_eq!(
                    effects(&toxics, Stream::Downstream, &mut dice).latency,
                    first
                );
            }
        }
    }
}
