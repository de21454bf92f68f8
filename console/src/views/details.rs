//! Account → details of one account: which account and its details ([`DetailsView`]),
//! the keys of the `details` table (edit, reset password or pincode, send, remove, back),
//! the answers to the details, save and reset requests, and the drawing of the details
//! with the endpoint bindings — full screen, or as the pane beside the table on a wide
//! terminal.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};
use ratatui::Frame;
use vcms_api::{AccountDetails, AccountStatus, AccountUpdate, PincodeState};

use super::accounts::{account_fields, account_values};
use super::forms::FormKind;
use super::overlay::{Op, Overlay};
use super::{short_time, Ctx, Goto, Look, View};
use crate::action::{Reply, Req};
use crate::i18n::{t, tf, Lang};
use crate::keymap::Cmd;
use crate::widgets::form::Form;
use crate::widgets::text::pad;

#[derive(Default)]
pub struct DetailsView {
    /// The account shown (or followed by the pane).
    pub id: Option<i64>,
    /// Its details, once they arrive.
    pub details: Option<AccountDetails>,
}

impl DetailsView {
    /// Show account `id`: its details are asked for (the old ones stay if they are its).
    pub fn open(&mut self, id: i64, cx: &mut Ctx) {
        self.id = Some(id);
        if self.details.as_ref().map(|d| d.id) != Some(id) {
            self.details = None;
        }
        cx.request(Req::Details(id));
    }

    /// The pane follows the cursor: account `id` is selected.
    pub fn follow(&mut self, id: i64, cx: &mut Ctx) {
        if self.id != Some(id) {
            self.id = Some(id);
            cx.request(Req::Details(id));
        }
    }

    pub fn close(&mut self) {
        self.id = None;
        self.details = None;
    }

    pub fn load(&mut self, cx: &mut Ctx) {
        if let Some(id) = self.id {
            cx.request(Req::Details(id));
        }
    }

    /// The caller's `who` of a confirm: "name (cloud number)".
    fn who(d: &AccountDetails) -> String {
        format!("{} ({})", d.name, d.cloud_number)
    }

    /// A command of the `details` keys; send and remove are given back with this account
    /// as their target (the table's confirm asks).
    pub fn on_cmd(&mut self, c: Cmd, cx: &mut Ctx) -> Option<(Cmd, Vec<i64>)> {
        let d = self.details.as_ref();
        match c {
            Cmd::Edit => {
                if let Some(d) = d {
                    let email = d.email.as_deref().unwrap_or("");
                    let fields = account_fields(&d.name, &d.extension, email);
                    *cx.overlay = Some(Overlay::Form {
                        kind: FormKind::EditAccount(d.id),
                        form: Form::new(fields),
                    });
                }
            }
            Cmd::ResetPincode => {
                if let Some(d) = d {
                    let op = Op::send(Req::ResetAccountPincode(d.id));
                    cx.confirm("confirm.reset_pincode", Self::who(d), op);
                }
            }
            Cmd::ResetPassword => {
                if let Some(d) = d {
                    let op = Op::send(Req::ResetAccountPassword(d.id));
                    cx.confirm("confirm.reset_password", Self::who(d), op);
                }
            }
            Cmd::SendEmail | Cmd::Remove => {
                return Some((c, self.id.map(|i| vec![i]).unwrap_or_default()));
            }
            Cmd::Back => {
                cx.fx.goto = Some(Goto::Table);
                cx.fx.reload_accounts = true;
            }
            _ => {}
        }
        None
    }

    pub fn on_reply(&mut self, reply: Reply, cx: &mut Ctx) -> Option<Reply> {
        let shown = cx.place.view == View::Details;
        match reply {
            Reply::Details(Ok(d)) => {
                if self.id == Some(d.id) {
                    self.details = Some(d);
                }
            }
            Reply::Details(Err(e)) => cx.load_error(e),
            Reply::Saved { res: Ok(ref d), .. } if shown => {
                self.id = Some(d.id);
                self.details = Some(d.clone());
                return Some(reply);
            }
            Reply::Reset { pincode, res } => match res {
                Ok(d) => {
                    *cx.overlay = Some(secret(&d, pincode, cx.lang));
                    self.details = Some(d);
                }
                Err(e) => cx.form_error(e),
            },
            Reply::Removed(Ok(_)) if shown => {
                self.close();
                cx.fx.goto = Some(Goto::Table);
                return Some(reply);
            }
            other => return Some(other),
        }
        None
    }

