//! System: License, Personal information, Server.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;

use crate::app::{short_time, App, SysView};
use crate::i18n::{t, tf};
use crate::widgets::text::pad;

pub fn draw(f: &mut Frame, area: Rect, app: &mut App) {
    let lang = app.lang;
    let th = &app.theme;
    let [tabs, body] = Layout::vertical([Constraint::Length(2), Constraint::Min(1)]).areas(area);
    let mut spans = vec![Span::raw(" ")];
    for (v, key) in [
        (SysView::License, "system.license"),
        (SysView::Profile, "system.profile"),
        (SysView::Server, "system.server"),
    ] {
        let active = app.sys == v;
        spans.push(Span::styled(
            format!("{}{} ", if active { "▸" } else { " " }, t(lang, key)),
            if active { th.tab_active } else { th.muted },
        ));
        spans.push(Span::raw(" "));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), tabs);
    match app.sys {
        SysView::License => {
            let [head, table, notes] = Layout::vertical([
                Constraint::Length(2),
                Constraint::Min(3),
                Constraint::Length(3),
            ])
            .areas(body);
            if let Some(q) = &app.quota {
                let basis = t(lang, &format!("quota.{}", q.basis));
                let l = Line::from(vec![
                    Span::styled(format!(" {}", app.quota_title()), th.title),
                    Span::raw(format!(
                        "  {}  ",
                        tf(lang, "accounts.can_add", &[("n", &q.can_add)])
                    )),
                    Span::styled(basis, if q.in_force { th.ok } else { th.error }),
                ]);
                f.render_widget(Paragraph::new(l), head);
            }
            let Some(list) = &app.licenses else {
                f.render_widget(
                    Paragraph::new(Line::styled(format!(" {}", t(lang, "loading")), th.muted)),
                    table,
                );
                return;
            };
            let rows: Vec<Row> = list
                .licenses
                .iter()
                .map(|l| {
                    let status = Span::styled(
                        t(lang, &format!("license.{}", l.status)),
                        if l.status == "activated" {
                            th.ok
                        } else {
                            th.error
                        },
                    );
                    Row::new(vec![
                        Cell::from(vcms_server::license_number::display(&l.number)),
                        Cell::from(status),
                        Cell::from(tf(lang, "license.years", &[("n", &l.years)])),
                        Cell::from(l.quantity.to_string()),
                        Cell::from(
                            l.start
                                .as_deref()
                                .map(short_time)
                                .unwrap_or_default()
                                .chars()
                                .take(10)
                                .collect::<String>(),
                        ),
                        Cell::from(
                            l.end
                                .as_deref()
                                .map(short_time)
                                .unwrap_or_default()
                                .chars()
                                .take(10)
                                .collect::<String>(),
                        ),
                    ])
                })
                .collect();
            let empty = rows.is_empty();
            let tbl = Table::new(
                rows,
                [
                    Constraint::Length(29),
                    Constraint::Length(9),
                    Constraint::Length(7),
                    Constraint::Length(6),
                    Constraint::Length(10),
                    Constraint::Length(10),
                ],
            )
            .header(
                Row::new(vec![
                    t(lang, "col.license_number"),
                    t(lang, "col.status"),
                    t(lang, "col.service_life"),
                    t(lang, "col.quantity"),
                    t(lang, "col.start"),
                    t(lang, "col.end"),
                ])
                .style(th.header),
            );
            f.render_widget(tbl, table);
            let mut lines: Vec<Line> = list
                .licenses
                .iter()
                .filter_map(|l| l.note.as_ref())
                .map(|n| Line::styled(format!(" ! {n}"), th.warn))
                .collect();
            if empty {
                lines.push(Line::styled(
                    format!(" {}", t(lang, "license.none")),
                    th.muted,
                ));
            }
            f.render_widget(Paragraph::new(lines), notes);
        }
        SysView::Profile => {
            let Some(p) = &app.profile else {
                return;
            };
            let items = [
                ("profile.username", p.username.clone(), true),
                ("field.name", p.name.clone(), false),
                ("field.company", p.company.clone(), false),
                (
                    "profile.enterprise_number",
                    p.enterprise_number.clone(),
                    true,
                ),
                ("field.country", p.country.clone(), false),
                ("field.email", p.email.clone(), true),
                ("profile.role", p.role.clone(), true),
            ];
            let lw = items
                .iter()
                .map(|(k, _, _)| crate::widgets::text::width(&t(lang, k)))
                .max()
                .unwrap_or(8)
                + 2;
            let mut lines: Vec<Line> = items
                .iter()
                .map(|(k, v, ro)| {
                    Line::from(vec![
                        Span::styled(format!(" {}", pad(&t(lang, k), lw)), th.muted),
                        Span::raw(v.clone()),
                        Span::styled(
                            if *ro {
                                format!("  ({})", t(lang, "profile.read_only"))
                            } else {
                                String::new()
                            },
                            th.muted,
                        ),
                    ])
                })
                .collect();
            lines.push(Line::from(""));
            lines.push(Line::styled(
                format!(" {}", t(lang, "profile.hint")),
                th.muted,
            ));
            f.render_widget(Paragraph::new(lines), body);
        }
        SysView::Server => {
            let lw = app
                .server_info
                .iter()
                .map(|(k, _)| crate::widgets::text::width(k))
                .max()
                .unwrap_or(8)
                + 2;
            let lines: Vec<Line> = app
                .server_info
                .iter()
                .map(|(k, v)| {
                    Line::from(vec![
                        Span::styled(format!(" {}", pad(k, lw)), th.muted),
                        Span::raw(v.clone()),
                    ])
                })
                .collect();
            f.render_widget(Paragraph::new(lines), body);
        }
    }
}
