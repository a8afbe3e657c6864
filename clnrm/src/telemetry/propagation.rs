//! Trace ids per scenario, span ids per step, and the environment that points a system under
//! test at the receiver (W3C trace context through `TRACEPARENT`, OTLP through the standard
//! `OTEL_*` variables).

/// A trace of clnrm's making: the scenario's (or, for a service's container, the suite's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: String,
}

impl TraceContext {
    /// A new random trace id.
    pub fn new() -> Self {
        Self {
            trace_id: format!("{:032x}", rand::random::<u128>().max(1)),
        }
    }

    /// An existing trace (32 hex digits), such as clnrm's exported run trace.
    pub fn of(trace_id: &str) -> Self {
        Self {
            trace_id: trace_id.to_ascii_lowercase(),
        }
    }

    /// 32 lower-case hex digits.
    pub fn trace_id(&self) -> &str {
        &self.trace_id
    }

    /// A new random span id (16 lower-case hex digits) in this trace.
    pub fn span_id(&self) -> String {
        format!("{:016x}", rand::random::<u64>().max(1))
    }

    /// The `traceparent` value (`00-TRACE-SPAN-01`, sampled) that makes `span_id` the parent.
    pub fn traceparent(&self, span_id: &str) -> String {
        format!("00-{}-{span_id}-01", self.trace_id)
    }
}

impl Default for TraceContext {
    fn default() -> Self {
        Self::new()
    }
}

/// The OTLP variables for a service (or a command in it): exporter endpoint and protocol, the
/// service name, the run id as a resource attribute and a short batch delay, so spans arrive
/// while the scenario is still being evaluated. Variables in `user` win (they are left out).
pub fn otel_env(
    endpoint: &str,
    service: &str,
    run_id: &str,
    user: &dyn Fn(&str) -> bool,
) -> Vec<(String, String)> {
    [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.to_owned()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_owned()),
        ("OTEL_SERVICE_NAME", service.to_owned()),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            format!("clnrm.run.id={run_id},clnrm.service={service}"),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY", "200".to_owned()),
        ("OTEL_TRACES_SAMPLER", "parentbased_always_on".to_owned()),
    ]
    .into_iter()
    .filter(|(k, _)| !user(k))
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_is_w3c_shaped_and_user_variables_win() {
        let trace = TraceContext::new();
        let span = trace.span_id();
        let tp = trace.traceparent(&span);
        let parts: Vec<&str> = tp.split('-').collect();
        assert_eq!(parts.len(), 4, "{tp}");
        assert_eq!(parts[0], "00");
        assert_eq!(parts[1].len(), 32);
        assert_eq!(parts[2], span);
        assert_eq!(parts[2].len(), 16);
        assert_eq!(parts[3], "01");
        let env = otel_env("http://10.0.0.1:4318", "api", "r1", &|k| {
            k == "OTEL_SERVICE_NAME"
        });
        assert!(env.iter().all(|(k, _)| k != "OTEL_SERVICE_NAME"));
        assert!(env.contains(&(
            "OTEL_EXPORTER_OTLP_ENDPOINT".into(),
            "http://10.0.0.1:4318".into()
        )));
    }
}
