use crate::domain::{Invalid, Username};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How long a ticket can be used: long enough to open a socket right after asking
/// for one, short enough that a leaked one is useless.
pub const TICKET_TTL: chrono::Duration = chrono::Duration::seconds(60);

/// A single-use WebSocket ticket: 256 random bits, URL-safe base64 (43 characters).
/// Only the client ever holds the ticket itself; the store keeps its [`TicketHash`].
#[derive(Clone, PartialEq, Eq)]
pub struct Ticket(String);

impl Ticket {
    const ENCODED_LEN: usize = 43;

    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// A ticket as a client sent it (`?ticket=`).
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let valid = raw.len() == Self::ENCODED_LEN
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Invalid::new(
                "not a ticket: get one from POST /auth/ws-ticket",
            ))
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TicketHash {
        let digest = Sha256::digest(self.0.as_bytes());
        TicketHash(digest.iter().map(|b| format!("{b:02x}")).collect())
    }
}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ticket(..)")
    }
}

/// What the store keys a ticket by: its SHA-256, hex. A copy of the table is no key
/// to anyone's connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TicketHash(String);

impl TicketHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whom a ticket lets in, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketGrant {
    pub username: Username,
    /// The token generation of the token it was traded for: a password reset or a
    /// disable in between (which end that token) end the ticket too.
    pub generation: u32,
    pub expires_at: DateTime<Utc>,
}

impl TicketGrant {
    pub fn new(username: Username, generation: u32, now: DateTime<Utc>) -> Self {
        Self {
            username,
            generation,
            expires_at: now + TICKET_TTL,
        }
    }

    pub fn is_valid_at(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at
    }

    /// Whether `user` (as stored now) may connect with this ticket: enabled, and not
    /// logged out everywhere since the ticket was issued.
    pub fn admits(&self, user: &crate::domain::User) -> bool {
        !user.disabled && user.username == self.username && user.token_generation == self.generation
    }
}

/// The reply to `POST /auth/ws-ticket`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TicketIssued {
    /// Pass as `?ticket=` when opening the WebSocket. Works once.
    #[schema(example = "3q2-7wAbCdEfGhIjKlMnOpQrStUvWxYz0123456789a")]
    pub ticket: String,
    pub expires_at: DateTime<Utc>,
    /// Seconds the ticket stays valid.
    #[schema(example = 60)]
    pub expires_in: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_ticket_parses_and_hashes_stably() {
        let ticket = Ticket::generate();
        let parsed = Ticket::parse(ticket.expose()).unwrap();
        assert_eq!(parsed.hash(), ticket.hash());
        assert_eq!(ticket.hash().as_str().len(), 64);
        assert_ne!(Ticket::generate().hash(), ticket.hash());
    }

    #[test]
    fn anything_else_is_not_a_ticket() {
        for bad in [
            "",
            "short",
            &"a".repeat(44),
            &format!("{}!", "a".repeat(42)),
        ] {
            assert!(Ticket::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(format!("{:?}", Ticket::generate()), "Ticket(..)");
    }

    #[test]
    fn a_grant_expires_after_the_ttl() {
        let now = Utc::now();
        let grant = TicketGrant::new(Username::parse("ana").unwrap(), 0, now);
        assert!(grant.is_valid_at(now + chrono::Duration::seconds(59)));
        assert!(!grant.is_valid_at(now + TICKET_TTL));
    }
}
