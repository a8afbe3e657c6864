//! The RETECS CSV format, read by column name: a `;`-separated header naming at least `Name`,
//! `Duration`, `Verdict` and `Cycle` (the standard `Id;Name;Duration;CalcPrio;LastRun;Verdict;
//! Cycle;LastResults`, with or without `BuildId`, in any order, extra columns allowed), then one
//! row per test execution, `Verdict` 1 (or more) meaning failed.
//!
//! `CalcPrio` and `LastResults` are never read: they hold information from the cycle being
//! prioritised (a published priority and the test's verdict history up to it) and would leak
//! past the information barrier of a replay.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::plan::error::ReplayError;

/// Columns a file must have.
const REQUIRED: [&str; 4] = ["Name", "Duration", "Verdict", "Cycle"];

/// One execution row. `CalcPrio` and `LastResults` are read past: the replay never uses them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct RetecsRow {
    /// 1-based line in the file.
    pub line: usize,
    /// `Id` column (empty when the file has none).
    pub id: String,
    /// Test name.
    pub name: String,
    /// `BuildId`, when the file has the column.
    pub build_id: Option<String>,
    /// Duration in seconds.
    pub duration_secs: f64,
    /// `LastRun` timestamp, as written (empty when the file has none).
    pub last_run: String,
    /// The execution failed.
    pub failed: bool,
    /// CI cycle; orders the replay.
    pub cycle: i64,
}

#[cfg(test)]
impl RetecsRow {
    /// A row for the replay tests: only what scoring reads.
    pub(crate) fn of(cycle: i64, name: &str, duration_secs: f64, failed: bool) -> RetecsRow {
        RetecsRow {
            line: 0,
            id: String::new(),
            name: name.into(),
            build_id: None,
            duration_secs,
            last_run: String::new(),
            failed,
            cycle,
        }
    }
}

/// Reads and parses a RETECS CSV file.
pub fn load_retecs_csv(path: &Path) -> Result<Vec<RetecsRow>, ReplayError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReplayError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_retecs_csv(&text).map_err(|source| ReplayError::Invalid {
        path: path.to_path_buf(),
        source: Box::new(source),
    })
}

/// Where each known column sits in a row.
struct Columns {
    width: usize,
    name: usize,
    duration: usize,
    verdict: usize,
    cycle: usize,
    id: Option<usize>,
    build_id: Option<usize>,
    last_run: Option<usize>,
    /// `LastResults` is the last column: a row may carry extra `;` inside it.
    last_results_is_last: bool,
}

fn parse_header(line: usize, header: &str) -> Result<Columns, ReplayError> {
    let columns: Vec<&str> = header.split(';').map(str::trim).collect();
    let find = |name: &str| columns.iter().position(|c| *c == name);
    for (i, column) in columns.iter().enumerate() {
        if columns[..i].contains(column) {
            return Err(ReplayError::Header {
                line,
                found: header.to_string(),
                problem: format!("column `{column}` appears twice"),
            });
        }
    }
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|c| find(c).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(ReplayError::Header {
            line,
            found: header.to_string(),
            problem: format!("missing column(s) {}", missing.join(", ")),
        });
    }
    let at = |name: &str| find(name).unwrap_or_default();
    Ok(Columns {
        width: columns.len(),
        name: at("Name"),
        duration: at("Duration"),
        verdict: at("Verdict"),
        cycle: at("Cycle"),
        id: find("Id"),
        build_id: find("BuildId"),
        last_run: find("LastRun"),
        last_results_is_last: find("LastResults") == Some(columns.len() - 1),
    })
}

