//! System → Colleagues (for those who manage them): the enterprise's administrators with
//! a cursor ([`Colleagues`]); the `colleagues` keys (invite, set role, resend the
//! invitation, disable or enable, remove), their forms, confirms and answers, and the
//! drawing of the table.

use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::Cell;
use ratatui::Frame;
use vcms_api::{AdminStatus, Colleague, InviteRequest, Role, RoleUpdate};

use super::forms::FormKind;
use super::overlay::Op;
use super::{list_move, About, Ctx, Look, Section};
use crate::action::{Reply, Req};
use crate::i18n::{t, tf, Lang};
use crate::keymap::{Cmd, Scope};
use crate::widgets::form::{Field, Form};
use crate::widgets::listing::Listing;
use crate::widgets::table::{col, Col};

#[derive(Default)]
pub struct Colleagues {
    pub list: Listing<Colleague>,
}

const COLS: [Col; 5] = [
    col("col.name", Constraint::Length(22), Constraint::Length(14)),
    col("col.email", Constraint::Length(32), Constraint::Length(22)),
    col("col.role", Constraint::Length(12), Constraint::Length(9)),
    col("col.flags", Constraint::Length(22), Constraint::Length(14)),
    col("col.status", Constraint::Min(8), Constraint::Min(8)),
];

impl Colleagues {
    /// Confirm resending the invitation to the colleague under the cursor, disabling or
    /// enabling, or removing them.
    fn confirm(&self, c: Cmd, cx: &mut Ctx) {
        let Some(x) = self.list.current() else {
            return;
        };
        let who = format!("{} <{}>", x.name, x.email);
        let (key, req) = match c {
            Cmd::ResendInvite => ("confirm.resend_invite", Req::ResendInvite(x.id)),
            Cmd::ToggleDisabled if x.status == AdminStatus::Disabled => {
                ("confirm.enable_colleague", Req::EnableColleague(x.id))
            }
            Cmd::ToggleDisabled => ("confirm.disable_colleague", Req::DisableColleague(x.id)),
            _ => ("confirm.remove_colleague", Req::RemoveColleague(x.id)),
        };
        cx.confirm(key, who, Op::send(req));
    }
}

pub static ABOUT: About = About {
    names: &["colleagues", "colleague"],
    title: "system.colleagues",
    scope: Scope::Colleagues,
    allowed: |p| p.manage_colleagues,
};

impl Section for Colleagues {
    fn on_show(&mut self, cx: &mut Ctx) {
        cx.request(Req::Colleagues);
    }

    fn on_cmd(&mut self, c: Cmd, cx: &mut Ctx) -> bool {
        if list_move(&mut self.list, c) {
            return true;
        }
        match c {
            Cmd::Invite => cx.form(
                FormKind::Invite,
                vec![
                    Field::new("first_name", "field.first_name", ""),
                    Field::new("last_name", "field.last_name", ""),
                    Field::new("email", "field.email", ""),
                    Field::new("role", "field.role", "helpdesk"),
                    Field::new("manage_admins", "field.manage_admins", "no"),
                ],
            ),
            Cmd::SetRole => {
                if let Some(x) = self.list.current() {
                    let flag = if x.manage_admins { "yes" } else { "no" };
                    let fields = vec![
                        Field::new("role", "field.role", x.role.as_str()),
                        Field::new("manage_admins", "field.manage_admins", flag),
                    ];
                    cx.form(FormKind::SetRole(x.id), fields);
                }
            }
            Cmd::ResendInvite | Cmd::ToggleDisabled | Cmd::RemoveColleague => self.confirm(c, cx),
            _ => return false,
        }
        true
    }

    fn on_reply(&mut self, reply: Reply, cx: &mut Ctx) -> Option<Reply> {
        match reply {
            Reply::Colleagues(Ok(l)) => self.list.set_items(l.items),
            Reply::Colleagues(Err(e)) | Reply::ColleagueDone(Err(e)) => cx.form_error(e),
            Reply::ColleagueDone(Ok(x)) => {
                let text = match x {
                    Some(x) => {
                        let status = t(cx.lang, &format!("status.{}", x.status));
                        tf(
                            cx.lang,
                            "colleague.saved",
                            &[("name", &x.name), ("status", &status)],
                        )
                    }
                    None => t(cx.lang, "colleague.removed"),
                };
                cx.saved(text);
                cx.request(Req::Colleagues);
            }
            other => return Some(other),
        }
        None
    }

    fn on_submit(&mut self, kind: FormKind, form: &mut Form, cx: &mut Ctx) -> Option<Req> {
        if !matches!(kind, FormKind::Invite | FormKind::SetRole(_)) {
            return None;
        }
        let (role, manage_admins) = role_values(form, cx.lang)?;
        if let FormKind::SetRole(id) = kind {
            return Some(Req::SetRole(
                id,
                RoleUpdate {
                    role,
                    manage_admins,
                },
            ));
        }
        let email = form.value("email").trim().to_string();
        if !email.contains('@') {
            form.set_error(Some("email"), t(cx.lang, "err.email"));
            return None;
        }
        Some(Req::Invite(InviteRequest {
            first_name: form.value("first_name").trim().to_string(),
            last_name: form.value("last_name").trim().to_string(),
            email,
            role,
            manage_admins,
        }))
    }

    fn draw(&self, f: &mut Frame, area: Rect, look: &Look) {
        let (lang, th) = (look.lang, look.theme);
        look.cursor_list(f, area, &COLS, &self.list, |x| {
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
                    AdminStatus::Active => th.ok,
                    AdminStatus::Disabled => th.error,
                    AdminStatus::Invited => th.warn,
                },
            );
            vec![
                Cell::from(x.name.clone()),
                Cell::from(x.email.clone()),
                Cell::from(t(lang, &format!("role.{}", x.role))),
                Cell::from(flags.join(", ")),
                Cell::from(status),
            ]
        });
    }
}

/// The role and "manages administrators" of the invite and role forms, or `None` with
/// the error shown on the form.
fn role_values(form: &mut Form, lang: Lang) -> Option<(Role, bool)> {
    let role = match form.value("role").trim().to_ascii_lowercase().as_str() {
        "admin" => Role::Admin,
        "helpdesk" | "help-desk" => Role::Helpdesk,
        _ => {
            form.set_error(Some("role"), t(lang, "err.role"));
            return None;
        }
    };
    let flag = form.value("manage_admins").trim().to_ascii_lowercase();
    let manage_admins = matches!(flag.as_str(), "y" | "yes" | "1" | "true" | "是");
    Some((role, manage_admins))
}
