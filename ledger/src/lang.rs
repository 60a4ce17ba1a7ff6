//! The languages of the messages people read: English, and Chinese (简体中文)
//! for the departments, supervisors and auditors who use these tools.
//! Codes (refusal codes, `--json` fields, exit statuses) are the same in
//! every language; only the sentences change.

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Lang {
    #[default]
    En,
    Zh,
}

impl Lang {
    /// `zh`, `zh-CN`, `zh_CN.UTF-8`, `en`, `en_US.UTF-8`, `C`, …; `None` for
    /// a language without messages here.
    pub fn parse(tag: &str) -> Option<Lang> {
        let tag = tag.trim().to_ascii_lowercase();
        if tag == "zh" || tag.starts_with("zh-") || tag.starts_with("zh_") || tag.starts_with("zh.")
        {
            Some(Lang::Zh)
        } else if tag == "en"
            || tag.starts_with("en-")
            || tag.starts_with("en_")
            || tag == "c"
            || tag.starts_with("c.")
            || tag == "posix"
        {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The locale's language: `LC_ALL`, `LC_MESSAGES`, then `LANG`, as
    /// POSIX orders them; English if none names one of ours.
    pub fn from_env() -> Lang {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|v| std::env::var(v).ok())
            .find(|v| !v.is_empty())
            .and_then(|v| Lang::parse(&v))
            .unwrap_or_default()
    }

    /// The first language of an HTTP `Accept-Language` header that has
    /// messages here (quality values are taken in the order written).
    pub fn from_accept_language(header: &str) -> Lang {
        header
            .split(',')
            .filter_map(|part| Lang::parse(part.split(';').next().unwrap_or_default()))
            .next()
            .unwrap_or_default()
    }

    /// The tag to send in `Accept-Language`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_locales_and_headers() {
        assert_eq!(Lang::parse("zh_CN.UTF-8"), Some(Lang::Zh));
        assert_eq!(Lang::parse("zh-Hans"), Some(Lang::Zh));
        assert_eq!(Lang::parse("C.UTF-8"), Some(Lang::En));
        assert_eq!(Lang::parse("fr_FR"), None);
        assert_eq!(Lang::parse("zhx"), None);
        assert_eq!(
            Lang::from_accept_language("fr, zh-CN;q=0.8, en;q=0.5"),
            Lang::Zh
        );
        assert_eq!(Lang::from_accept_language("en-GB, zh"), Lang::En);
        assert_eq!(Lang::from_accept_language(""), Lang::En);
    }
}
