//! Timestamps without a date-time dependency: RFC 3339 in UTC and Unix milliseconds.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch; negative before it.
pub(crate) fn unix_millis(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

/// `time` as RFC 3339 in UTC with milliseconds: `2024-05-01T12:00:00.123Z`.
pub(crate) fn rfc3339_utc(time: SystemTime) -> String {
    let millis = unix_millis(time);
    let secs = millis.div_euclid(1000);
    let ms = millis.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis)
    }

    #[test]
    fn the_epoch_formats_as_1970() {
        assert_eq!(rfc3339_utc(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn known_instants_format_as_utc_with_milliseconds() {
        // `date -u -d @1714564800` = Wed May  1 12:00:00 UTC 2024.
        assert_eq!(
            rfc3339_utc(at(1_714_564_800, 123)),
            "2024-05-01T12:00:00.123Z"
        );
        // A leap day and the last second of a leap year.
        assert_eq!(rfc3339_utc(at(951_782_400, 0)), "2000-02-29T00:00:00.000Z");
        assert_eq!(
            rfc3339_utc(at(1_735_689_599, 999)),
            "2024-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn instants_before_the_epoch_are_negative_millis() {
        let before = UNIX_EPOCH - Duration::from_millis(1500);
        assert_eq!(unix_millis(before), -1500);
        assert_eq!(rfc3339_utc(before), "1969-12-31T23:59:58.500Z");
    }
}
