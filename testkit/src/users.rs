//! Users as the stores keep them, for store tests and benches.

use chrono::TimeZone;
use vigil::domain::{Role, User, Username};

/// A stored, enabled user `name` with `role`, version 1, created 2026-01-02 03:04:05
/// UTC, with an Argon2id hash no password matches.
pub fn user(name: &str, role: Role) -> User {
    let at = chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
    User::new(
        Username::parse(name).expect("a valid username"),
        role,
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        at,
    )
}
