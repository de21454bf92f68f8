//! Reusable pieces: forms over tui-textarea, popups (confirm, secret, help), footer hints,
//! width-aware text helpers.

pub mod footer;
pub mod form;
pub mod popup;
pub mod text;
