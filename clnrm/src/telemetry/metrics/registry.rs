//! The registry: a map from (family, label values) to a counter or a histogram.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use crate::report::{Outcome, TestRecord};

/// One metric of clnrm, with its names and the labels its series carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// Tests run, by suite and outcome.
    TestRuns,
    /// Wall time of a test over all its attempts, by suite and outcome.
    TestDuration,
    /// From asking for a service to it being ready, by plugin and service.
    ServiceStart,
    /// The readiness checks' part of a service start, by plugin and service.
    ServiceHealthCheck,
    /// A test's wait for its own namespace in a shared service, by plugin and isolation.
    IsolationWait,
}

/// Whether a family counts or observes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Monotonic, cumulative since the registry started.
    Counter,
    /// Observations in fixed buckets, with their sum and count.
    Histogram,
}

/// Tests take milliseconds (no services) to minutes.
const TEST_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];
/// Containers start in a fraction of a second (Redis) to minutes (a model server).
const SERVICE_BUCKETS: &[f64] = &[
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0,
];
/// A logical database is instant; a database cloned from a template takes tens of milliseconds.
const ISOLATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Family {
    /// Every family, in exposition order.
    pub const ALL: [Family; 5] = [
        Family::TestRuns,
        Family::TestDuration,
        Family::ServiceStart,
        Family::ServiceHealthCheck,
        Family::IsolationWait,
    ];

    /// The Prometheus name (`clnrm_test_runs_total`).
    pub fn name(self) -> &'static str {
        match self {
            Family::TestRuns => "clnrm_test_runs_total",
            Family::TestDuration => "clnrm_test_duration_seconds",
            Family::ServiceStart => "clnrm_service_start_seconds",
            Family::ServiceHealthCheck => "clnrm_service_health_check_seconds",
            Family::IsolationWait => "clnrm_isolation_wait_seconds",
        }
    }

    /// The OpenTelemetry instrument name (`clnrm.test.runs`), for an OTLP exporter.
    pub fn otel_name(self) -> &'static str {
        match self {
            Family::TestRuns => "clnrm.test.runs",
            Family::TestDuration => "clnrm.test.duration",
            Family::ServiceStart => "clnrm.service.start.duration",
            Family::ServiceHealthCheck => "clnrm.health_check.duration",
            Family::IsolationWait => "clnrm.isolation.wait.duration",
        }
    }

    /// The unit, in UCUM as OpenTelemetry wants it (`s`, or `{test}` for a count).
    pub fn unit(self) -> &'static str {
        match self {
            Family::TestRuns => "{test}",
            _ => "s",
        }
    }

    /// One line saying what it measures.
    pub fn help(self) -> &'static str {
        match self {
            Family::TestRuns => "Tests and scenarios run, by suite and outcome.",
            Family::TestDuration => {
                "Wall time of a test or scenario over all its attempts, by suite and outcome \
                 (tests that ran to a verdict)."
            }
            Family::ServiceStart => {
                "Time from starting a service container to it being ready, by plugin and service."
            }
            Family::ServiceHealthCheck => {
                "Time a service start spent in its readiness checks, by plugin and service."
            }
            Family::IsolationWait => {
                "Time a test waited for its own namespace in a shared service, by plugin and \
                 isolation."
            }
        }
    }

    /// Counter or histogram.
    pub fn kind(self) -> Kind {
        match self {
            Family::TestRuns => Kind::Counter,
            _ => Kind::Histogram,
        }
    }

    /// The names of its labels, in the order series carry them.
    pub fn label_names(self) -> &'static [&'static str] {
        match self {
            Family::TestRuns | Family::TestDuration => &["suite", "outcome"],
            Family::ServiceStart | Family::ServiceHealthCheck => &["plugin", "service"],
            Family::IsolationWait => &["plugin", "isolation"],
        }
    }

    /// The upper bounds of its buckets (seconds), without `+Inf`; empty for a counter.
    pub fn bounds(self) -> &'static [f64] {
        match self {
            Family::TestRuns => &[],
            Family::TestDuration => TEST_BUCKETS,
            Family::ServiceStart | Family::ServiceHealthCheck => SERVICE_BUCKETS,
            Family::IsolationWait => ISOLATION_BUCKETS,
        }
    }

    /// The family whose Prometheus name is `name`.
    pub fn from_name(name: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// Observations in buckets, OTLP-style: `counts[i]` is how many fell in bucket `i` alone (at or
/// below `bounds[i]` and above `bounds[i - 1]`); the last count is the `+Inf` bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// Upper bounds of the buckets, ascending, without `+Inf`.
    pub bounds: Vec<f64>,
    /// Per bucket (not cumulative), `bounds.len() + 1` of them.
    pub counts: Vec<u64>,
    /// The sum of the observations.
    pub sum: f64,
    /// How many observations.
    pub count: u64,
}

