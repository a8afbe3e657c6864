//! The `chaos` step kind: `chaos = { fault = "pause", service = "db", after = "1s",
//! duration = "2s" }`, or a connection fault on a `chaos = true` service (`fault = "latency",
//! latency = "200ms", jitter = "50ms", direction = "downstream", toxicity = 0.5`), every key
//! checked with file:line:col like the rest of a suite.

use std::time::Duration;

use super::super::spec::{ChaosFault, ChaosStepSpec, Spanned};
use super::{Value, Walker, integer};
use crate::chaos::Toxic;
use toml::de::{DeTable, DeValue};

const CHAOS_KEYS: &[&str] = &[
    "fault",
    "service",
    "signal",
    "after",
    "duration",
    "allow_damage",
    "latency",
    "jitter",
    "rate",
    "timeout",
    "delay",
    "bytes",
    "direction",
    "toxicity",
];

/// The parameters of each connection fault: (fault, required, optional).
const TOXIC_PARAMS: &[(&str, &[&str], &[&str])] = &[
    ("latency", &["latency"], &["jitter"]),
    ("bandwidth", &["rate"], &[]),
    ("timeout", &["timeout"], &[]),
    ("reset_peer", &[], &["timeout"]),
    ("slow_close", &["delay"], &[]),
    ("limit_data", &["bytes"], &[]),
    ("down", &[], &[]),
];

/// What each parameter is, for the error that asks for it.
fn param_example(key: &str) -> &'static str {
    match key {
        "latency" => "latency = \"200ms\"",
        "jitter" => "jitter = \"50ms\"",
        "rate" => "rate = 64 (KB/s)",
        "timeout" => "timeout = \"1s\"",
        "delay" => "delay = \"1s\"",
        "bytes" => "bytes = 1024",
        _ => "",
    }
}

/// Faults a suite can inject. Connection faults (latency, reset…) need a proxy in front of the
/// service: `chaos = true` on it (checked when the suite is validated).
const FAULTS: &[&str] = &[
    "pause",
    "kill",
    "stop",
    "restart",
    "partition",
    "latency",
    "bandwidth",
    "timeout",
    "reset_peer",
    "slow_close",
    "limit_data",
    "down",
];

