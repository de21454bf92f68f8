//! Typed domain values, parsed once at the edge (DOMAIN.md "Input rules"). Every error names
//! the field it was given and the rule that was broken.

use crate::error::AppError;

fn has_control(s: &str) -> bool {
    s.chars().any(|c| c.is_control())
}

/// Characters that take no space on screen: zero-width spaces and joiners, direction marks,
/// the soft hyphen, variation selectors, fillers and tags.
const INVISIBLE: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x2800, 0x2800),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
];

/// Control characters (`char::is_control`: C0, DEL, C1).
const CONTROL: &[(u32, u32)] = &[(0x00, 0x1F), (0x7F, 0x9F)];

/// White space (`char::is_whitespace`, what `trim` removes).
const WHITE_SPACE: &[(u32, u32)] = &[
    (0x09, 0x0D),
    (0x20, 0x20),
    (0x85, 0x85),
    (0xA0, 0xA0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x2028, 0x2029),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
];

pub fn is_invisible(c: char) -> bool {
    let c = c as u32;
    INVISIBLE.iter().any(|&(a, b)| (a..=b).contains(&c))
}

/// The ranges as the body of a regular expression class: `\uXXXX` escapes in the Basic
/// Multilingual Plane, the characters themselves above it (read the same by ECMA-262 with
/// the `u` flag and by Python's `re`).
fn class(ranges: &[&[(u32, u32)]]) -> String {
    let one = |c: u32| match char::from_u32(c) {
        Some(ch) if c > 0xFFFF => ch.to_string(),
        _ => format!("\\u{c:04X}"),
    };
    let mut out = String::new();
    for &(a, b) in ranges.iter().flat_map(|r| r.iter()) {
        out.push_str(&one(a));
        if b != a {
            out.push('-');
            out.push_str(&one(b));
        }
    }
    out
}

/// The pattern (OpenAPI document) of a string with no control character.
pub fn pattern_plain() -> String {
    format!("^[^{}]*$", class(&[CONTROL]))
}

/// The pattern of a required value: no control character, and something besides white
/// space (what [`email_key`] and sign-in call "required").
pub fn pattern_required() -> String {
    let c = class(&[CONTROL]);
    format!("^[^{c}]*[^{}][^{c}]*$", class(&[CONTROL, WHITE_SPACE]))
}

/// The pattern of an email address as the document states it: the common shape (letters,
/// digits and `!#$%*+/=?^_`{|}~-` in up to four dot-separated pieces before the @, dot-separated host labels of up to 63
/// characters after it). The
/// server also takes letters of any script; what it refuses is in [`Email::parse`].
pub fn pattern_email() -> String {
    // Up to four dot-separated pieces of 16 characters before the @ (at most 64 in all).
    let atom = "[A-Za-z0-9!#$%*+/=?^_`{|}~-]{1,16}";
    let label = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
    format!("^{atom}(?:\\.{atom}){{0,3}}@{label}(?:\\.{label})+$")
}

/// The pattern of [`Password`]: no control character, a letter and a digit (length by
/// `minLength`/`maxLength`).
pub fn pattern_password() -> String {
    let c = class(&[CONTROL]);
    format!("^[^{c}]*(?:[^\\W\\d_][^{c}]*[0-9]|[0-9][^{c}]*[^\\W\\d_])[^{c}]*$")
}

/// The pattern of [`text`]: no control character, and at least one character that is
/// neither white space nor invisible.
pub fn pattern_text() -> String {
    let c = class(&[CONTROL]);
    format!(
        "^[^{c}]*[^{}][^{c}]*$",
        class(&[CONTROL, WHITE_SPACE, INVISIBLE])
    )
}

/// Whether the mail transport (lettre, the library that sends every email) takes `s` as a
/// recipient exactly as written: what it parses, with no display name and nothing dropped.
fn sendable(s: &str) -> bool {
    s.parse::<lettre::message::Mailbox>()
        .is_ok_and(|m| m.name.is_none() && m.email.to_string() == s)
}

fn bad_email_shape(field: &str) -> AppError {
    AppError::invalid(
        field,
        format!("{field} must look like user@domain or user@IP address"),
    )
}

/// The part of an email after the @: an IP address (bracketed or not), or a name of labels
/// of letters, digits and inner hyphens with at least one dot.
fn domain_ok(domain: &str) -> bool {
    if let Some(ip) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        ip.parse::<std::net::IpAddr>().is_ok()
    } else if domain.parse::<std::net::IpAddr>().is_ok() {
        true
    } else {
        domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            })
    }
}