impl Histogram {
    /// An empty histogram over `bounds`.
    pub fn new(bounds: &[f64]) -> Histogram {
        Histogram {
            bounds: bounds.to_vec(),
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
            count: 0,
        }
    }

    /// Adds one observation.
    pub fn observe(&mut self, value: f64) {
        let bucket = self
            .bounds
            .iter()
            .position(|&bound| value <= bound)
            .unwrap_or(self.bounds.len());
        self.counts[bucket] += 1;
        self.sum += value;
        self.count += 1;
    }

    /// The cumulative counts Prometheus exposes, one per bound and the last for `+Inf`.
    pub fn cumulative(&self) -> Vec<u64> {
        self.counts
            .iter()
            .scan(0, |total, n| {
                *total += n;
                Some(*total)
            })
            .collect()
    }
}

/// A series' value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A counter's total.
    Counter(f64),
    /// A histogram's buckets, sum and count.
    Histogram(Histogram),
}

/// One series: a family and its label values.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Which metric.
    pub family: Family,
    /// `(name, value)` in the order of [`Family::label_names`].
    pub labels: Vec<(String, String)>,
    /// What it holds now.
    pub value: Value,
}

/// Every series of a registry at one moment, ordered by family, then label values.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// When the registry started counting (an OTLP exporter's cumulative start time).
    pub start: SystemTime,
    /// The series.
    pub series: Vec<Series>,
}

impl Snapshot {
    /// Adds `other`'s counts into this one (the series of another process of the same run).
    /// Histograms of the same family share their bounds, so the buckets add up one by one.
    pub fn merge(&mut self, other: &Snapshot) {
        let mut all: BTreeMap<Key, Value> = self
            .series
            .drain(..)
            .map(|s| ((s.family, values(&s.labels)), s.value))
            .collect();
        for series in &other.series {
            let key = (series.family, values(&series.labels));
            match (all.get_mut(&key), &series.value) {
                (Some(Value::Counter(total)), Value::Counter(more)) => *total += more,
                (Some(Value::Histogram(h)), Value::Histogram(more)) if h.bounds == more.bounds => {
                    for (count, more) in h.counts.iter_mut().zip(&more.counts) {
                        *count += more;
                    }
                    h.sum += more.sum;
                    h.count += more.count;
                }
                (Some(_), _) => {}
                (None, value) => {
                    all.insert(key, value.clone());
                }
            }
        }
        self.start = self.start.min(other.start);
        self.series = series_of(all);
    }

    /// The series of `family` whose labels include every `(name, value)` of `labels`.
    pub fn find(&self, family: Family, labels: &[(&str, &str)]) -> Vec<&Series> {
        self.series
            .iter()
            .filter(|s| s.family == family)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(sk, sv)| sk == k && sv == v))
            })
            .collect()
    }
}

type Key = (Family, Vec<String>);

fn values(labels: &[(String, String)]) -> Vec<String> {
    labels.iter().map(|(_, v)| v.clone()).collect()
}

