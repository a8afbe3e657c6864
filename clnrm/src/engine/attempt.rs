//! The one attempt loop: prepare, run under the per-attempt timeout, finish; retry failures and
//! timeouts, never infrastructure errors; a verdict, the attempts made and the time spent
//! waiting for services.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

use tracing::Instrument as _;

use crate::report::Outcome;
use crate::telemetry::tree;

/// How often and how long something may run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// Attempts after the first failure (0 = run once).
    pub retries: u32,
    /// Time limit of one attempt's body (preparing does not count); `None` means no limit.
    pub timeout: Option<Duration>,
}

/// Why an attempt did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The body failed (an error, a panic, an unmet expectation). Retried.
    Failed(String),
    /// The body ran out of its time limit. Retried.
    TimedOut(String),
    /// What the body needs could not be prepared (a service did not start). Never retried:
    /// the environment, not the code under test, is at fault.
    Infra(String),
}

impl Failure {
    fn message_mut(&mut self) -> &mut String {
        match self {
            Failure::Failed(m) | Failure::TimedOut(m) | Failure::Infra(m) => m,
        }
    }
}

/// One thing the engine runs: a test of the harness, a step of a suite.
///
/// Every attempt is `prepare` (infrastructure: its error is [`Failure::Infra`]), then `run`
/// under [`Policy::timeout`], then `finish`, which gets the failure (if any) to add diagnostics
/// and releases what `prepare` made.
pub trait Attempt {
    /// What `prepare` makes and `run` uses.
    type Prepared: Send;

    /// Starts or borrows what one attempt needs.
    fn prepare(&mut self) -> impl Future<Output = Result<Self::Prepared, String>> + Send;

    /// The body of one attempt: `Err` is a failure. Dropped when it runs out of time.
    fn run(&mut self, prepared: &Self::Prepared)
    -> impl Future<Output = Result<(), String>> + Send;

    /// After every attempt that was prepared: append diagnostics to `failure`, release.
    fn finish(
        &mut self,
        prepared: Self::Prepared,
        failure: Option<&mut Failure>,
    ) -> impl Future<Output = ()> + Send;
}

/// What running an [`Attempt`] with its retries came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    /// Passed, Flaky (passed only on a retry), Failed, TimedOut or InfraError.
    pub verdict: Outcome,
    /// Attempts made (at least 1).
    pub attempts: u32,
    /// Why the last attempt did not pass; `None` when it passed.
    pub message: Option<String>,
    /// When the first attempt began.
    pub started_at: SystemTime,
    /// Wall time over all attempts.
    pub duration: Duration,
    /// Time spent in `prepare` over all attempts.
    pub setup_wait: Duration,
}

/// Runs `attempt` until it passes, fails with an infrastructure error, or has no retries left.
/// Each attempt runs in an `attempt <n>` span ([`tree::attempt`]).
pub async fn execute<A: Attempt>(policy: Policy, attempt: &mut A) -> Execution {
    let started_at = SystemTime::now();
    let clock = Instant::now();
    let mut setup_wait = Duration::ZERO;
    let mut attempts = 0;
    let (verdict, message) = loop {
        attempts += 1;
        let span = tree::attempt(attempts);
        let one = async {
            let prepare_clock = Instant::now();
            let prepared = attempt.prepare().await;
            setup_wait += prepare_clock.elapsed();
            match prepared {
                Err(reason) => Some(Failure::Infra(reason)),
                Ok(prepared) => {
                    let ran = match policy.timeout {
                        None => Some(attempt.run(&prepared).await),
                        Some(limit) => tokio::time::timeout(limit, attempt.run(&prepared))
                            .await
                            .ok(),
                    };
                    let mut failure = match ran {
                        Some(Ok(())) => None,
                        Some(Err(reason)) => Some(Failure::Failed(reason)),
                        None => Some(Failure::TimedOut(format!(
                            "timed out after {:.1} s",
                            policy.timeout.unwrap_or_default().as_secs_f64()
                        ))),
                    };
                    attempt.finish(prepared, failure.as_mut()).await;
                    failure
                }
            }
        };
        let failure = one.instrument(span.clone()).await;
        tree::finish_attempt(
            &span,
            match &failure {
                None => "pass",
                Some(Failure::Failed(_)) => "fail",
                Some(Failure::TimedOut(_)) => "timeout",
                Some(Failure::Infra(_)) => "error",
            },
        );
        drop(span);
        match failure {
            None if attempts == 1 => break (Outcome::Passed, None),
            None => break (Outcome::Flaky, None),
            Some(Failure::Infra(m)) => break (Outcome::InfraError, Some(m)),
            Some(Failure::Failed(_) | Failure::TimedOut(_)) if attempts <= policy.retries => {}
            Some(Failure::Failed(m)) => break (Outcome::Failed, Some(m)),
            Some(Failure::TimedOut(m)) => break (Outcome::TimedOut, Some(m)),
        }
    };
    Execution {
        verdict,
        attempts,
        message,
        started_at,
        duration: clock.elapsed(),
        setup_wait,
    }
}

