use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// One side of a connection. The IP is parsed, so a stored alert never holds junk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub ip: Option<IpAddr>,
    pub port: Option<u16>,
}
