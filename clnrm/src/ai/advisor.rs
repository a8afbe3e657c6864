//! The advisor contract: prompts, JSON schemas, validation and the two entry points.
//!
//! Ordering advice ([`advise`]) answers
//! `{"order": [every sent test, once], "risks": [{"test", "risk" (0..=1), "rationale"}]}`.
//! It may reorder and re-score, never drop or invent a test. An answer is **rejected** (the
//! statistical plan stays) when `order` names an unknown test, names one twice or misses
//! one, or when `risks` names an unknown test, names one twice or has a risk outside 0..=1
//! or not a number. Only these repairs are made, all safe:
//! - tests beyond [`super::summary::MAX_TESTS`] are not sent; they keep their statistical
//!   order after the advised ones;
//! - a missing `risks` field counts as no risks; a missing rationale as an empty one;
//!   rationales are cut to [`MAX_RATIONALE_CHARS`] characters;
//! - a Markdown code fence around the JSON is removed (in the client).
//!
//! Insights ([`explain_failures`]) answer
//! `{"groups": [{"cause", "tests": [failing tests], "insight", "recommendation"}]}`,
//! rejected when a group names a test that is not among the sent failures, names one twice
//! (within or across groups), has no tests, or has an empty cause. Texts are cut to
//! [`MAX_INSIGHT_CHARS`]; failures in no group are listed in
//! [`InsightsOutcome::ungrouped`].
//!
//! Prompts are fixed strings plus the compact JSON of the input (one object per line, key
//! order fixed, flip rates rounded), so the same input gives the same bytes.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde_json::{Value, json};

use super::client::AiClient;
use super::config::AiConfig;
use super::error::AiError;
use super::summary::{self, AdvisorInput, InsightsInput, one_line, truncate_chars};

/// Longest rationale kept, in characters.
pub const MAX_RATIONALE_CHARS: usize = 200;
/// Longest cause, insight or recommendation kept, in characters.
pub const MAX_INSIGHT_CHARS: usize = 300;
/// Longest reason quoted in a notice, in characters.
const MAX_NOTICE_REASON_CHARS: usize = 300;

const ADVICE_SYSTEM: &str = "You advise a CI test harness on test order. \
Reply with JSON only, of the form {\"order\": [test names], \"risks\": [{\"test\": name, \"risk\": number, \"rationale\": text}]}. \
\"order\" lists every given test exactly once, most likely to fail first. \
\"risk\" is the chance the test fails on this run, from 0 to 1. \
Use only the given test names. Keep each rationale under 20 words.";

const INSIGHTS_SYSTEM: &str = "You explain CI test failures. \
Reply with JSON only, of the form {\"groups\": [{\"cause\": text, \"tests\": [test names], \"insight\": text, \"recommendation\": text}]}. \
Group failures that share a likely root cause. Use only the given test names; put each test in at most one group. \
Keep each text under 40 words.";

/// A test's risk as the advisor sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Risk {
    /// Chance to fail on this run, 0..=1.
    pub risk: f64,
    /// Short reason, at most [`MAX_RATIONALE_CHARS`] characters.
    pub rationale: String,
}

/// The result of [`advise`]. With `notice` set, the statistical plan stays in force.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AdvisorOutcome {
    /// The advised order: every input test exactly once. `None` keeps the statistical order.
    pub order: Option<Vec<String>>,
    /// Per-test risks the advisor gave (possibly for only some tests).
    pub risks: BTreeMap<String, Risk>,
    /// One line for the user when the advisor was unavailable or its answer rejected.
    pub notice: Option<String>,
    /// The model that answered.
    pub model: Option<String>,
}

/// Failures the advisor believes share a cause.
#[derive(Debug, Clone, PartialEq)]
pub struct InsightGroup {
    /// Short likely cause.
    pub cause: String,
    /// Failing tests in this group (known failures only, each in one group).
    pub tests: Vec<String>,
    /// What happened.
    pub insight: String,
    /// What to do next.
    pub recommendation: String,
}

/// The result of [`explain_failures`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InsightsOutcome {
    /// Groups of failures with a shared cause; empty when `notice` is set.
    pub groups: Vec<InsightGroup>,
    /// Failures in no group, in input order (all of them when `notice` is set).
    pub ungrouped: Vec<String>,
    /// One line for the user when the advisor was unavailable or its answer rejected.
    pub notice: Option<String>,
    /// The model that answered.
    pub model: Option<String>,
}

