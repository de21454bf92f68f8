//! Integration tests of vcms-server: the real server on port 0, a fresh database per test,
//! a real SMTP server, an injected clock.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod accounts;
mod auth;
mod backup;
pub mod calls;
mod cluster;
mod contract;
mod enumeration;
mod fuzz;
mod import;
mod input;
mod input_edge;
mod licenses;
mod ops;
mod outbox;
mod packaging;
pub mod process;
mod sip;
mod sip_wire;
mod ssh;
mod team;
mod throttle;
