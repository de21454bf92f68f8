//! The vcms console: the full-screen terminal views and the scripting CLI, over the typed
//! HTTP client. The `vcms` binary runs it on the local terminal; `vcms-server` runs one per
//! SSH connection (`ssh.listen`).

pub mod action;
pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod i18n;
pub mod import;
pub mod keymap;
pub mod secrets;
pub mod session;
pub mod term;
pub mod theme;
pub mod ui;
pub mod views;
pub mod widgets;
