//! vcms: the terminal console (and scripting CLI) of the vcms cloud service. The console
//! itself is the `vcms-console` crate (shared with the server's SSH console); this crate
//! adds the demo, which starts a server in-process.

pub use vcms_console::*;

pub mod demo;

#[cfg(test)]
mod snapshots;
