//! `Listing<T>`: the rows of one table and where the user is in them — the cursor, the
//! marked rows and, for a table the server pages, the page asked for with the server's
//! page count and total. Every table of the console keeps its rows in one (accounts,
//! failed emails, licenses, colleagues, audit log, API keys), so moving, marking and
//! clamping the cursor are written here once.

use std::collections::BTreeSet;

/// A row the server knows by an id: what marks and batch actions name.
pub trait Keyed {
    fn key(&self) -> i64;
}

#[derive(Debug, Clone)]
pub struct Listing<T> {
    pub items: Vec<T>,
    /// The selected row (always a row once there are rows; see [`Listing::clamp`]).
    pub cursor: usize,
    /// The ids of the marked rows (they may lie on other pages).
    pub marks: BTreeSet<i64>,
    /// Whether the server has answered yet (until then the table says "loading").
    pub loaded: bool,
    /// The page asked for (1-based), for a paged table.
    pub page_no: i64,
    /// The rows per page asked for, for a paged table.
    pub page_size: i64,
    /// The pages there are, as the server last said (at least 1).
    pub pages: i64,
    /// The rows there are in all, as the server last said.
    pub total: i64,
    /// The rows per page of the page shown (the size asked for may have changed since).
    pub shown_size: Option<i64>,
}

impl<T> Default for Listing<T> {
    fn default() -> Self {
        Listing::paged(0)
    }
}

impl<T> Listing<T> {
    /// An empty listing that asks for pages of `page_size` rows.
    pub fn paged(page_size: i64) -> Self {
        Listing {
            items: vec![],
            cursor: 0,
            marks: BTreeSet::new(),
            loaded: false,
            page_no: 1,
            page_size,
            pages: 1,
            total: 0,
            shown_size: None,
        }
    }

    /// The server's rows arrived: show them, keeping the cursor on a row.
    pub fn set_items(&mut self, items: Vec<T>) {
        self.items = items;
        self.loaded = true;
        self.clamp();
    }

    /// A page of a paged table arrived: page `page_no` of `pages`, `size` rows a page,
    /// `total` rows in all.
    pub fn set_page(&mut self, items: Vec<T>, page_no: i64, pages: i64, total: i64, size: i64) {
        self.page_no = page_no.max(1);
        self.pages = pages;
        self.total = total;
        self.shown_size = Some(size);
        self.set_items(items);
    }

    /// The rows per page to show: the page's shown, else the size asked for.
    pub fn size_shown(&self) -> i64 {
        self.shown_size.unwrap_or(self.page_size)
    }

    /// Forget the rows (signed out): "loading" until the next answer.
    pub fn unload(&mut self) {
        self.items.clear();
        self.loaded = false;
        self.marks.clear();
        self.shown_size = None;
    }

    /// Keep the cursor on a row: the last one when it was past the end.
    pub fn clamp(&mut self) {
        if self.cursor >= self.items.len() {
            self.cursor = self.items.len().saturating_sub(1);
        }
    }

    pub fn current(&self) -> Option<&T> {
        self.items.get(self.cursor)
    }

    /// The row to highlight: none in an empty table.
    pub fn selected(&self) -> Option<usize> {
        (!self.items.is_empty()).then_some(self.cursor)
    }

    /// One row up; false at the first row.
    pub fn up(&mut self) -> bool {
        let moved = self.cursor > 0;
        self.cursor = self.cursor.saturating_sub(1);
        moved
    }

    /// One row down; false at the last row.
    pub fn down(&mut self) -> bool {
        let moved = self.cursor + 1 < self.items.len();
        if moved {
            self.cursor += 1;
        }
        moved
    }

    pub fn home(&mut self) {
        self.cursor = 0;
    }

    pub fn end(&mut self) {
        self.cursor = self.items.len().saturating_sub(1);
    }

    /// Select the last row of the page still to come (the clamp puts it on its last row).
    pub fn end_of_next_page(&mut self) {
        self.cursor = usize::MAX;
    }

    /// The pages there are (1 before the server answered).
    pub fn pages(&self) -> i64 {
        self.pages.max(1)
    }
}

impl<T: Keyed> Listing<T> {
    pub fn is_marked(&self, row: &T) -> bool {
        self.marks.contains(&row.key())
    }

    /// Mark the current row, or unmark it if it was marked; false in an empty table.
    pub fn toggle_mark(&mut self) -> bool {
        let Some(id) = self.current().map(Keyed::key) else {
            return false;
        };
        if !self.marks.remove(&id) {
            self.marks.insert(id);
        }
        true
    }

    /// Mark the current row, or unmark it, and move to the next.
    pub fn mark_and_down(&mut self) {
        if self.toggle_mark() {
            self.down();
        }
    }

    /// Mark every row shown, or unmark them when they all are.
    pub fn toggle_page(&mut self) {
        let ids: Vec<i64> = self.items.iter().map(Keyed::key).collect();
        if !ids.is_empty() && ids.iter().all(|i| self.marks.contains(i)) {
            for i in ids {
                self.marks.remove(&i);
            }
        } else {
            self.marks.extend(ids);
        }
    }

    /// Drop the marks of rows no longer shown (an unpaged table).
    pub fn keep_marks_shown(&mut self) {
        let items = &self.items;
        self.marks.retain(|id| items.iter().any(|r| r.key() == *id));
    }

    /// What a batch action works on: the marked rows, or else the current one.
    pub fn targets(&self) -> Vec<i64> {
        if self.marks.is_empty() {
            self.current().map(|r| vec![r.key()]).unwrap_or_default()
        } else {
            self.marks.iter().copied().collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Keyed for i64 {
        fn key(&self) -> i64 {
            *self
        }
    }

    #[test]
    fn cursor_stays_on_a_row() {
        let mut l = Listing::paged(10);
        assert!(!l.down());
        l.set_items(vec![1, 2, 3]);
        assert!(l.down() && l.down() && !l.down());
        l.set_items(vec![1]);
        assert_eq!(l.cursor, 0);
        l.end_of_next_page();
        l.set_items(vec![4, 5]);
        assert_eq!(l.current(), Some(&5));
    }

    #[test]
    fn marks_and_targets() {
        let mut l = Listing::default();
        l.set_items(vec![1, 2, 3]);
        assert_eq!(l.targets(), vec![1]);
        l.toggle_page();
        assert_eq!(l.targets(), vec![1, 2, 3]);
        l.toggle_page();
        assert!(l.marks.is_empty());
        l.toggle_mark();
        l.set_items(vec![2, 3]);
        l.keep_marks_shown();
        assert!(l.marks.is_empty());
    }
}
