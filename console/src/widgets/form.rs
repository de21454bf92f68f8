//! A form of single-line text fields (tui-textarea), each with its own error line, so an
//! error the server reports for a field is shown next to that field.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use tui_textarea::TextArea;

use crate::i18n::{t, Lang};
use crate::theme::Theme;
use crate::widgets::text::pad;

pub struct Field {
    /// The request field it fills (as the server names it in errors).
    pub name: &'static str,
    /// i18n key of the label.
    pub label: &'static str,
    pub input: TextArea<'static>,
    pub masked: bool,
    pub error: Option<String>,
}

impl Field {
    pub fn new(name: &'static str, label: &'static str, value: &str) -> Field {
        let mut input = TextArea::new(vec![value.to_string()]);
        input.move_cursor(tui_textarea::CursorMove::End);
        input.set_cursor_line_style(Style::default());
        Field {
            name,
            label,
            input,
            masked: false,
            error: None,
        }
    }
    pub fn masked(mut self) -> Field {
        self.masked = true;
        self.input.set_mask_char('•');
        self
    }
    pub fn value(&self) -> String {
        self.input.lines().join("")
    }
}

pub struct Form {
    pub fields: Vec<Field>,
    pub focus: usize,
    /// An error that names no field of this form.
    pub error: Option<String>,
}

impl Form {
    pub fn new(fields: Vec<Field>) -> Form {
        Form {
            fields,
            focus: 0,
            error: None,
        }
    }

    pub fn value(&self, name: &str) -> String {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map(Field::value)
            .unwrap_or_default()
    }

    pub fn has(&self, name: &str) -> bool {
        self.fields.iter().any(|f| f.name == name)
    }

    pub fn set_value(&mut self, name: &str, value: &str) {
        if let Some(f) = self.fields.iter_mut().find(|f| f.name == name) {
            let masked = f.masked;
            let label = f.label;
            let n = f.name;
            *f = Field::new(n, label, value);
            if masked {
                f.masked = true;
                f.input.set_mask_char('•');
            }
        }
    }

    pub fn clear_errors(&mut self) {
        self.error = None;
        for f in &mut self.fields {
            f.error = None;
        }
    }

    /// Put `message` next to `field` (and focus it); without a matching field, under the form.
    pub fn set_error(&mut self, field: Option<&str>, message: String) {
        let idx = field.and_then(|name| {
            self.fields
                .iter()
                .position(|f| f.name == name || name.ends_with(&format!(".{}", f.name)))
        });
        match idx {
            Some(i) => {
                self.fields[i].error = Some(message);
                self.focus = i;
            }
            None => self.error = Some(message),
        }
    }

    pub fn next(&mut self) {
        if !self.fields.is_empty() {
            self.focus = (self.focus + 1) % self.fields.len();
        }
    }

    pub fn prev(&mut self) {
        if !self.fields.is_empty() {
            self.focus = (self.focus + self.fields.len() - 1) % self.fields.len();
        }
    }

    /// Typing into the focused field (Enter never adds a line).
    pub fn input(&mut self, key: KeyEvent) {
        if key.code == KeyCode::Enter {
            return;
        }
        if let Some(f) = self.fields.get_mut(self.focus) {
            f.input.input(key);
            f.error = None;
        }
    }

    pub fn paste(&mut self, text: &str) {
        if let Some(f) = self.fields.get_mut(self.focus) {
            let one_line: String = text.lines().collect::<Vec<_>>().join(" ");
            f.input.insert_str(one_line.trim());
        }
    }

    /// Rows the form needs in `cols` columns: one per field, its error (wrapped), the form error.
    pub fn height(&self, cols: u16, lang: Lang) -> u16 {
        let ew = (cols as usize)
            .saturating_sub(self.label_width(lang) + 2)
            .max(10);
        let lines = |e: &str| crate::widgets::text::width(e).div_ceil(ew - 2).max(1);
        let errors: usize = self
            .fields
            .iter()
            .filter_map(|f| f.error.as_deref())
            .map(lines)
            .sum();
        let general = self
            .error
            .as_deref()
            .map(|e| crate::widgets::text::width(e).div_ceil((cols as usize).max(10) - 2))
            .unwrap_or(0);
        (self.fields.len() + errors + general) as u16
    }

    pub fn label_width(&self, lang: Lang) -> usize {
        self.fields
            .iter()
            .map(|f| crate::widgets::text::width(&t(lang, f.label)))
            .max()
            .unwrap_or(0)
            + 2
    }

    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme, lang: Lang) {
        let lw = self.label_width(lang) as u16;
        let mut y = area.y;
        let bottom = area.y + area.height;
        for (i, f) in self.fields.iter().enumerate() {
            if y >= bottom {
                break;
            }
            let focused = i == self.focus;
            let marker = if focused { "▸ " } else { "  " };
            let label_style = if focused { theme.focus } else { theme.base };
            let label = Line::from(vec![
                Span::styled(marker, theme.focus),
                Span::styled(pad(&t(lang, f.label), lw as usize - 2), label_style),
            ]);
            let lrect = Rect::new(area.x, y, (lw + 2).min(area.width), 1);
            frame.render_widget(Paragraph::new(label), lrect);
            let ix = area.x + lw + 2;
            if ix < area.x + area.width {
                let irect = Rect::new(ix, y, area.x + area.width - ix, 1);
                // The styles follow the focus: set on a copy, so drawing changes nothing.
                let mut input = f.input.clone();
                if focused {
                    input.set_cursor_style(theme.selected);
                    input.set_style(theme.base);
                } else {
                    input.set_cursor_style(Style::default());
                    input.set_style(theme.muted);
                }
                frame.render_widget(
                    Paragraph::new("_".repeat(irect.width as usize)).style(theme.muted),
                    irect,
                );
                frame.render_widget(&input, irect);
            }
            y += 1;
            if let Some(e) = &f.error {
                let ew = area.width.saturating_sub(lw + 2).max(10);
                let n = (crate::widgets::text::width(e) as u16 + 2)
                    .div_ceil(ew)
                    .max(1);
                if y + n <= bottom {
                    let erect = Rect::new(
                        ix.min(area.x + area.width),
                        y,
                        area.width.saturating_sub(lw + 2),
                        n,
                    );
                    frame.render_widget(
                        Paragraph::new(Line::styled(format!("✗ {e}"), theme.error))
                            .wrap(ratatui::widgets::Wrap { trim: false }),
                        erect,
                    );
                    y += n;
                }
            }
        }
        if let Some(e) = &self.error {
            if y < bottom {
                frame.render_widget(
                    Paragraph::new(Line::styled(format!("✗ {e}"), theme.error))
                        .wrap(ratatui::widgets::Wrap { trim: false }),
                    Rect::new(area.x, y, area.width, bottom - y),
                );
            }
        }
    }
}
