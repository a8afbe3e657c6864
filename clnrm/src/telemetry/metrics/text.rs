//! The Prometheus text exposition format (version 0.0.4), which node_exporter's textfile
//! collector and every Prometheus scrape read: `# HELP` and `# TYPE` per family, then one line
//! per sample; histograms as cumulative `_bucket{le="..."}` lines ending with `le="+Inf"`, then
//! `_sum` and `_count`. Label values escape `\`, `"` and line feeds; help text `\` and line
//! feeds.
//!
//! [`parse_text`] reads back what [`prometheus_text`] wrote (to add up the files of the
//! processes of one nextest run); it is not a general parser.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::registry::{Family, Histogram, Kind, Series, Snapshot, Value};

/// The snapshot as Prometheus text: every family with its `HELP` and `TYPE` lines, series or not.
pub fn prometheus_text(snapshot: &Snapshot) -> String {
    let mut out = String::new();
    for family in Family::ALL {
        let name = family.name();
        let _ = writeln!(out, "# HELP {name} {}", escape_help(family.help()));
        let kind = match family.kind() {
            Kind::Counter => "counter",
            Kind::Histogram => "histogram",
        };
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for series in snapshot.series.iter().filter(|s| s.family == family) {
            match &series.value {
                Value::Counter(total) => {
                    let _ = writeln!(
                        out,
                        "{name}{} {}",
                        labels(&series.labels, None),
                        number(*total)
                    );
                }
                Value::Histogram(h) => {
                    let cumulative = h.cumulative();
                    let bounds = h.bounds.iter().map(|b| number(*b)).chain(["+Inf".into()]);
                    for (bound, count) in bounds.zip(cumulative) {
                        let _ = writeln!(
                            out,
                            "{name}_bucket{} {count}",
                            labels(&series.labels, Some(&bound))
                        );
                    }
                    let plain = labels(&series.labels, None);
                    let _ = writeln!(out, "{name}_sum{plain} {}", number(h.sum));
                    let _ = writeln!(out, "{name}_count{plain} {}", h.count);
                }
            }
        }
    }
    out
}

/// `{a="x",b="y"}` (with `le` last when given); nothing without labels.
fn labels(labels: &[(String, String)], le: Option<&str>) -> String {
    let mut pairs: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
        .collect();
    if let Some(le) = le {
        pairs.push(format!("le=\"{le}\""));
    }
    if pairs.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", pairs.join(","))
    }
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

fn escape_help(text: &str) -> String {
    text.replace('\\', r"\\").replace('\n', r"\n")
}

/// A float as Prometheus reads it: Rust's shortest round-trip form (`0.005`, `3`), `+Inf`,
/// `-Inf`, `NaN`.
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        value.to_string()
    }
}

/// A text [`parse_text`] cannot read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {what}")]
pub struct TextError {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong.
    pub what: String,
}

