use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// One side of a connection. The IP is parsed, so a stored alert never holds junk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Endpoint {
    #[schema(value_type = Option<super::IpAddress>)]
    pub ip: Option<IpAddr>,
    #[schema(minimum = 0, maximum = 65535)]
    pub port: Option<u16>,
}
