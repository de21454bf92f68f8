//! Drawing the frame around the views: the tabs line, the System tab's section line, the
//! message line and the key hints, and the popup on top; each view draws its own body
//! (`draw(&self)`). Reads the state, never changes it, no I/O.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::app::{App, Overlay, Screen, Tab, View};
use crate::i18n::t;
use crate::views::Look;
use crate::widgets::{footer, popup};

const SPINNER: [&str; 8] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧"];

pub fn draw(f: &mut Frame, app: &App) {
    let area = f.area();
    let look = app.look();
    match app.screen {
        Screen::Login => app.views.login.draw(f, area, &look),
        Screen::Main => draw_main(f, area, app, &look),
    }
    draw_overlay(f, area, app, &look);
}

fn draw_main(f: &mut Frame, area: Rect, app: &App, look: &Look) {
    let [top, body, status, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    f.render_widget(Paragraph::new(tabs_line(app, top.width)), top);
    let v = &app.views;
    match (app.tab, app.view) {
        (Tab::Account, View::Table) if app.pane_shown() => {
            // Wide terminals: the selected account's details beside the table.
            let [table, pane] =
                Layout::horizontal([Constraint::Min(80), Constraint::Length(60)]).areas(body);
            v.accounts.draw(f, table, look);
            v.details.draw_pane(f, pane, look);
        }
        (Tab::Account, View::Table) => v.accounts.draw(f, body, look),
        (Tab::Account, View::Details) => v.details.draw(f, body, look),
        (Tab::Account, View::Failed) => v.failed.draw(f, body, look),
        (Tab::System, _) => draw_system(f, body, app, look),
    }
    f.render_widget(Paragraph::new(status_line(app)), status);
    let hints = footer::hints(
        &app.keymap,
        &app.scopes(),
        app.lang,
        &app.theme,
        foot.width as usize,
        &app.hidden_cmds(),
    );
    f.render_widget(Paragraph::new(hints), foot);
}

/// " vcms  ▸1 Account   2 System        who · enterprise ⠋".
fn tabs_line(app: &App, width: u16) -> Line<'static> {
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
        .shared
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
    let gap = (width as usize).saturating_sub(left_w + crate::widgets::text::width(&right));
    spans.push(Span::raw(" ".repeat(gap)));
    spans.push(Span::styled(right, th.muted));
    Line::from(spans)
}

/// The command prompt, or the last message.
fn status_line(app: &App) -> Line<'static> {
    let th = &app.theme;
    if let Some(c) = &app.command {
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
    }
}

/// The System tab: the line of the sections allowed, then the section shown.
fn draw_system(f: &mut Frame, area: Rect, app: &App, look: &Look) {
    let th = look.theme;
    let [tabs, body] = Layout::vertical([Constraint::Length(2), Constraint::Min(1)]).areas(area);
    let system = &app.views.system;
    let mut spans = vec![Span::raw(" ")];
    for name in app.sys_views() {
        let Some(i) = system.find(name) else { continue };
        let active = i == system.current;
        spans.push(Span::styled(
            format!(
                "{}{} ",
                if active { "▸" } else { " " },
                t(look.lang, system.about(i).title)
            ),
            if active { th.tab_active } else { th.muted },
        ));
        spans.push(Span::raw(" "));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), tabs);
    system.sections[system.current].draw(f, body, look);
}

fn draw_overlay(f: &mut Frame, area: Rect, app: &App, look: &Look) {
    let (lang, theme, keymap) = (app.lang, &app.theme, &app.keymap);
    match &app.overlay {
        None => {}
        Some(Overlay::Help) => {
            let (scopes, hidden) = (app.screen_scopes(), app.hidden_cmds());
            popup::help(f, area, &scopes, keymap, theme, lang, &hidden)
        }
        Some(Overlay::Confirm { text, detail, .. }) => {
            popup::confirm(f, area, text, detail, theme, lang, keymap)
        }
        Some(Overlay::Secret {
            title,
            who,
            value,
            note,
        }) => popup::secret(f, area, title, who, value, note, theme, lang),
        Some(Overlay::Form { kind, form }) => crate::views::forms::draw(f, area, *kind, form, look),
        Some(Overlay::Import) => app.views.import.draw(f, area, look),
    }
}
