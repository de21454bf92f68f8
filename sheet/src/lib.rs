//! Spreadsheets of cloud accounts, in and out — the one place the console, the scripting CLI
//! and the fuzz target read and write them.
//!
//! - [`read`]: bytes + file name → the rows of the first sheet with their spreadsheet row
//!   numbers, or a [`ReadError`] naming the problem. Formats: .xlsx and .ods (our own
//!   streaming XML reader, `stream`), .xls (calamine, after the grid guard `xls_guard`) and
//!   .csv. Guards: file size, zip entry count / unpacked size (declared and counted while
//!   unpacking), sheet dimension, row count, cell length, text kept. Memory stays bounded
//!   whatever the file declares.
//! - [`read_path`]: a file on disk → [`read`]; only regular files, never more than the size
//!   limit read. The console's Bulk Add and `vcms account import` both read through it.
//! - [`write`]: .xlsx (every cell a string cell, so nothing runs as a formula) or .csv
//!   (cells starting with `= + - @` get a leading `'`), chosen by the file name.
//!
//! Nothing here checks the domain rules (4-digit extension, email, name length): the server
//! does, once, for every client.

mod file;
mod read;
mod stream;
mod write;
mod xls_guard;

pub use file::read_path;
pub use read::{read, Format, Limits, ReadError, Row, Sheet, RATIO_MIN_BYTES};
pub use write::{template, write, WriteError, EXPORT_HEADERS, TEMPLATE_HEADERS};

/// A cell that a spreadsheet program could run as a formula starts with one of these.
pub(crate) fn formula_like(s: &str) -> bool {
    s.starts_with(['=', '+', '-', '@', '\t', '\r'])
}
