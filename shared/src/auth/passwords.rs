//! Argon2id hashing, always off the async runtime: a hash takes tens of milliseconds
//! of CPU, which would stall every other request on the same worker thread.

use crate::{domain::Password, http::ApiError};

/// Hashing or checking a password could not be done (the verdict "wrong password" is
/// not an error). Internal wherever it surfaces: a request answers 500, start-up stops.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("hashing the password failed")]
    Hash(#[source] argon2::password_hash::Error),
    #[error("the password hashing task did not finish")]
    Task(#[source] tokio::task::JoinError),
}

impl From<PasswordError> for ApiError {
    fn from(e: PasswordError) -> Self {
        ApiError::internal(e)
    }
}
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier, password_hash::SaltString};
use rand_core::OsRng;
use std::sync::OnceLock;

/// OWASP's Argon2id baseline (m = 19 MiB, t = 2, p = 1): the crate's default.
fn argon2() -> Argon2<'static> {
    Argon2::default()
}

fn hash_blocking(password: &Password) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2()
        .hash_password(password.expose().as_bytes(), &salt)?
        .to_string())
}

pub async fn hash_password(password: Password) -> Result<String, PasswordError> {
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(PasswordError::Task)?
        .map_err(PasswordError::Hash)
}

/// A random password: 18 bytes from the OS, URL-safe base64 (24 characters).
pub fn generate_password() -> Password {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use rand_core::RngCore;
    let mut bytes = [0u8; 18];
    OsRng.fill_bytes(&mut bytes);
    Password::parse_new(&URL_SAFE_NO_PAD.encode(bytes)).expect("24 characters is long enough")
}

/// A hash of a random password, to verify against when the user does not exist, so
/// that "no such user" takes as long as "wrong password".
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_blocking(&generate_password()).expect("hashing a fixed-size password cannot fail")
    })
}

/// Checks `password` against `hash` (or against a dummy hash when `hash` is `None`).
pub async fn verify_password(
    password: Password,
    hash: Option<String>,
) -> Result<bool, PasswordError> {
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| dummy_hash().to_owned());
        let ok = match PasswordHash::new(&hash) {
            Ok(parsed) => argon2()
                .verify_password(password.expose().as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        };
        known && ok
    })
    .await
    .map_err(PasswordError::Task)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::error_chain;

    #[test]
    fn a_hashing_failure_keeps_its_cause_in_the_chain() {
        let e = PasswordError::Hash(argon2::password_hash::Error::SaltInvalid(
            argon2::password_hash::errors::InvalidValue::TooShort,
        ));
        let chain = error_chain(&e);
        assert!(chain.starts_with("hashing the password failed"), "{chain}");
        assert!(chain.contains("salt"), "{chain}");
    }
}
