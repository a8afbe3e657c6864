//! The RETECS CSV format: `Id;Name;BuildId;Duration;CalcPrio;LastRun;Verdict;Cycle;LastResults`
//! (`BuildId` optional), one row per test execution, `Verdict` 1 (or more) meaning failed.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::plan::error::ReplayError;

const WITH_BUILD: [&str; 9] = [
    "Id",
    "Name",
    "BuildId",
    "Duration",
    "CalcPrio",
    "LastRun",
    "Verdict",
    "Cycle",
    "LastResults",
];
const WITHOUT_BUILD: [&str; 8] = [
    "Id",
    "Name",
    "Duration",
    "CalcPrio",
    "LastRun",
    "Verdict",
    "Cycle",
    "LastResults",
];
const EXPECTED: &str = "Id;Name;BuildId;Duration;CalcPrio;LastRun;Verdict;Cycle;LastResults";

/// One execution row. `CalcPrio` and `LastResults` are read past: the replay never uses them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct RetecsRow {
    /// 1-based line in the file.
    pub line: usize,
    /// `Id` column.
    pub id: String,
    /// Test name.
    pub name: String,
    /// `BuildId`, when the file has the column.
    pub build_id: Option<String>,
    /// Duration in seconds.
    pub duration_secs: f64,
    /// `LastRun` timestamp, as written.
    pub last_run: String,
    /// The execution failed.
    pub failed: bool,
    /// CI cycle; orders the replay.
    pub cycle: i64,
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

/// Parses RETECS CSV text (header line first).
pub fn parse_retecs_csv(text: &str) -> Result<Vec<RetecsRow>, ReplayError> {
    let mut lines = text.lines().enumerate();
    let (header_line, header) = lines
        .by_ref()
        .find(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l.trim_start_matches('\u{feff}').trim()))
        .unwrap_or((1, ""));
    let columns: Vec<&str> = header.split(';').map(str::trim).collect();
    let has_build = if columns == WITH_BUILD {
        true
    } else if columns == WITHOUT_BUILD {
        false
    } else {
        return Err(ReplayError::Header {
            line: header_line,
            found: header.to_string(),
            expected: EXPECTED,
        });
    };
    let width = if has_build { 9 } else { 8 };

    let mut rows = Vec::new();
    for (index, raw) in lines {
        let line = index + 1;
        let raw = raw.trim_end_matches('\r');
        if raw.trim().is_empty() {
            continue;
        }
        // LastResults is the last column and may itself hold `;`-free lists; split at most
        // `width` fields so anything after the 8th separator stays in LastResults.
        let fields: Vec<&str> = raw.splitn(width, ';').map(str::trim).collect();
        if fields.len() != width {
            return Err(ReplayError::Row {
                line,
                message: format!(
                    "expected {width} `;`-separated fields, found {}",
                    fields.len()
                ),
            });
        }
        let at = |name: &str| -> &str {
            let cols: &[&str] = if has_build {
                &WITH_BUILD
            } else {
                &WITHOUT_BUILD
            };
            fields[cols.iter().position(|c| *c == name).unwrap_or(0)]
        };
        let name = at("Name");
        if name.is_empty() {
            return Err(ReplayError::Row {
                line,
                message: "empty Name".into(),
            });
        }
        let duration_text = at("Duration");
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
        let verdict_text = at("Verdict");
        let verdict: u32 = verdict_text.parse().map_err(|_| ReplayError::Row {
            line,
            message: format!("Verdict `{verdict_text}` is not 0 (passed) or 1 (failed)"),
        })?;
        let cycle_text = at("Cycle");
        let cycle: i64 = cycle_text.parse().map_err(|_| ReplayError::Row {
            line,
            message: format!("Cycle `{cycle_text}` is not a whole number"),
        })?;
        rows.push(RetecsRow {
            line,
            id: at("Id").to_string(),
            name: name.to_string(),
            build_id: has_build.then(|| at("BuildId").to_string()),
            duration_secs,
            last_run: at("LastRun").to_string(),
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
            "line 2: expected 8 `;`-separated fields, found 4"
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
    fn unknown_header_names_the_expected_one() {
        let err = parse_retecs_csv("a,b,c\n1,2,3\n").unwrap_err().to_string();
        assert_eq!(
            err,
            "line 1: unexpected header `a,b,c`; expected \
             `Id;Name;BuildId;Duration;CalcPrio;LastRun;Verdict;Cycle;LastResults` (BuildId is optional)"
        );
    }

    #[test]
    fn unknown_header_after_blank_lines_names_its_own_line() {
        let err = parse_retecs_csv("\n\nId;Name\n").unwrap_err().to_string();
        assert!(
            err.starts_with("line 3: unexpected header `Id;Name`"),
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