/// Reads back a text [`prometheus_text`] wrote: its families only, with their buckets.
pub fn parse_text(text: &str) -> Result<Snapshot, TextError> {
    let mut counters: BTreeMap<(Family, Vec<String>), f64> = BTreeMap::new();
    // Per series: cumulative counts by bound (`+Inf` as infinity), sum, count.
    type Parts = (Vec<(f64, u64)>, f64, u64);
    let mut histograms: BTreeMap<(Family, Vec<String>), Parts> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let err = |what: String| TextError { line: i + 1, what };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, labels, value) = sample(line).map_err(err)?;
        let (family, part) = [("_bucket", 'b'), ("_sum", 's'), ("_count", 'c'), ("", 'v')]
            .into_iter()
            .find_map(|(suffix, part)| {
                let family = Family::from_name(name.strip_suffix(suffix)?)?;
                let fits = match family.kind() {
                    Kind::Counter => part == 'v',
                    Kind::Histogram => part != 'v',
                };
                fits.then_some((family, part))
            })
            .ok_or_else(|| err(format!("`{name}` is not a clnrm metric")))?;
        let mut le = None;
        let mut values = Vec::new();
        for (k, v) in labels {
            if k == "le" && part == 'b' {
                le = Some(v);
            } else {
                values.push((k, v));
            }
        }
        let names: Vec<&str> = values.iter().map(|(k, _)| k.as_str()).collect();
        if names != family.label_names() {
            return Err(err(format!(
                "`{name}` has labels {names:?}, expected {:?}",
                family.label_names()
            )));
        }
        let key = (family, values.into_iter().map(|(_, v)| v).collect());
        let number = |v: &str| -> Result<f64, TextError> {
            match v {
                "+Inf" => Ok(f64::INFINITY),
                "-Inf" => Ok(f64::NEG_INFINITY),
                _ => v.parse().map_err(|_| err(format!("`{v}` is not a number"))),
            }
        };
        match part {
            'v' => *counters.entry(key).or_default() += number(&value)?,
            _ => {
                let entry = histograms.entry(key).or_default();
                match part {
                    'b' => {
                        let le = le.ok_or_else(|| err(format!("`{name}` has no `le`")))?;
                        entry.0.push((number(&le)?, number(&value)? as u64));
                    }
                    's' => entry.1 = number(&value)?,
                    _ => entry.2 = number(&value)? as u64,
                }
            }
        }
    }
    let mut series: Vec<Series> = Vec::new();
    let label_pairs = |family: Family, values: Vec<String>| {
        family
            .label_names()
            .iter()
            .map(|n| (*n).to_owned())
            .zip(values)
            .collect()
    };
    for ((family, values), total) in counters {
        series.push(Series {
            family,
            labels: label_pairs(family, values),
            value: Value::Counter(total),
        });
    }
    for ((family, values), (buckets, sum, count)) in histograms {
        let bounds: Vec<f64> = buckets.iter().map(|(b, _)| *b).collect();
        let expected: Vec<f64> = family
            .bounds()
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .collect();
        if bounds != expected {
            return Err(TextError {
                line: 0,
                what: format!(
                    "`{}` has buckets {bounds:?}, expected {expected:?}",
                    family.name()
                ),
            });
        }
        let mut h = Histogram::new(family.bounds());
        let mut below = 0;
        for (slot, (_, cumulative)) in h.counts.iter_mut().zip(&buckets) {
            *slot = cumulative.saturating_sub(below);
            below = *cumulative;
        }
        h.sum = sum;
        h.count = count;
        series.push(Series {
            family,
            labels: label_pairs(family, values),
            value: Value::Histogram(h),
        });
    }
    series.sort_by(|a, b| (a.family, &a.labels).cmp(&(b.family, &b.labels)));
    Ok(Snapshot {
        start: std::time::SystemTime::now(),
        series,
    })
}

type Sample = (String, Vec<(String, String)>, String);

