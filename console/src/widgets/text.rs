//! Display-width helpers: CJK characters take two columns.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// `s` cut to at most `max` columns, with `…` when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if w + cw > max - 1 {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push('…');
    out
}

/// `s` cut or padded with spaces to exactly `cols` columns.
pub fn pad(s: &str, cols: usize) -> String {
    let t = truncate(s, cols);
    let w = width(&t);
    format!("{t}{}", " ".repeat(cols.saturating_sub(w)))
}

/// Groups of three for reading out: `123456789` → `123 456 789`.
pub fn grouped(s: &str, size: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    chars
        .chunks(size.max(1))
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cjk_widths() {
        assert_eq!(width("陈媛媛"), 6);
        assert_eq!(pad("陈媛媛", 8), "陈媛媛  ");
        assert_eq!(truncate("陈媛媛何以言", 7), "陈媛媛…");
        assert_eq!(width(&pad("何以言", 5)), 5);
        assert_eq!(grouped("123456789", 3), "123 456 789");
    }
}
