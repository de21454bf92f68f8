//! System → License: the enterprise's licenses ([`Licenses`]), loaded with the tab; the
//! Add License key and form, the answers to the list and add requests, and the drawing of
//! the quota line, the license table and the licenses' notes.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;
use vcms_api::{License, LicenseStatus};

use super::accounts::quota_title;
use super::forms::FormKind;
use super::{short_time, About, Ctx, Look, Section};
use crate::action::{Reply, Req};
use crate::i18n::{t, tf};
use crate::keymap::Cmd;
use crate::widgets::form::{Field, Form};
use crate::widgets::listing::Listing;

#[derive(Default)]
pub struct Licenses {
    pub list: Listing<License>,
}

/// The date of a time stamp (`2026-11-29`), empty for none.
fn date(s: Option<&str>) -> String {
    s.map(short_time)
        .unwrap_or_default()
        .chars()
        .take(10)
        .collect()
}

pub static ABOUT: About = About::open(&["license", "licenses"], "system.license");

impl Section for Licenses {
    fn on_tab(&mut self, cx: &mut Ctx) {
        cx.request(Req::Licenses);
    }

    fn on_cmd(&mut self, c: Cmd, cx: &mut Ctx) -> bool {
        if c != Cmd::AddLicense {
            return false;
        }
        let number = Field::new("license_number", "field.license_number", "");
        cx.form(FormKind::AddLicense, vec![number]);
        true
    }

    fn on_reply(&mut self, reply: Reply, cx: &mut Ctx) -> Option<Reply> {
        match reply {
            Reply::Licenses(Ok(l)) => {
                cx.shared.quota = Some(l.quota);
                self.list.set_items(l.licenses);
            }
            Reply::Licenses(Err(e)) => cx.form_error(e),
            Reply::LicenseAdded(Ok(r)) => {
                cx.saved(r.message);
                cx.shared.quota = Some(r.quota);
                cx.request(Req::Licenses);
            }
            Reply::LicenseAdded(Err(e)) => cx.form_error(e),
            other => return Some(other),
        }
        None
    }

    fn on_submit(&mut self, kind: FormKind, form: &mut Form, _cx: &mut Ctx) -> Option<Req> {
        if kind != FormKind::AddLicense {
            return None;
        }
        match vcms_api::license_number::normalize(&form.value("license_number")) {
            Ok(n) => Some(Req::AddLicense(n)),
            Err(e) => {
                form.set_error(Some("license_number"), e);
                None
            }
        }
    }

    fn draw(&self, f: &mut Frame, area: Rect, look: &Look) {
        let (lang, th) = (look.lang, look.theme);
        let [head, table, notes] = Layout::vertical([
            Constraint::Length(2),
            Constraint::Min(3),
            Constraint::Length(3),
        ])
        .areas(area);
        if let Some(q) = &look.shared.quota {
            let basis = t(lang, &format!("quota.{}", q.basis));
            let l = Line::from(vec![
                Span::styled(format!(" {}", quota_title(look)), th.title),
                Span::raw(format!(
                    "  {}  ",
                    tf(lang, "accounts.can_add", &[("n", &q.can_add)])
                )),
                Span::styled(basis, if q.in_force { th.ok } else { th.error }),
            ]);
            f.render_widget(Paragraph::new(l), head);
        }
        if !self.list.loaded {
            return look.loading(f, table);
        }
        let rows = self.list.items.iter().map(|l| {
            let status = Span::styled(
                t(lang, &format!("license.{}", l.status)),
                if l.status == LicenseStatus::Activated {
                    th.ok
                } else {
                    th.error
                },
            );
            Row::new(vec![
                Cell::from(vcms_api::license_number::display(&l.number)),
                Cell::from(status),
                Cell::from(tf(lang, "license.years", &[("n", &l.years)])),
                Cell::from(l.quantity.to_string()),
                Cell::from(date(l.start.as_deref())),
                Cell::from(date(l.end.as_deref())),
            ])
        });
        let widths = [29, 9, 7, 6, 10, 10].map(Constraint::Length);
        let header = [
            "col.license_number",
            "col.status",
            "col.service_life",
            "col.quantity",
            "col.start",
            "col.end",
        ]
        .map(|k| t(lang, k));
        let tbl = Table::new(rows, widths).header(Row::new(header).style(th.header));
        f.render_widget(tbl, table);
        let mut lines: Vec<Line> = self
            .list
            .items
            .iter()
            .filter_map(|l| l.note.as_ref())
            .map(|n| Line::styled(format!(" ! {n}"), th.warn))
            .collect();
        if self.list.items.is_empty() {
            lines.push(Line::styled(
                format!(" {}", t(lang, "license.none")),
                th.muted,
            ));
        }
        f.render_widget(Paragraph::new(lines), notes);
    }
}
