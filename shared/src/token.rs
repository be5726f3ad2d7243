//! JWT issue and verify (HS256 only). Floor 1, so both the login handler and the
//! bearer guard use it without an arrow running back up.

use crate::domain::{Role, Username};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::{fmt, sync::Arc, time::Duration};

/// The HS256 key: at least 32 bytes, never printed.
#[derive(Clone)]
pub struct JwtSecret(Arc<[u8]>);

impl JwtSecret {
    pub const MIN_BYTES: usize = 32;

    pub fn new(bytes: Vec<u8>) -> Result<Self, SecretTooShort> {
        if bytes.len() < Self::MIN_BYTES {
            return Err(SecretTooShort { len: bytes.len() });
        }
        Ok(Self(bytes.into()))
    }

    /// 32 random bytes from the OS: for local runs without a configured secret.
    pub fn random() -> Self {
        use rand_core::{OsRng, RngCore};
        let mut bytes = vec![0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        Self(bytes.into())
    }
}

/// A JWT key shorter than [`JwtSecret::MIN_BYTES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be at least {min} bytes (it has {len})", min = JwtSecret::MIN_BYTES)]
pub struct SecretTooShort {
    pub len: usize,
}

impl fmt::Debug for JwtSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JwtSecret(***)")
    }
}

/// What a Vigil token says. Every field is required when verifying.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    /// The user's token generation when it was issued (see `User::token_generation`).
    #[serde(default)]
    pub generation: u32,
}

#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub expires_in: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token is expired")]
    Expired,
    #[error("the token is not valid: {0}")]
    Invalid(InvalidToken),
    #[error("could not sign a token")]
    Signing(#[source] jsonwebtoken::errors::Error),
}

/// Why a token was refused, as the 401 body says it (never echoing the token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidToken {
    #[error("bad signature")]
    BadSignature,
    #[error("algorithm not allowed")]
    Algorithm,
    #[error("wrong issuer")]
    Issuer,
    #[error("wrong audience")]
    Audience,
    #[error("missing claim {0}")]
    MissingClaim(String),
    #[error("not valid yet")]
    NotYetValid,
    #[error("malformed token")]
    Malformed,
}

/// Issues and verifies tokens with one secret, issuer and audience.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl TokenKeys {
    pub fn new(secret: &JwtSecret, issuer: &str, audience: &str, ttl: Duration) -> Self {
        crate::jwt_hs256::install();
        let mut validation = Validation::new(Algorithm::HS256);
        // Only HS256: `alg: none` and every other algorithm are refused.
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["sub", "exp", "iat", "iss", "aud"]);
        validation.validate_exp = true;
        // A small allowance for clock skew between Lambda hosts.
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(&secret.0),
            decoding: DecodingKey::from_secret(&secret.0),
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl,
        }
    }

    pub fn issue(
        &self,
        username: &Username,
        role: Role,
        now: DateTime<Utc>,
    ) -> Result<IssuedToken, TokenError> {
        self.issue_generation(username, role, 0, now)
    }

    /// A token of the user's current token `generation`.
    pub fn issue_generation(
        &self,
        username: &Username,
        role: Role,
        generation: u32,
        now: DateTime<Utc>,
    ) -> Result<IssuedToken, TokenError> {
        let claims = Claims {
            generation,
            sub: username.to_string(),
            role,
            iat: now.timestamp(),
            exp: now.timestamp() + self.ttl.as_secs() as i64,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(TokenError::Signing)?;
        Ok(IssuedToken {
            token,
            expires_in: self.ttl.as_secs(),
        })
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        use jsonwebtoken::errors::ErrorKind;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                kind => TokenError::Invalid(kind.into()),
            })
    }
}