/// `name{k="v",...} value` split up, label values unescaped.
fn sample(line: &str) -> Result<Sample, String> {
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .ok_or_else(|| format!("`{line}` has no value"))?;
    let name = line[..name_end].to_owned();
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices();
        let mut key = String::new();
        let end = loop {
            let Some((at, c)) = chars.next() else {
                return Err(format!("`{name}`: unterminated labels"));
            };
            match c {
                '}' => break at,
                ',' if key.is_empty() => {}
                '=' => {
                    if chars.next().map(|(_, c)| c) != Some('"') {
                        return Err(format!("`{name}`: label `{key}` has no quoted value"));
                    }
                    let mut value = String::new();
                    loop {
                        match chars.next().map(|(_, c)| c) {
                            Some('"') => break,
                            Some('\\') => match chars.next().map(|(_, c)| c) {
                                Some('n') => value.push('\n'),
                                Some(c) => value.push(c),
                                None => return Err(format!("`{name}`: unterminated label value")),
                            },
                            Some(c) => value.push(c),
                            None => return Err(format!("`{name}`: unterminated label value")),
                        }
                    }
                    labels.push((std::mem::take(&mut key), value));
                }
                c => key.push(c),
            }
        };
        rest = &inner[end + 1..];
    }
    let value = rest
        .split_whitespace()
        .next()
        .ok_or_else(|| format!("`{name}` has no value"))?;
    Ok((name, labels, value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::super::registry::Metrics;
    use super::super::registry::tests::test as record;
    use super::*;
    use crate::report::Outcome;
    use std::time::Duration;

    #[test]
    fn a_histogram_is_cumulative_buckets_up_to_inf_then_sum_and_count() {
        let metrics = Metrics::new();
        metrics.test_finished("api", &record(Outcome::Passed, 0.3));
        metrics.test_finished("api", &record(Outcome::Passed, 400.0));
        let text = prometheus_text(&metrics.snapshot());
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("clnrm_test_duration_seconds"))
            .collect();
        assert_eq!(
            lines[..2],
            [
                "# HELP clnrm_test_duration_seconds Wall time of a test or scenario over all its \
                 attempts, by suite and outcome (tests that ran to a verdict).",
                "# TYPE clnrm_test_duration_seconds histogram",
            ]
        );
        assert!(lines.contains(
            &r#"clnrm_test_duration_seconds_bucket{suite="api",outcome="pass",le="0.25"} 0"#
        ));
        assert!(lines.contains(
            &r#"clnrm_test_duration_seconds_bucket{suite="api",outcome="pass",le="0.5"} 1"#
        ));
        assert!(lines.contains(
            &r#"clnrm_test_duration_seconds_bucket{suite="api",outcome="pass",le="300"} 1"#
        ));
        assert_eq!(
            lines[lines.len() - 3..],
            [
                r#"clnrm_test_duration_seconds_bucket{suite="api",outcome="pass",le="+Inf"} 2"#,
                r#"clnrm_test_duration_seconds_sum{suite="api",outcome="pass"} 400.3"#,
                r#"clnrm_test_duration_seconds_count{suite="api",outcome="pass"} 2"#,
            ]
        );
        assert!(text.contains("# TYPE clnrm_test_runs_total counter\n"));
        assert!(text.contains("clnrm_test_runs_total{suite=\"api\",outcome=\"pass\"} 2\n"));
        // Families without series still say what they are.
        assert!(text.contains("# TYPE clnrm_isolation_wait_seconds histogram\n"));
    }

    #[test]
    fn label_values_are_escaped_and_read_back() {
        let metrics = Metrics::new();
        let odd = "a\\b \"quoted\"\nnext, {x=1}";
        metrics.test_finished(odd, &record(Outcome::Failed, 1.0));
        let text = prometheus_text(&metrics.snapshot());
        assert!(
            text.contains(
                r#"clnrm_test_runs_total{suite="a\\b \"quoted\"\nnext, {x=1}",outcome="fail"} 1"#
            ),
            "{text}"
        );
        let back = parse_text(&text).unwrap();
        assert_eq!(back.series, metrics.snapshot().series);
    }

    #[test]
    fn what_was_written_reads_back_to_the_same_series() {
        let metrics = Metrics::new();
        metrics.test_finished("s", &record(Outcome::Passed, 0.123456789));
        metrics.test_finished("s", &record(Outcome::TimedOut, 61.0));
        metrics.service_started(
            "postgres",
            "db",
            Duration::from_millis(1800),
            Some(Duration::from_millis(900)),
        );
        metrics.isolation_waited("postgres", "database", Duration::from_micros(12_345));
        let snapshot = metrics.snapshot();
        let back = parse_text(&prometheus_text(&snapshot)).unwrap();
        assert_eq!(back.series, snapshot.series);
    }

    #[test]
    fn a_foreign_metric_or_missing_label_is_refused_with_its_line() {
        let err = parse_text("# HELP x y\nnode_load1 0.5\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.what.contains("node_load1"), "{err}");
        let err = parse_text("clnrm_test_runs_total{suite=\"s\"} 1\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("expected [\"suite\", \"outcome\"]"),
            "{err}"
        );
    }
}
