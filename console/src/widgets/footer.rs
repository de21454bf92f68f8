//! Footer hints generated from the key tables.

use ratatui::text::{Line, Span};

use crate::i18n::{t, Lang};
use crate::keymap::{Binding, Keymap, Scope};
use crate::theme::Theme;
use crate::widgets::text::width;

/// `key description` pairs of the hinted bindings of `scopes`, as many as fit in `cols`;
/// the global ones (help, command, quit) are kept and the screen's own are cut first.
pub fn hints(
    keymap: &Keymap,
    scopes: &[Scope],
    lang: Lang,
    theme: &Theme,
    cols: usize,
    hidden: &[crate::keymap::Cmd],
) -> Line<'static> {
    let pair = |b: &Binding| -> Option<(String, String)> {
        b.keys.first().map(|k| (k.label(), t(lang, b.desc)))
    };
    let w = |p: &(String, String)| width(&p.0) + 1 + width(&p.1) + 2;
    let global: Vec<(String, String)> = scopes
        .iter()
        .filter(|s| **s == Scope::Global)
        .flat_map(|s| {
            keymap
                .table(*s)
                .iter()
                .filter(|b| b.hint && !hidden.contains(&b.cmd))
                .filter_map(pair)
        })
        .collect();
    let mut used: usize = global.iter().map(w).sum();
    let mut pairs = vec![];
    'outer: for scope in scopes.iter().filter(|s| **s != Scope::Global) {
        for p in keymap
            .table(*scope)
            .iter()
            .filter(|b| b.hint && !hidden.contains(&b.cmd))
            .filter_map(pair)
        {
            if used + w(&p) > cols {
                break 'outer;
            }
            used += w(&p);
            pairs.push(p);
        }
    }
    pairs.extend(global);
    let mut spans = vec![];
    let mut total = 0;
    for p in pairs {
        total += w(&p);
        if total > cols + 2 {
            break;
        }
        spans.push(Span::styled(p.0, theme.key));
        spans.push(Span::styled(format!(" {}  ", p.1), theme.muted));
    }
    Line::from(spans)
}
