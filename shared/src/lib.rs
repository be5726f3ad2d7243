//! Vigil's common crate. Layering (each floor uses only floors below it):
//!
//! 1. [`domain`], [`token`], [`telemetry`] — types parsed at the edge and trusted inside.
//! 2. [`store`], [`http`] — persistence behind traits; the HTTP error type and guard.
//! 3. [`auth`], [`config`], [`aws`] — the routers each function serves, and start-up.
//!
//! Functions and the local server sit on top and only wire these together.

pub mod alerts;
pub mod auth;
pub mod aws;
pub mod config;
#[cfg(feature = "detect")]
pub mod detect;
pub mod domain;
pub mod health;
pub mod http;
pub mod live;
pub mod metrics;
#[cfg(feature = "notify")]
pub mod notify;
#[cfg(feature = "detect")]
pub mod openapi;
pub mod reports;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod token;
