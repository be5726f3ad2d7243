//! jsonwebtoken's cryptography for the one algorithm Vigil signs with, HS256, on
//! RustCrypto's HMAC and SHA-256 (which the AWS SDK's request signing already links).
//!
//! Why not one of jsonwebtoken's own providers: `aws_lc_rs` brings AWS-LC, a C
//! library of a megabyte and more, into every function (the SDK's TLS now runs on
//! ring); `rust_crypto` brings RSA, ECDSA and EdDSA, which Vigil never verifies. A
//! token with any other algorithm is refused before it gets here (`Validation` takes
//! HS256 only); a provider asked for another one says so.

use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey,
    crypto::{CryptoProvider, JwkUtils, JwtSigner, JwtVerifier},
    errors::{Error, ErrorKind},
};
use sha2::Sha256;

static HS256_ONLY: CryptoProvider = CryptoProvider {
    signer_factory: signer,
    verifier_factory: verifier,
    jwk_utils: JwkUtils::new_unimplemented(),
};

/// Makes HS256 on RustCrypto jsonwebtoken's provider for this process. Idempotent: a
/// second call finds it installed. `TokenKeys::new` calls it, and every token is
/// issued and verified through a `TokenKeys`, so it runs before jsonwebtoken's first
/// use (which would otherwise fix a provider that panics).
pub(crate) fn install() {
    // Err only when a provider is installed already, which can only be this one.
    let _ = HS256_ONLY.install_default();
}

struct Hs256(Hmac<Sha256>);

impl Hs256 {
    fn new(algorithm: &Algorithm, secret: Result<&[u8], Error>) -> Result<Self, Error> {
        if *algorithm != Algorithm::HS256 {
            return Err(ErrorKind::InvalidAlgorithm.into());
        }
        Hmac::new_from_slice(secret?)
            .map(Self)
            .map_err(|_| ErrorKind::InvalidKeyFormat.into())
    }
}

fn signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>, Error> {
    Ok(Box::new(Hs256::new(algorithm, key.try_get_hmac_secret())?))
}

fn verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>, Error> {
    Ok(Box::new(Hs256::new(algorithm, key.try_get_hmac_secret())?))
}

impl signature::Signer<Vec<u8>> for Hs256 {
    fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, signature::Error> {
        let mut mac = self.0.clone();
        mac.update(message);
        Ok(mac.finalize().into_bytes().to_vec())
    }
}

impl signature::Verifier<Vec<u8>> for Hs256 {
    /// In constant time (`verify_slice`).
    fn verify(&self, message: &[u8], tag: &Vec<u8>) -> Result<(), signature::Error> {
        let mut mac = self.0.clone();
        mac.update(message);
        mac.verify_slice(tag).map_err(|_| signature::Error::new())
    }
}

impl JwtSigner for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

impl JwtVerifier for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}
