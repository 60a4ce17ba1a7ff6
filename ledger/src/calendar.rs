//! The working-day calendar (工作日) of the regulation's deadlines
//! (specs/calendar.md).
//!
//! Days are calendar days in China Standard Time. A day is a working day if
//! it is a Monday to Friday that no calendar file lists as a day off, or a
//! weekend day listed as a make-up working day (调休上班). National files
//! (one per year, with their source notice) say which years are covered; a
//! deadline that reaches a day of a year no national file covers is counted
//! on weekdays alone and marked provisional. Jurisdiction files add days off
//! or working days, and stricter deadlines, on top.

use std::collections::BTreeMap;
use std::path::Path;

use crate::time::{
    civil_from_days, cst_day, cst_day_start, days_from_civil, is_weekend, parse_ymd, ymd,
};

/// The first line of every calendar file.
pub const HEADER: &str = "share-audit/calendar/v1";

/// The national files built in: the years the code was released with.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("cn-2025.txt", include_str!("../../calendar/cn-2025.txt")),
    ("cn-2026.txt", include_str!("../../calendar/cn-2026.txt")),
];

/// The deadlines of the regulation in working days, by name, and the
/// article that sets each. A jurisdiction may make one shorter, never
/// longer.
pub const DEADLINES: &[(&str, u32, &str)] = &[
    ("reply_unconditional", 1, "Art. 21"),
    ("reply_conditional", 10, "Art. 21"),
    ("delivery", 20, "Art. 22"),
    ("correction_result", 10, "Art. 26"),
    ("catalog_update", 10, "Art. 17"),
    ("catalog_publication", 2, "Art. 17"),
    // Art. 24 and 28 give no number ("promptly"): these are this ledger's
    // default, which a jurisdiction may shorten.
    ("return_flow", 20, "Art. 24"),
    ("dispute_handling", 20, "Art. 28"),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("{file}: the first line must be {HEADER:?}")]
    Header { file: String },
    #[error("{file} line {line}: {reason}")]
    Line {
        file: String,
        line: usize,
        reason: String,
    },
    #[error("{file}: a national file names its `year`, a jurisdiction file its `jurisdiction`; one of them, once")]
    Scope { file: String },
    #[error("{file}: no `source` line (the notice the days come from)")]
    NoSource { file: String },
    #[error("{file}: year {year} is already given by {other}")]
    YearTwice {
        file: String,
        year: i64,
        other: String,
    },
    #[error("cannot read {path}: {reason}")]
    Io { path: String, reason: String },
    #[error("{file}: a calendar is one jurisdiction's, and {other} is for {jurisdiction}")]
    TwoJurisdictions {
        file: String,
        other: String,
        jurisdiction: String,
    },
    #[error("{file} and {other} list {day} differently")]
    Conflict {
        file: String,
        other: String,
        day: String,
    },
}

/// Where a day's status comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The issuing body, e.g. 国务院办公厅.
    pub issuer: String,
    /// The day it was issued, `YYYY-MM-DD`.
    pub date: String,
    /// The document, e.g. its title and number.
    pub document: String,
}

/// One calendar file, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarFile {
    pub name: String,
    /// `Some(year)` for a national file; `None` for a jurisdiction's.
    pub year: Option<i64>,
    pub jurisdiction: Option<String>,
    pub sources: Vec<Source>,
    /// Days listed, by day number: `true` a working day, `false` a day off.
    pub days: BTreeMap<i64, (bool, String)>,
    /// Stricter deadlines, by name (jurisdiction files only).
    pub deadlines: BTreeMap<String, u32>,
}

