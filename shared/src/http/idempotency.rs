//! The `Idempotency-Key` request header (IETF httpapi draft "The Idempotency-Key HTTP
//! Header Field") on the routes that ingest threats. A resend with the same key and
//! body answers what the first request stored and counts nothing twice; the same key
//! with another body is a 422. Keys are kept 24 hours, per caller and route.

use super::{ApiError, Caller, FieldError};
use crate::store::{AlertStore, Claim, IdempotentRequest};
use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

pub const HEADER: &str = "idempotency-key";
const MAX_KEY_CHARS: usize = 255;

/// The routes that take the header (part of the key's scope).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestRoute {
    Predict,
    CreateAlert,
}

impl IngestRoute {
    fn as_str(self) -> &'static str {
        match self {
            Self::Predict => "predict",
            Self::CreateAlert => "alerts",
        }
    }
}

/// The request's key, if it sent one: scoped to the caller and route, with the
/// fingerprint of everything that decides what the request writes (`body`, and
/// `options` such as query flags).
pub fn idempotent_request(
    headers: &HeaderMap,
    route: IngestRoute,
    caller: &Caller,
    body: &[u8],
    options: &str,
) -> Result<Option<IdempotentRequest>, ApiError> {
    let Some(raw) = headers.get(HEADER) else {
        return Ok(None);
    };
    let invalid = || {
        ApiError::invalid_field(
            "Idempotency-Key",
            format!(
                "must be 1 to {MAX_KEY_CHARS} visible ASCII characters (optionally in double quotes)"
            ),
        )
    };
    let raw = raw.to_str().map_err(|_| invalid())?;
    if raw.is_empty() || raw.len() > MAX_KEY_CHARS || !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid());
    }
    // The draft makes it a structured-field string ("..."); a bare token is accepted
    // too, and both spellings are one key.
    let key = raw
        .strip_prefix('"')
        .and_then(|k| k.strip_suffix('"'))
        .filter(|k| !k.is_empty())
        .unwrap_or(raw);
    let mut digest = Sha256::new();
    digest.update(options.as_bytes());
    digest.update([0]);
    digest.update(body);
    let fingerprint = digest
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Some(IdempotentRequest {
        id: format!("{}|{}|{key}", route.as_str(), caller.username),
        fingerprint,
    }))
}

/// Registers the key, or refuses it when it came before with another request (422).
/// A resend goes on: the store answers what it stored and writes only the rest.
pub async fn claim(
    alerts: &dyn AlertStore,
    request: &IdempotentRequest,
) -> Result<Claim, ApiError> {
    match alerts.claim(request, chrono::Utc::now()).await? {
        Claim::Mismatch => Err(ApiError::Unprocessable {
            detail: "this Idempotency-Key came with another request in the last 24 hours; \
                     use a new key for a new request"
                .into(),
            errors: vec![FieldError::new(
                "Idempotency-Key",
                "was used with another request body",
            )],
        }),
        claim => Ok(claim),
    }
}
