//! Account → Failed Email List.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use crate::app::{short_time, App};
use crate::i18n::{t, tf};

pub fn draw(f: &mut Frame, area: Rect, app: &mut App) {
    let lang = app.lang;
    let th = &app.theme;
    let problem = app.failed.as_ref().and_then(|f| {
        f.transport_problem.as_ref().map(|p| {
            tf(
                lang,
                "failed.transport_problem",
                &[("n", &f.waiting), ("reason", p)],
            )
        })
    });
    let (head, body) = match &problem {
        None => {
            let [head, body] =
                Layout::vertical([Constraint::Length(1), Constraint::Min(2)]).areas(area);
            (head, body)
        }
        Some(p) => {
            // The mail transport does not work: say so above the list, in full.
            let [head, banner, body] = Layout::vertical([
                Constraint::Length(1),
                Constraint::Length(3),
                Constraint::Min(2),
            ])
            .areas(area);
            f.render_widget(
                Paragraph::new(Line::styled(format!(" ⚠ {p}"), th.error))
                    .wrap(ratatui::widgets::Wrap { trim: true }),
                banner,
            );
            (head, body)
        }
    };
    let total = app.failed.as_ref().map(|f| f.total).unwrap_or(0);
    let mut spans = vec![
        Span::styled(format!(" {}", t(lang, "failed.title")), th.title),
        Span::raw(format!(
            "  {}",
            tf(lang, "accounts.all_records", &[("n", &total)])
        )),
    ];
    if !app.failed_marked.is_empty() {
        spans.push(Span::styled(
            format!(
                "   {}",
                tf(lang, "accounts.marked", &[("n", &app.failed_marked.len())])
            ),
            th.marked,
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), head);
    let Some(list) = &app.failed else {
        f.render_widget(
            Paragraph::new(Line::styled(format!(" {}", t(lang, "loading")), th.muted)),
            body,
        );
        return;
    };
    let rows: Vec<Row> = list
        .items
        .iter()
        .map(|e| {
            let marked = app.failed_marked.contains(&e.id);
            Row::new(vec![
                Cell::from(if marked { "✓" } else { " " }),
                Cell::from(e.recipient.clone()),
                Cell::from(e.account.clone().unwrap_or_else(|| "—".into())),
                Cell::from(e.reason.clone()),
                Cell::from(short_time(&e.failed_at)),
            ])
            .style(if marked { th.marked } else { th.base })
        })
        .collect();
    let empty = rows.is_empty();
    let tbl = Table::new(
        rows,
        [
            Constraint::Length(1),
            Constraint::Min(14),
            Constraint::Min(12),
            Constraint::Min(16),
            Constraint::Length(16),
        ],
    )
    .header(
        Row::new(vec![
            String::new(),
            t(lang, "col.recipient"),
            t(lang, "col.account"),
            t(lang, "col.reason"),
            t(lang, "col.time"),
        ])
        .style(th.header),
    )
    .block(
        Block::default()
            .borders(Borders::TOP)
            .border_style(th.border),
    )
    .row_highlight_style(th.selected)
    .highlight_symbol("▶");
    let mut state = TableState::default();
    if !empty {
        state.select(Some(app.failed_cursor));
    }
    f.render_stateful_widget(tbl, body, &mut state);
    if empty && body.height > 3 {
        f.render_widget(
            Paragraph::new(Line::styled(
                format!("  {}", t(lang, "failed.empty")),
                th.muted,
            )),
            Rect::new(body.x, body.y + 2, body.width, 1),
        );
    }
}