impl CalendarFile {
    pub fn parse(name: &str, text: &str) -> Result<CalendarFile, CalendarError> {
        let file = name.to_owned();
        let mut lines = text.lines().enumerate();
        match lines.next() {
            Some((_, first)) if first.trim_start_matches('\u{feff}').trim_end() == HEADER => {}
            _ => return Err(CalendarError::Header { file }),
        }
        let mut out = CalendarFile {
            name: file.clone(),
            year: None,
            jurisdiction: None,
            sources: Vec::new(),
            days: BTreeMap::new(),
            deadlines: BTreeMap::new(),
        };
        for (n, raw) in lines {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fail = |reason: String| CalendarError::Line {
                file: file.clone(),
                line: n + 1,
                reason,
            };
            let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
            let rest = rest.trim();
            match word {
                "year" if out.year.is_none() && out.jurisdiction.is_none() => {
                    let year = rest
                        .parse::<i64>()
                        .ok()
                        .filter(|y| (1970..=9999).contains(y))
                        .ok_or_else(|| fail(format!("{rest:?} is not a year")))?;
                    out.year = Some(year);
                }
                "jurisdiction"
                    if out.year.is_none() && out.jurisdiction.is_none() && !rest.is_empty() =>
                {
                    out.jurisdiction = Some(rest.to_owned());
                }
                "source" => {
                    let mut parts = rest.splitn(3, ' ');
                    let (issuer, date, document) =
                        (parts.next(), parts.next(), parts.next().map(str::trim));
                    match (issuer, date, document) {
                        (Some(issuer), Some(date), Some(document))
                            if parse_ymd(date).is_some() && !document.is_empty() =>
                        {
                            out.sources.push(Source {
                                issuer: issuer.to_owned(),
                                date: date.to_owned(),
                                document: document.to_owned(),
                            })
                        }
                        _ => {
                            return Err(fail(
                                "a source is `source ISSUER YYYY-MM-DD DOCUMENT`".into(),
                            ))
                        }
                    }
                }
                "off" | "work" => {
                    let (date, label) = rest.split_once(' ').unwrap_or((rest, ""));
                    let (y, m, d) = parse_ymd(date).ok_or_else(|| {
                        fail(format!("{date:?} is not a day YYYY-MM-DD that exists"))
                    })?;
                    if out.year.is_some_and(|year| year != y) {
                        return Err(fail(format!("{date} is not in the file's year")));
                    }
                    let day = days_from_civil(y, m, d);
                    // A day off is a weekday, a make-up working day a weekend
                    // day: anything else says nothing, and is a typo.
                    let weekend = is_weekend(day);
                    if (word == "work") != weekend {
                        return Err(fail(format!(
                            "{date} is a {}: `{word}` says nothing for it",
                            if weekend { "weekend day" } else { "weekday" }
                        )));
                    }
                    if out
                        .days
                        .insert(day, (word == "work", label.trim().to_owned()))
                        .is_some()
                    {
                        return Err(fail(format!("{date} is listed twice")));
                    }
                }
                "deadline" if out.jurisdiction.is_some() => {
                    let (name, days) = rest.split_once(' ').unwrap_or((rest, ""));
                    let national = DEADLINES
                        .iter()
                        .find(|(n, ..)| *n == name)
                        .ok_or_else(|| fail(format!("unknown deadline {name:?}")))?;
                    let days: u32 = days
                        .trim()
                        .parse()
                        .ok()
                        .filter(|d| (1..=national.1).contains(d))
                        .ok_or_else(|| {
                            fail(format!(
                                "deadline {name} is 1 to {} working days ({}): a jurisdiction may shorten it, not lengthen it",
                                national.1, national.2
                            ))
                        })?;
                    if out.deadlines.insert(name.to_owned(), days).is_some() {
                        return Err(fail(format!("deadline {name} is given twice")));
                    }
                }
                _ => return Err(fail(format!("unexpected line {line:?}"))),
            }
        }
        if out.year.is_none() && out.jurisdiction.is_none() {
            return Err(CalendarError::Scope { file });
        }
        if out.sources.is_empty() {
            return Err(CalendarError::NoSource { file });
        }
        Ok(out)
    }
}

/// A due day: the last day of a period of working days, and whether it was
/// counted on weekdays alone past the years the calendar covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueDay {
    /// The day, counted from 1970-01-01 (CST).
    pub day: i64,
    pub provisional: bool,
}

impl DueDay {
    /// `YYYY-MM-DD`.
    pub fn date(&self) -> String {
        ymd(self.day)
    }

    /// The instant the period ends: 24:00 CST of the due day, in ms.
    pub fn end_ms(&self) -> Option<u64> {
        cst_day_start(self.day + 1)
    }
}

/// The calendar in force: national years and jurisdiction additions.
#[derive(Debug, Clone, Default)]
pub struct Calendar {
    files: Vec<CalendarFile>,
    /// Listed days, national then jurisdiction (which wins), by day.
    days: BTreeMap<i64, bool>,
    /// Years with a national file.
    covered: BTreeMap<i64, String>,
    deadlines: BTreeMap<String, u32>,
}

impl Calendar {
    /// The national years built in.
    pub fn built_in() -> Calendar {
        Calendar::from_files(
            BUILT_IN.iter().map(|(name, text)| {
                CalendarFile::parse(name, text).expect("built-in calendars parse")
            }),
        )
        .expect("built-in calendars agree")
    }

