//! Why a test got its estimate, kept as numbers and put into words only when shown.
//!
//! A plan of 10,000 tests carries tens of thousands of reasons that most runs never print:
//! formatting them while planning cost more than the estimates themselves. A [`Reason`] holds
//! the figures; [`Display`](std::fmt::Display) and serialisation (a string, as before) write
//! the words.

use std::fmt::{self, Write as _};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One reason behind a test's estimate, e.g. "failed 2 of last 5 runs".
///
/// Displays (and serialises) as its sentence; equal when the sentences are equal, and
/// comparable with a `&str`.
#[derive(Debug, Clone)]
pub struct Reason(Kind);

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// New test; `first_runs` first runs in the history, of which `share` failed.
    NewTest {
        share: f64,
        first_runs: f64,
    },
    /// New test and no history at all: the configured prior.
    NewTestPrior {
        chance: f64,
    },
    NoDurationHistory {
        assumed_secs: f64,
    },
    FailedOfLast {
        failed: usize,
        of: usize,
    },
    RetriedOfLast {
        flaky: usize,
        of: usize,
    },
    LastFailedAgo {
        runs: usize,
    },
    PassedAll {
        runs: usize,
    },
    /// `share` of `runs` past runs after the verdict pattern (`len` verdicts, bit i set: the
    /// (i+1)-th most recent failed) failed.
    AfterPattern {
        share: f64,
        runs: f64,
        len: usize,
        bits: u32,
    },
    Flipped {
        times: usize,
        of: usize,
    },
    MedianDuration {
        secs: f64,
        runs: usize,
    },
    SourceChanged,
    /// Needs these services (joined with ", "); its share of their start-up.
    Services {
        names: String,
        share_secs: f64,
    },
    /// Read back from text.
    Text(String),
}

impl Reason {
    pub(crate) fn new(kind: Kind) -> Self {
        Reason(kind)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::NewTest { share, first_runs } => write!(
                f,
                "new test: {:.0} % of the {first_runs:.0} first runs in the history failed",
                share * 100.0
            ),
            Kind::NewTestPrior { chance } => write!(
                f,
                "new test: no history, assumed {:.0} % chance to fail",
                chance * 100.0
            ),
            Kind::NoDurationHistory { assumed_secs } => {
                write!(f, "no duration history: assumed {}", Secs(*assumed_secs))
            }
            Kind::FailedOfLast { failed, of } => write!(f, "failed {failed} of last {of} runs"),
            Kind::RetriedOfLast { flaky, of } => {
                write!(f, "passed only on retry {flaky} of last {of} runs")
            }
            Kind::LastFailedAgo { runs } => write!(f, "last failed {runs} runs ago"),
            Kind::PassedAll { runs } => write!(f, "passed all {runs} runs"),
            Kind::AfterPattern {
                share,
                runs,
                len,
                bits,
            } => {
                write!(
                    f,
                    "{:.0} % of {runs:.0} past runs after the verdicts ",
                    share * 100.0
                )?;
                for i in 0..*len {
                    f.write_str(if bits & (1 << i) != 0 { "F" } else { "P" })?;
                }
                f.write_str(" (newest first) failed")
            }
            Kind::Flipped { times, of } => {
                write!(
                    f,
                    "flipped between pass and fail {times} times in last {of} runs"
                )
            }
            Kind::MedianDuration { secs, runs } => {
                write!(f, "median duration {} over last {runs} runs", Secs(*secs))
            }
            Kind::SourceChanged => f.write_str("source changed since last green run"),
            Kind::Services { names, share_secs } => {
                write!(f, "needs {names}: share of start-up {}", Secs(*share_secs))
            }
            Kind::Text(text) => f.write_str(text),
        }
    }
}

/// Seconds as the reasons write them: two decimals below 10 s, one above.
struct Secs(f64);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 10.0 {
            write!(f, "{:.2} s", self.0)
        } else {
            write!(f, "{:.1} s", self.0)
        }
    }
}

impl PartialEq for Reason {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl PartialEq<str> for Reason {
    fn eq(&self, other: &str) -> bool {
        reads_as(self, other)
    }
}

impl PartialEq<&str> for Reason {
    fn eq(&self, other: &&str) -> bool {
        reads_as(self, other)
    }
}

/// Whether `reason` writes exactly `text`, compared piece by piece as it is written.
fn reads_as(reason: &Reason, text: &str) -> bool {
    struct Rest<'a>(&'a str);
    impl fmt::Write for Rest<'_> {
        fn write_str(&mut self, piece: &str) -> fmt::Result {
            self.0 = self.0.strip_prefix(piece).ok_or(fmt::Error)?;
            Ok(())
        }
    }
    let mut rest = Rest(text);
    write!(rest, "{reason}").is_ok() && rest.0.is_empty()
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Reason {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|text| Reason(Kind::Text(text)))
    }
}

/// The reasons joined with `sep`, for one line of output.
pub fn join_reasons(reasons: &[Reason], sep: &str) -> String {
    let mut out = String::new();
    for (i, reason) in reasons.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        let _ = write!(out, "{reason}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_sentences_and_round_trip_through_json() {
        let reasons = vec![
            Reason::new(Kind::FailedOfLast { failed: 2, of: 5 }),
            Reason::new(Kind::AfterPattern {
                share: 0.6,
                runs: 10.0,
                len: 3,
                bits: 0b001,
            }),
            Reason::new(Kind::MedianDuration {
                secs: 12.34,
                runs: 4,
            }),
            Reason::new(Kind::Services {
                names: "postgres, redis".into(),
                share_secs: 1.5,
            }),
        ];
        assert_eq!(
            join_reasons(&reasons, "; "),
            "failed 2 of last 5 runs; 60 % of 10 past runs after the verdicts FPP (newest \
             first) failed; median duration 12.3 s over last 4 runs; needs postgres, redis: \
             share of start-up 1.50 s"
        );
        let json = serde_json::to_string(&reasons).unwrap();
        let back: Vec<Reason> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, reasons);
        assert!(back[0] == "failed 2 of last 5 runs");
    }
}
