//! Popup forms: add/edit account, add license, personal information, change password.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::app::FormKind;
use crate::i18n::{t, tf, Lang};
use crate::keymap::{Cmd, Keymap, Scope};
use crate::theme::Theme;
use crate::widgets::form::Form;
use crate::widgets::popup;

#[allow(clippy::too_many_arguments)]
pub fn draw(
    f: &mut Frame,
    area: Rect,
    kind: FormKind,
    form: &mut Form,
    theme: &Theme,
    lang: Lang,
    keymap: &Keymap,
    can_add: Option<i64>,
) {
    let title = match kind {
        FormKind::AddAccount => t(lang, "form.add_account"),
        FormKind::EditAccount(_) => t(lang, "form.edit_account"),
        FormKind::AddLicense => t(lang, "form.add_license"),
        FormKind::EditProfile => t(lang, "form.edit_profile"),
        FormKind::ChangePassword => t(lang, "form.change_password"),
        FormKind::Invite => t(lang, "form.invite"),
        FormKind::SetRole(_) => t(lang, "form.set_role"),
        FormKind::CreateKey => t(lang, "form.create_key"),
        FormKind::Security => t(lang, "form.security"),
        FormKind::Import => t(lang, "form.import"),
        FormKind::Export => t(lang, "form.export"),
        FormKind::Template => t(lang, "form.template"),
    };
    let w = 70.min(area.width);
    let h = form.height(w.saturating_sub(2), lang) + 6;
    let r = popup::centered(area, w, h);
    let inner = popup::frame_box(f, r, &title, theme);
    let mut y = inner.y;
    let note = match kind {
        FormKind::Import => Some(t(lang, "import.formats")),
        FormKind::Export => Some(t(lang, "export.formats")),
        FormKind::Template => Some(t(lang, "template.formats")),
        _ => None,
    };
    if let Some(note) = note {
        f.render_widget(
            Paragraph::new(Line::styled(format!(" {note}"), theme.muted)),
            Rect::new(inner.x, y, inner.width, 1),
        );
    }
    if let (FormKind::AddAccount, Some(n)) = (kind, can_add) {
        f.render_widget(
            Paragraph::new(Line::styled(
                format!(" {}", tf(lang, "accounts.can_add", &[("n", &n)])),
                theme.muted,
            )),
            Rect::new(inner.x, y, inner.width, 1),
        );
    }
    y += 1;
    let fh = form.height(inner.width, lang);
    form.render(f, Rect::new(inner.x, y, inner.width, fh), theme, lang);
    y += fh + 1;
    let key = |c| keymap.key_of(Scope::Form, c);
    let (submit, alt) = match kind {
        FormKind::AddAccount => ("key.save", Some("key.save_send")),
        FormKind::Import => ("key.preview", Some("key.preview_send")),
        FormKind::Export | FormKind::Template => ("key.write", None),
        _ => ("key.save", None),
    };
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
        f.render_widget(
            Paragraph::new(Line::from(buttons)),
            Rect::new(inner.x, y, inner.width, 1),
        );
    }
}
