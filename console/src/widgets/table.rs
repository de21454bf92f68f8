//! The table of a System section: columns declared once (title, wide and narrow width),
//! the row under the cursor highlighted, and a "none" line when there are no rows.

use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use crate::i18n::{t, Lang};
use crate::theme::Theme;

/// A column: its title (a message key) and its width on wide (≥ 100 columns) and narrow
/// terminals.
pub struct Col {
    pub title: &'static str,
    pub wide: Constraint,
    pub narrow: Constraint,
}

pub const fn col(title: &'static str, wide: Constraint, narrow: Constraint) -> Col {
    Col {
        title,
        wide,
        narrow,
    }
}

/// A table with a cursor row, or a "none" line when empty.
pub fn cursor_table(
    f: &mut Frame,
    area: Rect,
    (theme, lang): (&Theme, Lang),
    cols: &[Col],
    rows: Vec<Vec<Cell<'static>>>,
    cursor: usize,
) {
    let wide = area.width >= 100;
    let header: Vec<String> = cols.iter().map(|c| t(lang, c.title)).collect();
    let widths: Vec<Constraint> = cols
        .iter()
        .map(|c| if wide { c.wide } else { c.narrow })
        .collect();
    if rows.is_empty() {
        let titles: Vec<String> = header.iter().map(|h| format!(" {h}")).collect();
        f.render_widget(
            Paragraph::new(vec![
                Line::styled(titles.join(" "), theme.header),
                Line::styled(format!(" {}", t(lang, "list.none")), theme.muted),
            ]),
            area,
        );
        return;
    }
    let rows: Vec<Row> = rows
        .into_iter()
        .enumerate()
        .map(|(i, cells)| {
            let r = Row::new(cells);
            if i == cursor {
                r.style(theme.selected)
            } else {
                r
            }
        })
        .collect();
    let tbl = Table::new(rows, widths).header(Row::new(header).style(theme.header));
    let mut state = TableState::default().with_selected(Some(cursor));
    f.render_stateful_widget(tbl, area, &mut state);
}
