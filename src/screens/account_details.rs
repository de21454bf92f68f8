//! The details pane of one account, with its endpoint bindings.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};
use ratatui::Frame;
use vcms_api::{AccountStatus, PincodeState};

use crate::app::{short_time, App};
use crate::i18n::{t, tf};
use crate::widgets::text::pad;

/// The details pane beside the account table (wide terminals): the selected account's
/// details once they arrive, "loading" until then.
pub fn draw_pane(f: &mut Frame, area: Rect, app: &mut App) {
    if app.details.as_ref().map(|d| d.id) == app.details_id {
        draw(f, area, app);
    } else {
        f.render_widget(
            Paragraph::new(Line::styled(
                format!(" {}", t(app.lang, "loading")),
                app.theme.muted,
            )),
            area,
        );
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &mut App) {
    let lang = app.lang;
    let th = &app.theme;
    let Some(d) = &app.details else {
        f.render_widget(
            Paragraph::new(Line::styled(format!(" {}", t(lang, "loading")), th.muted)),
            area,
        );
        return;
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(th.border)
        .title(Span::styled(
            format!(" {} · {} ", t(lang, "details.title"), d.name),
            th.title,
        ));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let labels = [
        "col.name",
        "col.cloud_number",
        "col.extension",
        "details.password",
        "details.pincode",
        "col.email",
        "col.status",
    ];
    let lw = labels
        .iter()
        .map(|k| crate::widgets::text::width(&t(lang, k)))
        .max()
        .unwrap_or(10)
        + 2;
    let pin = match (&d.pincode, d.pincode_state) {
        (Some(p), PincodeState::Valid) => Line::from(vec![
            Span::styled(p.clone(), th.title),
            Span::styled(
                format!(
                    "  {}",
                    tf(
                        lang,
                        "details.valid_until",
                        &[(
                            "until",
                            &short_time(d.pincode_expires_at.as_deref().unwrap_or(""))
                        )]
                    )
                ),
                th.muted,
            ),
        ]),
        // Spent (used or expired): it can no longer sign in, so it is not shown.
        (_, state) => Line::styled(t(lang, &format!("pincode.{state}")), th.muted),
    };
    let status = if d.in_call {
        Span::styled(format!("● {}", d.status_text), th.title)
    } else if d.status == AccountStatus::Registered {
        Span::styled(format!("● {}", d.status_text), th.ok)
    } else {
        Span::styled(format!("○ {}", d.status_text), th.muted)
    };
    let values: Vec<Line> = vec![
        Line::from(d.name.clone()),
        Line::from(d.cloud_number.clone()),
        Line::from(d.extension.clone()),
        Line::styled(d.password.clone(), th.title),
        pin,
        Line::from(d.email.clone().unwrap_or_else(|| "—".into())),
        Line::from(status),
    ];
    let lines: Vec<Line> = labels
        .iter()
        .zip(values)
        .map(|(k, v)| {
            let mut spans = vec![Span::styled(format!(" {}", pad(&t(lang, k), lw)), th.muted)];
            spans.extend(v.spans);
            Line::from(spans)
        })
        .collect();
    let n = lines.len() as u16;
    let [fields, bind] =
        Layout::vertical([Constraint::Length(n + 1), Constraint::Min(0)]).areas(inner);
    f.render_widget(Paragraph::new(lines), fields);
    if bind.height < 2 {
        return;
    }
    let title = Line::styled(
        format!(" {} ({})", t(lang, "details.bindings"), d.bindings.len()),
        th.title,
    );
    f.render_widget(
        Paragraph::new(title),
        Rect::new(bind.x, bind.y, bind.width, 1),
    );
    let rest = Rect::new(bind.x, bind.y + 1, bind.width, bind.height - 1);
    if d.bindings.is_empty() {
        f.render_widget(
            Paragraph::new(Line::styled(
                format!("  {}", t(lang, "details.no_bindings")),
                th.muted,
            )),
            rest,
        );
        return;
    }
    // Narrow terminals drop the "since" column so the device stays readable.
    let wide = rest.width >= 100;
    let rows = d.bindings.iter().map(|b| {
        let mut cells = vec![
            Cell::from(format!(" {} {}", b.device_model, b.device_version)),
            Cell::from(b.state.clone()),
            Cell::from(b.address.clone()),
        ];
        if wide {
            cells.push(Cell::from(short_time(&b.registered_at)));
        }
        Row::new(cells)
    });
    let mut widths = vec![
        Constraint::Min(20),
        Constraint::Length(20),
        Constraint::Length(21),
    ];
    let mut header = vec![
        format!(" {}", t(lang, "col.device")),
        t(lang, "col.state"),
        t(lang, "col.address"),
    ];
    if wide {
        widths.push(Constraint::Length(16));
        header.push(t(lang, "col.since"));
    }
    let tbl = Table::new(rows, widths).header(Row::new(header).style(th.header));
    f.render_widget(tbl, rest);
}