impl From<&jsonwebtoken::errors::ErrorKind> for InvalidToken {
    fn from(kind: &jsonwebtoken::errors::ErrorKind) -> Self {
        use jsonwebtoken::errors::ErrorKind::{
            ImmatureSignature, InvalidAlgorithm, InvalidAlgorithmName, InvalidAudience,
            InvalidIssuer, InvalidSignature, MissingRequiredClaim,
        };
        match kind {
            InvalidSignature => InvalidToken::BadSignature,
            InvalidAlgorithm | InvalidAlgorithmName => InvalidToken::Algorithm,
            InvalidIssuer => InvalidToken::Issuer,
            InvalidAudience => InvalidToken::Audience,
            MissingRequiredClaim(claim) => InvalidToken::MissingClaim(claim.clone()),
            ImmatureSignature => InvalidToken::NotYetValid,
            _ => InvalidToken::Malformed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};

    fn keys() -> TokenKeys {
        let secret = JwtSecret::new(b"0123456789abcdef0123456789abcdef".to_vec()).unwrap();
        TokenKeys::new(&secret, "vigil", "vigil-api", Duration::from_secs(3600))
    }

    fn alice() -> Username {
        Username::parse("alice").unwrap()
    }

    /// Signs arbitrary JSON claims with the test secret and the given header.
    fn forge(header: serde_json::Value, claims: serde_json::Value, secret: &[u8]) -> String {
        let h = B64.encode(header.to_string());
        let c = B64.encode(claims.to_string());
        let signing_input = format!("{h}.{c}");
        crate::jwt_hs256::install();
        let sig = jsonwebtoken::crypto::sign(
            signing_input.as_bytes(),
            &EncodingKey::from_secret(secret),
            Algorithm::HS256,
        )
        .unwrap();
        format!("{signing_input}.{sig}")
    }

    fn claims_json(now: i64) -> serde_json::Value {
        serde_json::json!({"sub":"alice","role":"analyst","iat":now,"exp":now+600,"iss":"vigil","aud":"vigil-api"})
    }

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_fresh_token_verifies_with_every_claim() {
        let now = Utc::now();
        let issued = keys().issue(&alice(), Role::Analyst, now).unwrap();
        let claims = keys().verify(&issued.token).unwrap();
        assert_eq!(claims.sub, "alice");
        assert_eq!(claims.role, Role::Analyst);
        assert_eq!(claims.exp - claims.iat, 3600);
        assert_eq!(
            (claims.iss.as_str(), claims.aud.as_str()),
            ("vigil", "vigil-api")
        );
    }

    #[test]
    fn expired_tokens_are_refused() {
        let long_ago = Utc::now() - chrono::Duration::hours(2);
        let issued = keys().issue(&alice(), Role::Analyst, long_ago).unwrap();
        assert!(matches!(
            keys().verify(&issued.token),
            Err(TokenError::Expired)
        ));
    }

    #[test]
    fn alg_none_is_refused() {
        let now = Utc::now().timestamp();
        let h = B64.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let c = B64.encode(claims_json(now).to_string());
        assert!(keys().verify(&format!("{h}.{c}.")).is_err());
    }

    #[test]
    fn other_algorithms_are_refused() {
        let now = Utc::now().timestamp();
        let token = forge(
            serde_json::json!({"alg":"HS512","typ":"JWT"}),
            claims_json(now),
            SECRET,
        );
        assert!(keys().verify(&token).is_err());
    }

    #[test]
    fn a_bad_signature_is_refused() {
        let now = Utc::now().timestamp();
        let token = forge(
            serde_json::json!({"alg":"HS256","typ":"JWT"}),
            claims_json(now),
            b"another-secret-another-secret-xx",
        );
        assert!(matches!(
            keys().verify(&token),
            Err(TokenError::Invalid(InvalidToken::BadSignature))
        ));
    }

    #[test]
    fn wrong_issuer_or_audience_is_refused() {
        let now = Utc::now().timestamp();
        for (field, value) in [("iss", "someone-else"), ("aud", "another-api")] {
            let mut claims = claims_json(now);
            claims[field] = value.into();
            let token = forge(serde_json::json!({"alg":"HS256"}), claims, SECRET);
            assert!(keys().verify(&token).is_err(), "{field} should be checked");
        }
    }

    #[test]
    fn every_claim_is_required() {
        let now = Utc::now().timestamp();
        for field in ["sub", "role", "iat", "exp", "iss", "aud"] {
            let mut claims = claims_json(now);
            claims.as_object_mut().unwrap().remove(field);
            let token = forge(serde_json::json!({"alg":"HS256"}), claims, SECRET);
            assert!(
                keys().verify(&token).is_err(),
                "a token without {field} should be refused"
            );
        }
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(JwtSecret::new(vec![7; 31]).is_err());
        assert_eq!(format!("{:?}", JwtSecret::random()), "JwtSecret(***)");
    }
}
