//! Bulk Add: a spreadsheet being read, checked by the server (dry run), previewed and
//! applied ([`ImportView`]); the preview's keys (scroll, apply after a confirm, cancel),
//! the answers to the read and apply requests, and the drawing of the progress bar, then
//! the scrollable preview (every row: create / update with old → new / unchanged / error)
//! with its counts.

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Gauge, Paragraph};
use ratatui::Frame;
use vcms_api::{BatchResult, BatchRow};

use super::forms::{expand_home, file_value};
use super::overlay::{Op, Overlay};
use super::{error_text, Ctx, Look};
use crate::action::{Reply, Req};
use crate::i18n::{t, tf};
use crate::import::ImportProgress;
use crate::widgets::form::Form;
use crate::widgets::popup;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportStage {
    /// Reading the file, then the server's check (dry run).
    Reading,
    /// The preview is on screen.
    Ready,
    /// The apply is on its way.
    Sending,
    /// The file could not be read or checked (`error`).
    Failed,
}

/// A Bulk Add in progress.
pub struct ImportState {
    pub file: String,
    pub send_email: bool,
    pub stage: ImportStage,
    pub progress: Arc<ImportProgress>,
    pub rows: Vec<BatchRow>,
    pub header_row: u32,
    pub result: Option<BatchResult>,
    pub lines: Vec<String>,
    pub scroll: usize,
    /// One key per file read, so a retried apply is imported once.
    pub key: String,
    pub error: Option<String>,
}

impl ImportState {
    /// Can the previewed rows be applied?
    pub fn can_apply(&self) -> bool {
        self.stage == ImportStage::Ready
            && self
                .result
                .as_ref()
                .is_some_and(|r| r.errors.is_empty() && r.created + r.updated > 0)
    }
}

#[derive(Default)]
pub struct ImportView {
    /// The Bulk Add being read, previewed or applied.
    pub state: Option<ImportState>,
}

impl ImportView {
    /// The Bulk Add form named a file: read it (`send_email`: email the new accounts).
    pub fn on_submit(&mut self, form: &mut Form, send_email: bool, cx: &mut Ctx) -> Option<Req> {
        let file = file_value(form, cx.lang)?;
        let progress = Arc::new(ImportProgress::default());
        let path = expand_home(&file);
        self.state = Some(ImportState {
            file,
            send_email,
            stage: ImportStage::Reading,
            progress: progress.clone(),
            rows: vec![],
            header_row: 0,
            result: None,
            lines: vec![],
            scroll: 0,
            key: crate::import::idempotency_key(),
            error: None,
        });
        *cx.overlay = Some(Overlay::Import);
        Some(Req::ImportFile {
            path,
            limits: crate::import::limits(cx.config),
            send_email,
            progress,
        })
    }

    /// The apply was confirmed.
    pub fn apply(&mut self, cx: &mut Ctx) {
        let Some(st) = &mut self.state else { return };
        st.stage = ImportStage::Sending;
        let req = Req::ApplyImport {
            rows: st.rows.clone(),
            send_email: st.send_email,
            key: st.key.clone(),
        };
        *cx.overlay = Some(Overlay::Import);
        cx.request(req);
    }

    /// Keys of the preview: scroll, apply (after a confirm), cancel.
    pub fn on_key(&mut self, k: KeyEvent, cx: &mut Ctx) {
        let Some(st) = &mut self.state else {
            *cx.overlay = None;
            return;
        };
        let last = st.lines.len().saturating_sub(1);
        match k.code {
            KeyCode::Esc | KeyCode::Char('q') if st.stage != ImportStage::Sending => {
                self.state = None;
                *cx.overlay = None;
            }
            KeyCode::Down | KeyCode::Char('j') => st.scroll = (st.scroll + 1).min(last),
            KeyCode::Up | KeyCode::Char('k') => st.scroll = st.scroll.saturating_sub(1),
            KeyCode::PageDown => st.scroll = (st.scroll + 10).min(last),
            KeyCode::PageUp => st.scroll = st.scroll.saturating_sub(10),
            KeyCode::Home | KeyCode::Char('g') => st.scroll = 0,
            KeyCode::End | KeyCode::Char('G') => st.scroll = last,
            KeyCode::Enter | KeyCode::Char('y') if st.can_apply() => {
                let Some(r) = &st.result else { return };
                let detail = tf(
                    cx.lang,
                    "import.confirm_detail",
                    &[("created", &r.created), ("updated", &r.updated)],
                );
                let n = r.created + r.updated;
                *cx.overlay = Some(Overlay::Confirm {
                    text: tf(cx.lang, "import.confirm", &[("n", &n)]),
                    detail,
                    op: Op::ApplyImport,
                });
            }
            _ => {}
        }
    }

