//! vcms: the terminal console (and scripting CLI) of the vcms cloud service.

pub mod action;
pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod demo;
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

#[cfg(test)]
mod snapshots;