/// Asks the advisor to reorder and score `input.tests`. Never fails and never takes longer
/// than `config.timeout` (backend detection and model listing included): any problem gives
/// an outcome with `order: None` and a one-line `notice`.
pub async fn advise(config: &AiConfig, input: &AdvisorInput) -> AdvisorOutcome {
    if input.tests.is_empty() {
        return AdvisorOutcome::default();
    }
    let work = async {
        let client = AiClient::connect(config).await?;
        advise_with(&client, input).await
    };
    match bounded(config, work).await {
        Ok(outcome) => outcome,
        Err(error) => AdvisorOutcome {
            notice: Some(notice("LLM advisor", &error, "using the statistical plan")),
            ..AdvisorOutcome::default()
        },
    }
}

/// [`advise`] with an already connected client, returning the error instead of a notice.
pub async fn advise_with(
    client: &AiClient,
    input: &AdvisorInput,
) -> Result<AdvisorOutcome, AiError> {
    if let Some(dup) = first_duplicate(input.tests.iter().map(|t| t.name.as_str())) {
        return Err(AiError::Rejected {
            reason: format!("input names test `{dup}` twice"),
        });
    }
    if input.tests.is_empty() {
        return Ok(AdvisorOutcome::default());
    }
    let compact = summary::compact_tests(&input.tests);
    let sent: Vec<&str> = compact.iter().map(|t| t.name).collect();
    let user = advice_prompt(
        &compact,
        &summary::compact_changed_files(&input.changed_files),
    );
    let schema = advice_schema(&sent);
    let max_tokens = (128 + 96 * sent.len()).min(8192) as u32;
    let answer = client
        .chat_json(
            ADVICE_SYSTEM,
            &user,
            "clnrm_test_advice",
            &schema,
            max_tokens,
        )
        .await?;
    let (advised, risks) =
        validate_advice(&sent, &answer).map_err(|reason| AiError::Rejected { reason })?;
    let mut order = advised;
    order.extend(input.tests.iter().skip(sent.len()).map(|t| t.name.clone()));
    Ok(AdvisorOutcome {
        order: Some(order),
        risks,
        notice: None,
        model: Some(client.model().to_owned()),
    })
}

/// Asks the advisor to group `input.failures` by cause. Never fails and never takes longer
/// than `config.timeout`; any problem gives an outcome with no groups and a `notice`.
pub async fn explain_failures(config: &AiConfig, input: &InsightsInput) -> InsightsOutcome {
    if input.failures.is_empty() {
        return InsightsOutcome::default();
    }
    let work = async {
        let client = AiClient::connect(config).await?;
        explain_failures_with(&client, input).await
    };
    match bounded(config, work).await {
        Ok(outcome) => outcome,
        Err(error) => InsightsOutcome {
            ungrouped: input.failures.iter().map(|f| f.test.clone()).collect(),
            notice: Some(notice("LLM insights", &error, "no insights for this run")),
            ..InsightsOutcome::default()
        },
    }
}

/// [`explain_failures`] with an already connected client, returning the error instead of a
/// notice.
pub async fn explain_failures_with(
    client: &AiClient,
    input: &InsightsInput,
) -> Result<InsightsOutcome, AiError> {
    if let Some(dup) = first_duplicate(input.failures.iter().map(|f| f.test.as_str())) {
        return Err(AiError::Rejected {
            reason: format!("input names failing test `{dup}` twice"),
        });
    }
    if input.failures.is_empty() {
        return Ok(InsightsOutcome::default());
    }
    let compact = summary::compact_failures(&input.failures);
    let sent: Vec<&str> = compact.iter().map(|f| f.test).collect();
    let mut user = String::from("Failures, one JSON object per line (test, message, log_tail):\n");
    for failure in &compact {
        user.push_str(&serde_json::to_string(failure).unwrap_or_default());
        user.push('\n');
    }
    user.push_str("Group these failures by likely root cause.");
    let schema = insights_schema(&sent);
    let max_tokens = (256 + 160 * sent.len()).min(8192) as u32;
    let answer = client
        .chat_json(
            INSIGHTS_SYSTEM,
            &user,
            "clnrm_failure_insights",
            &schema,
            max_tokens,
        )
        .await?;
    let groups =
        validate_insights(&sent, &answer).map_err(|reason| AiError::Rejected { reason })?;
    let grouped: HashSet<&str> = groups
        .iter()
        .flat_map(|g| g.tests.iter().map(String::as_str))
        .collect();
    let ungrouped = input
        .failures
        .iter()
        .map(|f| f.test.clone())
        .filter(|t| !grouped.contains(t.as_str()))
        .collect();
    Ok(InsightsOutcome {
        groups,
        ungrouped,
        notice: None,
        model: Some(client.model().to_owned()),
    })
}

