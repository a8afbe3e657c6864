//! The advisor inside a test run: ask for an order within a small time budget, never holding
//! up the first test by more than that budget; cache the validated answer keyed by the history
//! state and the test set, so later runs with the same state apply it at once; merge it with
//! the statistical plan (it may reorder, never drop or invent a test).
//!
//! - [`consult`]: cached advice if there is some for this key; otherwise the advisor is asked
//!   on a thread of its own and awaited for at most the budget. An answer that arrives later
//!   is still validated and cached by that thread (for the next run, if this process is still
//!   running when it comes), and [`Consultation::pending`] lets a caller wait for it.
//! - [`merge_orders`]: the run order is the mean of each test's statistical and advised rank
//!   (ties follow the advice), so one bad guess of a small model moves a test only half way,
//!   while a swap of two neighbours is applied.
//! - [`advice_key`]: FNV-1a 64 over the test set and the history's failure picture (per test:
//!   failed and flaky counts, last outcome).
//!
//! A cache file is `<dir>/<key>.json`: `{"key", "model", "order"}`. A file that does not parse
//! or whose order is not exactly the current test set is ignored (and replaced by the next
//! valid answer).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::advisor::advise;
use super::config::{AiConfig, parse_timeout};
use super::summary::{AdvisorInput, LastOutcome, TestSummary};
use crate::plan::{TestHistoryRecord, TestOutcome};

/// Default time the first test may be held up while the advisor answers.
pub const DEFAULT_BUDGET: Duration = Duration::from_millis(800);
/// Environment variable for the budget (`800ms`, `1s`, `2`).
pub const ENV_BUDGET: &str = "CLNRM_AI_BUDGET";

/// Where the order of a run came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdviceSource {
    /// A cached answer for this very history state and test set.
    Cached {
        /// The model that gave it.
        model: String,
    },
    /// An answer that arrived within the budget.
    Fresh {
        /// The model that gave it.
        model: String,
    },
    /// The statistical plan alone.
    StatisticsOnly {
        /// Why (advisor unavailable, answer rejected, still thinking).
        reason: String,
    },
}

/// The outcome of [`consult`].
#[derive(Debug)]
pub struct Consultation {
    /// Every test of the statistical order exactly once, in run order.
    pub order: Vec<String>,
    /// Where it came from.
    pub source: AdviceSource,
    /// The advisor still answering in the background (its answer will be cached).
    pub pending: Option<std::thread::JoinHandle<()>>,
}

impl Consultation {
    /// The one line a run prints about its order.
    pub fn line(&self) -> String {
        match &self.source {
            AdviceSource::Cached { model } => format!(
                "clnrm: order: cached LLM advice ({model}) merged with the statistical plan"
            ),
            AdviceSource::Fresh { model } => {
                format!("clnrm: order: fresh LLM advice ({model}) merged with the statistical plan")
            }
            AdviceSource::StatisticsOnly { reason } => {
                format!("clnrm: order: statistics only ({reason})")
            }
        }
    }
}

/// The budget from [`ENV_BUDGET`] (default [`DEFAULT_BUDGET`]); an invalid value is an error
/// naming it.
pub fn parse_budget(lookup: impl Fn(&str) -> Option<String>) -> Result<Duration, String> {
    match lookup(ENV_BUDGET).filter(|v| !v.trim().is_empty()) {
        None => Ok(DEFAULT_BUDGET),
        Some(value) => parse_timeout(&value).ok_or_else(|| {
            format!("{ENV_BUDGET}=`{value}` is not a duration (e.g. `800ms`, `1s`, `2`)")
        }),
    }
}

/// Key of the advice for `tests` (any order) given `history`. The history state is what the
/// advice depends on: per test, its failed and flaky run counts and its last outcome. Another
/// green run of a green suite keeps the key (so advice that came late in one run is applied in
/// the next), while any new failure, fix or new test changes it.
pub fn advice_key(tests: &[String], history: &[TestHistoryRecord]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        hash ^= 0xff; // field separator
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    };
    let mut names: Vec<&str> = tests.iter().map(String::as_str).collect();
    names.sort_unstable();
    for name in names {
        eat(name.as_bytes());
    }
    eat(b"--history--");
    // per test: (failed, flaky, (run id, timestamp, last outcome))
    type State = (u64, u64, Option<(u64, i64, u8)>);
    let mut state: std::collections::BTreeMap<&str, State> = std::collections::BTreeMap::new();
    for r in history.iter().filter(|r| r.outcome != TestOutcome::Skipped) {
        let s = state.entry(r.test.as_str()).or_insert((0, 0, None));
        let outcome = match r.outcome {
            TestOutcome::Passed => 0u8,
            TestOutcome::Failed => {
                s.0 += 1;
                1
            }
            TestOutcome::Flaky => {
                s.1 += 1;
                2
            }
            TestOutcome::Skipped => 3,
        };
        let at = (r.run_id, r.timestamp_ms.unwrap_or(0), outcome);
        if s.2.is_none_or(|last| (last.0, last.1) <= (at.0, at.1)) {
            s.2 = Some(at);
        }
    }
    for (test, (failed, flaky, last)) in state {
        eat(test.as_bytes());
        eat(&failed.to_le_bytes());
        eat(&flaky.to_le_bytes());
        eat(&[last.map_or(9, |l| l.2)]);
    }
    format!("{hash:016x}")
}

