//! Account → Account: header with quota and search, the paged table, the page line.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;
use vcms_api::AccountStatus;

use crate::app::App;
use crate::i18n::{t, tf};

/// How many account rows the table shows on a terminal `height` rows tall: the screen's
/// tabs, status and key lines (3), this view's header and page line (2), the table's rules
/// and column titles (3); 1 to 100.
pub fn rows_that_fit(height: u16) -> i64 {
    i64::from(height.saturating_sub(8)).clamp(1, 100)
}

pub fn draw(f: &mut Frame, area: Rect, app: &mut App) {
    let [head, table, pager] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    let lang = app.lang;
    let th = &app.theme;
    let mut spans = vec![Span::styled(format!(" {}", app.quota_title()), th.title)];
    if let Some(q) = &app.quota {
        spans.push(Span::styled(
            format!("  {}", tf(lang, "accounts.can_add", &[("n", &q.can_add)])),
            if q.can_add > 0 { th.muted } else { th.warn },
        ));
    }
    spans.push(Span::raw("   "));
    spans.push(Span::styled(
        format!("{} ", t(lang, "accounts.search")),
        th.muted,
    ));
    if app.searching {
        spans.push(Span::styled(format!("/{}█", app.search), th.focus));
    } else if app.search.is_empty() {
        spans.push(Span::styled("/", th.key));
    } else {
        spans.push(Span::styled(format!("/{}", app.search), th.title));
        spans.push(Span::styled(
            format!(" ({})", t(lang, "accounts.esc_clears")),
            th.muted,
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), head);

    let header = Row::new(vec![
        Cell::from(" "),
        Cell::from(t(lang, "col.name")),
        Cell::from(t(lang, "col.cloud_number")),
        Cell::from(t(lang, "col.extension")),
        Cell::from(t(lang, "col.email")),
        Cell::from(t(lang, "col.status")),
    ])
    .style(th.header);
    let rows: Vec<Row> = app
        .page
        .as_ref()
        .map(|p| {
            p.items
                .iter()
                .map(|r| {
                    let marked = app.marked.contains(&r.id);
                    let status = if r.status == AccountStatus::Registered {
                        Span::styled(format!("● {}", t(lang, "status.registered")), th.ok)
                    } else {
                        Span::styled(format!("○ {}", t(lang, "status.unregistered")), th.muted)
                    };
                    Row::new(vec![
                        Cell::from(if marked { "✓" } else { " " }).style(th.marked),
                        Cell::from(crate::widgets::text::truncate(&r.name, 20)),
                        Cell::from(r.cloud_number.clone()),
                        Cell::from(r.extension.clone()),
                        Cell::from(r.email.clone().unwrap_or_default()),
                        Cell::from(status),
                    ])
                    .style(if marked { th.marked } else { th.base })
                })
                .collect()
        })
        .unwrap_or_default();
    let empty = rows.is_empty();
    let widths = [
        Constraint::Length(1),
        Constraint::Min(8),
        Constraint::Length(12),
        Constraint::Length(5),
        Constraint::Min(10),
        Constraint::Length(14),
    ];
    let block = Block::default()
        .borders(Borders::TOP | Borders::BOTTOM)
        .border_style(th.border);
    let tbl = Table::new(rows, widths)
        .header(header)
        .block(block)
        .row_highlight_style(th.selected)
        .highlight_symbol("▶")
        .column_spacing(1);
    let mut state = TableState::default();
    if !empty {
        state.select(Some(app.cursor));
    }
    f.render_stateful_widget(tbl, table, &mut state);
    if empty {
        let msg = if app.page.is_none() {
            t(lang, "loading")
        } else if app.search.is_empty() {
            tf(
                lang,
                "accounts.empty",
                &[(
                    "key",
                    &app.keymap
                        .key_of(crate::keymap::Scope::Accounts, crate::keymap::Cmd::Add),
                )],
            )
        } else {
            t(lang, "accounts.no_match")
        };
        let r = Rect::new(table.x + 2, table.y + 2, table.width.saturating_sub(4), 1);
        if r.y < table.y + table.height {
            f.render_widget(Paragraph::new(Line::styled(msg, th.muted)), r);
        }
    }
    let (total, pages, size) = app
        .page
        .as_ref()
        .map(|p| (p.total, p.pages.max(1), p.page_size))
        .unwrap_or((0, 1, app.page_size));
    let mut spans = vec![
        Span::raw(format!(
            " {}",
            tf(lang, "accounts.all_records", &[("n", &total)])
        )),
        Span::raw("   "),
        Span::raw(tf(
            lang,
            "accounts.page_of",
            &[("page", &app.page_no), ("pages", &pages)],
        )),
        Span::styled(
            format!("   {}", tf(lang, "accounts.per_page", &[("n", &size)])),
            th.muted,
        ),
    ];
    if !app.marked.is_empty() {
        spans.push(Span::styled(
            format!(
                "   {}",
                tf(lang, "accounts.marked", &[("n", &app.marked.len())])
            ),
            th.marked,
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), pager);
}
