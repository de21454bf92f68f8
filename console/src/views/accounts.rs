//! Account → the account table: its rows, page, marks and search ([`AccountsView`]), the
//! keys of the `accounts` table (move, page, mark, search, add, remove, send, export…),
//! the answers to the page, save, remove, send and file requests, and the drawing of the header
//! with the quota and search, the paged table and the page line.

use std::sync::Arc;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;
use vcms_api::{AccountQuery, AccountRow, AccountStatus, NewAccount};

use super::forms::{expand_home, file_fields, file_value, FormKind};
use super::overlay::{Op, Overlay};
use super::{search_param, Ctx, Goto, Look};
use crate::action::{Reply, Req};
use crate::i18n::{t, tf, Lang};
use crate::import::ImportProgress;
use crate::keymap::{Cmd, Scope};
use crate::widgets::form::{Field, Form};
use crate::widgets::listing::{Keyed, Listing};

impl Keyed for AccountRow {
    fn key(&self) -> i64 {
        self.id
    }
}

/// How many account rows the table shows on a terminal `height` rows tall: the screen's
/// tabs, status and key lines (3), this view's header and page line (2), the table's rules
/// and column titles (3); 1 to 100.
pub fn rows_that_fit(height: u16) -> i64 {
    i64::from(height.saturating_sub(8)).clamp(1, 100)
}

pub struct AccountsView {
    /// The page shown, its cursor and the marked accounts (on any page).
    pub list: Listing<AccountRow>,
    pub search: String,
    /// The page size follows the terminal's height (no `page_size` in the config, and not
    /// changed with `s` since).
    pub page_auto: bool,
    /// Progress of an export.
    pub export_progress: Arc<ImportProgress>,
}

impl AccountsView {
    pub fn new(page_size: Option<i64>) -> Self {
        AccountsView {
            list: Listing::paged(page_size.unwrap_or(10)),
            search: String::new(),
            page_auto: page_size.is_none(),
            export_progress: Default::default(),
        }
    }

    pub fn query(&self) -> AccountQuery {
        AccountQuery {
            page: Some(self.list.page_no),
            page_size: Some(self.list.page_size),
            search: search_param(&self.search),
            ..Default::default()
        }
    }

    pub fn load(&mut self, cx: &mut Ctx) {
        cx.request(Req::Page(self.query()));
    }

    /// The search changed: its first page.
    pub fn on_search(&mut self, cx: &mut Ctx) {
        self.list.page_no = 1;
        self.list.home();
        self.load(cx);
    }

    /// The terminal is `height` rows tall (at start and on every resize): in automatic page
    /// size, the table shows as many rows as fit, keeping the selected account selected
    /// (the page is loaded again when `reload`).
    pub fn resize(&mut self, height: u16, reload: bool, cx: &mut Ctx) {
        let l = &mut self.list;
        let n = rows_that_fit(height);
        if !self.page_auto || n == l.page_size {
            return;
        }
        let first = (l.page_no - 1) * l.page_size + i64::try_from(l.cursor).unwrap_or(0);
        l.page_size = n;
        l.page_no = first / n + 1;
        l.cursor = usize::try_from(first % n).unwrap_or(0);
        if reload && l.loaded {
            self.load(cx);
        }
    }

    fn goto_page(&mut self, n: i64, cx: &mut Ctx) {
        let n = n.clamp(1, self.list.pages());
        if n != self.list.page_no {
            self.list.page_no = n;
            self.load(cx);
        }
    }

    /// "Name (ext)" of up to three accounts on this page, else "N accounts".
    fn names(&self, ids: &[i64], lang: Lang) -> String {
        let names: Vec<String> = ids
            .iter()
            .filter_map(|id| self.list.items.iter().find(|r| r.id == *id))
            .map(|r| format!("{} ({})", r.name, r.extension))
            .collect();
        if names.len() == ids.len() && names.len() <= 3 {
            names.join(", ")
        } else {
            tf(lang, "confirm.n_accounts", &[("n", &ids.len())])
        }
    }

    /// Confirm sending the account emails to `ids`, or removing them.
    pub fn confirm_batch(&self, c: Cmd, ids: Vec<i64>, cx: &mut Ctx) {
        if ids.is_empty() {
            return;
        }
        let who = self.names(&ids, cx.lang);
        if c == Cmd::Remove {
            cx.confirm("confirm.remove", who, Op::send(Req::Remove(ids)));
        } else {
            let req = vcms_api::SendEmailRequest {
                ids,
                ..Default::default()
            };
            cx.confirm("confirm.send_email", who, Op::send(Req::SendEmail(req)));
        }
    }

