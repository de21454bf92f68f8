//! Styles by meaning. `color` (default), `mono` (no colours: bold, underline and reverse
//! only); `NO_COLOR` selects `mono`. State is never shown by colour alone.

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone)]
pub struct Theme {
    pub name: &'static str,
    pub base: Style,
    pub title: Style,
    pub muted: Style,
    pub error: Style,
    pub ok: Style,
    pub warn: Style,
    pub selected: Style,
    pub marked: Style,
    pub key: Style,
    pub header: Style,
    pub border: Style,
    pub focus: Style,
    pub big: Style,
    pub tab_active: Style,
}

impl Theme {
    pub fn color() -> Self {
        Self {
            name: "color",
            base: Style::default(),
            title: Style::default()
                .fg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
            muted: Style::default().fg(Color::DarkGray),
            error: Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
            ok: Style::default().fg(Color::Green),
            warn: Style::default().fg(Color::Yellow),
            selected: Style::default()
                .bg(Color::Blue)
                .fg(Color::White)
                .add_modifier(Modifier::BOLD),
            marked: Style::default()
                .fg(Color::Magenta)
                .add_modifier(Modifier::BOLD),
            key: Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
            header: Style::default()
                .add_modifier(Modifier::BOLD)
                .add_modifier(Modifier::UNDERLINED),
            border: Style::default().fg(Color::DarkGray),
            focus: Style::default().fg(Color::Cyan),
            big: Style::default()
                .fg(Color::Green)
                .add_modifier(Modifier::BOLD),
            tab_active: Style::default()
                .fg(Color::Cyan)
                .add_modifier(Modifier::BOLD | Modifier::REVERSED),
        }
    }

    pub fn mono() -> Self {
        let plain = Style::default();
        Self {
            name: "mono",
            base: plain,
            title: plain.add_modifier(Modifier::BOLD),
            muted: plain.add_modifier(Modifier::DIM),
            error: plain.add_modifier(Modifier::BOLD),
            ok: plain,
            warn: plain.add_modifier(Modifier::BOLD),
            selected: plain.add_modifier(Modifier::REVERSED),
            marked: plain.add_modifier(Modifier::BOLD),
            key: plain.add_modifier(Modifier::BOLD),
            header: plain.add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            border: plain,
            focus: plain.add_modifier(Modifier::BOLD),
            big: plain.add_modifier(Modifier::BOLD),
            tab_active: plain.add_modifier(Modifier::REVERSED | Modifier::BOLD),
        }
    }

    /// By name (`color`, `mono`); `NO_COLOR` (any value) forces `mono`.
    pub fn select(name: Option<&str>, no_color: bool) -> Self {
        if no_color {
            return Self::mono();
        }
        match name {
            Some("mono") | Some("monochrome") => Self::mono(),
            _ => Self::color(),
        }
    }

    /// The theme for a terminal that says it is `term` (its `TERM`, as an SSH client sends
    /// it): no colours for a dumb or monochrome terminal.
    pub fn for_term(term: &str) -> Self {
        let term = term.trim().to_ascii_lowercase();
        let mono = term.is_empty()
            || term == "dumb"
            || term.ends_with("-m")
            || term.ends_with("-mono")
            || (term.starts_with("vt") && !term.contains("color"));
        Self::select(None, mono)
    }

    pub fn from_env(name: Option<&str>) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self::select(name, no_color)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_wins() {
        assert_eq!(Theme::select(Some("color"), true).name, "mono");
        assert_eq!(Theme::select(Some("mono"), false).name, "mono");
        assert_eq!(Theme::select(None, false).name, "color");
        assert_eq!(Theme::for_term("dumb").name, "mono");
        assert_eq!(Theme::for_term("vt100").name, "mono");
        assert_eq!(Theme::for_term("xterm-mono").name, "mono");
        assert_eq!(Theme::for_term("xterm-256color").name, "color");
        assert_eq!(Theme::for_term("screen").name, "color");
        let m = Theme::mono();
        for s in [m.title, m.error, m.selected, m.muted] {
            assert!(s.fg.is_none() && s.bg.is_none());
        }
    }
}