/// `failure`'s message, for `finish` implementations that append to it.
pub fn failure_message(failure: &mut Failure) -> &mut String {
    failure.message_mut()
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    /// A scripted attempt: each `run` takes the next result; `Sleep` outlasts any timeout.
    #[derive(Default)]
    struct Scripted {
        prepare_fails: bool,
        prepare_takes: Duration,
        runs: VecDeque<Step>,
        prepared: u32,
        finished: Vec<Option<Failure>>,
    }

    enum Step {
        Pass,
        Fail(&'static str),
        Sleep,
    }

    impl Scripted {
        fn new(runs: impl IntoIterator<Item = Step>) -> Self {
            Scripted {
                runs: runs.into_iter().collect(),
                ..Scripted::default()
            }
        }
    }

    impl Attempt for Scripted {
        type Prepared = u32;

        async fn prepare(&mut self) -> Result<u32, String> {
            tokio::time::sleep(self.prepare_takes).await;
            if self.prepare_fails {
                return Err("service `db` did not start".to_owned());
            }
            self.prepared += 1;
            Ok(self.prepared)
        }

        async fn run(&mut self, _: &u32) -> Result<(), String> {
            match self.runs.pop_front().expect("a scripted run per attempt") {
                Step::Pass => Ok(()),
                Step::Fail(why) => Err(why.to_owned()),
                Step::Sleep => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    Ok(())
                }
            }
        }

        async fn finish(&mut self, _: u32, failure: Option<&mut Failure>) {
            if let Some(failure) = failure {
                failure_message(failure).push_str(" [logs]");
                self.finished.push(Some(failure.clone()));
            } else {
                self.finished.push(None);
            }
        }
    }

    fn policy(retries: u32, timeout_ms: Option<u64>) -> Policy {
        Policy {
            retries,
            timeout: timeout_ms.map(Duration::from_millis),
        }
    }

    #[tokio::test]
    async fn a_first_attempt_that_passes_is_passed_after_one_attempt() {
        let mut attempt = Scripted::new([Step::Pass]);
        let run = execute(policy(3, None), &mut attempt).await;
        assert_eq!(
            (run.verdict, run.attempts, run.message),
            (Outcome::Passed, 1, None)
        );
        assert_eq!(attempt.finished, vec![None]);
    }

    #[tokio::test]
    async fn passing_only_on_a_retry_is_flaky_with_every_attempt_counted() {
        let mut attempt = Scripted::new([Step::Fail("boom"), Step::Fail("boom"), Step::Pass]);
        let run = execute(policy(2, None), &mut attempt).await;
        assert_eq!(
            (run.verdict, run.attempts, run.message),
            (Outcome::Flaky, 3, None)
        );
        assert_eq!(attempt.prepared, 3, "every attempt is prepared afresh");
    }

    #[tokio::test]
    async fn failing_every_attempt_is_failed_with_the_last_reason_and_its_diagnostics() {
        let mut attempt = Scripted::new([Step::Fail("first"), Step::Fail("second")]);
        let run = execute(policy(1, None), &mut attempt).await;
        assert_eq!(run.verdict, Outcome::Failed);
        assert_eq!(run.attempts, 2);
        assert_eq!(run.message.as_deref(), Some("second [logs]"));
    }

    #[tokio::test]
    async fn without_retries_a_failure_is_final() {
        let mut attempt = Scripted::new([Step::Fail("no"), Step::Pass]);
        let run = execute(policy(0, None), &mut attempt).await;
        assert_eq!((run.verdict, run.attempts), (Outcome::Failed, 1));
        assert_eq!(
            attempt.runs.len(),
            1,
            "the second scripted run was never used"
        );
    }

    #[tokio::test]
    async fn running_out_of_time_on_the_last_attempt_is_timed_out() {
        let mut attempt = Scripted::new([Step::Sleep, Step::Sleep]);
        let run = execute(policy(1, Some(100)), &mut attempt).await;
        assert_eq!(run.verdict, Outcome::TimedOut);
        assert_eq!(run.attempts, 2);
        assert_eq!(run.message.as_deref(), Some("timed out after 0.1 s [logs]"));
        assert!(matches!(attempt.finished[0], Some(Failure::TimedOut(_))));
    }

    #[tokio::test]
    async fn a_timed_out_attempt_is_retried_and_a_later_pass_is_flaky() {
        let mut attempt = Scripted::new([Step::Sleep, Step::Pass]);
        let run = execute(policy(1, Some(100)), &mut attempt).await;
        assert_eq!((run.verdict, run.attempts), (Outcome::Flaky, 2));
    }

    #[tokio::test]
    async fn an_infrastructure_error_is_not_retried_and_nothing_runs() {
        let mut attempt = Scripted::new([Step::Pass]);
        attempt.prepare_fails = true;
        let run = execute(policy(5, None), &mut attempt).await;
        assert_eq!(run.verdict, Outcome::InfraError);
        assert_eq!(run.attempts, 1);
        assert_eq!(run.message.as_deref(), Some("service `db` did not start"));
        assert!(
            attempt.finished.is_empty(),
            "nothing prepared, nothing to finish"
        );
        assert_eq!(attempt.runs.len(), 1, "the body never ran");
    }

    #[tokio::test]
    async fn time_spent_preparing_is_summed_over_attempts_and_not_charged_to_the_timeout() {
        let mut attempt = Scripted::new([Step::Fail("x"), Step::Pass]);
        // Each prepare takes longer than the timeout, and no attempt times out.
        attempt.prepare_takes = Duration::from_millis(150);
        let run = execute(policy(1, Some(100)), &mut attempt).await;
        assert_eq!(run.verdict, Outcome::Flaky);
        assert!(
            run.setup_wait >= Duration::from_millis(300),
            "{:?}",
            run.setup_wait
        );
        assert!(run.duration >= run.setup_wait);
    }
}
