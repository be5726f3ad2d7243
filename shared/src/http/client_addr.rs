//! Where a request came from: API Gateway's `sourceIp` in Lambda, the peer address in
//! vigil-local. Used to key login attempts per source, so that someone failing logins
//! from one address cannot lock a user out everywhere.

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::request::Parts,
};
use std::{convert::Infallible, net::SocketAddr};

/// The client's address as text (`unknown` when neither source says).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        use lambda_http::request::RequestContext;
        if let Some(RequestContext::ApiGatewayV2(context)) =
            parts.extensions.get::<RequestContext>()
            && let Some(ip) = &context.http.source_ip
        {
            return Ok(Self(ip.clone()));
        }
        if let Some(ConnectInfo(addr)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            return Ok(Self(addr.ip().to_string()));
        }
        Ok(Self("unknown".into()))
    }
}
