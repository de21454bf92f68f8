//! System → Server: the lines the session keeps about the server it talks to (its
//! address; in demo mode the SIP ports, data and outbox folders and the log), drawn as
//! labelled lines. It loads nothing and has no keys of its own.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{About, Look, Section};
use crate::widgets::text::pad;

#[derive(Default)]
pub struct Server;

pub static ABOUT: About = About::open(&["server"], "system.server");

impl Section for Server {
    fn draw(&self, f: &mut Frame, area: Rect, look: &Look) {
        let info = &look.shared.server_info;
        let lw = info
            .iter()
            .map(|(k, _)| crate::widgets::text::width(k))
            .max()
            .unwrap_or(8)
            + 2;
        let lines: Vec<Line> = info
            .iter()
            .map(|(k, v)| {
                Line::from(vec![
                    Span::styled(format!(" {}", pad(k, lw)), look.theme.muted),
                    Span::raw(v.clone()),
                ])
            })
            .collect();
        f.render_widget(Paragraph::new(lines), area);
    }
}
