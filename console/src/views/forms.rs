//! The popup forms — which ones there are ([`FormKind`]: add/edit account, add license,
//! personal information, password, security, invite, role, API key, and the file forms of
//! Bulk Add, Export and Template) and how one is drawn; each view builds and submits its
//! own.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::Look;
use crate::i18n::{t, tf, Lang};
use crate::keymap::{Cmd, Scope};
use crate::widgets::form::{Field, Form};
use crate::widgets::popup;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormKind {
    /// Bulk Add: the spreadsheet's path.
    Import,
    /// Export: the file to write (.xlsx or .csv).
    Export,
    /// Download Template: the file to write.
    Template,
    AddAccount,
    EditAccount(i64),
    AddLicense,
    EditProfile,
    ChangePassword,
    Invite,
    SetRole(i64),
    CreateKey,
    Security,
    AddSshKey,
    RemoveSshKey,
}

impl FormKind {
    fn title(self) -> &'static str {
        match self {
            FormKind::AddAccount => "form.add_account",
            FormKind::EditAccount(_) => "form.edit_account",
            FormKind::AddLicense => "form.add_license",
            FormKind::EditProfile => "form.edit_profile",
            FormKind::ChangePassword => "form.change_password",
            FormKind::Invite => "form.invite",
            FormKind::SetRole(_) => "form.set_role",
            FormKind::CreateKey => "form.create_key",
            FormKind::Security => "form.security",
            FormKind::AddSshKey => "form.add_ssh_key",
            FormKind::RemoveSshKey => "form.remove_ssh_key",
            FormKind::Import => "form.import",
            FormKind::Export => "form.export",
            FormKind::Template => "form.template",
        }
    }

    /// The line above the fields of a file form.
    fn note(self) -> Option<&'static str> {
        match self {
            FormKind::Import => Some("import.formats"),
            FormKind::Export => Some("export.formats"),
            FormKind::Template => Some("template.formats"),
            _ => None,
        }
    }

    /// The labels of the submit key and of the second submit key, if the form has one.
    fn buttons(self) -> (&'static str, Option<&'static str>) {
        match self {
            FormKind::AddAccount => ("key.save", Some("key.save_send")),
            FormKind::Import => ("key.preview", Some("key.preview_send")),
            FormKind::Export | FormKind::Template => ("key.write", None),
            _ => ("key.save", None),
        }
    }
}

/// The form that asks for a file (Bulk Add, Export, Template), with `default` filled in.
pub fn file_fields(default: &str) -> Vec<Field> {
    vec![Field::new("file", "field.file", default)]
}

/// The file a file form names, or `None` with the error shown on the form.
pub fn file_value(form: &mut Form, lang: Lang) -> Option<String> {
    let file = form.value("file").trim().to_string();
    if file.is_empty() {
        form.set_error(Some("file"), t(lang, "err.file"));
        return None;
    }
    Some(file)
}

/// `~/x.xlsx` → the home directory's x.xlsx.
pub fn expand_home(file: &str) -> std::path::PathBuf {
    match (file.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => std::path::PathBuf::from(home).join(rest),
        _ => std::path::PathBuf::from(file),
    }
}

pub fn draw(f: &mut Frame, area: Rect, kind: FormKind, form: &Form, look: &Look) {
    let (lang, theme) = (look.lang, look.theme);
    let w = 70.min(area.width);
    let h = form.height(w.saturating_sub(2), lang) + 6;
    let r = popup::centered(area, w, h);
    let inner = popup::frame_box(f, r, &t(lang, kind.title()), theme);
    let mut y = inner.y;
    let line = |y| Rect::new(inner.x, y, inner.width, 1);
    if let Some(note) = kind.note() {
        let note = Line::styled(format!(" {}", t(lang, note)), theme.muted);
        f.render_widget(Paragraph::new(note), line(y));
    }
    if let (FormKind::AddAccount, Some(q)) = (kind, &look.shared.quota) {
        let can_add = tf(lang, "accounts.can_add", &[("n", &q.can_add)]);
        let note = Line::styled(format!(" {can_add}"), theme.muted);
        f.render_widget(Paragraph::new(note), line(y));
    }
    y += 1;
    let fh = form.height(inner.width, lang);
    form.render(f, Rect::new(inner.x, y, inner.width, fh), theme, lang);
    y += fh + 1;
    let key = |c| look.keymap.key_of(Scope::Form, c);
    let (submit, alt) = kind.buttons();
    let mut buttons = vec![
        Span::styled(format!(" [{}] ", key(Cmd::Submit)), theme.key),
        Span::raw(t(lang, submit)),
    ];
    if let Some(alt) = alt {
        buttons.push(Span::styled(
            format!("   [{}] ", key(Cmd::SubmitAlt)),
            theme.key,
        ));
        buttons.push(Span::raw(t(lang, alt)));
    }
    buttons.push(Span::styled(
        format!("   [{}] ", key(Cmd::Cancel)),
        theme.key,
    ));
    buttons.push(Span::raw(t(lang, "key.cancel")));
    if y < inner.y + inner.height {
        f.render_widget(Paragraph::new(Line::from(buttons)), line(y));
    }
}
