//! Reusable pieces: [`listing::Listing`] (the rows, cursor, marks and paging of every
//! table), the System sections' cursor table, forms over tui-textarea, popups (confirm,
//! secret, help), footer hints, width-aware text helpers.

pub mod footer;
pub mod form;
pub mod listing;
pub mod popup;
pub mod table;
pub mod text;
