//! Email templates from `assets/email/`: a text and an HTML body per kind and language. The
//! first line of the text file is `Subject: …`. `{{name}}` placeholders are filled with
//! values (HTML-escaped in the HTML body).

pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

macro_rules! tpl {
    ($kind:literal, $lang:literal) => {
        (
            include_str!(concat!("../../../assets/email/", $kind, ".", $lang, ".txt")),
            include_str!(concat!(
                "../../../assets/email/",
                $kind,
                ".",
                $lang,
                ".html"
            )),
        )
    };
}

fn source(kind: &str, lang: &str) -> Option<(&'static str, &'static str)> {
    let zh = lang == "zh-CN";
    Some(match (kind, zh) {
        ("activation", false) => tpl!("activation", "en"),
        ("activation", true) => tpl!("activation", "zh-CN"),
        ("password_reset", false) => tpl!("password_reset", "en"),
        ("password_reset", true) => tpl!("password_reset", "zh-CN"),
        ("license_expiry", false) => tpl!("license_expiry", "en"),
        ("license_expiry", true) => tpl!("license_expiry", "zh-CN"),
        ("trial_purge", false) => tpl!("trial_purge", "en"),
        ("trial_purge", true) => tpl!("trial_purge", "zh-CN"),
        ("account_info", false) => tpl!("account_info", "en"),
        ("account_info", true) => tpl!("account_info", "zh-CN"),
        ("mfa_code", false) => tpl!("mfa_code", "en"),
        ("mfa_code", true) => tpl!("mfa_code", "zh-CN"),
        ("mfa_failing", false) => tpl!("mfa_failing", "en"),
        ("mfa_failing", true) => tpl!("mfa_failing", "zh-CN"),
        ("invitation", false) => tpl!("invitation", "en"),
        ("invitation", true) => tpl!("invitation", "zh-CN"),
        ("register_attempt", false) => tpl!("register_attempt", "en"),
        ("register_attempt", true) => tpl!("register_attempt", "zh-CN"),
        ("test", false) => tpl!("test", "en"),
        ("test", true) => tpl!("test", "zh-CN"),
        _ => return None,
    })
}

pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn fill(template: &str, vars: &[(&str, &str)], html: bool) -> String {
    let mut out = template.to_string();
    for (k, v) in vars {
        let value = if html {
            escape_html(v)
        } else {
            (*v).to_string()
        };
        out = out.replace(&format!("{{{{{k}}}}}"), &value);
    }
    out
}

/// Render an email; unknown kinds are a programming error reported as an internal error.
pub fn render(
    kind: &str,
    lang: &str,
    vars: &[(&str, &str)],
) -> Result<Rendered, crate::error::AppError> {
    let (text, html) = source(kind, lang)
        .ok_or_else(|| crate::error::AppError::internal(format!("no email template {kind}")))?;
    let text = fill(text, vars, false);
    let (first, body) = text.split_once('\n').unwrap_or((&text, ""));
    let subject = first
        .strip_prefix("Subject:")
        .unwrap_or(first)
        .trim()
        .to_string();
    Ok(Rendered {
        subject,
        text: body.trim_start_matches('\n').to_string(),
        html: fill(html, vars, true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_renders_in_both_languages_and_escapes_html() {
        for kind in [
            "activation",
            "password_reset",
            "license_expiry",
            "trial_purge",
            "register_attempt",
            "test",
            "mfa_code",
            "mfa_failing",
        ] {
            for lang in ["en", "zh-CN"] {
                let r = render(kind, lang, &[("name", "<b>陈</b>")]).unwrap();
                assert!(!r.subject.is_empty(), "{kind} {lang}");
                assert!(
                    !r.html.contains("<b>陈</b>"),
                    "{kind} {lang} html not escaped"
                );
                assert!(!r.text.contains("{{name}}"), "{kind} {lang}");
            }
        }
    }
}
