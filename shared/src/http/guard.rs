use super::ApiError;
use crate::{
    domain::{Role, Username},
    store::UserStore,
    token::{TokenError, TokenKeys},
};
use axum::{
    extract::{FromRef, FromRequestParts},
    http::{header, request::Parts},
};
use std::sync::Arc;

/// What the bearer guard needs: the token keys and the user store (to refuse tokens
/// of users disabled since the token was issued).
#[derive(Clone)]
pub struct Authenticator {
    pub tokens: Arc<TokenKeys>,
    pub users: Arc<dyn UserStore>,
}

/// The authenticated caller of a request. Taking it as a handler argument is what
/// makes a route require a valid bearer token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub username: Username,
    /// The role as stored now, not as it was when the token was issued: a demotion
    /// takes effect at the next request.
    pub role: Role,
    /// The user's token generation, which the caller's token carries (and so is
    /// current): what a WebSocket ticket issued to them is bound to.
    pub generation: u32,
}

impl Caller {
    /// 403 unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            Err(ApiError::Forbidden(format!(
                "this route needs one of the roles: {}",
                names.join(", ")
            )))
        }
    }
}

impl<S> FromRequestParts<S> for Caller
where
    Authenticator: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = Authenticator::from_ref(state);
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::Unauthorized("a bearer token is required".into()))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::Unauthorized("the Authorization header must be 'Bearer <token>'".into())
            })?;
        let claims = auth.tokens.verify(token).map_err(|e| match e {
            TokenError::Expired => ApiError::Unauthorized("the token has expired".into()),
            other => ApiError::Unauthorized(other.to_string()),
        })?;
        let username = Username::parse(&claims.sub)
            .map_err(|_| ApiError::Unauthorized("the token names no valid user".into()))?;
        let user = auth
            .users
            .get(&username)
            .await?
            .filter(|u| !u.disabled)
            .ok_or_else(|| {
                ApiError::Unauthorized("the user is disabled or no longer exists".into())
            })?;
        if user.token_generation != claims.generation {
            return Err(ApiError::Unauthorized(
                "the token was revoked (the password changed or the user was disabled); log in again"
                    .into(),
            ));
        }
        tracing::Span::current().record("user", user.username.as_str());
        Ok(Caller {
            username: user.username,
            role: user.role,
            generation: user.token_generation,
        })
    }
}
