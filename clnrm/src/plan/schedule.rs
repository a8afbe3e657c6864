//! Laying ordered tests out on parallel lanes, counting service start-up.
//!
//! A list-scheduling simulation: each test, in order, goes to the lane that is free first
//! (lowest index on ties). A service is started once per run, in the background, by the first
//! test that needs it; that test and any other test needing the service wait until it is ready.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// One test to lay out.
#[derive(Debug, Clone, Copy)]
pub struct LaneJob<'a> {
    /// Test name.
    pub name: &'a str,
    /// Expected duration in seconds.
    pub duration_secs: f64,
    /// Services it needs.
    pub services: &'a [String],
}

/// One lane (thread) of the layout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct Lane {
    /// 0-based lane number.
    pub index: usize,
    /// Tests on this lane, in run order.
    pub tests: Vec<String>,
    /// Services whose start-up this lane triggered.
    pub services_started: Vec<String>,
    /// Seconds spent running tests.
    pub busy_secs: f64,
    /// When the lane's last test is predicted to end.
    pub finish_secs: f64,
}

/// Where and when one test is predicted to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct ScheduledTest {
    /// 0-based lane number.
    pub lane: usize,
    /// Predicted start, seconds from the start of the run.
    pub start_secs: f64,
    /// Predicted end.
    pub end_secs: f64,
    /// Seconds the test waited for its services to become ready.
    pub service_wait_secs: f64,
}

/// The result of a lane simulation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct LaneLayout {
    /// The lanes.
    pub lanes: Vec<Lane>,
    /// One entry per job, in the jobs' order.
    pub scheduled: Vec<ScheduledTest>,
    /// Predicted wall time: when the last lane finishes.
    pub wall_secs: f64,
}

/// Simulates running `jobs` in this order on `threads` lanes (at least 1 is used).
pub fn simulate_lanes(
    jobs: &[LaneJob<'_>],
    threads: usize,
    service_startup_secs: &BTreeMap<String, f64>,
    default_startup_secs: f64,
) -> LaneLayout {
    let threads = threads.max(1);
    let mut lanes: Vec<Lane> = (0..threads)
        .map(|index| Lane {
            index,
            tests: Vec::new(),
            services_started: Vec::new(),
            busy_secs: 0.0,
            finish_secs: 0.0,
        })
        .collect();
    let placements = place(
        jobs,
        threads,
        service_startup_secs,
        default_startup_secs,
        |lane, service| lanes[lane].services_started.push(service.to_string()),
    );
    let mut scheduled = Vec::with_capacity(jobs.len());
    for (job, p) in jobs.iter().zip(&placements) {
        let l = &mut lanes[p.lane];
        l.tests.push(job.name.to_string());
        l.busy_secs += job.duration_secs;
        l.finish_secs = p.end;
        scheduled.push(ScheduledTest {
            lane: p.lane,
            start_secs: p.start,
            end_secs: p.end,
            service_wait_secs: p.start - p.free,
        });
    }
    let wall_secs = lanes.iter().map(|l| l.finish_secs).fold(0.0, f64::max);
    LaneLayout {
        lanes,
        scheduled,
        wall_secs,
    }
}

/// The wall time [`simulate_lanes`] predicts, without building the layout.
pub fn simulate_wall_secs(
    jobs: &[LaneJob<'_>],
    threads: usize,
    service_startup_secs: &BTreeMap<String, f64>,
    default_startup_secs: f64,
) -> f64 {
    place(
        jobs,
        threads.max(1),
        service_startup_secs,
        default_startup_secs,
        |_, _| {},
    )
    .iter()
    .map(|p| p.end)
    .fold(0.0, f64::max)
}

/// Where one job goes: its lane, when the lane was free, its start and end.
struct Placement {
    lane: usize,
    free: f64,
    start: f64,
    end: f64,
}

/// The list scheduling itself: each job, in order, to the lane free first (lowest index on
/// ties); `started(lane, service)` is told when a job starts a service.
fn place<'a>(
    jobs: &[LaneJob<'a>],
    threads: usize,
    service_startup_secs: &BTreeMap<String, f64>,
    default_startup_secs: f64,
    mut started: impl FnMut(usize, &'a str),
) -> Vec<Placement> {
    let mut finish = vec![0.0f64; threads];
    let mut ready_at: HashMap<&str, f64> = HashMap::new();
    let mut out = Vec::with_capacity(jobs.len());
    let mut services: Vec<&str> = Vec::new();
    for job in jobs {
        let mut lane = 0;
        for (i, f) in finish.iter().enumerate() {
            if f.total_cmp(&finish[lane]).is_lt() {
                lane = i;
            }
        }
        let free = finish[lane];
        let mut start = free;
        services.clear();
        services.extend(job.services.iter().map(String::as_str));
        services.sort_unstable();
        services.dedup();
        for &service in &services {
            let ready = *ready_at.entry(service).or_insert_with(|| {
                started(lane, service);
                free + service_startup_secs
                    .get(service)
                    .copied()
                    .unwrap_or(default_startup_secs)
            });
            start = start.max(ready);
        }
        let end = start + job.duration_secs;
        finish[lane] = end;
        out.push(Placement {
            lane,
            free,
            start,
            end,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_test_needing_a_service_waits_for_it_and_later_ones_do_not() {
        let db = vec!["db".to_string()];
        let jobs = [
            LaneJob {
                name: "a",
                duration_secs: 1.0,
                services: &db,
            },
            LaneJob {
                name: "b",
                duration_secs: 1.0,
                services: &[],
            },
            LaneJob {
                name: "c",
                duration_secs: 1.0,
                services: &db,
            },
        ];
        let startup = BTreeMap::from([("db".to_string(), 2.0)]);
        let layout = simulate_lanes(&jobs, 2, &startup, 0.0);
        // lane 0: a waits 2 s for db, runs 2..3. lane 1: b runs 0..1, then c at 1 waits for
        // db (ready at 2), runs 2..3. Wall = 3.
        assert_eq!(layout.scheduled[0].start_secs, 2.0);
        assert_eq!(layout.scheduled[2].lane, 1);
        assert_eq!(layout.scheduled[2].start_secs, 2.0);
        assert_eq!(layout.scheduled[2].service_wait_secs, 1.0);
        assert_eq!(layout.wall_secs, 3.0);
        assert_eq!(layout.lanes[0].services_started, ["db"]);
        assert!(layout.lanes[1].services_started.is_empty());
    }
}