/// Merges an advised order into the statistical one: each test's position is the mean of its
/// two ranks, ties follow the advised order. `None` when `advised` is not exactly the tests
/// of `statistical` (a test dropped, invented or repeated).
pub fn merge_orders(statistical: &[String], advised: &[String]) -> Option<Vec<String>> {
    if advised.len() != statistical.len() {
        return None;
    }
    let advised_rank: std::collections::HashMap<&str, usize> = advised
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    if advised_rank.len() != advised.len() {
        return None;
    }
    let mut ranked: Vec<(usize, usize, usize)> = Vec::with_capacity(statistical.len());
    for (i, name) in statistical.iter().enumerate() {
        let advised = *advised_rank.get(name.as_str())?;
        ranked.push((i + advised, advised, i));
    }
    ranked.sort_unstable();
    Some(
        ranked
            .into_iter()
            .map(|(_, _, i)| statistical[i].clone())
            .collect(),
    )
}

#[derive(Debug, Serialize, Deserialize)]
struct CachedAdvice {
    key: String,
    model: String,
    order: Vec<String>,
}

fn cache_path(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("{key}.json"))
}

fn read_cache(dir: &Path, key: &str) -> Option<CachedAdvice> {
    let text = std::fs::read_to_string(cache_path(dir, key)).ok()?;
    serde_json::from_str::<CachedAdvice>(&text)
        .ok()
        .filter(|c| c.key == key)
}

fn write_cache(dir: &Path, advice: &CachedAdvice) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    // Write then rename, so a concurrent reader never sees half a file.
    let path = cache_path(dir, &advice.key);
    let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
    std::fs::write(&tmp, serde_json::to_vec(advice).unwrap_or_default())?;
    std::fs::rename(&tmp, &path)
}

/// Orders `statistical` (the planner's run order) with the advisor's help: cached advice for
/// `key` at once; otherwise the advisor is asked on a thread and awaited at most `budget`.
/// Never fails: any problem leaves the statistical order, said in the source's reason.
pub fn consult(
    config: &AiConfig,
    cache_dir: &Path,
    key: &str,
    statistical: Vec<String>,
    input: AdvisorInput,
    budget: Duration,
) -> Consultation {
    if let Some(cached) = read_cache(cache_dir, key)
        && let Some(order) = merge_orders(&statistical, &cached.order)
    {
        return Consultation {
            order,
            source: AdviceSource::Cached {
                model: cached.model,
            },
            pending: None,
        };
    }
    let (tx, rx) = mpsc::channel();
    let thread_config = config.clone();
    let thread_dir = cache_dir.to_path_buf();
    let thread_key = key.to_owned();
    let thread_tests = statistical.clone();
    let spawned = std::thread::Builder::new()
        .name("clnrm-advisor".into())
        .spawn(move || {
            let answer = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => {
                    let outcome = runtime.block_on(advise(&thread_config, &input));
                    match (outcome.order, outcome.notice) {
                        (Some(order), _) if merge_orders(&thread_tests, &order).is_some() => {
                            let model = outcome.model.unwrap_or_else(|| "unknown model".into());
                            let advice = CachedAdvice {
                                key: thread_key,
                                model: model.clone(),
                                order: order.clone(),
                            };
                            if let Err(e) = write_cache(&thread_dir, &advice) {
                                tracing::warn!(error = %e, "could not cache the LLM advice");
                            }
                            Ok((order, model))
                        }
                        (Some(_), _) => {
                            Err("advice rejected: not exactly the planned tests".into())
                        }
                        (None, Some(notice)) => Err(notice),
                        (None, None) => Err("the advisor gave no order".into()),
                    }
                }
                Err(e) => Err(format!("no runtime for the advisor: {e}")),
            };
            let _ = tx.send(answer);
        });
    let handle = match spawned {
        Ok(handle) => handle,
        Err(e) => {
            return Consultation {
                order: statistical,
                source: AdviceSource::StatisticsOnly {
                    reason: format!("could not start the advisor: {e}"),
                },
                pending: None,
            };
        }
    };
    match rx.recv_timeout(budget) {
        Ok(Ok((advised, model))) => {
            let _ = handle.join();
            match merge_orders(&statistical, &advised) {
                Some(order) => Consultation {
                    order,
                    source: AdviceSource::Fresh { model },
                    pending: None,
                },
                None => Consultation {
                    order: statistical,
                    source: AdviceSource::StatisticsOnly {
                        reason: "advice rejected: not exactly the planned tests".into(),
                    },
                    pending: None,
                },
            }
        }
        Ok(Err(reason)) => {
            let _ = handle.join();
            Consultation {
                order: statistical,
                source: AdviceSource::StatisticsOnly {
                    reason: one_line(&reason),
                },
                pending: None,
            }
        }
        Err(_) => Consultation {
            order: statistical,
            source: AdviceSource::StatisticsOnly {
                reason: format!(
                    "no LLM advice within {} ms; it is cached for the next run when it comes",
                    budget.as_millis()
                ),
            },
            pending: Some(handle),
        },
    }
}

fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// What the advisor is told about each test of `order`, from `history`.
pub fn advisor_input(order: &[String], history: &[TestHistoryRecord]) -> AdvisorInput {
    let mut by_test: std::collections::HashMap<&str, Vec<&TestHistoryRecord>> =
        std::collections::HashMap::new();
    for r in history.iter().filter(|r| r.outcome != TestOutcome::Skipped) {
        by_test.entry(r.test.as_str()).or_default().push(r);
    }
    let tests = order
        .iter()
        .map(|name| {
            let mut runs = by_test.get(name.as_str()).cloned().unwrap_or_default();
            runs.sort_by_key(|r| (r.run_id, r.timestamp_ms));
            let bad = |r: &&TestHistoryRecord| r.outcome != TestOutcome::Passed;
            let flips = runs.windows(2).filter(|w| bad(&w[0]) != bad(&w[1])).count();
            let mut durations: Vec<f64> = runs.iter().map(|r| r.duration_secs).collect();
            durations.sort_by(f64::total_cmp);
            TestSummary {
                name: name.clone(),
                runs: u32::try_from(runs.len()).unwrap_or(u32::MAX),
                failures: u32::try_from(
                    runs.iter()
                        .filter(|r| r.outcome == TestOutcome::Failed)
                        .count(),
                )
                .unwrap_or(u32::MAX),
                flip_rate: if runs.len() > 1 {
                    flips as f64 / (runs.len() - 1) as f64
                } else {
                    0.0
                },
                median_ms: durations
                    .get(durations.len() / 2)
                    .map_or(0, |d| (d * 1000.0).round() as u64),
                last_outcome: runs.last().map(|r| match r.outcome {
                    TestOutcome::Passed => LastOutcome::Passed,
                    TestOutcome::Failed => LastOutcome::Failed,
                    TestOutcome::Flaky => LastOutcome::Flaky,
                    TestOutcome::Skipped => LastOutcome::Skipped,
                }),
                recent_failures: Vec::new(),
            }
        })
        .collect();
    AdvisorInput {
        tests,
        changed_files: Vec::new(),
    }
}