    pub fn on_reply(&mut self, reply: Reply, cx: &mut Ctx) -> Option<Reply> {
        let st = match reply {
            Reply::ImportPreview(_) | Reply::Imported(_) => self.state.as_mut()?,
            other => return Some(other),
        };
        match reply {
            Reply::ImportPreview(Ok((rows, header_row, r))) => {
                st.lines = crate::import::preview_lines(&r, &rows);
                st.rows = rows;
                st.header_row = header_row;
                st.result = Some(r);
                st.stage = ImportStage::Ready;
            }
            Reply::ImportPreview(Err(e)) => {
                st.stage = ImportStage::Failed;
                st.error = Some(e);
            }
            Reply::Imported(Ok(r)) if r.applied => {
                let mut msg = r.message.clone();
                if r.emails_queued > 0 {
                    msg.push_str(&tf(cx.lang, "import.emails", &[("n", &r.emails_queued)]));
                }
                self.state = None;
                cx.saved(msg);
                cx.fx.reload_accounts = true;
            }
            Reply::Imported(Ok(r)) => {
                // Something changed since the preview (e.g. the quota): show why.
                st.lines = crate::import::preview_lines(&r, &st.rows);
                st.result = Some(r);
                st.stage = ImportStage::Ready;
                st.scroll = 0;
            }
            Reply::Imported(Err(e)) => {
                // Back to the preview: applying again sends the same key, so a request
                // that did arrive is not imported twice.
                st.stage = ImportStage::Ready;
                st.error = Some(error_text(&e));
                cx.common_error(&e);
            }
            _ => {}
        }
        None
    }

    pub fn draw(&self, f: &mut Frame, area: Rect, look: &Look) {
        let Some(st) = &self.state else { return };
        let (lang, theme) = (look.lang, look.theme);
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
        match st.stage {
            ImportStage::Reading | ImportStage::Sending => {
                let (label, pct) = if st.stage == ImportStage::Reading {
                    (t(lang, "import.reading"), st.progress.percent())
                } else {
                    (tf(lang, "import.sending", &[("n", &st.rows.len())]), 100)
                };
                let line = Rect::new(inner.x, inner.y + 1, inner.width, 1);
                f.render_widget(Paragraph::new(Line::raw(format!(" {label}"))), line);
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
                let hints = Line::from(key_hint("Esc", t(lang, "key.close"), look));
                f.render_widget(Paragraph::new(hints), bottom(inner));
            }
            ImportStage::Ready => preview(f, inner, st, look),
        }
    }
}

/// The last line of `inner`.
fn bottom(inner: Rect) -> Rect {
    Rect::new(inner.x, inner.y + inner.height - 1, inner.width, 1)
}

/// " [key] label".
fn key_hint(k: &str, label: String, look: &Look) -> Vec<Span<'static>> {
    vec![
        Span::styled(format!(" [{k}] "), look.theme.key),
        Span::raw(label),
    ]
}

/// The preview: counts, a note, the rows from the scroll position, the keys.
fn preview(f: &mut Frame, inner: Rect, st: &ImportState, look: &Look) {
    let (lang, theme) = (look.lang, look.theme);
    let Some(res) = &st.result else { return };
    let line = |y: u16| Rect::new(inner.x, inner.y + y, inner.width, 1);
    let counts = format!(" {}", crate::import::counts(res));
    f.render_widget(Paragraph::new(Line::styled(counts, theme.title)), line(0));
    let note = match &st.error {
        Some(e) => Line::styled(format!(" {e}"), theme.error),
        None if !res.errors.is_empty() => Line::styled(format!(" {}", res.message), theme.error),
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
        hints.extend(key_hint("Enter", t(lang, "key.import"), look));
    }
    hints.extend(key_hint("j/k PgUp/PgDn", t(lang, "key.scroll"), look));
    hints.extend(key_hint("Esc", t(lang, "key.cancel"), look));
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
    f.render_widget(Paragraph::new(Line::from(hints)), bottom(inner));
}
