//! System → Audit log (for those who may read it): the latest entries with a cursor and
//! the log's own search ([`Audit`]); the `audit` keys, the answer to the log request, and
//! the drawing of the header with the search and the table.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph};
use ratatui::Frame;
use vcms_api::{AuditEntry, AuditQuery};

use super::{list_move, search_param, short_time, About, Ctx, Look, Section};
use crate::action::{Reply, Req};
use crate::i18n::{t, tf};
use crate::keymap::{Cmd, Scope};
use crate::widgets::listing::Listing;
use crate::widgets::table::{col, Col};

#[derive(Default)]
pub struct Audit {
    pub list: Listing<AuditEntry>,
    pub search: String,
}

const COLS: [Col; 5] = [
    col("col.time", Constraint::Length(16), Constraint::Length(16)),
    col("col.who", Constraint::Length(26), Constraint::Length(16)),
    col("col.action", Constraint::Length(24), Constraint::Length(21)),
    col("col.target", Constraint::Min(20), Constraint::Min(10)),
    col("col.from", Constraint::Length(16), Constraint::Length(9)),
];

impl Audit {
    fn query(&self) -> AuditQuery {
        AuditQuery {
            search: search_param(&self.search),
            page: Some(1),
            page_size: Some(100),
        }
    }
}

pub static ABOUT: About = About {
    names: &["audit"],
    title: "system.audit",
    scope: Scope::Audit,
    allowed: |p| p.view_audit,
};

impl Section for Audit {
    fn on_show(&mut self, cx: &mut Ctx) {
        cx.request(Req::Audit(self.query()));
    }

    fn on_search(&mut self, cx: &mut Ctx) {
        self.list.home();
        self.on_show(cx);
    }

    fn on_cmd(&mut self, c: Cmd, cx: &mut Ctx) -> bool {
        if list_move(&mut self.list, c) {
            return true;
        }
        match c {
            Cmd::Back => {
                if !self.search.is_empty() {
                    self.search.clear();
                    cx.fx.search_now = true;
                }
            }
            _ => return false,
        }
        true
    }

    fn on_reply(&mut self, reply: Reply, cx: &mut Ctx) -> Option<Reply> {
        match reply {
            Reply::Audit(Ok(p)) => {
                self.list.total = p.total;
                self.list.set_items(p.items);
            }
            Reply::Audit(Err(e)) => cx.form_error(e),
            other => return Some(other),
        }
        None
    }

    fn search(&mut self) -> Option<&mut String> {
        Some(&mut self.search)
    }

    fn draw(&self, f: &mut Frame, area: Rect, look: &Look) {
        let (lang, th) = (look.lang, look.theme);
        let [head, body] =
            Layout::vertical([Constraint::Length(2), Constraint::Min(1)]).areas(area);
        let total = tf(lang, "audit.total", &[("n", &self.list.total)]);
        let mut spans = vec![
            Span::styled(format!(" {total} "), th.title),
            Span::styled(format!("  {} ", t(lang, "accounts.search")), th.muted),
        ];
        spans.extend(look.search_spans(&self.search));
        f.render_widget(Paragraph::new(Line::from(spans)), head);
        let wide = area.width >= 100;
        look.cursor_list(f, body, &COLS, &self.list, |e| {
            vec![
                Cell::from(short_time(&e.at)),
                Cell::from(e.who.clone()),
                Cell::from(e.action.clone()),
                Cell::from(if e.detail.is_empty() || !wide {
                    e.target.clone()
                } else {
                    format!("{} · {}", e.target, e.detail)
                }),
                Cell::from(e.from.clone()),
            ]
        });
    }
}
