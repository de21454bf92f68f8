//! Sign-in, register, activate, forgot and reset password.

use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::app::{App, LoginMode};
use crate::i18n::{t, Lang};
use crate::keymap::Scope;
use crate::widgets::{footer, popup};

pub fn draw(f: &mut Frame, area: Rect, app: &mut App) {
    let lang = app.lang;
    let title = match app.login.mode {
        LoginMode::SignIn => t(lang, "login.title"),
        LoginMode::Register => t(lang, "login.register_title"),
        LoginMode::Activate => t(lang, "login.activate_title"),
        LoginMode::Forgot => t(lang, "login.forgot_title"),
        LoginMode::Reset => t(lang, "login.reset_title"),
        LoginMode::Mfa => t(lang, "login.mfa_title"),
    };
    let art_h = app
        .login
        .captcha
        .as_ref()
        .map(|c| c.art.lines().count() as u16 + 1)
        .unwrap_or(0);
    let w = 64.min(area.width);
    let h = (app.login.form.height(w.saturating_sub(2), lang) + art_h + 7)
        .min(area.height.saturating_sub(1));
    let r = popup::centered(
        Rect::new(area.x, area.y, area.width, area.height.saturating_sub(1)),
        w,
        h,
    );
    let inner = popup::frame_box(f, r, &format!("vcms · {title}"), &app.theme);
    let th = &app.theme;
    let mut y = inner.y;
    let lang_line = Line::from(vec![
        Span::raw(format!("  {}  ", t(lang, "field.language"))),
        Span::styled(
            if lang == Lang::En {
                "[English]"
            } else {
                " English "
            },
            th.title,
        ),
        Span::raw(" "),
        Span::styled(
            if lang == Lang::Zh {
                "[简体中文]"
            } else {
                " 简体中文 "
            },
            th.title,
        ),
        Span::styled("  ^L", th.key),
    ]);
    f.render_widget(
        Paragraph::new(lang_line),
        Rect::new(inner.x, y, inner.width, 1),
    );
    y += 2;
    let fh = app.login.form.height(inner.width, lang);
    app.login.form.render(
        f,
        Rect::new(
            inner.x,
            y,
            inner.width,
            fh.min(inner.height.saturating_sub(y - inner.y)),
        ),
        th,
        lang,
    );
    y += fh;
    if let Some(c) = &app.login.captcha {
        // The art keeps its columns: one left offset for the whole block.
        let art: Vec<&str> = c.art.lines().collect();
        let aw = art.iter().map(|l| l.chars().count()).max().unwrap_or(0) as u16;
        let pad = " ".repeat((inner.width.saturating_sub(aw) / 2) as usize);
        let mut lines = vec![
            Line::styled(t(lang, "login.captcha_hint"), th.muted).alignment(Alignment::Center)
        ];
        lines.extend(
            art.iter()
                .map(|l| Line::styled(format!("{pad}{l}"), th.title)),
        );
        let ah = (lines.len() as u16).min((inner.y + inner.height).saturating_sub(y));
        f.render_widget(
            Paragraph::new(lines),
            Rect::new(inner.x, y, inner.width, ah),
        );
        y += ah;
    }
    if let Some(n) = &app.login.notice {
        if y + 1 < inner.y + inner.height {
            let style = if n.error { th.error } else { th.ok };
            let mark = if n.error { "✗ " } else { "✓ " };
            f.render_widget(
                Paragraph::new(Line::styled(format!("{mark}{}", n.text), style))
                    .wrap(ratatui::widgets::Wrap { trim: true }),
                Rect::new(
                    inner.x,
                    y + 1,
                    inner.width,
                    (inner.y + inner.height).saturating_sub(y + 1),
                ),
            );
        }
    }
    let foot = Rect::new(
        area.x,
        area.y + area.height.saturating_sub(1),
        area.width,
        1,
    );
    f.render_widget(
        Paragraph::new(footer::hints(
            &app.keymap,
            &[Scope::Login],
            lang,
            th,
            area.width as usize,
            &[],
        )),
        foot,
    );
}
