//! System → API keys (for those who manage them): the enterprise's keys with a cursor
//! ([`ApiKeys`]); the `apikeys` keys (create, revoke), the form, confirm and answers, and
//! the drawing of the table.

use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::Cell;
use ratatui::Frame;
use vcms_api::{ApiKey, NewApiKey, Role};

use super::forms::FormKind;
use super::overlay::{Op, Overlay};
use super::{list_move, short_time, About, Ctx, Look, Section};
use crate::action::{Reply, Req};
use crate::i18n::t;
use crate::keymap::{Cmd, Scope};
use crate::widgets::form::{Field, Form};
use crate::widgets::listing::Listing;
use crate::widgets::table::{col, Col};

#[derive(Default)]
pub struct ApiKeys {
    pub list: Listing<ApiKey>,
}

const COLS: [Col; 6] = [
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

pub static ABOUT: About = About {
    names: &["apikeys", "keys"],
    title: "system.api_keys",
    scope: Scope::ApiKeys,
    allowed: |p| p.manage_api_keys,
};

impl Section for ApiKeys {
    fn on_show(&mut self, cx: &mut Ctx) {
        cx.request(Req::ApiKeys);
    }

    fn on_cmd(&mut self, c: Cmd, cx: &mut Ctx) -> bool {
        if list_move(&mut self.list, c) {
            return true;
        }
        match c {
            Cmd::CreateKey => cx.form(
                FormKind::CreateKey,
                vec![
                    Field::new("name", "field.key_name", ""),
                    Field::new("role", "field.role", "helpdesk"),
                ],
            ),
            Cmd::RevokeKey => {
                if let Some(k) = self.list.current().filter(|k| !k.revoked) {
                    let who = format!("{} ({}…)", k.name, k.prefix);
                    cx.confirm("confirm.revoke_key", who, Op::send(Req::RevokeKey(k.id)));
                }
            }
            _ => return false,
        }
        true
    }

    fn on_reply(&mut self, reply: Reply, cx: &mut Ctx) -> Option<Reply> {
        match reply {
            Reply::ApiKeys(Ok(l)) => self.list.set_items(l.items),
            Reply::KeyCreated(Ok(k)) => {
                *cx.overlay = Some(Overlay::Secret {
                    title: t(cx.lang, "secret.new_key"),
                    who: format!("{} · {}", k.name, k.role),
                    value: k.key,
                    note: t(cx.lang, "secret.key_note"),
                });
                cx.request(Req::ApiKeys);
            }
            Reply::KeyRevoked(Ok(m)) => {
                cx.toast(m.message, false);
                cx.request(Req::ApiKeys);
            }
            Reply::ApiKeys(Err(e)) | Reply::KeyCreated(Err(e)) | Reply::KeyRevoked(Err(e)) => {
                cx.form_error(e)
            }
            other => return Some(other),
        }
        None
    }

    fn on_submit(&mut self, kind: FormKind, form: &mut Form, cx: &mut Ctx) -> Option<Req> {
        if kind != FormKind::CreateKey {
            return None;
        }
        let role = form.value("role").trim().to_ascii_lowercase();
        let Ok(role) = role.parse::<Role>() else {
            form.set_error(Some("role"), t(cx.lang, "err.key_role"));
            return None;
        };
        Some(Req::CreateKey(NewApiKey {
            name: form.value("name").trim().to_string(),
            role,
            manage_admins: false,
        }))
    }

    fn draw(&self, f: &mut Frame, area: Rect, look: &Look) {
        let (lang, th) = (look.lang, look.theme);
        look.cursor_list(f, area, &COLS, &self.list, |k| {
            let state = if k.revoked {
                Span::styled(t(lang, "apikey.revoked"), th.error)
            } else {
                Span::styled(t(lang, "apikey.active"), th.ok)
            };
            let last_used = k.last_used_at.as_deref().map(short_time);
            vec![
                Cell::from(k.name.clone()),
                Cell::from(t(lang, &format!("role.{}", k.role))),
                Cell::from(format!("{}…", k.prefix)),
                Cell::from(short_time(&k.created_at)),
                Cell::from(last_used.unwrap_or_default()),
                Cell::from(state),
            ]
        });
    }
}
