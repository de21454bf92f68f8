//! Footer hints generated from the key tables.

use ratatui::text::{Line, Span};

use crate::i18n::{t, Lang};
use crate::keymap::{Keymap, Scope};
use crate::theme::Theme;
use crate::widgets::text::width;

/// `key description` pairs of the hinted bindings of `scopes`, as many as fit in `cols`.
pub fn hints(
    keymap: &Keymap,
    scopes: &[Scope],
    lang: Lang,
    theme: &Theme,
    cols: usize,
) -> Line<'static> {
    let mut spans = vec![];
    let mut used = 0;
    for scope in scopes {
        for b in keymap.table(*scope).iter().filter(|b| b.hint) {
            let Some(key) = b.keys.first() else { continue };
            let k = key.label();
            let d = t(lang, b.desc);
            let w = width(&k) + 1 + width(&d) + 2;
            if used + w > cols {
                return Line::from(spans);
            }
            used += w;
            spans.push(Span::styled(k, theme.key));
            spans.push(Span::styled(format!(" {d}  "), theme.muted));
        }
    }
    Line::from(spans)
}
