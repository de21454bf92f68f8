//! Centered popups: confirm, a secret shown large, help, a form frame, and the split of
//! an area into its body and a footer line.

use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use crate::i18n::{t, Lang};
use crate::keymap::{Keymap, Scope};
use crate::theme::Theme;
use crate::widgets::text::{grouped, pad, width};

/// A rectangle of `w`×`h` centered in `area` (clipped to it).
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// `area` split into all but its last line, and its last line (a footer's).
pub fn last_line(area: Rect) -> (Rect, Rect) {
    let height = area.height.saturating_sub(1);
    let body = Rect::new(area.x, area.y, area.width, height);
    (body, Rect::new(area.x, area.y + height, area.width, 1))
}

/// A bordered, cleared box with a title; returns the inner area.
pub fn frame_box(frame: &mut Frame, area: Rect, title: &str, theme: &Theme) -> Rect {
    frame.render_widget(Clear, area);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(Span::styled(format!(" {title} "), theme.title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    inner
}

pub fn confirm(
    frame: &mut Frame,
    area: Rect,
    text: &str,
    detail: &str,
    theme: &Theme,
    lang: Lang,
    keymap: &Keymap,
) {
    let w = (width(text).max(width(detail)) as u16 + 6).clamp(36, area.width);
    let r = centered(area, w, 7);
    let inner = frame_box(frame, r, &t(lang, "confirm.title"), theme);
    let yes = keymap.key_of(Scope::Confirm, crate::keymap::Cmd::Yes);
    let no = keymap.key_of(Scope::Confirm, crate::keymap::Cmd::No);
    let lines = vec![
        Line::styled(text.to_string(), theme.title),
        Line::styled(detail.to_string(), theme.muted),
        Line::from(""),
        Line::from(vec![
            Span::styled(format!("[{yes}] "), theme.key),
            Span::raw(t(lang, "confirm.yes")),
            Span::raw("    "),
            Span::styled(format!("[{no}] "), theme.key),
            Span::raw(t(lang, "confirm.no")),
        ]),
    ];
    frame.render_widget(
        Paragraph::new(lines)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        inner,
    );
}

#[allow(clippy::too_many_arguments)]
/// A new pincode or password: big, spaced in groups, easy to read out.
pub fn secret(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    who: &str,
    value: &str,
    note: &str,
    theme: &Theme,
    lang: Lang,
) {
    let big = grouped(
        value,
        if value.chars().all(|c| c.is_ascii_digit()) {
            3
        } else {
            4
        },
    );
    let spaced: String = big.chars().map(|c| format!("{c} ")).collect::<String>();
    let w = (width(&spaced).max(width(note)).max(width(who)) as u16 + 8).clamp(40, area.width);
    let r = centered(area, w, 10);
    let inner = frame_box(frame, r, title, theme);
    let lines = vec![
        Line::styled(who.to_string(), theme.muted),
        Line::from(""),
        Line::styled(spaced.trim_end().to_string(), theme.big),
        Line::from(""),
        Line::from(vec![
            Span::raw(format!("{} ", t(lang, "secret.plain"))),
            Span::styled(value.to_string(), theme.title),
        ]),
        Line::styled(note.to_string(), theme.muted),
        Line::styled(t(lang, "secret.close"), theme.muted),
    ];
    frame.render_widget(Paragraph::new(lines).alignment(Alignment::Center), inner);
}

pub fn help(
    frame: &mut Frame,
    area: Rect,
    scopes: &[Scope],
    keymap: &Keymap,
    theme: &Theme,
    lang: Lang,
    hidden: &[crate::keymap::Cmd],
) {
    let mut lines = vec![];
    for scope in scopes {
        lines.push(Line::styled(
            t(lang, &format!("scope.{}", scope.name())),
            theme.title,
        ));
        for b in keymap
            .table(*scope)
            .iter()
            .filter(|b| !hidden.contains(&b.cmd))
        {
            let keys = b
                .keys
                .iter()
                .map(|k| k.label())
                .collect::<Vec<_>>()
                .join(" ");
            lines.push(Line::from(vec![
                Span::styled(format!("  {}", pad(&keys, 11)), theme.key),
                Span::raw(t(lang, b.desc)),
            ]));
        }
    }
    let room = area.height.saturating_sub(3) as usize;
    let two = lines.len() > room && area.width >= 76;
    let rows = if two {
        lines.len().div_ceil(2)
    } else {
        lines.len()
    };
    let h = (rows as u16 + 3).min(area.height);
    let w = if two { 76 } else { 46 }.min(area.width);
    let r = centered(area, w, h);
    let inner = frame_box(frame, r, &t(lang, "help.title"), theme);
    let (body, foot) = last_line(inner);
    if two {
        let right = lines.split_off(rows);
        let half = body.width / 2;
        frame.render_widget(
            Paragraph::new(lines),
            Rect::new(body.x, body.y, half, body.height),
        );
        frame.render_widget(
            Paragraph::new(right),
            Rect::new(body.x + half, body.y, body.width - half, body.height),
        );
    } else {
        frame.render_widget(Paragraph::new(lines), body);
    }
    frame.render_widget(
        Paragraph::new(Line::styled(t(lang, "help.close"), theme.muted)),
        foot,
    );
}
