//! One module per screen: drawing only (state and keys live in `app.rs` and `keymap.rs`).

pub mod account_details;
pub mod accounts;
pub mod failed_emails;
pub mod forms;
pub mod import;
pub mod login;
pub mod system;
