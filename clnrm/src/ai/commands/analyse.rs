//! Failures of a run grouped by likely cause: statistically by message similarity (always),
//! and by the LLM with insights and recommendations when one answers.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::ai::{AiConfig, FailureReport, InsightsInput, explain_failures};
use crate::report::{Outcome, RunRecord};

/// Share of shared words above which two failure messages count as one cause.
const SIMILARITY: f64 = 0.5;

/// Longest cause derived from messages, in characters.
const MAX_CAUSE_CHARS: usize = 160;

/// Who grouped the failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupSource {
    /// Message similarity.
    Statistics,
    /// The LLM (validated: it named only failing tests, each once).
    Llm,
}

/// Failures that share a likely cause.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailureGroup {
    /// The likely cause: the LLM's words, or what the messages have in common.
    pub cause: String,
    /// The failing tests, in run order.
    pub tests: Vec<String>,
    /// Who grouped them.
    pub source: GroupSource,
    /// What happened (LLM only).
    pub insight: Option<String>,
    /// What to do next (LLM only).
    pub recommendation: Option<String>,
}

/// The result of [`analyse`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// Failing tests in the run (failed, timed out, or whose services did not start).
    pub failures: usize,
    /// Every failing test in exactly one group.
    pub groups: Vec<FailureGroup>,
    /// The model that answered.
    pub model: Option<String>,
    /// One line when the LLM was asked but gave no usable answer.
    pub notice: Option<String>,
}

/// Groups the failures of `run`: by the LLM when `ai` is given and it answers (failures it
/// leaves out are grouped statistically), by message similarity otherwise.
pub async fn analyse(run: &RunRecord, ai: Option<&AiConfig>) -> Analysis {
    let failures: Vec<(&str, &str)> = run
        .tests
        .iter()
        .filter(|t| t.outcome.is_failure() || t.outcome == Outcome::InfraError)
        .map(|t| (t.name.as_str(), t.message.as_deref().unwrap_or("")))
        .collect();
    let mut analysis = Analysis {
        failures: failures.len(),
        groups: Vec::new(),
        model: None,
        notice: None,
    };
    if failures.is_empty() {
        return analysis;
    }
    let mut rest = failures.clone();
    if let Some(config) = ai {
        let input = InsightsInput {
            failures: failures
                .iter()
                .map(|(test, message)| FailureReport {
                    test: (*test).to_owned(),
                    message: (*message).to_owned(),
                    log_tail: String::new(),
                })
                .collect(),
        };
        let insights = explain_failures(config, &input).await;
        analysis.model = insights.model;
        analysis.notice = insights.notice;
        for group in insights.groups {
            analysis.groups.push(FailureGroup {
                cause: group.cause,
                tests: group.tests,
                source: GroupSource::Llm,
                insight: Some(group.insight),
                recommendation: Some(group.recommendation),
            });
        }
        let grouped: BTreeSet<&str> = analysis
            .groups
            .iter()
            .flat_map(|g| g.tests.iter().map(String::as_str))
            .collect();
        rest.retain(|(test, _)| !grouped.contains(test));
    }
    analysis.groups.extend(group_failures(&rest));
    analysis
}

/// Groups `(test, message)` failures whose messages share at least half their words (after
/// numbers are masked), in order of first appearance. The cause is what the group's messages
/// have in common: their common beginning, or the first message when they share none.
pub fn group_failures(failures: &[(&str, &str)]) -> Vec<FailureGroup> {
    let mut groups: Vec<(BTreeSet<String>, Vec<String>, Vec<String>)> = Vec::new();
    for (test, message) in failures {
        let line = normalise(message);
        let words = words(&line);
        let home = groups
            .iter_mut()
            .find(|(first, _, _)| jaccard(first, &words) >= SIMILARITY);
        match home {
            Some((_, tests, lines)) => {
                tests.push((*test).to_owned());
                lines.push(line);
            }
            None => groups.push((words, vec![(*test).to_owned()], vec![line])),
        }
    }
    groups
        .into_iter()
        .map(|(_, tests, lines)| FailureGroup {
            cause: common_cause(&lines),
            tests,
            source: GroupSource::Statistics,
            insight: None,
            recommendation: None,
        })
        .collect()
}

/// The first line of a message with digit runs masked as `#`.
fn normalise(message: &str) -> String {
    let first = message.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut out = String::with_capacity(first.len());
    let mut in_digits = false;
    for c in first.trim().chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('#');
            }
            in_digits = true;
        } else {
            in_digits = false;
            out.push(c);
        }
    }
    if out.is_empty() {
        "(no message)".to_owned()
    } else {
        out
    }
}

fn words(line: &str) -> BTreeSet<String> {
    line.split(|c: char| !(c.is_alphanumeric() || c == '#' || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn jaccard(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    let union = a.union(b).count();
    if union == 0 {
        return 1.0;
    }
    a.intersection(b).count() as f64 / union as f64
}

fn common_cause(lines: &[String]) -> String {
    let first = &lines[0];
    let mut end = first.len();
    for line in &lines[1..] {
        end = end.min(
            first
                .char_indices()
                .zip(line.chars())
                .find(|((_, a), b)| a != b)
                .map_or(first.len().min(line.len()), |((i, _), _)| i),
        );
    }
    let cause = if end == first.len() {
        first.clone()
    } else {
        // Cut at the last word boundary of the common part.
        let common = &first[..end];
        let cut = common
            .rfind(|c: char| c.is_whitespace() || c == ';' || c == ':' || c == ',')
            .unwrap_or(0);
        let common = common[..cut].trim_end_matches([' ', ';', ':', ',']);
        if common.chars().count() < 8 {
            first.clone()
        } else {
            format!("{common} …")
        }
    };
    crate::ai::summary::truncate_chars(&cause, MAX_CAUSE_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similar_messages_share_a_group_whose_cause_is_their_common_part() {
        let groups = group_failures(&[
            (
                "s::a",
                "step `echo`: stdout does not contain \"goodbye\"; stdout: \"hello 1\"",
            ),
            ("s::b", "connection refused at 127.0.0.1:5432"),
            (
                "s::c",
                "step `echo`: stdout does not contain \"goodbye\"; stdout: \"hello 22\"",
            ),
        ]);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].tests, ["s::a", "s::c"]);
        assert_eq!(
            groups[0].cause,
            "step `echo`: stdout does not contain \"goodbye\"; stdout: \"hello #\""
        );
        assert_eq!(groups[1].tests, ["s::b"]);
        assert_eq!(groups[1].cause, "connection refused at #.#.#.#:#");
        assert!(groups.iter().all(|g| g.source == GroupSource::Statistics));
    }

    #[test]
    fn messages_with_a_shared_beginning_name_it_as_the_cause() {
        let groups = group_failures(&[
            (
                "a",
                "service `db` did not become ready within # s: connection reset by peer",
            ),
            (
                "b",
                "service `db` did not become ready within # s: timed out reading",
            ),
        ]);
        assert_eq!(groups.len(), 1, "{groups:?}");
        assert_eq!(
            groups[0].cause,
            "service `db` did not become ready within # s …"
        );
    }
}