    pub fn on_submit(&mut self, kind: FormKind, form: &mut Form, cx: &mut Ctx) -> Option<Req> {
        let FormKind::EditAccount(id) = kind else {
            return None;
        };
        let (name, extension, email) = account_values(form, cx.lang)?;
        Some(Req::UpdateAccount(
            id,
            AccountUpdate {
                name: Some(name),
                extension: Some(extension),
                email: Some(email),
            },
        ))
    }

    /// The details pane beside the account table (wide terminals): the selected account's
    /// details once they arrive, "loading" until then.
    pub fn draw_pane(&self, f: &mut Frame, area: Rect, look: &Look) {
        if self.details.as_ref().map(|d| d.id) == self.id {
            self.draw(f, area, look);
        } else {
            look.loading(f, area);
        }
    }

    pub fn draw(&self, f: &mut Frame, area: Rect, look: &Look) {
        let (lang, th) = (look.lang, look.theme);
        let Some(d) = &self.details else {
            return look.loading(f, area);
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
        let lines = fields(d, look);
        let n = lines.len() as u16;
        let [top, bind] =
            Layout::vertical([Constraint::Length(n + 1), Constraint::Min(0)]).areas(inner);
        f.render_widget(Paragraph::new(lines), top);
        if bind.height >= 2 {
            bindings(f, bind, d, look);
        }
    }
}

/// The popup with a new pincode or password, shown once.
fn secret(d: &AccountDetails, pincode: bool, lang: Lang) -> Overlay {
    let (title, value, note) = if pincode {
        let until = short_time(d.pincode_expires_at.as_deref().unwrap_or(""));
        (
            t(lang, "secret.new_pincode"),
            d.pincode.clone().unwrap_or_default(),
            tf(lang, "secret.pincode_note", &[("until", &until)]),
        )
    } else {
        (
            t(lang, "secret.new_password"),
            d.password.clone(),
            t(lang, "secret.password_note"),
        )
    };
    Overlay::Secret {
        title,
        who: format!("{} · {}", d.name, d.cloud_number),
        value,
        note,
    }
}

/// The labelled lines: name, numbers, password, pincode, email, status.
fn fields(d: &AccountDetails, look: &Look) -> Vec<Line<'static>> {
    let (lang, th) = (look.lang, look.theme);
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
        (Some(p), PincodeState::Valid) => {
            let until = short_time(d.pincode_expires_at.as_deref().unwrap_or(""));
            Line::from(vec![
                Span::styled(p.clone(), th.title),
                Span::styled(
                    format!(
                        "  {}",
                        tf(lang, "details.valid_until", &[("until", &until)])
                    ),
                    th.muted,
                ),
            ])
        }
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
    labels
        .iter()
        .zip(values)
        .map(|(k, v)| {
            let mut spans = vec![Span::styled(format!(" {}", pad(&t(lang, k), lw)), th.muted)];
            spans.extend(v.spans);
            Line::from(spans)
        })
        .collect()
}

/// The endpoint bindings: a title line, then the table (or "none").
fn bindings(f: &mut Frame, area: Rect, d: &AccountDetails, look: &Look) {
    let (lang, th) = (look.lang, look.theme);
    let title = Line::styled(
        format!(" {} ({})", t(lang, "details.bindings"), d.bindings.len()),
        th.title,
    );
    f.render_widget(
        Paragraph::new(title),
        Rect::new(area.x, area.y, area.width, 1),
    );
    let rest = Rect::new(area.x, area.y + 1, area.width, area.height - 1);
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
