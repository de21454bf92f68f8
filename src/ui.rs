//! Drawing: reads the state, never changes it (except widget scroll offsets), no I/O.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::app::{App, Overlay, Screen, Tab};
use crate::i18n::t;
use crate::widgets::{footer, popup};

const SPINNER: [&str; 8] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧"];

pub fn draw(f: &mut Frame, app: &mut App) {
    let area = f.area();
    match app.screen {
        Screen::Login => crate::screens::login::draw(f, area, app),
        Screen::Main => draw_main(f, area, app),
    }
    draw_overlay(f, area, app);
}

fn draw_main(f: &mut Frame, area: Rect, app: &mut App) {
    let [top, body, status, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    // Tabs line.
    let th = &app.theme;
    let mut spans = vec![Span::styled(" vcms ", th.title)];
    for (tab, key, label) in [
        (Tab::Account, "1", "tab.account"),
        (Tab::System, "2", "tab.system"),
    ] {
        let style = if app.tab == tab {
            th.tab_active
        } else {
            th.muted
        };
        let mark = if app.tab == tab { "▸" } else { " " };
        spans.push(Span::styled(
            format!(" {mark}{key} {} ", t(app.lang, label)),
            style,
        ));
    }
    let who = app
        .profile
        .as_ref()
        .map(|p| format!("{} · {} ", p.username, p.enterprise_number))
        .unwrap_or_default();
    let spin = if app.busy() {
        SPINNER[app.spinner % SPINNER.len()]
    } else {
        " "
    };
    let left_w: usize = spans.iter().map(|s| s.width()).sum();
    let right = format!("{who}{spin} ");
    let gap = (top.width as usize).saturating_sub(left_w + crate::widgets::text::width(&right));
    spans.push(Span::raw(" ".repeat(gap)));
    spans.push(Span::styled(right, th.muted));
    f.render_widget(Paragraph::new(Line::from(spans)), top);

    match app.tab {
        Tab::Account => match app.view {
            crate::app::View::Table if app.pane_shown() => {
                // Wide terminals: the selected account's details beside the table.
                let [table, pane] =
                    Layout::horizontal([Constraint::Min(80), Constraint::Length(60)]).areas(body);
                crate::screens::accounts::draw(f, table, app);
                crate::screens::account_details::draw_pane(f, pane, app);
            }
            crate::app::View::Table => crate::screens::accounts::draw(f, body, app),
            crate::app::View::Details => crate::screens::account_details::draw(f, body, app),
            crate::app::View::Failed => crate::screens::failed_emails::draw(f, body, app),
        },
        Tab::System => crate::screens::system::draw(f, body, app),
    }

    // Status line: command prompt, or the last message.
    let th = &app.theme;
    let line = if let Some(c) = &app.command {
        Line::from(vec![
            Span::styled(":", th.key),
            Span::raw(c.clone()),
            Span::styled("█", th.muted),
        ])
    } else if let Some(toast) = &app.toast {
        let (mark, style) = if toast.error {
            ("✗ ", th.error)
        } else {
            ("✓ ", th.ok)
        };
        Line::styled(format!("{mark}{}", toast.text), style)
    } else {
        Line::from("")
    };
    f.render_widget(Paragraph::new(line), status);
    let scopes = app.scopes();
    f.render_widget(
        Paragraph::new(footer::hints(
            &app.keymap,
            &scopes,
            app.lang,
            &app.theme,
            foot.width as usize,
            &app.hidden_cmds(),
        )),
        foot,
    );
}

fn draw_overlay(f: &mut Frame, area: Rect, app: &mut App) {
    let lang = app.lang;
    let scopes = app.screen_scopes();
    let hidden = app.hidden_cmds();
    let App {
        overlay,
        theme,
        keymap,
        quota,
        import,
        ..
    } = app;
    match overlay {
        None => {}
        Some(Overlay::Help) => popup::help(f, area, &scopes, keymap, theme, lang, &hidden),
        Some(Overlay::Confirm { text, detail, .. }) => {
            popup::confirm(f, area, text, detail, theme, lang, keymap)
        }
        Some(Overlay::Secret {
            title,
            who,
            value,
            note,
        }) => popup::secret(f, area, title, who, value, note, theme, lang),
        Some(Overlay::Form { kind, form }) => {
            crate::screens::forms::draw(
                f,
                area,
                *kind,
                form,
                theme,
                lang,
                keymap,
                app_can_add(quota),
            );
        }
        Some(Overlay::Import) => {
            if let Some(st) = import {
                crate::screens::import::draw(f, area, st, theme, lang);
            }
        }
    }
}

fn app_can_add(q: &Option<vcms_server::api::Quota>) -> Option<i64> {
    q.as_ref().map(|q| q.can_add)
}