/// Checks an ordering answer against the tests that were sent (see the module docs for the
/// rules). Returns the order (a permutation of `sent`) and the risks, or the first broken
/// rule.
pub fn validate_advice(
    sent: &[&str],
    answer: &Value,
) -> Result<(Vec<String>, BTreeMap<String, Risk>), String> {
    let known: HashSet<&str> = sent.iter().copied().collect();
    let order = answer
        .get("order")
        .and_then(Value::as_array)
        .ok_or("expected an object with an `order` array")?;
    let mut seen = HashSet::new();
    let mut advised = Vec::with_capacity(order.len());
    for entry in order {
        let name = entry
            .as_str()
            .ok_or_else(|| format!("`order` holds a non-string {entry}"))?;
        if !known.contains(name) {
            return Err(format!(
                "`order` names unknown test `{}`",
                truncate_chars(name, 80)
            ));
        }
        if !seen.insert(name) {
            return Err(format!("`order` names test `{name}` twice"));
        }
        advised.push(name.to_owned());
    }
    let missing: Vec<&str> = sent.iter().copied().filter(|t| !seen.contains(t)).collect();
    if let Some(first) = missing.first() {
        return Err(format!(
            "`order` misses {} of {} tests (first: `{first}`)",
            missing.len(),
            sent.len()
        ));
    }
    let mut risks = BTreeMap::new();
    match answer.get("risks") {
        None | Some(Value::Null) => {}
        Some(Value::Array(entries)) => {
            for entry in entries {
                let name = entry.get("test").and_then(Value::as_str).ok_or_else(|| {
                    format!(
                        "a `risks` entry has no `test` name: {}",
                        one_line(&entry.to_string(), 80)
                    )
                })?;
                if !known.contains(name) {
                    return Err(format!(
                        "`risks` names unknown test `{}`",
                        truncate_chars(name, 80)
                    ));
                }
                let risk = entry
                    .get("risk")
                    .and_then(Value::as_f64)
                    .ok_or_else(|| format!("`risks` entry for `{name}` has no numeric `risk`"))?;
                if !(0.0..=1.0).contains(&risk) {
                    return Err(format!("risk {risk} for `{name}` is outside 0..=1"));
                }
                let rationale = entry.get("rationale").and_then(Value::as_str).unwrap_or("");
                let rationale = one_line(rationale, MAX_RATIONALE_CHARS);
                if risks
                    .insert(name.to_owned(), Risk { risk, rationale })
                    .is_some()
                {
                    return Err(format!("`risks` names test `{name}` twice"));
                }
            }
        }
        Some(other) => {
            return Err(format!(
                "`risks` must be an array, got {}",
                one_line(&other.to_string(), 80)
            ));
        }
    }
    Ok((advised, risks))
}

/// Checks an insights answer against the failing tests that were sent (see the module docs
/// for the rules).
pub fn validate_insights(sent: &[&str], answer: &Value) -> Result<Vec<InsightGroup>, String> {
    let known: HashSet<&str> = sent.iter().copied().collect();
    let groups = answer
        .get("groups")
        .and_then(Value::as_array)
        .ok_or("expected an object with a `groups` array")?;
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(groups.len());
    for (i, group) in groups.iter().enumerate() {
        let text = |key: &str| -> Result<String, String> {
            group
                .get(key)
                .and_then(Value::as_str)
                .map(|s| one_line(s, MAX_INSIGHT_CHARS))
                .ok_or_else(|| format!("group {} has no `{key}` text", i + 1))
        };
        let cause = text("cause")?;
        if cause.is_empty() {
            return Err(format!("group {} has an empty `cause`", i + 1));
        }
        let tests = group
            .get("tests")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("group {} has no `tests` array", i + 1))?;
        if tests.is_empty() {
            return Err(format!("group {} (`{cause}`) lists no tests", i + 1));
        }
        let mut names = Vec::with_capacity(tests.len());
        for test in tests {
            let name = test
                .as_str()
                .ok_or_else(|| format!("group {} holds a non-string test {test}", i + 1))?;
            if !known.contains(name) {
                return Err(format!(
                    "group {} names `{}`, which is not a failing test",
                    i + 1,
                    truncate_chars(name, 80)
                ));
            }
            if !seen.insert(name.to_owned()) {
                return Err(format!("failing test `{name}` is named twice"));
            }
            names.push(name.to_owned());
        }
        out.push(InsightGroup {
            cause,
            tests: names,
            insight: text("insight")?,
            recommendation: text("recommendation")?,
        });
    }
    Ok(out)
}