/// Parses RETECS CSV text (header line first).
pub fn parse_retecs_csv(text: &str) -> Result<Vec<RetecsRow>, ReplayError> {
    let mut lines = text.lines().enumerate();
    let (header_line, header) = lines
        .by_ref()
        .find(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l.trim_start_matches('\u{feff}').trim()))
        .unwrap_or((1, ""));
    let cols = parse_header(header_line, header)?;

    let mut rows = Vec::new();
    for (index, raw) in lines {
        let line = index + 1;
        let raw = raw.trim_end_matches('\r');
        if raw.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = if cols.last_results_is_last {
            // LastResults may itself hold `;`: anything past the last separator stays in it.
            raw.splitn(cols.width, ';').map(str::trim).collect()
        } else {
            raw.split(';').map(str::trim).collect()
        };
        if fields.len() != cols.width {
            return Err(ReplayError::Row {
                line,
                message: format!(
                    "expected {} `;`-separated fields (one per header column), found {}",
                    cols.width,
                    fields.len()
                ),
            });
        }
        let name = fields[cols.name];
        if name.is_empty() {
            return Err(ReplayError::Row {
                line,
                message: "empty Name".into(),
            });
        }
        let duration_text = fields[cols.duration];
        let duration_secs: f64 = duration_text.parse().map_err(|_| ReplayError::Row {
            line,
            message: format!("Duration `{duration_text}` is not a number of seconds"),
        })?;
        if !duration_secs.is_finite() || duration_secs < 0.0 {
            return Err(ReplayError::Row {
                line,
                message: format!("Duration `{duration_text}` must be a finite number >= 0"),
            });
        }
        let verdict_text = fields[cols.verdict];
        let verdict: u32 = verdict_text.parse().map_err(|_| ReplayError::Row {
            line,
            message: format!("Verdict `{verdict_text}` is not 0 (passed) or 1 (failed)"),
        })?;
        let cycle_text = fields[cols.cycle];
        let cycle: i64 = cycle_text.parse().map_err(|_| ReplayError::Row {
            line,
            message: format!("Cycle `{cycle_text}` is not a whole number"),
        })?;
        let optional = |column: Option<usize>| column.map(|i| fields[i].to_string());
        rows.push(RetecsRow {
            line,
            id: optional(cols.id).unwrap_or_default(),
            name: name.to_string(),
            build_id: optional(cols.build_id),
            duration_secs,
            last_run: optional(cols.last_run).unwrap_or_default(),
            failed: verdict > 0,
            cycle,
        });
    }
    if rows.is_empty() {
        return Err(ReplayError::Empty);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_parse_with_and_without_build_id() {
        let with = "Id;Name;BuildId;Duration;CalcPrio;LastRun;Verdict;Cycle;LastResults\n\
                    1;t1;7;0.5;0;2020-07-24 04:45:01.571;1;3;[]\n";
        let rows = parse_retecs_csv(with).unwrap();
        assert_eq!(rows[0].name, "t1");
        assert_eq!(rows[0].build_id.as_deref(), Some("7"));
        assert_eq!(rows[0].duration_secs, 0.5);
        assert!(rows[0].failed);
        assert_eq!(rows[0].cycle, 3);
        assert_eq!(rows[0].line, 2);

        let without = "Id;Name;Duration;CalcPrio;LastRun;Verdict;Cycle;LastResults\r\n\
                       9;t2;2;0;2016-01-01 00:00:00;0;1;[0, 1]\r\n";
        let rows = parse_retecs_csv(without).unwrap();
        assert_eq!(rows[0].build_id, None);
        assert!(!rows[0].failed);
    }

    #[test]
    fn bad_duration_is_reported_with_its_line() {
        let text = "Id;Name;Duration;CalcPrio;LastRun;Verdict;Cycle;LastResults\n\
                    1;a;1;0;x;0;1;[]\n\
                    2;b;slow;0;x;0;1;[]\n";
        assert_eq!(
            parse_retecs_csv(text).unwrap_err().to_string(),
            "line 3: Duration `slow` is not a number of seconds"
        );
    }

    #[test]
    fn short_row_and_bad_verdict_and_bad_cycle_are_reported_with_their_lines() {
        let head = "Id;Name;Duration;CalcPrio;LastRun;Verdict;Cycle;LastResults\n";
        let short = format!("{head}1;a;1;0\n");
        assert_eq!(
            parse_retecs_csv(&short).unwrap_err().to_string(),
            "line 2: expected 8 `;`-separated fields (one per header column), found 4"
        );
        let verdict = format!("{head}1;a;1;0;x;failed;1;[]\n");
        assert_eq!(
            parse_retecs_csv(&verdict).unwrap_err().to_string(),
            "line 2: Verdict `failed` is not 0 (passed) or 1 (failed)"
        );
        let cycle = format!("{head}\n1;a;1;0;x;0;one;[]\n");
        assert_eq!(
            parse_retecs_csv(&cycle).unwrap_err().to_string(),
            "line 3: Cycle `one` is not a whole number"
        );
        let negative = format!("{head}1;a;-2;0;x;0;1;[]\n");
        assert_eq!(
            parse_retecs_csv(&negative).unwrap_err().to_string(),
            "line 2: Duration `-2` must be a finite number >= 0"
        );
    }

    #[test]
    fn header_without_the_needed_columns_names_them() {
        let err = parse_retecs_csv("a,b,c\n1,2,3\n").unwrap_err().to_string();
        assert_eq!(
            err,
            "line 1: missing column(s) Name, Duration, Verdict, Cycle in header `a,b,c`; \
             expected `;`-separated column names including Name, Duration, Verdict and Cycle \
             (e.g. `Id;Name;Duration;CalcPrio;LastRun;Verdict;Cycle;LastResults`)"
        );
        let err = parse_retecs_csv("Id;Name;Duration;Cycle\n1;a;1;1\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("line 1: missing column(s) Verdict in header"),
            "{err}"
        );
        let err = parse_retecs_csv("Name;Duration;Verdict;Cycle;Name\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("line 1: column `Name` appears twice"),
            "{err}"
        );
    }

    #[test]
    fn columns_are_found_by_name_in_any_order_with_extra_ones() {
        // the standard RETECS header (no BuildId)
        let standard = "Id;Name;Duration;CalcPrio;LastRun;Verdict;Cycle;LastResults\n\
                        1;t1;2.5;77;2016-01-01 00:00:00;1;4;[1, 0; 1]\n";
        let rows = parse_retecs_csv(standard).unwrap();
        assert_eq!(rows[0].name, "t1");
        assert_eq!(rows[0].duration_secs, 2.5);
        assert!(rows[0].failed);
        assert_eq!(rows[0].cycle, 4);
        assert_eq!(rows[0].last_run, "2016-01-01 00:00:00");
        // reordered, with extra columns, and without Id, LastRun, CalcPrio or LastResults
        let shuffled = "Cycle;Team;Verdict;Name;Duration;Comment\n7;core;0;t2;0.25;slow\n";
        let rows = parse_retecs_csv(shuffled).unwrap();
        assert_eq!(rows[0].name, "t2");
        assert_eq!(rows[0].cycle, 7);
        assert_eq!(rows[0].duration_secs, 0.25);
        assert!(!rows[0].failed);
        assert_eq!(rows[0].id, "");
        assert_eq!(rows[0].build_id, None);
        // a row with a field too many when LastResults is not last is an error with its line
        let err = parse_retecs_csv("Name;Duration;Verdict;Cycle\na;1;0;1;extra\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "line 2: expected 4 `;`-separated fields (one per header column), found 5"
        );
    }

    #[test]
    fn unknown_header_after_blank_lines_names_its_own_line() {
        let err = parse_retecs_csv("\n\nId;Name\n").unwrap_err().to_string();
        assert!(
            err.starts_with(
                "line 3: missing column(s) Duration, Verdict, Cycle in header `Id;Name`"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_file_error_names_the_file_and_keeps_the_line() {
        let dir = std::env::temp_dir().join(format!("clnrm-csv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.csv");
        std::fs::write(
            &path,
            "Id;Name;Duration;CalcPrio;LastRun;Verdict;Cycle;LastResults\n1;a;x;0;x;0;1;[]\n",
        )
        .unwrap();
        let err = load_retecs_csv(&path).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            err.to_string(),
            format!("{}: invalid RETECS CSV", path.display())
        );
        let cause = std::error::Error::source(&err).unwrap().to_string();
        assert_eq!(cause, "line 2: Duration `x` is not a number of seconds");
    }

    #[test]
    fn header_without_rows_is_an_error() {
        assert!(matches!(
            parse_retecs_csv("Id;Name;Duration;CalcPrio;LastRun;Verdict;Cycle;LastResults\n"),
            Err(ReplayError::Empty)
        ));
    }
}