impl Walker<'_> {
    pub(super) fn chaos_step(&mut self, value: &Value<'_>, what: &str) -> Option<ChaosStepSpec> {
        let DeValue::Table(table) = value.get_ref() else {
            self.expected(
                value,
                "chaos",
                what,
                "a table like { fault = \"pause\", service = \"db\", duration = \"2s\" }",
            );
            return None;
        };
        let inner = format!("chaos of {what}");
        let inner = inner.as_str();
        self.check_keys(table, inner, CHAOS_KEYS, None);
        let service = self.string(table, "service", inner);
        if service.is_none() && !table.contains_key("service") {
            self.sink.error(
                value.span(),
                format!("{inner} has no `service`; expected the name of the service to break"),
            );
        }
        let fault = match self.string(table, "fault", inner) {
            None => {
                if !table.contains_key("fault") {
                    self.sink.error(
                        value.span(),
                        format!(
                            "{inner} has no `fault`; expected one of: {}",
                            FAULTS.join(", ")
                        ),
                    );
                }
                None
            }
            Some(f) => match f.get_ref().as_str() {
                "pause" => Some(ChaosFault::Pause),
                "kill" => Some(ChaosFault::Kill),
                "stop" => Some(ChaosFault::Stop),
                "restart" => Some(ChaosFault::Restart),
                "partition" => Some(ChaosFault::Partition),
                "down" => Some(ChaosFault::Down),
                other if TOXIC_PARAMS.iter().any(|(f, _, _)| *f == other) => {
                    Some(ChaosFault::Toxic)
                }
                other => {
                    let hint = super::values::closest(other, FAULTS)
                        .map(|s| format!(", did you mean `{s}`?"))
                        .unwrap_or_default();
                    self.sink.error(
                        f.span(),
                        format!(
                            "unknown fault `{other}` in {inner}{hint}; expected one of: {}",
                            FAULTS.join(", ")
                        ),
                    );
                    None
                }
            }
            .map(|fault| Spanned::new(f.span(), fault)),
        };
        let signal = self.string(table, "signal", inner);
        if let (Some(signal), Some(fault)) = (&signal, &fault)
            && *fault.get_ref() != ChaosFault::Kill
        {
            self.sink.error(
                signal.span(),
                format!("`signal` in {inner} is for fault = \"kill\""),
            );
        }
        let after = self.duration(table, "after", inner);
        let duration = self.duration(table, "duration", inner);
        if let (Some(d), Some(fault)) = (&duration, &fault)
            && *fault.get_ref() == ChaosFault::Restart
        {
            self.sink.error(
                d.span(),
                format!("`duration` in {inner}: a restart heals itself; it has no duration"),
            );
        }
        let allow_damage = self.bool(table, "allow_damage", inner).unwrap_or(false);
        let kind = match &fault {
            Some(f) => self
                .string(table, "fault", inner)
                .map(|s| (s, *f.get_ref())),
            None => None,
        };
        let toxic = match kind {
            Some((name, ChaosFault::Toxic | ChaosFault::Down)) => {
                self.toxic(table, value, &name, inner)?
            }
            _ => {
                for key in [
                    "latency",
                    "jitter",
                    "rate",
                    "timeout",
                    "delay",
                    "bytes",
                    "direction",
                    "toxicity",
                ] {
                    if let (Some(v), Some(_)) = (table.get(key), &fault) {
                        self.sink.error(
                            v.span(),
                            format!(
                                "`{key}` in {inner} is for a connection fault (latency, \
                                 bandwidth, timeout, reset_peer, slow_close, limit_data, down)"
                            ),
                        );
                    }
                }
                None
            }
        };
        Some(ChaosStepSpec {
            fault: fault?,
            service: service?,
            signal: signal.map(Spanned::into_inner),
            after: after.map(Spanned::into_inner),
            duration: duration.map(Spanned::into_inner),
            allow_damage,
            toxic,
        })
    }

    /// The toxic of connection fault `fault` (`None` for `down`), from its parameters; every
    /// parameter that does not belong to it, or is missing or out of range, is an error. The
    /// outer `None` means an error was reported.
    fn toxic(
        &mut self,
        table: &DeTable<'_>,
        value: &Value<'_>,
        fault: &Spanned<String>,
        inner: &str,
    ) -> Option<Option<Toxic>> {
        let name = fault.get_ref().as_str();
        let (_, required, optional) = TOXIC_PARAMS.iter().find(|(f, _, _)| *f == name)?;
        let mut ok = true;
        for key in ["latency", "jitter", "rate", "timeout", "delay", "bytes"] {
            if let Some(v) = table.get(key)
                && !required.contains(&key)
                && !optional.contains(&key)
            {
                let takes: Vec<&str> = required.iter().chain(optional.iter()).copied().collect();
                let takes = if takes.is_empty() {
                    "no parameters".to_owned()
                } else {
                    format!("only {}", takes.join(", "))
                };
                self.sink.error(
                    v.span(),
                    format!("`{key}` in {inner}: fault `{name}` takes {takes}"),
                );
                ok = false;
            }
        }
        for key in *required {
            if !table.contains_key(*key) {
                self.sink.error(
                    value.span(),
                    format!(
                        "{inner}: fault `{name}` needs `{key}`, like {}",
                        param_example(key)
                    ),
                );
                ok = false;
            }
        }
        if name == "down" {
            for key in ["direction", "toxicity"] {
                if let Some(v) = table.get(key) {
                    self.sink.error(
                        v.span(),
                        format!("`{key}` in {inner}: fault `down` takes no parameters"),
                    );
                    ok = false;
                }
            }
            return ok.then_some(None);
        }
        let zero = Duration::ZERO;
        let dur = |w: &mut Self, key: &str| w.duration(table, key, inner).map(|d| d.into_inner());
        let latency = dur(self, "latency");
        let jitter = dur(self, "jitter");
        let timeout = dur(self, "timeout");
        let delay = dur(self, "delay");
        let rate = self.count(
            table,
            "rate",
            inner,
            "a rate in KB/s (an integer, 0 or more)",
        );
        let bytes = self.count(table, "bytes", inner, "a number of bytes (0 or more)");
        let mut stream = None;
        let mut toxicity = None;
        if let Some(direction) = self.string(table, "direction", inner) {
            match direction.get_ref().as_str() {
                "upstream" => stream = Some(true),
                "downstream" => stream = Some(false),
                other => {
                    self.sink.error(
                        direction.span(),
                        format!(
                            "unknown direction `{other}` in {inner}; expected \"upstream\" \
                             (what clients send) or \"downstream\" (what the service sends)"
                        ),
                    );
                    ok = false;
                }
            }
        }
        if let Some(v) = table.get("toxicity") {
            let p = match v.get_ref() {
                DeValue::Float(f) => f.as_str().parse::<f64>().ok(),
                DeValue::Integer(_) => integer(v.get_ref()).flatten().map(|n| n as f64),
                _ => None,
            };
            match p {
                Some(p) if (0.0..=1.0).contains(&p) => toxicity = Some(p),
                _ => {
                    self.sink.error(
                        v.span(),
                        format!(
                            "`toxicity` in {inner}: expected a probability from 0.0 to 1.0 \
                             (drawn once per connection)"
                        ),
                    );
                    ok = false;
                }
            }
        }
        if !ok {
            return None;
        }
        let mut toxic = match name {
            "latency" => Toxic::latency(latency?).jitter(jitter.unwrap_or(zero)),
            "bandwidth" => Toxic::bandwidth(rate?),
            "timeout" => Toxic::timeout(timeout?).upstream(),
            "reset_peer" => Toxic::reset_peer(timeout.unwrap_or(zero)).upstream(),
            "slow_close" => Toxic::slow_close(delay?),
            "limit_data" => Toxic::limit_data(bytes?),
            _ => return None,
        };
        match stream {
            Some(true) => toxic = toxic.upstream(),
            Some(false) => toxic = toxic.downstream(),
            None => {}
        }
        if let Some(p) = toxicity {
            toxic = toxic.toxicity(p);
        }

        match toxic.validate() {
            Ok(toxic) => Some(Some(toxic)),
            Err(e) => {
                self.sink.error(fault.span(), format!("{inner}: {e}"));
                None
            }
        }
    }

    /// A non-negative integer parameter.
    fn count(&mut self, table: &DeTable<'_>, key: &str, inner: &str, what: &str) -> Option<u64> {
        let v = table.get(key)?;
        self.int_in(v, key, inner, 0..i64::MAX, what)
            .map(|n| n.into_inner().unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use crate::chaos::Toxic;
    use crate::suite::spec::{Action, ChaosFault};
    use crate::suite::{SuiteSource, parse_suite};
    use std::fmt::Write;
    use std::time::Duration;

    /// The faults of one scenario whose steps are `chaos` tables; panics on any diagnostic.
    fn steps(chaos: &[&str]) -> Vec<(ChaosFault, Option<Toxic>)> {
        let mut text = String::from(
            "version = 1\n[suite]\nname = \"s\"\n[services.c]\nplugin = \"redis\"\nchaos = true\n\
             [[scenarios]]\nname = \"x\"\n",
        );
        for (i, c) in chaos.iter().enumerate() {
            let _ = writeln!(
                text,
                "[[scenarios.steps]]\nname = \"s{i}\"\nchaos = {{ service = \"c\", {c} }}"
            );
        }
        let parsed = parse_suite(&SuiteSource::new("t.clnrm.toml", &text)).unwrap();
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        assert!(parsed.spec.services[0].chaos, "chaos = true is read");
        parsed.spec.scenarios[0]
            .steps
            .iter()
            .map(|s| match &s.action {
                Action::Chaos(c) => (*c.fault.get_ref(), c.toxic.clone()),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn every_connection_fault_becomes_its_toxic_with_the_rust_apis_defaults() {
        let ms = Duration::from_millis;
        let got = steps(&[
            r#"fault = "latency", latency = "200ms", jitter = "20ms""#,
            r#"fault = "bandwidth", rate = 64, direction = "upstream""#,
            r#"fault = "timeout", timeout = "1s""#,
            r#"fault = "reset_peer", toxicity = 0.5"#,
            r#"fault = "slow_close", delay = "300ms""#,
            r#"fault = "limit_data", bytes = 1024, direction = "upstream", toxicity = 1"#,
            r#"fault = "down""#,
        ]);
        let expected = [
            Toxic::latency(ms(200)).jitter(ms(20)),
            Toxic::bandwidth(64).upstream(),
            Toxic::timeout(ms(1000)).upstream(),
            Toxic::reset_peer(Duration::ZERO).upstream().toxicity(0.5),
            Toxic::slow_close(ms(300)),
            Toxic::limit_data(1024).upstream(),
        ];
        for ((fault, toxic), want) in got.iter().zip(expected) {
            assert_eq!(*fault, ChaosFault::Toxic);
            assert_eq!(toxic.as_ref(), Some(&want.validate().unwrap()));
        }
        assert_eq!(got[6], (ChaosFault::Down, None));
    }
}