    /// Up, Down, PageUp/Down, First, Last: across pages.
    fn move_cursor(&mut self, c: Cmd, cx: &mut Ctx) {
        let (page, pages) = (self.list.page_no, self.list.pages());
        match c {
            Cmd::Up if !self.list.up() && page > 1 => {
                self.list.end_of_next_page();
                self.goto_page(page - 1, cx);
            }
            Cmd::Down if !self.list.down() && page < pages => {
                self.list.home();
                self.goto_page(page + 1, cx);
            }
            Cmd::PageDown if page < pages => self.goto_page(page + 1, cx),
            Cmd::PageDown => self.list.end(),
            Cmd::PageUp if page > 1 => self.goto_page(page - 1, cx),
            Cmd::PageUp => self.list.home(),
            Cmd::First => {
                self.list.home();
                self.goto_page(1, cx);
            }
            Cmd::Last => {
                self.list.end_of_next_page();
                if pages == page {
                    self.list.end();
                }
                self.goto_page(pages, cx);
            }
            _ => {}
        }
    }

    pub fn on_cmd(&mut self, c: Cmd, cx: &mut Ctx) {
        use Cmd::*;
        match c {
            Up | Down | PageDown | PageUp | First | Last => self.move_cursor(c, cx),
            Back if !self.search.is_empty() => {
                self.search.clear();
                self.list.page_no = 1;
                self.load(cx);
            }
            Back => self.list.marks.clear(),
            Open => {
                if let Some(r) = self.list.current() {
                    cx.fx.goto = Some(Goto::Details(r.id));
                }
            }
            Mark => self.list.mark_and_down(),
            MarkPage => self.list.toggle_page(),
            MarkAll => {
                cx.request(Req::AllIds(search_param(&self.search)));
            }
            Add => cx.form(FormKind::AddAccount, account_fields("", "", "")),
            SendEmail | Remove => self.confirm_batch(c, self.list.targets(), cx),
            PageSize => {
                self.page_auto = false;
                self.list.page_size = match self.list.page_size {
                    n if n < 20 => 20,
                    n if n < 50 => 50,
                    n if n < 100 => 100,
                    _ => 10,
                };
                self.list.page_no = 1;
                self.list.home();
                self.load(cx);
            }
            BulkAdd => cx.form(FormKind::Import, file_fields("")),
            Export => cx.form(FormKind::Export, file_fields("accounts.xlsx")),
            Template => cx.form(FormKind::Template, file_fields("template.xlsx")),
            _ => {}
        }
    }

    pub fn on_reply(&mut self, reply: Reply, cx: &mut Ctx) -> Option<Reply> {
        match reply {
            Reply::Page(Ok(p)) => {
                cx.shared.quota = Some(p.quota.clone());
                if p.page > p.pages && p.pages > 0 {
                    self.list.page_no = p.pages;
                    self.load(cx);
                    return None;
                }
                let l = &mut self.list;
                l.set_page(p.items, p.page, p.pages, p.total, p.page_size);
            }
            Reply::Page(Err(e)) | Reply::AllIds(Err(e)) => cx.load_error(e),
            Reply::AllIds(Ok(ids)) => {
                let n = ids.len();
                self.list.marks.extend(ids);
                cx.toast(tf(cx.lang, "accounts.marked_all", &[("n", &n)]), false);
            }
            Reply::Saved { send_email, res } => match res {
                Ok(d) => {
                    let key = if send_email {
                        "accounts.saved_sent"
                    } else {
                        "accounts.saved"
                    };
                    let vars: [(&str, &dyn std::fmt::Display); 2] =
                        [("name", &d.name), ("number", &d.cloud_number)];
                    cx.saved(tf(cx.lang, key, &vars));
                    cx.fx.reload_accounts = true;
                }
                Err(e) => cx.form_error(e),
            },
            Reply::Removed(res) => match res {
                Ok(r) => {
                    cx.toast(r.message, false);
                    self.list.marks.clear();
                    cx.fx.reload_accounts = true;
                }
                Err(e) => cx.form_error(e),
            },
            Reply::FileWritten(Ok(msg)) => cx.saved(msg),
            Reply::FileWritten(Err(e)) => match cx.overlay {
                Some(Overlay::Form { form, .. }) => form.set_error(Some("file"), e),
                _ => cx.toast(e, true),
            },
            Reply::Sent(res) => match res {
                Ok(r) => cx.toast(sent_text(&r, cx.lang), false),
                Err(e) => cx.form_error(e),
            },
            other => return Some(other),
        }
        None
    }

    /// A form of this view was submitted (`alt`: with its second key, "and send").
    pub fn on_submit(
        &mut self,
        kind: FormKind,
        form: &mut Form,
        alt: bool,
        cx: &mut Ctx,
    ) -> Option<Req> {
        match kind {
            FormKind::AddAccount => {
                let (name, extension, email) = account_values(form, cx.lang)?;
                Some(Req::AddAccount(NewAccount {
                    name,
                    extension,
                    email: (!email.is_empty()).then_some(email),
                    send_email: alt,
                }))
            }
            FormKind::Export => {
                let path = expand_home(&file_value(form, cx.lang)?);
                self.export_progress.set(0, 0);
                Some(Req::Export {
                    path,
                    search: search_param(&self.search),
                    progress: self.export_progress.clone(),
                })
            }
            FormKind::Template => Some(Req::Template(expand_home(&file_value(form, cx.lang)?))),
            _ => None,
        }
    }

