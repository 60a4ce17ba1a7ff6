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

/// The day of 1970-01-01 on which `ms` falls in China Standard Time.
pub fn cst_day(ms: u64) -> i64 {
    (i128::from(ms) + i128::from(CST_OFFSET_MS)).div_euclid(86_400_000) as i64
}

/// The first millisecond of a CST calendar day (its 00:00 CST), counted
/// from 1970-01-01; `None` before the epoch.
pub fn cst_day_start(day: i64) -> Option<u64> {
    u64::try_from(i128::from(day) * 86_400_000 - i128::from(CST_OFFSET_MS)).ok()
}

/// Why a time given by a person was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an RFC 3339 time such as 2026-02-13T18:00:00+08:00")]
pub struct BadTime(pub String);

/// Reads an RFC 3339 instant (`2026-02-13T18:00:00+08:00`, `…Z`, with or
/// without fractions of a second) as milliseconds since the Unix epoch.
pub fn parse_rfc3339(s: &str) -> Result<u64, BadTime> {
    let bad = || BadTime(s.to_owned());
    let b = s.as_bytes();
    // ASCII only, so that every slice below falls between characters.
    if !s.is_ascii() || b.len() < 20 || !matches!(b[10], b'T' | b't' | b' ') {
        return Err(bad());
    }
    let (y, m, d) = parse_ymd(&s[..10]).ok_or_else(bad)?;
    let digits = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (hh, mm, ss) = (
        digits(11..13).ok_or_else(bad)?,
        digits(14..16).ok_or_else(bad)?,
        digits(17..19).ok_or_else(bad)?,
    );
    if &s[13..14] != ":" || &s[16..17] != ":" || hh > 23 || mm > 59 || ss > 60 {
        return Err(bad());
    }
    let mut rest = &s[19..];
    let mut millis = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return Err(bad());
        }
        let ms: String = frac[..n].chars().chain("000".chars()).take(3).collect();
        millis = ms.parse().map_err(|_| bad())?;
        rest = &frac[n..];
    }
    let offset_min = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && matches!(&rest[..1], "+" | "-") && &rest[3..4] == ":" => {
            let h: i64 = rest[1..3].parse().map_err(|_| bad())?;
            let m: i64 = rest[4..6].parse().map_err(|_| bad())?;
            if h > 23 || m > 59 {
                return Err(bad());
            }
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (h * 60 + m)
        }
        _ => return Err(bad()),
    };
    let day = days_from_civil(y, m, d);
    let ms = ((day * 24 + hh) * 60 + mm - offset_min) * 60_000 + ss.min(59) * 1000 + millis;
    u64::try_from(ms).map_err(|_| bad())
}

/// `YYYY-MM-DD` of a day that exists.
pub fn parse_ymd(s: &str) -> Option<(i64, i64, i64)> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = &s[r];
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let days_in_month = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        _ => return None,
    };
    (1..=days_in_month).contains(&d).then_some((y, m, d))
}

/// The day count from 1970-01-01 of a Gregorian date (H. Hinnant's
/// `days_from_civil`).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Whether a day counted from 1970-01-01 (a Thursday) is a Saturday or a
/// Sunday.
pub fn is_weekend(day: i64) -> bool {
    (day + 3).rem_euclid(7) >= 5
}

/// `YYYY-MM-DD` of a day counted from 1970-01-01.
pub fn ymd(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The Gregorian date of a day counted from 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
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
    fn rfc_3339_instants_and_days() {
        assert_eq!(
            parse_rfc3339("2025-11-27T08:00:00+08:00"),
            Ok(1_764_201_600_000)
        );
        assert_eq!(parse_rfc3339("2025-11-27T00:00:00Z"), Ok(1_764_201_600_000));
        assert_eq!(
            parse_rfc3339("2025-11-27T00:00:00.5Z"),
            Ok(1_764_201_600_500)
        );
        assert_eq!(
            parse_rfc3339("2025-11-26T19:00:00-05:00"),
            Ok(1_764_201_600_000)
        );
        for bad in [
            "2026-02-13T18:00:00€abc",
            "2026-02-13T18:00:00+0€0",
            "２026-02-13T18:00:00Z",
            "2025-11-27",
            "2025-02-30T00:00:00Z",
            "2025-11-27T24:00:00Z",
            "2025-11-27T00:00:00",
            "2025-11-27T00:00:00+8:00",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
        // 23:59:59.999 CST is still that day; a millisecond later, the next.
        let before = parse_rfc3339("2026-02-13T23:59:59.999+08:00").unwrap();
        assert_eq!(ymd(cst_day(before)), "2026-02-13");
        assert_eq!(ymd(cst_day(before + 1)), "2026-02-14");
        assert_eq!(cst_day_start(cst_day(before + 1)), Some(before + 1));
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(ymd(days_from_civil(2024, 2, 29)), "2024-02-29");
    }

    #[test]
    fn utc_is_rfc_3339() {
        assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc(1_764_259_200_000), "2025-11-27T16:00:00.000Z");
    }
}
