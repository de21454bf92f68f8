//! System: License, Personal information, Server.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;
use vcms_api::{AdminStatus, LicenseStatus};

use crate::app::{short_time, App, SysView};
use crate::i18n::{t, tf};
use crate::widgets::text::pad;

pub fn draw(f: &mut Frame, area: Rect, app: &mut App) {
    let lang = app.lang;
    let th = &app.theme;
    let [tabs, body] = Layout::vertical([Constraint::Length(2), Constraint::Min(1)]).areas(area);
    let mut spans = vec![Span::raw(" ")];
    for v in app.sys_views() {
        let key = match v {
            SysView::License => "system.license",
            SysView::Profile => "system.profile",
            SysView::Colleagues => "system.colleagues",
            SysView::Audit => "system.audit",
            SysView::ApiKeys => "system.api_keys",
            SysView::Server => "system.server",
        };
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
                        if l.status == LicenseStatus::Activated {
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
                ("profile.role", p.role.to_string(), true),
            ];
            let mut items = items.to_vec();
            if let Some(s) = &app.security {
                items.push((
                    "field.backup_email",
                    s.backup_email.clone().unwrap_or_else(|| "-".into()),
                    false,
                ));
                let mut mfa = t(lang, if s.mfa_enabled { "mfa.on" } else { "mfa.off" });
                if s.mfa_required {
                    mfa.push_str(&format!(" ({})", t(lang, "mfa.required")));
                }
                items.push(("mfa.label", mfa, false));
            }
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
            if app.security.is_some() {
                lines.push(Line::styled(
                    format!(" {}", t(lang, "profile.security_hint")),
                    th.muted,
                ));
            }
            f.render_widget(Paragraph::new(lines), body);
        }
        SysView::Colleagues => colleagues(f, body, app),
        SysView::Audit => audit(f, body, app),
        SysView::ApiKeys => api_keys(f, body, app),
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

fn loading(f: &mut Frame, area: Rect, app: &App) {
    f.render_widget(
        Paragraph::new(Line::styled(
            format!(" {}", t(app.lang, "loading")),
            app.theme.muted,
        )),
        area,
    );
}

fn time(s: &str) -> String {
    short_time(s)
}

/// A table with a cursor row, or a "none" line when empty.
/// A column of a System table: its title (a message key) and its width on wide (≥ 100
/// columns) and narrow terminals.
struct Col {
    title: &'static str,
    wide: Constraint,
    narrow: Constraint,
}

const fn col(title: &'static str, wide: Constraint, narrow: Constraint) -> Col {
    Col {
        title,
        wide,
        narrow,
    }
}

fn cursor_table(
    f: &mut Frame,
    area: Rect,
    app: &App,
    cols: &[Col],
    rows: Vec<Vec<Cell<'static>>>,
    cursor: usize,
) {
    let wide = area.width >= 100;
    let header: Vec<String> = cols.iter().map(|c| t(app.lang, c.title)).collect();
    let widths: Vec<Constraint> = cols
        .iter()
        .map(|c| if wide { c.wide } else { c.narrow })
        .collect();
    let th = &app.theme;
    if rows.is_empty() {
        f.render_widget(
            Paragraph::new(vec![
                Line::styled(
                    header
                        .iter()
                        .map(|h| format!(" {h}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                    th.header,
                ),
                Line::styled(format!(" {}", t(app.lang, "list.none")), th.muted),
            ]),
            area,
        );
        return;
    }
    let rows: Vec<Row> = rows
        .into_iter()
        .enumerate()
        .map(|(i, cells)| {
            let r = Row::new(cells);
            if i == cursor {
                r.style(th.selected)
            } else {
                r
            }
        })
        .collect();
    let tbl = Table::new(rows, widths).header(Row::new(header).style(th.header));
    let mut state = ratatui::widgets::TableState::default().with_selected(Some(cursor));
    f.render_stateful_widget(tbl, area, &mut state);
}

fn colleagues(f: &mut Frame, area: Rect, app: &App) {
    let lang = app.lang;
    let Some(l) = &app.colleagues else {
        return loading(f, area, app);
    };
    let rows: Vec<Vec<Cell>> = l
        .items
        .iter()
        .map(|x| {
            let mut flags = vec![];
            if x.manage_admins {
                flags.push(t(lang, "colleague.flag_manage_admins"));
            }
            if x.mfa_enabled {
                flags.push("MFA".to_string());
            }
            let status = Span::styled(
                t(lang, &format!("status.{}", x.status)),
                match x.status {
                    AdminStatus::Active => app.theme.ok,
                    AdminStatus::Disabled => app.theme.error,
                    AdminStatus::Invited => app.theme.warn,
                },
            );
            vec![
                Cell::from(x.name.clone()),
                Cell::from(x.email.clone()),
                Cell::from(t(lang, &format!("role.{}", x.role))),
                Cell::from(flags.join(", ")),
                Cell::from(status),
            ]
        })
        .collect();
    cursor_table(f, area, app, &COLLEAGUE_COLS, rows, app.colleague_cursor);
}

fn audit(f: &mut Frame, area: Rect, app: &App) {
    let lang = app.lang;
    let th = &app.theme;
    let [head, body] = Layout::vertical([Constraint::Length(2), Constraint::Min(1)]).areas(area);
    let mut spans = vec![Span::styled(
        format!(
            " {} ",
            tf(
                lang,
                "audit.total",
                &[("n", &app.audit.as_ref().map(|p| p.total).unwrap_or(0))]
            )
        ),
        th.title,
    )];
    spans.push(Span::styled(
        format!("  {} ", t(lang, "accounts.search")),
        th.muted,
    ));
    if app.searching {
        spans.push(Span::styled(format!("/{}█", app.audit_search), th.focus));
    } else if app.audit_search.is_empty() {
        spans.push(Span::styled("/", th.key));
    } else {
        spans.push(Span::styled(format!("/{}", app.audit_search), th.title));
        spans.push(Span::styled(
            format!(" ({})", t(lang, "accounts.esc_clears")),
            th.muted,
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), head);
    let Some(p) = &app.audit else {
        return loading(f, body, app);
    };
    let wide = area.width >= 100;
    let rows: Vec<Vec<Cell>> = p
        .items
        .iter()
        .map(|e| {
            vec![
                Cell::from(time(&e.at)),
                Cell::from(e.who.clone()),
                Cell::from(e.action.clone()),
                Cell::from(if e.detail.is_empty() || !wide {
                    e.target.clone()
                } else {
                    format!("{} · {}", e.target, e.detail)
                }),
                Cell::from(e.from.clone()),
            ]
        })
        .collect();
    cursor_table(f, body, app, &AUDIT_COLS, rows, app.audit_cursor);
}

fn api_keys(f: &mut Frame, area: Rect, app: &App) {
    let lang = app.lang;
    let Some(l) = &app.api_keys else {
        return loading(f, area, app);
    };
    let rows: Vec<Vec<Cell>> = l
        .items
        .iter()
        .map(|k| {
            let state = if k.revoked {
                Span::styled(t(lang, "apikey.revoked"), app.theme.error)
            } else {
                Span::styled(t(lang, "apikey.active"), app.theme.ok)
            };
            vec![
                Cell::from(k.name.clone()),
                Cell::from(t(lang, &format!("role.{}", k.role))),
                Cell::from(format!("{}…", k.prefix)),
                Cell::from(time(&k.created_at)),
                Cell::from(k.last_used_at.as_deref().map(time).unwrap_or_default()),
                Cell::from(state),
            ]
        })
        .collect();
    cursor_table(f, area, app, &KEY_COLS, rows, app.key_cursor);
}

const COLLEAGUE_COLS: [Col; 5] = [
    col("col.name", Constraint::Length(22), Constraint::Length(14)),
    col("col.email", Constraint::Length(32), Constraint::Length(22)),
    col("col.role", Constraint::Length(12), Constraint::Length(9)),
    col("col.flags", Constraint::Length(22), Constraint::Length(14)),
    col("col.status", Constraint::Min(8), Constraint::Min(8)),
];

const AUDIT_COLS: [Col; 5] = [
    col("col.time", Constraint::Length(16), Constraint::Length(16)),
    col("col.who", Constraint::Length(26), Constraint::Length(16)),
    col("col.action", Constraint::Length(24), Constraint::Length(21)),
    col("col.target", Constraint::Min(20), Constraint::Min(10)),
    col("col.from", Constraint::Length(16), Constraint::Length(9)),
];

const KEY_COLS: [Col; 6] = [
    col("col.name", Constraint::Length(20), Constraint::Length(12)),
    col("col.role", Constraint::Length(12), Constraint::Length(9)),
    col("col.key", Constraint::Length(16), Constraint::Length(12)),
    col(
        "col.created",
        Constraint::Length(17),
        Constraint::Length(16),
    ),
    col(
        "col.last_used",
        Constraint::Length(17),
        Constraint::Length(0),
    ),
    col("col.status", Constraint::Min(8), Constraint::Min(7)),
];
