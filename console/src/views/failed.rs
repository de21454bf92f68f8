//! Account → Failed Email List: the failed emails with their cursor and marks, and what
//! stops the mail transport ([`FailedView`]); the keys of the `failed` table (move, mark,
//! resend, delete, back), the answers to the list and resend/delete requests, and the
//! drawing of the list with its warning banner.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;
use vcms_api::FailedEmail;

use super::accounts::marked_span;
use super::overlay::Op;
use super::{short_time, Ctx, Goto, Look};
use crate::action::{Reply, Req};
use crate::i18n::{t, tf};
use crate::keymap::Cmd;
use crate::widgets::listing::{Keyed, Listing};

impl Keyed for FailedEmail {
    fn key(&self) -> i64 {
        self.id
    }
}

#[derive(Default)]
pub struct FailedView {
    pub list: Listing<FailedEmail>,
    /// What stops the server from sending any email, and how many wait for it.
    pub problem: Option<(String, i64)>,
}

impl FailedView {
    /// Open the list at its first row.
    pub fn open(&mut self, cx: &mut Ctx) {
        self.list.home();
        self.load(cx);
    }

    pub fn load(&mut self, cx: &mut Ctx) {
        cx.request(Req::Failed);
    }

    pub fn on_cmd(&mut self, c: Cmd, cx: &mut Ctx) {
        match c {
            Cmd::Up => {
                self.list.up();
            }
            Cmd::Down => {
                self.list.down();
            }
            Cmd::Mark => self.list.mark_and_down(),
            Cmd::MarkPage => self.list.toggle_page(),
            Cmd::Resend | Cmd::Delete => {
                let ids = self.list.targets();
                if ids.is_empty() {
                    return;
                }
                let detail = tf(cx.lang, "confirm.n_emails", &[("n", &ids.len())]);
                if c == Cmd::Resend {
                    let op = Op::send(Req::ResendFailed(ids));
                    cx.confirm("confirm.resend", detail, op);
                } else {
                    let op = Op::send(Req::DeleteFailed(ids));
                    cx.confirm("confirm.delete_failed", detail, op);
                }
            }
            Cmd::Back => {
                cx.fx.goto = Some(Goto::Table);
                cx.fx.reload_accounts = true;
            }
            _ => {}
        }
    }

    pub fn on_reply(&mut self, reply: Reply, cx: &mut Ctx) -> Option<Reply> {
        match reply {
            Reply::Failed(Ok(f)) => {
                self.problem = f.transport_problem.map(|p| (p, f.waiting));
                self.list.total = f.total;
                self.list.set_items(f.items);
                self.list.keep_marks_shown();
            }
            Reply::Failed(Err(e)) => cx.load_error(e),
            Reply::FailedOp(res) => match res {
                Ok(r) => {
                    cx.toast(r.message, false);
                    self.list.marks.clear();
                    self.load(cx);
                }
                Err(e) => cx.form_error(e),
            },
            other => return Some(other),
        }
        None
    }

    pub fn draw(&self, f: &mut Frame, area: Rect, look: &Look) {
        let (lang, th) = (look.lang, look.theme);
        let problem = self.problem.as_ref().map(|(p, waiting)| {
            tf(
                lang,
                "failed.transport_problem",
                &[("n", waiting), ("reason", p)],
            )
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
        let mut spans = vec![
            Span::styled(format!(" {}", t(lang, "failed.title")), th.title),
            Span::raw(format!(
                "  {}",
                tf(lang, "accounts.all_records", &[("n", &self.list.total)])
            )),
        ];
        spans.extend(marked_span(self.list.marks.len(), look));
        f.render_widget(Paragraph::new(Line::from(spans)), head);
        if !self.list.loaded {
            return look.loading(f, body);
        }
        self.draw_table(f, body, look);
    }

    fn draw_table(&self, f: &mut Frame, area: Rect, look: &Look) {
        let (lang, th) = (look.lang, look.theme);
        let rows = self.list.items.iter().map(|e| {
            let marked = self.list.is_marked(e);
            Row::new(vec![
                Cell::from(if marked { "✓" } else { " " }),
                Cell::from(e.recipient.clone()),
                Cell::from(e.account.clone().unwrap_or_else(|| "—".into())),
                Cell::from(e.reason.clone()),
                Cell::from(short_time(&e.failed_at)),
            ])
            .style(if marked { th.marked } else { th.base })
        });
        let widths = [
            Constraint::Length(1),
            Constraint::Min(14),
            Constraint::Min(12),
            Constraint::Min(16),
            Constraint::Length(16),
        ];
        let header = Row::new(vec![
            String::new(),
            t(lang, "col.recipient"),
            t(lang, "col.account"),
            t(lang, "col.reason"),
            t(lang, "col.time"),
        ]);
        let tbl = Table::new(rows, widths)
            .header(header.style(th.header))
            .block(
                Block::default()
                    .borders(Borders::TOP)
                    .border_style(th.border),
            )
            .row_highlight_style(th.selected)
            .highlight_symbol("▶");
        let mut state = TableState::default().with_selected(self.list.selected());
        f.render_stateful_widget(tbl, area, &mut state);
        if self.list.items.is_empty() && area.height > 3 {
            f.render_widget(
                Paragraph::new(Line::styled(
                    format!("  {}", t(lang, "failed.empty")),
                    th.muted,
                )),
                Rect::new(area.x, area.y + 2, area.width, 1),
            );
        }
    }
}
