//! Properties of the whole planner (proptest) and its input errors.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;

const SERVICES: [&str; 3] = ["postgres", "redis", "kafka"];

fn outcome_strategy() -> impl Strategy<Value = TestOutcome> {
    prop_oneof![
        6 => Just(TestOutcome::Passed),
        2 => Just(TestOutcome::Failed),
        1 => Just(TestOutcome::Flaky),
        1 => Just(TestOutcome::Skipped),
    ]
}

prop_compose! {
    fn candidate(i: usize)(mask in 0u8..8, changed in proptest::option::of(any::<bool>())) -> TestCandidate {
        TestCandidate {
            name: format!("t{i:02}"),
            services: SERVICES.iter().enumerate().filter(|(b, _)| mask & (1 << b) != 0).map(|(_, s)| s.to_string()).collect(),
            source_changed: changed,
        }
    }
}

prop_compose! {
    fn plan_input()(n in 0usize..30, threads in 1usize..6)
        (tests in (0..n).map(candidate).collect::<Vec<_>>(),
         history in proptest::collection::vec(
             (0usize..40, 0u64..8, 0.0f64..20.0, outcome_strategy()), 0..120),
         startup in proptest::collection::vec(0.0f64..5.0, 3),
         threads in Just(threads))
        -> PlanInput
    {
        PlanInput {
            tests,
            // names t00..t39: some candidates have history, some history belongs to others
            history: history.into_iter().map(|(t, run_id, duration_secs, outcome)| TestHistoryRecord {
                test: format!("t{t:02}"), run_id, timestamp_ms: None, duration_secs, outcome, retries: 0,
            }).collect(),
            service_startup_secs: SERVICES.iter().map(|s| s.to_string()).zip(startup).collect(),
            threads,
            partition: None,
            config: PlannerConfig::default(),
        }
    }
}

fn names(input: &PlanInput) -> BTreeSet<String> {
    input.tests.iter().map(|t| t.name.clone()).collect()
}

proptest! {
    #[test]
    fn every_test_appears_exactly_once_in_order_and_in_lanes(input in plan_input()) {
        let plan = plan(&input).unwrap();
        let in_order: Vec<String> = plan.tests.iter().map(|t| t.name.clone()).collect();
        let unique: BTreeSet<String> = in_order.iter().cloned().collect();
        prop_assert_eq!(in_order.len(), input.tests.len());
        prop_assert_eq!(&unique, &names(&input));
        let positions: Vec<usize> = plan.tests.iter().map(|t| t.position).collect();
        prop_assert_eq!(positions, (1..=input.tests.len()).collect::<Vec<_>>());
        let mut in_lanes: Vec<String> = plan.lanes.iter().flat_map(|l| l.tests.clone()).collect();
        in_lanes.sort();
        prop_assert_eq!(in_lanes, unique.into_iter().collect::<Vec<_>>());
        prop_assert_eq!(plan.lanes.len(), input.threads);
        for t in &plan.tests {
            prop_assert!(t.predicted_end_secs <= plan.predicted_wall_secs + 1e-9);
            prop_assert!((0.0..=1.0).contains(&t.estimate.failure_probability));
        }
    }

    #[test]
    fn shards_cover_every_test_once_and_are_balanced(input in plan_input(), count in 1usize..6) {
        let mut seen: Vec<String> = Vec::new();
        let mut shards = None;
        for k in 1..=count {
            let partitioned = PlanInput { partition: Some(Partition::new(k, count).unwrap()), ..input.clone() };
            let p = plan(&partitioned).unwrap();
            seen.extend(p.tests.iter().map(|t| t.name.clone()));
            prop_assert_eq!(p.tests.len(), p.shards[k - 1].test_count);
            if let Some(previous) = &shards {
                prop_assert_eq!(previous, &p.shards);
            }
            shards = Some(p.shards);
        }
        let total = seen.len();
        let unique: BTreeSet<String> = seen.into_iter().collect();
        prop_assert_eq!(total, unique.len(), "a test landed in two shards");
        prop_assert_eq!(unique, names(&input));

        let loads: Vec<f64> = shards.unwrap().iter().map(|s| s.predicted_secs).collect();
        let longest = plan(&input).unwrap().tests.iter().map(|t| t.estimate.expected_duration_secs).fold(0.0, f64::max);
        let max = loads.iter().copied().fold(f64::MIN, f64::max);
        let min = loads.iter().copied().fold(f64::MAX, f64::min);
        prop_assert!(max <= min + longest + 1e-9, "loads {:?}, longest {}", loads, longest);
    }

    #[test]
    fn same_input_gives_the_identical_plan(input in plan_input(), count in 1usize..4) {
        let input = PlanInput { partition: Some(Partition::new(1, count).unwrap()), ..input };
        let a = plan(&input).unwrap();
        let b = plan(&input.clone()).unwrap();
        prop_assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
        prop_assert_eq!(a, b);
    }

    #[test]
    fn partition_bounds_are_errors_not_panics(k in 0usize..10, n in 0usize..10, text in "\\PC{0,8}") {
        let result = Partition::new(k, n);
        prop_assert_eq!(result.is_ok(), n >= 1 && (1..=n).contains(&k));
        let parsed = Partition::parse(&format!("{k}/{n}"));
        prop_assert_eq!(parsed.is_ok(), result.is_ok());
        let _ = Partition::parse(&text);
    }
}

fn input_of(tests: Vec<TestCandidate>) -> PlanInput {
    PlanInput {
        tests,
        history: Vec::new(),
        service_startup_secs: BTreeMap::new(),
        threads: 2,
        partition: None,
        config: PlannerConfig::default(),
    }
}