fn advice_prompt(tests: &[summary::CompactTest<'_>], changed: &[String]) -> String {
    let mut user = String::from(
        "Tests in the current order, one JSON object per line \
(runs, fails, flip = share of runs whose outcome flipped, median_ms, last outcome, recent_failures):\n",
    );
    for test in tests {
        user.push_str(&serde_json::to_string(test).unwrap_or_default());
        user.push('\n');
    }
    user.push_str("Changed files: ");
    user.push_str(&serde_json::to_string(changed).unwrap_or_default());
    user.push_str("\nOrder these tests so that the ones most likely to fail come first.");
    user
}

/// The JSON schema sent with an ordering request: names are an `enum`, so servers with
/// constrained decoding cannot invent one. Text lengths are not in the schema (llama.cpp
/// expands `maxLength: N` into N nested optional characters, which slows decoding several
/// times); the prompt asks for short texts, the token cap bounds them and validation cuts
/// them.
fn advice_schema(sent: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": {
            "order": {
                "type": "array",
                "items": { "type": "string", "enum": sent },
                "minItems": sent.len(),
                "maxItems": sent.len(),
            },
            "risks": {
                "type": "array",
                "maxItems": sent.len(),
                "items": {
                    "type": "object",
                    "properties": {
                        "test": { "type": "string", "enum": sent },
                        "risk": { "type": "number", "minimum": 0, "maximum": 1 },
                        "rationale": { "type": "string" },
                    },
                    "required": ["test", "risk", "rationale"],
                    "additionalProperties": false,
                },
            },
        },
        "required": ["order", "risks"],
        "additionalProperties": false,
    })
}

fn insights_schema(sent: &[&str]) -> Value {
    let text = json!({ "type": "string" });
    json!({
        "type": "object",
        "properties": {
            "groups": {
                "type": "array",
                "minItems": 1,
                "maxItems": sent.len(),
                "items": {
                    "type": "object",
                    "properties": {
                        "cause": text,
                        "tests": {
                            "type": "array",
                            "items": { "type": "string", "enum": sent },
                            "minItems": 1,
                            "maxItems": sent.len(),
                        },
                        "insight": text,
                        "recommendation": text,
                    },
                    "required": ["cause", "tests", "insight", "recommendation"],
                    "additionalProperties": false,
                },
            },
        },
        "required": ["groups"],
        "additionalProperties": false,
    })
}

/// Runs `work` within `config.timeout`, whatever its requests do.
async fn bounded<T>(
    config: &AiConfig,
    work: impl Future<Output = Result<T, AiError>>,
) -> Result<T, AiError> {
    tokio::time::timeout(config.timeout, work)
        .await
        .unwrap_or_else(|_| {
            Err(AiError::Timeout {
                url: config.base_url.clone(),
                after: config.timeout,
            })
        })
}

/// `notice: LLM advice unavailable (connection refused at http://…); using the statistical plan`
fn notice(what: &str, error: &AiError, fallback: &str) -> String {
    let verdict = match error {
        AiError::Rejected { .. } | AiError::InvalidResponse { .. } | AiError::Refusal { .. } => {
            "rejected"
        }
        _ => "unavailable",
    };
    let reason = match error {
        AiError::Rejected { reason } => reason.clone(),
        // With its causes: "cannot reach URL" alone does not say reset, timed out or closed.
        unreachable @ AiError::Unreachable { .. } => crate::error::chain(unreachable),
        other => other.to_string(),
    };
    format!(
        "notice: {what} {verdict} ({}); {fallback}",
        one_line(&reason, MAX_NOTICE_REASON_CHARS)
    )
}