/// `user@domain` or `user@IP`; `< > " ' &` are illegal; at most 128 characters. Stored as
/// typed; compared in lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub const MAX: usize = 128;

    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(AppError::invalid(field, format!("{field} is required")));
        }
        if s.chars().count() > Self::MAX {
            return Err(AppError::invalid(
                field,
                format!("{field} must be at most 128 characters"),
            ));
        }
        if let Some(c) = s
            .chars()
            .find(|c| matches!(c, '<' | '>' | '"' | '\'' | '&'))
        {
            return Err(AppError::invalid(
                field,
                format!("{field} must not contain the character {c} (< > \" ' & are not allowed)"),
            ));
        }
        let bad_shape = || bad_email_shape(field);
        if has_control(s) || s.chars().any(char::is_whitespace) {
            return Err(bad_shape());
        }
        let (local, domain) = s.rsplit_once('@').ok_or_else(bad_shape)?;
        if local.is_empty() || local.contains('@') || domain.is_empty() {
            return Err(bad_shape());
        }
        if !domain_ok(domain) {
            return Err(bad_shape());
        }
        // What the mail transport cannot send is refused now, not when the email fails.
        Self::check_sendable(field, s, local, domain)?;
        Ok(Self(s.to_string()))
    }

    /// Refuse a well-formed email `s` (`local@domain`) that the mail transport cannot send.
    fn check_sendable(field: &str, s: &str, local: &str, domain: &str) -> Result<(), AppError> {
        if let Some(c) = s.chars().find(|c| is_invisible(*c)) {
            return Err(AppError::invalid(
                field,
                format!(
                    "{field} must not contain invisible characters (found U+{:04X})",
                    c as u32
                ),
            ));
        }
        if local.chars().count() > 64 {
            return Err(AppError::invalid(
                field,
                format!("{field}: the part before @ must be at most 64 characters"),
            ));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(AppError::invalid(
                field,
                format!("{field}: the part before @ must not start or end with a dot or have two dots in a row"),
            ));
        }
        if let Some(c) = local
            .chars()
            .find(|c| matches!(c, ',' | ';' | '(' | ')' | ':' | '\\' | '[' | ']'))
        {
            return Err(AppError::invalid(
                field,
                format!("{field} must not contain the character {c} before the @ (, ; ( ) : \\ [ ] are not allowed)"),
            ));
        }
        if domain.starts_with('[') {
            return Err(AppError::invalid(
                field,
                format!("{field}: write an IP address without brackets (user@192.0.2.1)"),
            ));
        }
        if !sendable(s) {
            return Err(bad_email_shape(field));
        }
        Ok(())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The key used for lookups: emails are case-insensitive.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// Lower-cased lookup key of an email as typed, without validating it (for sign-in, where an
/// invalid email must behave like an unknown one).
pub fn email_key(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// 8 to 32 characters with both letters and digits; case-sensitive.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        let n = raw.chars().count();
        if !(8..=32).contains(&n) {
            return Err(AppError::invalid(
                field,
                format!("{field} must be 8 to 32 characters"),
            ));
        }
        no_control(field, raw)?;
        let letters = raw.chars().any(char::is_alphabetic);
        let digits = raw.chars().any(|c| c.is_ascii_digit());
        if !(letters && digits) {
            return Err(AppError::invalid(
                field,
                format!("{field} must contain both letters and digits"),
            ));
        }
        Ok(Self(raw.to_string()))
    }

    /// A new password typed twice: `raw` in `field`, and again in `confirm_password`.
    pub fn confirmed(field: &str, raw: &str, confirm: &str) -> Result<Self, AppError> {
        let p = Self::parse(field, raw)?;
        if raw != confirm {
            return Err(AppError::invalid(
                "confirm_password",
                format!("confirm_password must be the same as {field}"),
            ));
        }
        Ok(p)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn no_control(field: &str, s: &str) -> Result<(), AppError> {
    if has_control(s) {
        return Err(AppError::invalid(
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(())
}

/// A field a change may leave out: `check`ed (`check(field, value)`) when it is there.
pub fn optional<T>(
    field: &str,
    raw: Option<&str>,
    check: impl FnOnce(&str, &str) -> Result<T, AppError>,
) -> Result<Option<T>, AppError> {
    raw.map(|v| check(field, v)).transpose()
}

/// A required piece of text of 1..=max characters (names, company, country).
pub fn text(field: &str, raw: &str, max: usize) -> Result<String, AppError> {
    let s = raw.trim();
    if s.chars().all(|c| c.is_whitespace() || is_invisible(c)) {
        return Err(AppError::invalid(
            field,
            format!("{field} is required (1 to {max} characters, not only invisible ones)"),
        ));
    }
    if s.chars().count() > max {
        return Err(AppError::invalid(
            field,
            format!("{field} must be at most {max} characters"),
        ));
    }
    no_control(field, s)?;
    Ok(s.to_string())
}

/// Full name: 1 to 64 characters in any script.
pub fn name(field: &str, raw: &str) -> Result<String, AppError> {
    text(field, raw, 64)
}

/// Company: 1 to 128 characters.
pub fn company(field: &str, raw: &str) -> Result<String, AppError> {
    text(field, raw, 128)
}

/// Country: 1 to 64 characters.
pub fn country(field: &str, raw: &str) -> Result<String, AppError> {
    text(field, raw, 64)
}

/// Exactly 4 digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension(String);

impl Extension {
    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        let s = raw.trim();
        if s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_string()))
        } else {
            Err(AppError::invalid(
                field,
                format!("{field} must be exactly 4 digits"),
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Language of emails and the console: English or Simplified Chinese.
pub fn language(field: &str, raw: &str) -> Result<String, AppError> {
    match raw.trim() {
        "" | "en" | "en-US" | "en-GB" => Ok("en".into()),
        "zh-CN" | "zh" | "zh-Hans" | "zh_CN" => Ok("zh-CN".into()),
        _ => Err(AppError::invalid(
            field,
            format!("{field} must be en or zh-CN"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in [
            "anna@example.com",
            "Anna.B+x@mail.example.co",
            "u@10.0.0.1",
            "陈@例子.中国",
            "o!#$%*+/=?^_`{|}~-x@x.test",
        ] {
            assert!(Email::parse("email", ok).is_ok(), "{ok}");
            assert!(
                sendable(ok),
                "accepted but the transport cannot send it: {ok}"
            );
        }
        // Accepted before, failed later as "invalid recipient address" in the transport.
        let long_local = format!("{}@x.test", "a".repeat(65));
        for bad in [
            "a,b@x.test",
            "a;b@x.test",
            "a(b)@x.test",
            "a:b@x.test",
            "a\\b@x.test",
            "a[b]@x.test",
            ".a@x.test",
            "a.@x.test",
            "a..b@x.test",
            "a\u{200B}b@x.test",
            "a@x\u{200B}.test",
            "a@[1.2.3.4]",
            "u@[10.0.0.1]",
            "a@::1",
            &long_local,
        ] {
            let e = Email::parse("email", bad).unwrap_err();
            assert_eq!(e.body.field.as_deref(), Some("email"), "{bad}");
        }
        assert!(Email::parse("email", &format!("{}@x.test", "a".repeat(64))).is_ok());
        for bad in [
            "",
            "anna",
            "anna@",
            "@x.com",
            "a b@x.com",
            "a<b@x.com",
            "a'b@x.com",
            "a&b@x.com",
            "a@localhost",
            "a@@x.com",
        ] {
            let e = Email::parse("email", bad).unwrap_err();
            assert_eq!(e.body.field.as_deref(), Some("email"), "{bad}");
        }
        let long = format!("{}@x.com", "a".repeat(123));
        assert!(Email::parse("email", &long).is_err());
        assert_eq!(
            Email::parse("email", "Anna@X.com").unwrap().key(),
            "anna@x.com"
        );
    }

    #[test]
    fn passwords() {
        assert!(Password::parse("password", "abcd1234").is_ok());
        assert!(Password::parse("password", &format!("a1{}", "x".repeat(30))).is_ok());
        for bad in [
            "abc123",
            "abcdefgh",
            "12345678",
            &format!("a1{}", "x".repeat(31)),
        ] {
            assert!(Password::parse("password", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_and_extensions() {
        assert_eq!(name("name", " 陈媛媛 ").unwrap(), "陈媛媛");
        assert!(name("name", &"名".repeat(64)).is_ok());
        assert!(name("name", &"名".repeat(65)).is_err());
        assert!(name("name", "  ").is_err());
        assert!(name("name", "\u{200B}\u{200B}").is_err());
        assert!(name("name", " \u{200B}\u{FEFF}\u{2060} ").is_err());
        assert_eq!(name("name", "a\u{200D}b").unwrap(), "a\u{200D}b");
        assert!(Extension::parse("extension", "1001").is_ok());
        for bad in ["101", "10011", "10a1", "", "１００１"] {
            assert!(Extension::parse("extension", bad).is_err(), "{bad}");
        }
    }
}