    pub fn draw(&self, f: &mut Frame, area: Rect, look: &Look) {
        let [head, table, pager] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(1),
        ])
        .areas(area);
        self.draw_head(f, head, look);
        self.draw_table(f, table, look);
        self.draw_pager(f, pager, look);
    }

    fn draw_head(&self, f: &mut Frame, area: Rect, look: &Look) {
        let (lang, th) = (look.lang, look.theme);
        let mut spans = vec![Span::styled(format!(" {}", quota_title(look)), th.title)];
        if let Some(q) = &look.shared.quota {
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
        spans.extend(look.search_spans(&self.search));
        f.render_widget(Paragraph::new(Line::from(spans)), area);
    }

    fn draw_table(&self, f: &mut Frame, area: Rect, look: &Look) {
        let (lang, th) = (look.lang, look.theme);
        let header = Row::new(vec![
            Cell::from(" "),
            Cell::from(t(lang, "col.name")),
            Cell::from(t(lang, "col.cloud_number")),
            Cell::from(t(lang, "col.extension")),
            Cell::from(t(lang, "col.email")),
            Cell::from(t(lang, "col.status")),
        ])
        .style(th.header);
        let rows = self.list.items.iter().map(|r| {
            let marked = self.list.is_marked(r);
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
        });
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
        let mut state = TableState::default().with_selected(self.list.selected());
        f.render_stateful_widget(tbl, area, &mut state);
        if !self.list.items.is_empty() {
            return;
        }
        let msg = if !self.list.loaded {
            t(lang, "loading")
        } else if self.search.is_empty() {
            let key = look.keymap.key_of(Scope::Accounts, Cmd::Add);
            tf(lang, "accounts.empty", &[("key", &key)])
        } else {
            t(lang, "accounts.no_match")
        };
        let r = Rect::new(area.x + 2, area.y + 2, area.width.saturating_sub(4), 1);
        if r.y < area.y + area.height {
            f.render_widget(Paragraph::new(Line::styled(msg, th.muted)), r);
        }
    }

    fn draw_pager(&self, f: &mut Frame, area: Rect, look: &Look) {
        let (lang, th, l) = (look.lang, look.theme, &self.list);
        let mut spans = vec![
            Span::raw(format!(
                " {}",
                tf(lang, "accounts.all_records", &[("n", &l.total)])
            )),
            Span::raw("   "),
            Span::raw(tf(
                lang,
                "accounts.page_of",
                &[("page", &l.page_no), ("pages", &l.pages())],
            )),
            Span::styled(
                format!(
                    "   {}",
                    tf(lang, "accounts.per_page", &[("n", &l.size_shown())])
                ),
                th.muted,
            ),
        ];
        spans.extend(marked_span(l.marks.len(), look));
        f.render_widget(Paragraph::new(Line::from(spans)), area);
    }
}

/// "   N marked", when any are.
pub fn marked_span(n: usize, look: &Look) -> Option<Span<'static>> {
    (n > 0).then(|| {
        Span::styled(
            format!("   {}", tf(look.lang, "accounts.marked", &[("n", &n)])),
            look.theme.marked,
        )
    })
}

/// "Account (13/20)".
pub fn quota_title(look: &Look) -> String {
    match &look.shared.quota {
        Some(q) => tf(
            look.lang,
            "accounts.title",
            &[("used", &q.used), ("quota", &q.quota)],
        ),
        None => t(look.lang, "tab.account"),
    }
}

/// The fields of the add and edit account forms.
pub fn account_fields(name: &str, extension: &str, email: &str) -> Vec<Field> {
    vec![
        Field::new("name", "field.name", name),
        Field::new("extension", "field.extension", extension),
        Field::new("email", "field.email", email),
    ]
}

/// The (name, extension, email) of an add or edit account form, or `None` with the
/// errors shown on the form.
pub fn account_values(form: &mut Form, lang: Lang) -> Option<(String, String, String)> {
    let name = form.value("name").trim().to_string();
    let ext = form.value("extension").trim().to_string();
    let email = form.value("email").trim().to_string();
    if name.is_empty() {
        form.set_error(Some("name"), t(lang, "err.name"));
    }
    if ext.len() != 4 || !ext.chars().all(|c| c.is_ascii_digit()) {
        form.set_error(Some("extension"), t(lang, "err.extension"));
    }
    if !email.is_empty() && (!email.contains('@') || email.chars().any(|c| "<>\"'&".contains(c))) {
        form.set_error(Some("email"), t(lang, "err.email"));
    }
    if form.fields.iter().any(|f| f.error.is_some()) {
        return None;
    }
    Some((name, ext, email))
}

/// "N emails queued, M accounts without an email: a (1), b (2)…".
fn sent_text(r: &vcms_api::SendEmailResult, lang: Lang) -> String {
    let mut text = tf(
        lang,
        "accounts.sent",
        &[("queued", &r.queued), ("without", &r.without_email.len())],
    );
    if !r.without_email.is_empty() {
        let names: Vec<String> = r
            .without_email
            .iter()
            .take(5)
            .map(|a| format!("{} ({})", a.name, a.extension))
            .collect();
        text.push_str(&format!(": {}", names.join(", ")));
    }
    text
}
