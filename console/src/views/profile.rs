//! System → Personal information: the signed-in administrator's profile (kept in
//! [`super::Shared`], loaded with the tab) and security settings ([`ProfileSection`]); the
//! keys and forms to edit the profile, change the password and set the backup email and
//! MFA, their answers, and the drawing of the labelled lines.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use vcms_api::{ChangePasswordRequest, NewSshKey, ProfileUpdate, Security, SecurityUpdate, SshKey};

use super::forms::FormKind;
use super::overlay::Overlay;
use super::{About, Ctx, Look, Section};
use crate::action::{Reply, Req};
use crate::i18n::{t, tf, Lang};
use crate::keymap::Cmd;
use crate::widgets::form::{Field, Form};
use crate::widgets::text::pad;

#[derive(Default)]
pub struct ProfileSection {
    /// Backup email and MFA of the signed-in administrator.
    pub security: Option<Security>,
    /// Their SSH keys (None until loaded, or for an API key).
    pub ssh_keys: Option<Vec<SshKey>>,
}

pub static ABOUT: About = About::open(&["profile", "me"], "system.profile");

impl Section for ProfileSection {
    fn on_tab(&mut self, cx: &mut Ctx) {
        cx.request(Req::Profile);
        cx.request(Req::Security);
        cx.request(Req::SshKeys);
    }

    fn on_cmd(&mut self, c: Cmd, cx: &mut Ctx) -> bool {
        match c {
            Cmd::EditProfile => {
                if let Some(p) = &cx.shared.profile {
                    let fields = vec![
                        Field::new("name", "field.name", &p.name),
                        Field::new("company", "field.company", &p.company),
                        Field::new("country", "field.country", &p.country),
                    ];
                    cx.form(FormKind::EditProfile, fields);
                }
            }
            Cmd::ChangePassword => cx.form(
                FormKind::ChangePassword,
                vec![
                    Field::new("old_password", "field.old_password", "").masked(),
                    Field::new("new_password", "field.new_password", "").masked(),
                    Field::new("confirm_password", "field.confirm_password", "").masked(),
                ],
            ),
            Cmd::EditSecurity => {
                let (backup, mfa) = self
                    .security
                    .as_ref()
                    .map(|s| (s.backup_email.clone().unwrap_or_default(), s.mfa_enabled))
                    .unwrap_or_default();
                cx.form(
                    FormKind::Security,
                    vec![
                        Field::new("current_password", "field.current_password", "").masked(),
                        Field::new("backup_email", "field.backup_email", &backup),
                        Field::new("mfa_enabled", "field.mfa", if mfa { "on" } else { "off" }),
                    ],
                );
            }
            Cmd::AddSshKey if self.ssh_keys.is_some() => cx.form(
                FormKind::AddSshKey,
                vec![
                    Field::new("public_key", "field.public_key", ""),
                    Field::new("name", "field.name", ""),
                ],
            ),
            Cmd::RemoveSshKey if self.ssh_keys.as_ref().is_some_and(|k| !k.is_empty()) => cx.form(
                FormKind::RemoveSshKey,
                vec![Field::new("number", "field.key_number", "")],
            ),
            _ => return false,
        }
        true
    }

    fn on_reply(&mut self, reply: Reply, cx: &mut Ctx) -> Option<Reply> {
        match reply {
            Reply::Profile(Ok(p)) => {
                let editing = Some(FormKind::EditProfile);
                if editing == cx.overlay.as_ref().and_then(Overlay::form_kind) {
                    cx.saved(t(cx.lang, "profile.saved"));
                }
                cx.shared.profile = Some(p);
            }
            Reply::PasswordChanged(Ok(m)) => cx.saved(m.message),
            Reply::Profile(Err(e)) | Reply::PasswordChanged(Err(e)) => cx.form_error(e),
            Reply::Security(Ok(s)) => self.security = Some(s),
            Reply::Security(Err(e)) => {
                if !cx.common_error(&e) {
                    tracing::debug!(error = %e, "security settings");
                }
            }
            Reply::SecuritySaved(Ok(s)) => {
                self.security = Some(s);
                cx.saved(t(cx.lang, "profile.saved"));
            }
            Reply::SecuritySaved(Err(e)) => cx.form_error(e),
            Reply::SshKeys(Ok(list)) => self.ssh_keys = Some(list.items),
            Reply::SshKeys(Err(e)) => {
                if !cx.common_error(&e) {
                    tracing::debug!(error = %e, "ssh keys");
                }
            }
            Reply::SshKeyAdded(Ok(k)) => {
                cx.saved(format!("{}: {}", t(cx.lang, "ssh.added"), k.fingerprint));
                self.ssh_keys.get_or_insert_with(Vec::new).push(k);
            }
            Reply::SshKeyRemoved(Ok(m)) => {
                cx.saved(m.message);
                cx.request(Req::SshKeys);
            }
            Reply::SshKeyAdded(Err(e)) | Reply::SshKeyRemoved(Err(e)) => cx.form_error(e),
            other => return Some(other),
        }
        None
    }

