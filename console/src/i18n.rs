//! All console text, by key, in English and 简体中文 (`assets/locales/*.toml`).
//! A missing Chinese text falls back to English; a missing key shows the key itself.

use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Zh,
}

impl Lang {
    /// `en`, `zh`, `zh-CN`, `zh_CN.UTF-8`… (unknown → English).
    pub fn parse(s: &str) -> Lang {
        if s.to_ascii_lowercase().starts_with("zh") {
            Lang::Zh
        } else {
            Lang::En
        }
    }
    /// The code the server understands.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }
    pub fn toggle(self) -> Lang {
        match self {
            Lang::En => Lang::Zh,
            Lang::Zh => Lang::En,
        }
    }
}

type Table = HashMap<String, String>;

fn parse(text: &str) -> Table {
    toml::from_str::<Table>(text).unwrap_or_default()
}

fn table(lang: Lang) -> &'static Table {
    static EN: OnceLock<Table> = OnceLock::new();
    static ZH: OnceLock<Table> = OnceLock::new();
    match lang {
        Lang::En => EN.get_or_init(|| parse(include_str!("../../assets/locales/en.toml"))),
        Lang::Zh => ZH.get_or_init(|| parse(include_str!("../../assets/locales/zh-CN.toml"))),
    }
}

/// The text of `key`.
pub fn t(lang: Lang, key: &str) -> String {
    table(lang)
        .get(key)
        .or_else(|| table(Lang::En).get(key))
        .cloned()
        .unwrap_or_else(|| key.to_string())
}

/// The text of `key` with `{name}` placeholders filled.
pub fn tf(lang: Lang, key: &str, args: &[(&str, &dyn std::fmt::Display)]) -> String {
    let mut s = t(lang, key);
    for (name, value) in args {
        s = s.replace(&format!("{{{name}}}"), &value.to_string());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_locales_parse_and_have_the_same_keys() {
        let en: Table = toml::from_str(include_str!("../../assets/locales/en.toml")).expect("en");
        let zh: Table =
            toml::from_str(include_str!("../../assets/locales/zh-CN.toml")).expect("zh");
        let mut missing: Vec<_> = en.keys().filter(|k| !zh.contains_key(*k)).collect();
        missing.sort();
        assert!(missing.is_empty(), "missing in zh-CN: {missing:?}");
        let mut extra: Vec<_> = zh.keys().filter(|k| !en.contains_key(*k)).collect();
        extra.sort();
        assert!(extra.is_empty(), "only in zh-CN: {extra:?}");
    }

    #[test]
    fn placeholders() {
        assert_eq!(
            tf(Lang::En, "accounts.can_add", &[("n", &7)]),
            "7 can be added"
        );
        assert_eq!(t(Lang::Zh, "no.such.key"), "no.such.key");
    }
}