fn series_of(map: BTreeMap<Key, Value>) -> Vec<Series> {
    map.into_iter()
        .map(|((family, values), value)| Series {
            family,
            labels: family
                .label_names()
                .iter()
                .map(|n| (*n).to_owned())
                .zip(values)
                .collect(),
            value,
        })
        .collect()
}

/// A registry of clnrm's metrics.
#[derive(Debug)]
pub struct Metrics {
    start: SystemTime,
    series: Mutex<BTreeMap<Key, Value>>,
    /// The process's registry: also recorded into the OTLP export when it is installed.
    otlp: bool,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// The `outcome` label of an outcome.
pub fn outcome_label(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "pass",
        Outcome::Failed => "fail",
        Outcome::Flaky => "flaky",
        Outcome::Ignored => "skip",
        Outcome::TimedOut => "timeout",
        Outcome::InfraError => "infra_error",
        Outcome::Interrupted => "interrupted",
    }
}

impl Metrics {
    /// An empty registry, counting from now.
    pub fn new() -> Metrics {
        Metrics {
            start: SystemTime::now(),
            series: Mutex::new(BTreeMap::new()),
            otlp: false,
        }
    }

    fn counter(&self, family: Family, labels: [&str; 2], by: f64) {
        if self.otlp {
            super::otlp::record(family, labels, by);
        }
        let key = (family, labels.map(str::to_owned).to_vec());
        if let Value::Counter(total) = self.lock().entry(key).or_insert(Value::Counter(0.0)) {
            *total += by;
        }
    }

