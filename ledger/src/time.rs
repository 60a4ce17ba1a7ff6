//! Times as people read them: China Standard Time (UTC+8), the time of the
//! regulation's deadlines. Inside the ledger, times are integer milliseconds
//! since the Unix epoch (specs/README.md §Conventions); every message meant
//! for people shows them with [`cst`].

/// The system's wall clock, in milliseconds since the Unix epoch (0 before
/// it; a clock set before 1970 is not one to sign or notarise by).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// China Standard Time is UTC+8 all year (no daylight saving since 1991).
const CST_OFFSET_MS: i64 = 8 * 3600 * 1000;

/// A time in milliseconds since the Unix epoch as people read it here:
/// `2026-11-27 22:07:06.123 CST` (China Standard Time, UTC+8).
pub fn cst(ms: u64) -> String {
    let (date, time) = date_and_time(ms, CST_OFFSET_MS);
    format!("{date} {time} CST")
}

/// The same instant in UTC, RFC 3339: `2026-11-27T14:07:06.123Z`, for
/// readers elsewhere and for machines.
pub fn utc(ms: u64) -> String {
    let (date, time) = date_and_time(ms, 0);
    format!("{date}T{time}Z")
}

/// `YYYY-MM-DD` and `HH:MM:SS.mmm` of an instant at a fixed offset.
fn date_and_time(ms: u64, offset_ms: i64) -> (String, String) {
    // In i128: any u64 a forged entry may carry must print, not overflow.
    let local = i128::from(ms) + i128::from(offset_ms);
    let days = local.div_euclid(86_400_000) as i64;
    let in_day = local.rem_euclid(86_400_000) as i64;
    let (y, m, d) = civil_from_days(days);
    (
        format!("{y:04}-{m:02}-{d:02}"),
        format!(
            "{:02}:{:02}:{:02}.{:03}",
            in_day / 3_600_000,
            in_day / 60_000 % 60,
            in_day / 1000 % 60,
            in_day % 1000
        ),
    )
}

/// The Gregorian date of a day counted from 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cst_is_utc_plus_8() {
        assert_eq!(cst(0), "1970-01-01 08:00:00.000 CST");
        // 2025-11-27T00:00:00Z, the worked example's first time.
        assert_eq!(cst(1_764_201_600_000), "2025-11-27 08:00:00.000 CST");
        // 16:00 UTC is midnight in Beijing: the next day.
        assert_eq!(cst(1_764_259_200_000), "2025-11-28 00:00:00.000 CST");
        assert_eq!(cst(1_709_164_799_999), "2024-02-29 07:59:59.999 CST");
        assert_eq!(cst(951_753_600_000), "2000-02-29 00:00:00.000 CST");
        // The largest time an entry can carry still prints.
        assert_eq!(cst(u64::MAX), "584556019-04-03 22:25:51.615 CST");
    }

    #[test]
    fn utc_is_rfc_3339() {
        assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc(1_764_259_200_000), "2025-11-27T16:00:00.000Z");
    }
}
