//! vigil-local's integration tests: one test binary (linking the AWS SDK and tract once,
//! not once per file), a module per concept. Each test spawns the server on a free
//! loopback port through `common::TestApp` and calls it as a client would.

mod common;

mod alerts;
mod auth;
mod cors;
mod feedback;
mod init;
mod live;
mod notify;
mod openapi;
mod predict;
mod reports;