fn first_duplicate<'a>(names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut seen = HashSet::new();
    names.into_iter().find(|n| !seen.insert(*n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const SENT: [&str; 3] = ["a", "b", "c"];

    #[test]
    fn a_permutation_with_risks_is_accepted() {
        let answer = json!({"order": ["c", "a", "b"], "risks": [{"test": "c", "risk": 0.8, "rationale": "changed\nfile"}]});
        let (order, risks) = validate_advice(&SENT, &answer).unwrap();
        assert_eq!(order, ["c", "a", "b"]);
        assert_eq!(
            risks["c"],
            Risk {
                risk: 0.8,
                rationale: "changed | file".to_owned()
            }
        );
    }

    #[test]
    fn an_order_that_drops_invents_or_repeats_a_test_is_rejected() {
        let reason = |v: Value| validate_advice(&SENT, &v).unwrap_err();
        assert_eq!(
            reason(json!({"order": ["a", "b"]})),
            "`order` misses 1 of 3 tests (first: `c`)"
        );
        assert_eq!(
            reason(json!({"order": ["a", "b", "c", "zz"]})),
            "`order` names unknown test `zz`"
        );
        assert_eq!(
            reason(json!({"order": ["a", "a", "b", "c"]})),
            "`order` names test `a` twice"
        );
        assert_eq!(
            reason(json!(["a", "b", "c"])),
            "expected an object with an `order` array"
        );
        assert_eq!(
            reason(json!({"order": ["a", 1, "c"]})),
            "`order` holds a non-string 1"
        );
    }

    #[test]
    fn risks_out_of_range_unknown_or_repeated_are_rejected() {
        let reason = |risks: Value| {
            validate_advice(&SENT, &json!({"order": SENT, "risks": risks})).unwrap_err()
        };
        assert_eq!(
            reason(json!([{"test": "a", "risk": 1.5}])),
            "risk 1.5 for `a` is outside 0..=1"
        );
        assert_eq!(
            reason(json!([{"test": "a", "risk": -0.1}])),
            "risk -0.1 for `a` is outside 0..=1"
        );
        assert_eq!(
            reason(json!([{"test": "q", "risk": 0.1}])),
            "`risks` names unknown test `q`"
        );
        assert_eq!(
            reason(json!([{"test": "a", "risk": "high"}])),
            "`risks` entry for `a` has no numeric `risk`"
        );
        assert_eq!(
            reason(json!([{"test": "a", "risk": 0.1}, {"test": "a", "risk": 0.2}])),
            "`risks` names test `a` twice"
        );
    }

    #[test]
    fn missing_risks_count_as_none() {
        let (_, risks) = validate_advice(&SENT, &json!({"order": ["b", "c", "a"]})).unwrap();
        assert!(risks.is_empty());
    }

    #[test]
    fn insights_only_name_known_failures_once() {
        let sent = ["x", "y"];
        let group = |tests: Value| json!({"groups": [{"cause": "db down", "tests": tests, "insight": "i", "recommendation": "r"}]});
        let groups = validate_insights(&sent, &group(json!(["x", "y"]))).unwrap();
        assert_eq!(groups[0].tests, ["x", "y"]);
        assert_eq!(
            validate_insights(&sent, &group(json!(["z"]))).unwrap_err(),
            "group 1 names `z`, which is not a failing test"
        );
        assert_eq!(
            validate_insights(&sent, &group(json!(["x", "x"]))).unwrap_err(),
            "failing test `x` is named twice"
        );
        assert_eq!(
            validate_insights(&sent, &group(json!([]))).unwrap_err(),
            "group 1 (`db down`) lists no tests"
        );
        let no_cause = json!({"groups": [{"cause": " ", "tests": ["x"], "insight": "", "recommendation": ""}]});
        assert_eq!(
            validate_insights(&sent, &no_cause).unwrap_err(),
            "group 1 has an empty `cause`"
        );
    }

    #[test]
    fn the_schema_lists_the_sent_names_as_an_enum() {
        let schema = advice_schema(&SENT);
        assert_eq!(
            schema.pointer("/properties/order/items/enum").unwrap(),
            &json!(["a", "b", "c"])
        );
        assert_eq!(
            schema.pointer("/properties/order/minItems").unwrap(),
            &json!(3)
        );
    }

    #[test]
    fn notices_are_one_line_and_say_what_stays() {
        let error = AiError::Timeout {
            url: "http://127.0.0.1:9".to_owned(),
            after: Duration::from_secs(30),
        };
        assert_eq!(
            notice("LLM advisor", &error, "using the statistical plan"),
            "notice: LLM advisor unavailable (no answer from http://127.0.0.1:9 within 30 s); using the statistical plan"
        );
        let error = AiError::Rejected {
            reason: "line one\nline two".to_owned(),
        };
        let text = notice("LLM advisor", &error, "using the statistical plan");
        assert_eq!(
            text,
            "notice: LLM advisor rejected (line one | line two); using the statistical plan"
        );
    }
}
