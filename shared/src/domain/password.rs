use super::Invalid;
use std::fmt;

/// A clear-text password on its way to be hashed or verified.
///
/// Deliberately neither `Serialize` nor `Display`, and its `Debug` is redacted, so it
/// cannot reach a response body or a log line by accident.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 12;
    /// Argon2 hashes any length, but an unbounded input is a cheap way to burn CPU.
    pub const MAX_CHARS: usize = 256;

    /// A password chosen by a person: the strength rules apply.
    pub fn parse_new(raw: &str) -> Result<Self, Invalid> {
        let chars = raw.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(Invalid::new(format!(
                "must be at least {} characters long",
                Self::MIN_CHARS
            )));
        }
        if chars > Self::MAX_CHARS {
            return Err(Invalid::new(format!(
                "must be at most {} characters long",
                Self::MAX_CHARS
            )));
        }
        if raw.trim().is_empty() {
            return Err(Invalid::new("must not be only white space"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// A password offered at login: only the length cap applies, so that a wrong guess
    /// is answered like every other wrong guess (401), never with a hint about the rules.
    pub fn parse_attempt(raw: &str) -> Result<Self, Invalid> {
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(Invalid::new(format!(
                "must be at most {} characters long",
                Self::MAX_CHARS
            )));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_passwords_need_twelve_characters() {
        assert!(Password::parse_new("short-pass1").is_err());
        assert!(Password::parse_new("long-enough-1").is_ok());
        assert!(Password::parse_new(&" ".repeat(20)).is_err());
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let p = Password::parse_new("correct horse battery").unwrap();
        assert_eq!(format!("{p:?}"), "Password(***)");
    }
}
