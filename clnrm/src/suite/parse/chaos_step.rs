//! The `chaos` step kind: `chaos = { fault = "pause", service = "db", after = "1s",
//! duration = "2s" }`, every key checked with file:line:col like the rest of a suite.

use super::super::spec::{ChaosFault, ChaosStepSpec, Spanned};
use super::{Value, Walker};
use toml::de::DeValue;

const CHAOS_KEYS: &[&str] = &[
    "fault",
    "service",
    "signal",
    "after",
    "duration",
    "allow_damage",
];

/// Faults a suite can inject. Connection faults (latency, reset…) need a proxy in front of the
/// service, which only `#[clnrm::test]` services have so far (`chaos = true`).
const FAULTS: &[&str] = &["pause", "kill", "stop", "restart", "partition"];
const PROXY_FAULTS: &[&str] = &[
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
                other if PROXY_FAULTS.contains(&other) => {
                    self.sink.error(
                        f.span(),
                        format!(
                            "fault `{other}` in {inner} needs a proxy in front of the service, \
                             which suites do not have yet; use it from Rust with \
                             `#[clnrm::test(services(NAME = PLUGIN(chaos = true)))]`, or one of: {}",
                            FAULTS.join(", ")
                        ),
                    );
                    None
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
        Some(ChaosStepSpec {
            fault: fault?,
            service: service?,
            signal: signal.map(Spanned::into_inner),
            after: after.map(Spanned::into_inner),
            duration: duration.map(Spanned::into_inner),
            allow_damage,
        })
    }
}