    fn on_submit(&mut self, kind: FormKind, form: &mut Form, cx: &mut Ctx) -> Option<Req> {
        match kind {
            FormKind::EditProfile => Some(Req::UpdateProfile(ProfileUpdate {
                name: Some(form.value("name")),
                company: Some(form.value("company")),
                country: Some(form.value("country")),
                language: None,
            })),
            FormKind::ChangePassword => {
                let (old, new, confirm) = (
                    form.value("old_password"),
                    form.value("new_password"),
                    form.value("confirm_password"),
                );
                if new != confirm {
                    form.set_error(Some("confirm_password"), t(cx.lang, "err.confirm"));
                    return None;
                }
                Some(Req::ChangePassword(ChangePasswordRequest {
                    old_password: old,
                    new_password: new,
                    confirm_password: confirm,
                }))
            }
            FormKind::Security => security_update(form, cx.lang).map(Req::UpdateSecurity),
            FormKind::AddSshKey => {
                let name = form.value("name").trim().to_string();
                Some(Req::AddSshKey(NewSshKey {
                    public_key: form.value("public_key").trim().to_string(),
                    name: (!name.is_empty()).then_some(name),
                }))
            }
            FormKind::RemoveSshKey => {
                let keys = self.ssh_keys.as_deref().unwrap_or_default();
                let n = form.value("number").trim().parse::<usize>().ok();
                match n.and_then(|n| n.checked_sub(1)).and_then(|i| keys.get(i)) {
                    Some(k) => Some(Req::RemoveSshKey(k.id)),
                    None => {
                        let text = tf(cx.lang, "err.key_number", &[("n", &keys.len())]);
                        form.set_error(Some("number"), text);
                        None
                    }
                }
            }
            _ => None,
        }
    }

    fn draw(&self, f: &mut Frame, area: Rect, look: &Look) {
        let (lang, th) = (look.lang, look.theme);
        let Some(p) = &look.shared.profile else {
            return;
        };
        let mut items = vec![
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
        if let Some(s) = &self.security {
            let backup = s.backup_email.clone().unwrap_or_else(|| "-".into());
            items.push(("field.backup_email", backup, false));
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
        let read_only = format!("  ({})", t(lang, "profile.read_only"));
        let mut lines: Vec<Line> = items
            .into_iter()
            .map(|(k, v, ro)| {
                Line::from(vec![
                    Span::styled(format!(" {}", pad(&t(lang, k), lw)), th.muted),
                    Span::raw(v),
                    Span::styled(if ro { read_only.clone() } else { String::new() }, th.muted),
                ])
            })
            .collect();
        lines.push(Line::from(""));
        let hint = |k| Line::styled(format!(" {}", t(lang, k)), th.muted);
        lines.push(hint("profile.hint"));
        if self.security.is_some() {
            lines.push(hint("profile.security_hint"));
        }
        if let Some(keys) = &self.ssh_keys {
            lines.push(Line::from(""));
            lines.push(Line::styled(format!(" {}", t(lang, "ssh.title")), th.title));
            if keys.is_empty() {
                lines.push(Line::styled(
                    format!("   {}", t(lang, "ssh.none")),
                    th.muted,
                ));
            }
            for (i, k) in keys.iter().enumerate() {
                lines.push(Line::from(vec![
                    Span::raw(format!("  {}. {}  ", i + 1, k.name)),
                    Span::styled(format!("{} {}", k.algorithm, k.fingerprint), th.muted),
                ]));
            }
            lines.push(hint("ssh.hint"));
        }
        f.render_widget(Paragraph::new(lines), area);
    }
}

/// The security form's update, or `None` with the errors shown on the form.
fn security_update(form: &mut Form, lang: Lang) -> Option<SecurityUpdate> {
    let password = form.value("current_password");
    if password.is_empty() {
        form.set_error(Some("current_password"), t(lang, "err.password_required"));
        return None;
    }
    let backup = form.value("backup_email").trim().to_string();
    if !backup.is_empty() && !backup.contains('@') {
        form.set_error(Some("backup_email"), t(lang, "err.email"));
        return None;
    }
    let mfa = form.value("mfa_enabled").trim().to_ascii_lowercase();
    let mfa_enabled = match mfa.as_str() {
        "on" | "yes" | "y" | "1" | "true" | "开" => true,
        "off" | "no" | "n" | "0" | "false" | "关" => false,
        _ => {
            form.set_error(Some("mfa_enabled"), t(lang, "err.mfa"));
            return None;
        }
    };
    Some(SecurityUpdate {
        current_password: password,
        email: None,
        backup_email: Some(backup),
        mfa_enabled: Some(mfa_enabled),
    })
}