/// The harness's consultation: `None` (and nothing printed) when no LLM is configured
/// (`CLNRM_AI_URL` unset or empty) or under nextest (one process per test: there is no order
/// to improve, and every process would ask); otherwise [`consult`] with the configuration and budget
/// from the environment, the cache in `advice/` beside the history database, and the
/// outcome's one line printed to stderr. A configuration error is that line too.
pub fn consult_for_run(
    statistical: Vec<String>,
    history: &[TestHistoryRecord],
    history_path: &Path,
    env: impl Fn(&str) -> Option<String>,
) -> Option<Consultation> {
    env(super::config::ENV_URL).filter(|v| !v.trim().is_empty())?;
    if env("NEXTEST").is_some() {
        return None;
    }
    let settings = super::config::parse_ai_env(&env)
        .map_err(|e| e.to_string())
        .and_then(|config| Ok((config, parse_budget(&env)?)));
    let consultation = match settings {
        Ok((config, budget)) => {
            let dir = history_path
                .parent()
                .unwrap_or(Path::new("."))
                .join("advice");
            let key = advice_key(&statistical, history);
            let input = advisor_input(&statistical, history);
            consult(&config, &dir, &key, statistical, input, budget)
        }
        Err(reason) => Consultation {
            order: statistical,
            source: AdviceSource::StatisticsOnly {
                reason: one_line(&reason),
            },
            pending: None,
        },
    };
    eprintln!("{}", consultation.line());
    Some(consultation)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn merge_averages_the_ranks_and_refuses_anything_but_a_permutation() {
        let stat = names(&["a", "b", "c", "d"]);
        // advised d first: ranks a 0+1, b 1+2, c 2+3, d 3+0 -> a (1), then b and d tie at 3
        // and the advice puts d first, then c (5)
        assert_eq!(
            merge_orders(&stat, &names(&["d", "a", "b", "c"])).unwrap(),
            ["a", "d", "b", "c"]
        );
        // a swap of two is applied
        assert_eq!(
            merge_orders(&names(&["a", "b"]), &names(&["b", "a"])).unwrap(),
            ["b", "a"]
        );
        assert_eq!(merge_orders(&stat, &stat).unwrap(), stat);
        assert_eq!(merge_orders(&stat, &names(&["a", "b", "c"])), None);
        assert_eq!(merge_orders(&stat, &names(&["a", "b", "c", "x"])), None);
        assert_eq!(merge_orders(&stat, &names(&["a", "b", "c", "c"])), None);
    }

    #[test]
    fn the_key_follows_the_test_set_and_the_history_not_their_order() {
        let record = |test: &str, run_id: u64, outcome: TestOutcome| TestHistoryRecord {
            test: test.into(),
            run_id,
            timestamp_ms: None,
            duration_secs: 1.0,
            outcome,
            retries: 0,
        };
        let h1 = vec![
            record("a", 1, TestOutcome::Passed),
            record("b", 1, TestOutcome::Failed),
        ];
        let h2 = vec![h1[1].clone(), h1[0].clone()];
        let k = advice_key(&names(&["a", "b"]), &h1);
        assert_eq!(k, advice_key(&names(&["b", "a"]), &h2));
        assert_ne!(k, advice_key(&names(&["a", "b", "c"]), &h1));
        // another pass of a passing test keeps the state; a new failure or a fix changes it
        let mut h3 = h1.clone();
        h3.push(record("a", 2, TestOutcome::Passed));
        assert_eq!(k, advice_key(&names(&["a", "b"]), &h3));
        let mut h4 = h1.clone();
        h4.push(record("a", 2, TestOutcome::Failed));
        assert_ne!(k, advice_key(&names(&["a", "b"]), &h4));
        let mut h5 = h1.clone();
        h5.push(record("b", 2, TestOutcome::Passed));
        assert_ne!(k, advice_key(&names(&["a", "b"]), &h5));
        assert_eq!(k.len(), 16);
    }

    #[test]
    fn budget_comes_from_the_environment_or_the_default() {
        assert_eq!(parse_budget(|_| None).unwrap(), DEFAULT_BUDGET);
        assert_eq!(
            parse_budget(|_| Some("250ms".into())).unwrap(),
            Duration::from_millis(250)
        );
        assert_eq!(
            parse_budget(|_| Some("soon".into())).unwrap_err(),
            "CLNRM_AI_BUDGET=`soon` is not a duration (e.g. `800ms`, `1s`, `2`)"
        );
    }

    #[test]
    fn a_cached_answer_for_another_test_set_is_not_applied() {
        let dir = std::env::temp_dir().join(format!("clnrm-advice-{}", std::process::id()));
        let key = "00000000000000aa";
        write_cache(
            &dir,
            &CachedAdvice {
                key: key.into(),
                model: "m".into(),
                order: names(&["x", "y"]),
            },
        )
        .unwrap();
        // the server is down (port 9 refuses): statistics only, and the stale file stays unused
        let config = AiConfig {
            base_url: "http://127.0.0.1:9".into(),
            timeout: Duration::from_secs(2),
            ..AiConfig::default()
        };
        let stat = names(&["a", "b"]);
        let c = consult(
            &config,
            &dir,
            key,
            stat.clone(),
            advisor_input(&stat, &[]),
            Duration::from_secs(2),
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(c.order, stat);
        assert!(
            matches!(&c.source, AdviceSource::StatisticsOnly { reason } if reason.contains("unavailable")),
            "{:?}",
            c.source
        );
        assert!(
            c.line()
                .starts_with("clnrm: order: statistics only (notice: LLM advisor unavailable"),
            "{}",
            c.line()
        );
    }
}