    fn observe(&self, family: Family, labels: [&str; 2], value: Duration) {
        if self.otlp {
            super::otlp::record(family, labels, value.as_secs_f64());
        }
        let key = (family, labels.map(str::to_owned).to_vec());
        if let Value::Histogram(h) = self
            .lock()
            .entry(key)
            .or_insert_with(|| Value::Histogram(Histogram::new(family.bounds())))
        {
            h.observe(value.as_secs_f64());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Key, Value>> {
        self.series
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A test (or scenario) of `suite` ended: counted by outcome, and its duration observed
    /// when it ran to a verdict (a skipped, interrupted or never started test has no duration
    /// worth the name).
    pub fn test_finished(&self, suite: &str, test: &TestRecord) {
        let outcome = outcome_label(test.outcome);
        self.counter(Family::TestRuns, [suite, outcome], 1.0);
        if test.outcome.was_executed() {
            self.observe(Family::TestDuration, [suite, outcome], test.duration);
        }
    }

    /// Service `service` of `plugin` is ready after `start`, of which `health_check` went on
    /// readiness checks (when the plugin's container reported it).
    pub fn service_started(
        &self,
        plugin: &str,
        service: &str,
        start: Duration,
        health_check: Option<Duration>,
    ) {
        self.observe(Family::ServiceStart, [plugin, service], start);
        if let Some(health_check) = health_check {
            self.observe(Family::ServiceHealthCheck, [plugin, service], health_check);
        }
    }

    /// A test waited `wait` for its own namespace (`isolation`: `database`, `schema`,
    /// `logical_db`, `namespace`) in a shared service of `plugin`.
    pub fn isolation_waited(&self, plugin: &str, isolation: &str, wait: Duration) {
        self.observe(Family::IsolationWait, [plugin, isolation], wait);
    }

    /// Every series now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            start: self.start,
            series: series_of(self.lock().clone()),
        }
    }
}

/// The registry of this process, which the engine and both front doors feed.
pub fn global() -> &'static Metrics {
    static GLOBAL: OnceLock<Metrics> = OnceLock::new();
    GLOBAL.get_or_init(|| Metrics {
        otlp: true,
        ..Metrics::new()
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A finished test of `outcome` that took `secs`.
    pub(crate) fn test(outcome: Outcome, secs: f64) -> TestRecord {
        TestRecord {
            name: "s::t".into(),
            outcome,
            duration: Duration::from_secs_f64(secs),
            attempts: 1,
            message: None,
            started_at: SystemTime::UNIX_EPOCH,
            file: None,
            line: None,
            faults: Vec::new(),
        }
    }

    #[test]
    fn every_outcome_is_counted_and_only_tests_that_ran_are_timed() {
        let metrics = Metrics::new();
        for outcome in Outcome::ALL {
            metrics.test_finished("s", &test(outcome, 0.2));
        }
        metrics.test_finished("s", &test(Outcome::Passed, 3.0));
        let snapshot = metrics.snapshot();
        let counted: Vec<(&str, f64)> = snapshot
            .find(Family::TestRuns, &[("suite", "s")])
            .iter()
            .map(|s| match &s.value {
                Value::Counter(n) => (s.labels[1].1.as_str(), *n),
                Value::Histogram(_) => panic!("a counter"),
            })
            .collect();
        assert_eq!(
            counted,
            [
                ("fail", 1.0),
                ("flaky", 1.0),
                ("infra_error", 1.0),
                ("interrupted", 1.0),
                ("pass", 2.0),
                ("skip", 1.0),
                ("timeout", 1.0),
            ]
        );
        let timed: Vec<&str> = snapshot
            .find(Family::TestDuration, &[])
            .iter()
            .map(|s| s.labels[1].1.as_str())
            .collect();
        assert_eq!(timed, ["fail", "flaky", "pass", "timeout"]);
        let [pass] = snapshot.find(Family::TestDuration, &[("outcome", "pass")])[..] else {
            panic!("one pass series");
        };
        let Value::Histogram(h) = &pass.value else {
            panic!("a histogram");
        };
        assert_eq!(h.count, 2);
        assert!((h.sum - 3.2).abs() < 1e-9, "{}", h.sum);
        // 0.2 s in the 0.25 bucket, 3 s in the 5 bucket.
        let le = |bound: f64| h.cumulative()[h.bounds.iter().position(|b| *b == bound).unwrap()];
        assert_eq!((le(0.1), le(0.25), le(2.5), le(5.0)), (0, 1, 1, 2));
        assert_eq!(h.cumulative().last(), Some(&2));
    }

    #[test]
    fn an_observation_on_a_bound_falls_in_that_bucket() {
        let mut h = Histogram::new(&[1.0, 2.0]);
        h.observe(1.0);
        h.observe(2.5);
        assert_eq!(h.counts, [1, 0, 1]);
        assert_eq!(h.cumulative(), [1, 1, 2]);
    }

    #[test]
    fn merging_adds_counters_and_buckets_and_keeps_series_of_either_side() {
        let a = Metrics::new();
        a.test_finished("s", &test(Outcome::Passed, 0.2));
        a.service_started(
            "postgres",
            "db",
            Duration::from_secs(2),
            Some(Duration::from_secs(1)),
        );
        let b = Metrics::new();
        b.test_finished("s", &test(Outcome::Passed, 0.3));
        b.test_finished("s", &test(Outcome::Failed, 0.3));
        b.isolation_waited("redis", "logical_db", Duration::from_millis(2));
        let mut merged = a.snapshot();
        merged.merge(&b.snapshot());
        let runs = |outcome| match &merged.find(Family::TestRuns, &[("outcome", outcome)])[0].value
        {
            Value::Counter(n) => *n,
            Value::Histogram(_) => panic!("a counter"),
        };
        assert_eq!((runs("pass"), runs("fail")), (2.0, 1.0));
        let Value::Histogram(h) =
            &merged.find(Family::TestDuration, &[("outcome", "pass")])[0].value
        else {
            panic!("a histogram");
        };
        assert_eq!(h.count, 2);
        assert_eq!(merged.find(Family::ServiceHealthCheck, &[]).len(), 1);
        assert_eq!(merged.find(Family::IsolationWait, &[]).len(), 1);
    }
}
