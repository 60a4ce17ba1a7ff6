//! Decimal numbers as the text formats write them (checkpoint sizes, entry
//! times, proof indexes, tile paths): ASCII digits, no sign, no leading
//! zero (C2SP tlog-checkpoint §Note text; specs/entry.md), so that each
//! number has exactly one spelling.

/// Parses a decimal with no sign and no leading zeroes (except "0").
pub fn parse(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_spelling_per_number() {
        assert_eq!(parse("0"), Some(0));
        assert_eq!(parse("10"), Some(10));
        assert_eq!(parse("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse("010"), None);
        assert_eq!(parse("00"), None);
        assert_eq!(parse("+1"), None);
        assert_eq!(parse("-1"), None);
        assert_eq!(parse(" 1"), None);
        assert_eq!(parse(""), None);
        assert_eq!(parse("18446744073709551616"), None);
    }
}