#[test]
fn duplicate_test_names_are_an_error() {
    let input = input_of(vec![TestCandidate::new("a"), TestCandidate::new("a")]);
    assert_eq!(
        plan(&input).unwrap_err().to_string(),
        "test `a` is listed twice among the candidates; expected unique test names"
    );
}

#[test]
fn zero_threads_is_an_error() {
    let input = PlanInput {
        threads: 0,
        ..input_of(vec![TestCandidate::new("a")])
    };
    assert!(matches!(plan(&input), Err(PlanError::NoThreads)));
}

#[test]
fn out_of_range_config_is_an_error() {
    let mut input = input_of(vec![TestCandidate::new("a")]);
    input.config.new_test_failure_prior = 1.5;
    assert_eq!(
        plan(&input).unwrap_err().to_string(),
        "new_test_failure_prior is 1.5; expected a probability between 0 and 1"
    );
}

#[test]
fn recently_failing_test_runs_first_and_the_plan_says_why() {
    let mut history = Vec::new();
    for run in 1..=5 {
        for name in ["a", "b", "c"] {
            let outcome = if name == "c" && run >= 4 {
                TestOutcome::Failed
            } else {
                TestOutcome::Passed
            };
            history.push(TestHistoryRecord {
                test: name.into(),
                run_id: run,
                timestamp_ms: None,
                duration_secs: 1.0,
                outcome,
                retries: 0,
            });
        }
    }
    let input = PlanInput {
        history,
        ..input_of(vec![
            TestCandidate::new("a"),
            TestCandidate::new("b"),
            TestCandidate::new("c"),
        ])
    };
    let plan = plan(&input).unwrap();
    assert_eq!(plan.tests[0].name, "c");
    assert!(
        plan.tests[0]
            .estimate
            .reasons
            .iter()
            .any(|r| r == "failed 2 of last 5 runs")
    );
    // 3 one-second tests on 2 lanes: 2 s either way.
    assert_eq!(plan.predicted_wall_secs, 2.0);
    assert_eq!(plan.file_order_wall_secs, 2.0);
}

#[test]
fn plan_serialises_to_json_with_snake_case_fields() {
    let input = input_of(vec![TestCandidate::new("a")]);
    let json = serde_json::to_value(plan(&input).unwrap()).unwrap();
    assert_eq!(json["tests"][0]["name"], "a");
    assert_eq!(
        json["tests"][0]["estimate"]["reasons"][0],
        "new test: no history, assumed 20 % chance to fail"
    );
    assert!(json["predicted_wall_secs"].is_number());
    assert!(json["file_order_wall_secs"].is_number());
}

#[test]
fn config_json_keeps_defaults_and_rejects_unknown_or_out_of_range_fields() {
    let config = PlannerConfig::parse_json(r#"{"recency_half_life_runs": 3}"#).unwrap();
    assert_eq!(config.recency_half_life_runs, 3.0);
    assert_eq!(config.time_weight, PlannerConfig::default().time_weight);
    let err = PlannerConfig::parse_json(r#"{"half_life": 3}"#).unwrap_err();
    assert!(matches!(err, PlanError::InvalidConfig { .. }), "{err:?}");
    let cause = std::error::Error::source(&err).unwrap().to_string();
    assert!(cause.contains("unknown field `half_life`"), "{cause}");
    assert_eq!(
        PlannerConfig::parse_json(r#"{"time_weight": 2}"#)
            .unwrap_err()
            .to_string(),
        "time_weight is 2; expected a probability between 0 and 1"
    );
    assert_eq!(
        PlannerConfig::parse_json(r#"{"pattern_runs": 9}"#)
            .unwrap_err()
            .to_string(),
        "pattern_runs is 9; expected at most 7"
    );
    let config = PlannerConfig::parse_json(r#"{"objective": "time"}"#).unwrap();
    assert_eq!(config.objective, Objective::Time);
    assert_eq!(
        Objective::parse("fast").unwrap_err().to_string(),
        "invalid objective `fast`: expected `failures` (likely failures first), `time` \
         (chance to fail per second) or `balanced`"
    );
}

#[test]
fn the_objective_decides_between_a_likely_slow_failure_and_a_cheap_one() {
    // `slow` failed in 4 of its 5 runs and takes 100 s; `quick` failed in 3 of 5 and takes
    // 1 s; `clean` always passed. By failures the likelier one goes first; by time the
    // cheap ones, even `clean` (about 10 % per second beats 0.8 % per second); balanced
    // puts the cheap likely failure first but keeps the slow one ahead of `clean`.
    let mut history = Vec::new();
    for run in 1..=5u64 {
        for (name, secs, failed) in [
            ("slow", 100.0, run != 3),
            ("quick", 1.0, run >= 3),
            ("clean", 1.0, false),
        ] {
            history.push(TestHistoryRecord {
                test: name.into(),
                run_id: run,
                timestamp_ms: None,
                duration_secs: secs,
                outcome: if failed {
                    TestOutcome::Failed
                } else {
                    TestOutcome::Passed
                },
                retries: 0,
            });
        }
    }
    let order = |objective: Objective| {
        let mut input = PlanInput {
            history: history.clone(),
            ..input_of(vec![
                TestCandidate::new("clean"),
                TestCandidate::new("slow"),
                TestCandidate::new("quick"),
            ])
        };
        input.config.objective = objective;
        let plan = plan(&input).unwrap();
        plan.tests
            .iter()
            .map(|t| t.name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(order(Objective::Failures), ["slow", "quick", "clean"]);
    assert_eq!(order(Objective::Time), ["quick", "clean", "slow"]);
    assert_eq!(order(Objective::Balanced), ["quick", "slow", "clean"]);
}
