//! Vigil's common crate. Layering: each floor uses only the floors below it (and, on
//! floor 2, `http` uses `store` for the guard's user lookup, never the other way):
//!
//! 1. [`domain`], [`config`], [`token`], [`telemetry`], [`metrics`], and the types of
//!    [`live`] (messages, tickets, connections) — values parsed once at the edge, or
//!    read once at start, and trusted inside.
//! 2. [`store`] — persistence behind traits (table names from `config`); [`http`] — the
//!    HTTP error type, body and query parsers, the guard, CORS (origins from `config`).
//! 3. [`auth`], [`alerts`], [`feedback`], [`reports`], [`detect`], [`health`] — the routers each
//!    function serves; [`notify`] and [`live::gateway`] — the stream's and the
//!    WebSocket API's handlers; [`aws`], [`startup`] — what start-up builds once.
//!
//! Functions and the local server sit on top and only wire these together (the local
//! server also assembles the OpenAPI document, since it alone serves every route).

pub mod alerts;
pub mod auth;
pub mod aws;
pub mod config;
#[cfg(feature = "detect")]
pub mod detect;
pub mod domain;
pub mod feedback;
pub mod health;
pub mod http;
mod jwt_hs256;
pub mod live;
pub mod metrics;
#[cfg(feature = "notify")]
pub mod notify;
pub mod reports;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod token;