    /// The built-in years and every `*.txt` calendar file of `dir` (a
    /// national file of a built-in year replaces it).
    pub fn with_dir(dir: &Path) -> Result<Calendar, CalendarError> {
        let io = |e: std::io::Error| CalendarError::Io {
            path: dir.display().to_string(),
            reason: e.to_string(),
        };
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "txt"))
            .collect();
        paths.sort();
        let mut given = Vec::new();
        for path in paths {
            let text = crate::policy::read_small(&path).map_err(|e| CalendarError::Io {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
            given.push(CalendarFile::parse(&path.display().to_string(), &text)?);
        }
        let years: Vec<i64> = given.iter().filter_map(|f| f.year).collect();
        let built_in = BUILT_IN
            .iter()
            .map(|(name, text)| CalendarFile::parse(name, text).expect("built-in calendars parse"))
            .filter(|f| !f.year.is_some_and(|y| years.contains(&y)));
        Calendar::from_files(built_in.chain(given))
    }

    pub fn from_files(
        files: impl IntoIterator<Item = CalendarFile>,
    ) -> Result<Calendar, CalendarError> {
        let mut cal = Calendar {
            deadlines: DEADLINES
                .iter()
                .map(|(n, d, _)| ((*n).to_owned(), *d))
                .collect(),
            ..Calendar::default()
        };
        let (national, local): (Vec<_>, Vec<_>) = files.into_iter().partition(|f| f.year.is_some());
        // A calendar is the calendar of one jurisdiction (the notary's): its
        // files may not disagree on a day.
        let mut listed: BTreeMap<i64, (bool, &str)> = BTreeMap::new();
        for f in &local {
            if let Some(first) = local.iter().find(|o| o.jurisdiction != f.jurisdiction) {
                return Err(CalendarError::TwoJurisdictions {
                    file: f.name.clone(),
                    other: first.name.clone(),
                    jurisdiction: first.jurisdiction.clone().unwrap_or_default(),
                });
            }
            for (day, (work, _)) in &f.days {
                if let Some((other_work, other)) = listed.insert(*day, (*work, &f.name)) {
                    if other_work != *work {
                        return Err(CalendarError::Conflict {
                            file: f.name.clone(),
                            other: other.to_owned(),
                            day: ymd(*day),
                        });
                    }
                }
            }
        }
        for f in national.iter().chain(&local) {
            if let Some(year) = f.year {
                if let Some(other) = cal.covered.insert(year, f.name.clone()) {
                    return Err(CalendarError::YearTwice {
                        file: f.name.clone(),
                        year,
                        other,
                    });
                }
            }
            for (day, (work, _)) in &f.days {
                cal.days.insert(*day, *work);
            }
            for (name, days) in &f.deadlines {
                let d = cal.deadlines.entry(name.clone()).or_insert(*days);
                *d = (*d).min(*days);
            }
        }
        cal.files = national.into_iter().chain(local).collect();
        Ok(cal)
    }

    /// The files in force, national years first.
    pub fn files(&self) -> &[CalendarFile] {
        &self.files
    }

    /// The last year a national file covers.
    pub fn last_year(&self) -> Option<i64> {
        self.covered.keys().next_back().copied()
    }

    /// The years national files cover, in order.
    pub fn covered_years(&self) -> Vec<i64> {
        self.covered.keys().copied().collect()
    }

    /// Whether a national file covers the year of `day`.
    pub fn covers(&self, day: i64) -> bool {
        self.covered.contains_key(&civil_from_days(day).0)
    }

    /// Whether `day` is a working day (on weekdays alone for a year no
    /// national file covers, unless a jurisdiction lists it).
    pub fn is_working_day(&self, day: i64) -> bool {
        match self.days.get(&day) {
            Some(work) => *work,
            None => !is_weekend(day),
        }
    }

    /// The deadline `name` in working days, as the jurisdiction has it
    /// (the regulation's where it does not say).
    pub fn deadline(&self, name: &str) -> Option<u32> {
        self.deadlines.get(name).copied().or_else(|| {
            DEADLINES
                .iter()
                .find(|(n, ..)| *n == name)
                .map(|(_, days, _)| *days)
        })
    }

    /// The due day of a period of `working_days` (at least 1) that starts
    /// at the instant `from_ms`: the day it starts is not counted; the
    /// period ends at 24:00 CST of the `working_days`-th working day after
    /// it (specs/calendar.md §Counting).
    pub fn due_day(&self, from_ms: u64, working_days: u32) -> DueDay {
        let mut day = cst_day(from_ms);
        let mut counted = 0;
        let mut provisional = false;
        while counted < working_days.max(1) {
            day += 1;
            provisional |= !self.covers(day);
            if self.is_working_day(day) {
                counted += 1;
            }
        }
        DueDay { day, provisional }
    }

    /// The working days from the instant `from_ms` to the instant `to_ms`,
    /// counted as periods are: the day `from_ms` falls on is not counted,
    /// the day of `to_ms` is if it is a working day (0 for the same day).
    pub fn working_days_between(&self, from_ms: u64, to_ms: u64) -> u32 {
        let (from, to) = (cst_day(from_ms), cst_day(to_ms));
        ((from + 1)..=to)
            .filter(|&d| self.is_working_day(d))
            .count() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_rfc3339;

    fn day(s: &str) -> i64 {
        let (y, m, d) = parse_ymd(s).unwrap();
        days_from_civil(y, m, d)
    }

    #[test]
    fn weekends_holidays_and_make_up_days() {
        let cal = Calendar::built_in();
        assert_eq!(cal.last_year(), Some(2026));
        assert!(cal.is_working_day(day("2026-02-13"))); // Friday
        assert!(cal.is_working_day(day("2026-02-14"))); // Saturday, make-up day
        assert!(!cal.is_working_day(day("2026-02-16"))); // Monday, Spring Festival
        assert!(!cal.is_working_day(day("2026-03-07"))); // an ordinary Saturday
        assert!(cal.is_working_day(day("2027-03-08"))); // Monday of an uncovered year
    }

    #[test]
    fn the_first_day_is_not_counted_and_midnight_is_cst() {
        let cal = Calendar::built_in();
        let at = |s: &str| parse_rfc3339(s).unwrap();
        // Friday 23:59 CST: the next working day is Saturday the 14th (调休).
        let due = cal.due_day(at("2026-02-13T23:59:59+08:00"), 1);
        assert_eq!((due.date(), due.provisional), ("2026-02-14".into(), false));
        // A minute later it is the 14th in Beijing: the next is the 24th.
        let due = cal.due_day(at("2026-02-13T16:00:00Z"), 1);
        assert_eq!(due.date(), "2026-02-24");
        assert_eq!(due.end_ms(), Some(at("2026-02-25T00:00:00+08:00")));
        // Ten working days over the National Day holiday and its make-up days.
        let due = cal.due_day(at("2026-09-28T10:00:00+08:00"), 10);
        assert_eq!(due.date(), "2026-10-16");
        // Past the last covered year: weekdays only, and provisional.
        let due = cal.due_day(at("2026-12-30T10:00:00+08:00"), 3);
        assert_eq!((due.date(), due.provisional), ("2027-01-04".into(), true));
    }

    #[test]
    fn files_are_checked() {
        let parse = |t: &str| CalendarFile::parse("f", t);
        assert!(matches!(
            parse("year 2026\n"),
            Err(CalendarError::Header { .. })
        ));
        let src = "source 政府 2026-01-01 通知\n";
        assert!(parse(&format!("{HEADER}\nyear 2026\n{src}off 2026-02-30 x\n")).is_err());
        assert!(parse(&format!("{HEADER}\nyear 2026\n{src}off 2027-01-01 x\n")).is_err());
        assert!(parse(&format!("{HEADER}\nyear 2026\noff 2026-01-01 x\n")).is_err());
        assert!(parse(&format!("{HEADER}\n{src}off 2026-01-01 x\n")).is_err());
        let local = format!(
            "{HEADER}\njurisdiction 广东省\n{src}off 2026-03-09 地方假日\ndeadline delivery 15\n"
        );
        let local = parse(&local).unwrap();
        for typo in ["off 2026-03-07 a Saturday", "work 2026-03-09 a Monday"] {
            assert!(
                parse(&format!("{HEADER}\nyear 2026\n{src}{typo}\n")).is_err(),
                "{typo}"
            );
        }
        let twice = "deadline delivery 15\ndeadline delivery 12";
        assert!(parse(&format!("{HEADER}\njurisdiction 广东省\n{src}{twice}\n")).is_err());
        let province = |name: &str, day: &str| {
            parse(&format!("{HEADER}\njurisdiction {name}\n{src}{day}\n")).unwrap()
        };
        assert!(matches!(
            Calendar::from_files([local.clone(), province("湖南省", "off 2026-03-10 x")]),
            Err(CalendarError::TwoJurisdictions { .. })
        ));
        assert!(
            Calendar::from_files([local.clone(), province("广东省", "off 2026-03-09 x")]).is_ok()
        );
        // The same day worked by one file and off in another: a conflict.
        let worked = province("广东省", "work 2026-03-08 x");
        let rested = parse(&format!("{HEADER}\njurisdiction 广东省\n{src}\n")).unwrap();
        let mut rested = rested;
        rested.days.insert(day("2026-03-08"), (false, "x".into()));
        assert!(matches!(
            Calendar::from_files([worked, rested]),
            Err(CalendarError::Conflict { .. })
        ));
        assert!(parse(&format!(
            "{HEADER}\njurisdiction 广东省\n{src}deadline delivery 25\n"
        ))
        .is_err());
        assert!(parse(&format!("{HEADER}\nyear 2026\n{src}deadline delivery 5\n")).is_err());
        let cal = Calendar::from_files(
            BUILT_IN
                .iter()
                .map(|(n, t)| CalendarFile::parse(n, t).unwrap())
                .chain([local]),
        )
        .unwrap();
        assert!(!cal.is_working_day(day("2026-03-09")));
        assert_eq!(cal.deadline("delivery"), Some(15));
        assert_eq!(cal.deadline("reply_conditional"), Some(10));
    }

    /// Every day off and make-up day of the 2026 notice, as a deadline of
    /// one working day counted from noon the day before sees it.
    #[test]
    fn every_2026_holiday_and_make_up_day() {
        let cal = Calendar::built_in();
        let file = CalendarFile::parse("cn-2026.txt", BUILT_IN[1].1).unwrap();
        assert_eq!(file.year, Some(2026));
        assert_eq!(file.sources[0].issuer, "国务院办公厅");
        let (mut off, mut work) = (0, 0);
        for (&d, (is_work, _)) in &file.days {
            let noon_before = cst_day_start(d - 1).unwrap() + 12 * 3_600_000;
            let due = cal.due_day(noon_before, 1);
            assert!(!due.provisional);
            if *is_work {
                work += 1;
                assert!(cal.is_working_day(d));
                assert_eq!(due.day, d, "{} is a make-up working day", ymd(d));
            } else {
                off += 1;
                assert!(!cal.is_working_day(d));
                assert!(due.day > d, "{} is a day off", ymd(d));
            }
        }
        // The notice's 2026 days off on weekdays and make-up Saturdays/Sundays.
        assert_eq!((off, work), (19, 6));
    }

    /// Every day of 2025 and 2026 against the State Council's notices,
    /// written out here from their text (国办发明电〔2024〕12号; the notice
    /// of 2025-11-04), not from the calendar files.
    #[test]
    fn every_day_of_2025_and_2026_as_the_notices_say() {
        // Holidays as the notices give them, first to last day, and the
        // make-up working days.
        let holidays = [
            ("2025-01-01", "2025-01-01"),
            ("2025-01-28", "2025-02-04"),
            ("2025-04-04", "2025-04-06"),
            ("2025-05-01", "2025-05-05"),
            ("2025-05-31", "2025-06-02"),
            ("2025-10-01", "2025-10-08"),
            ("2026-01-01", "2026-01-03"),
            ("2026-02-15", "2026-02-23"),
            ("2026-04-04", "2026-04-06"),
            ("2026-05-01", "2026-05-05"),
            ("2026-06-19", "2026-06-21"),
            ("2026-09-25", "2026-09-27"),
            ("2026-10-01", "2026-10-07"),
        ];
        let make_up = [
            "2025-01-26",
            "2025-02-08",
            "2025-04-27",
            "2025-09-28",
            "2025-10-11",
            "2026-01-04",
            "2026-02-14",
            "2026-02-28",
            "2026-05-09",
            "2026-09-20",
            "2026-10-10",
        ];
        let cal = Calendar::built_in();
        let (mut working, mut off) = (0, 0);
        for d in day("2025-01-01")..=day("2026-12-31") {
            let holiday = holidays.iter().any(|(a, b)| (day(a)..=day(b)).contains(&d));
            let worked = make_up.iter().any(|w| day(w) == d);
            let weekday = !is_weekend(d);
            let expected = worked || (weekday && !holiday);
            assert_eq!(cal.is_working_day(d), expected, "{}", ymd(d));
            if expected {
                working += 1;
            } else {
                off += 1;
            }
        }
        // Each year: 261 weekdays, less its weekday holidays (18 in 2025,
        // 19 in 2026), plus its make-up days (5 and 6): 248 working days.
        assert_eq!((working, off), (496, 234));
    }
}
