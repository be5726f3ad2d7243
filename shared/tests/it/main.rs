//! The common crate's integration tests: one test binary, a module per concept. The
//! modules that need an optional capability compile only with its feature; `make test`
//! builds the whole workspace, which turns both on.

mod attack;
mod faults;
#[cfg(feature = "detect")]
mod golden;
#[cfg(feature = "notify")]
mod notify;
#[cfg(feature = "notify")]
mod push;
mod stores;
