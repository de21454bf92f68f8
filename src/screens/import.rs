//! Bulk Add: a progress bar while the file is read and checked, then the scrollable preview
//! (every row: create / update with old → new / unchanged / error) with its counts.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Gauge, Paragraph};
use ratatui::Frame;

use crate::app::{ImportStage, ImportState};
use crate::i18n::{t, tf, Lang};
use crate::theme::Theme;
use crate::widgets::popup;

pub fn draw(f: &mut Frame, area: Rect, st: &ImportState, theme: &Theme, lang: Lang) {
    let r = popup::centered(
        area,
        area.width.saturating_sub(4),
        area.height.saturating_sub(2),
    );
    let title = tf(lang, "import.title", &[("file", &st.file)]);
    let inner = popup::frame_box(f, r, &title, theme);
    if inner.height < 4 {
        return;
    }
    let line = |y: u16| Rect::new(inner.x, inner.y + y, inner.width, 1);
    let bottom = Rect::new(inner.x, inner.y + inner.height - 1, inner.width, 1);
    let key = |k: &str, label: String| {
        vec![
            Span::styled(format!(" [{k}] "), theme.key),
            Span::raw(label),
        ]
    };
    match st.stage {
        ImportStage::Reading | ImportStage::Sending => {
            let (label, pct) = if st.stage == ImportStage::Reading {
                (t(lang, "import.reading"), st.progress.percent())
            } else {
                (tf(lang, "import.sending", &[("n", &st.rows.len())]), 100)
            };
            f.render_widget(Paragraph::new(Line::raw(format!(" {label}"))), line(1));
            f.render_widget(
                Gauge::default()
                    .gauge_style(theme.selected)
                    .percent(pct)
                    .label(format!("{pct}%")),
                Rect::new(inner.x + 1, inner.y + 3, inner.width.saturating_sub(2), 1),
            );
        }
        ImportStage::Failed => {
            let msg = st.error.clone().unwrap_or_default();
            f.render_widget(
                Paragraph::new(Line::styled(format!(" {msg}"), theme.error))
                    .wrap(ratatui::widgets::Wrap { trim: true }),
                Rect::new(inner.x, inner.y + 1, inner.width, 3),
            );
            f.render_widget(
                Paragraph::new(Line::from(key("Esc", t(lang, "key.close")))),
                bottom,
            );
        }
        ImportStage::Ready => {
            let Some(res) = &st.result else { return };
            let bad = !res.errors.is_empty();
            f.render_widget(
                Paragraph::new(Line::styled(
                    format!(" {}", crate::import::counts(res)),
                    theme.title,
                )),
                line(0),
            );
            let note = match &st.error {
                Some(e) => Line::styled(format!(" {e}"), theme.error),
                None if bad => Line::styled(format!(" {}", res.message), theme.error),
                None => Line::styled(
                    format!(
                        " {}",
                        tf(lang, "import.from_row", &[("row", &(st.header_row + 1))])
                    ),
                    theme.muted,
                ),
            };
            f.render_widget(Paragraph::new(note), line(1));
            let rows_h = inner.height.saturating_sub(4) as usize;
            let shown: Vec<Line> = st
                .lines
                .iter()
                .skip(st.scroll)
                .take(rows_h)
                .map(|l| {
                    let style = if l.starts_with("row ") && !l.contains(" error ") {
                        theme.base
                    } else {
                        theme.error
                    };
                    Line::styled(format!(" {l}"), style)
                })
                .collect();
            f.render_widget(
                Paragraph::new(shown),
                Rect::new(inner.x, inner.y + 2, inner.width, rows_h as u16),
            );
            let mut hints = vec![];
            if st.can_apply() {
                hints.extend(key("Enter", t(lang, "key.import")));
            }
            hints.extend(key("j/k PgUp/PgDn", t(lang, "key.scroll")));
            hints.extend(key("Esc", t(lang, "key.cancel")));
            if st.lines.len() > rows_h {
                hints.push(Span::styled(
                    format!(
                        "  {}-{}/{}",
                        st.scroll + 1,
                        (st.scroll + rows_h).min(st.lines.len()),
                        st.lines.len()
                    ),
                    theme.muted,
                ));
            }
            f.render_widget(Paragraph::new(Line::from(hints)), bottom);
        }
    }
}
