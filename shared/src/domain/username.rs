use super::Invalid;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A login name: 3-64 characters of `a-z 0-9 . _ -`, starting with a letter or digit.
/// Upper-case input is folded to lower case so `Alice` and `alice` are one user.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let name = raw.to_ascii_lowercase();
        if !(3..=64).contains(&name.len()) {
            return Err(Invalid::new("must be 3 to 64 characters long"));
        }
        if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(Invalid::new("must start with a letter or a digit"));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        {
            return Err(Invalid::new(
                "may contain only letters, digits, '.', '_' and '-'",
            ));
        }
        Ok(Self(name))
    }

    /// [`Username::parse`]'s rules as a regular expression, for the OpenAPI contract.
    pub const PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$";

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Username {
    type Error = Invalid;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Username> for String {
    fn from(value: Username) -> Self {
        value.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The contract's view of a username: what [`Username::parse`] accepts.
impl utoipa::PartialSchema for Username {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .min_length(Some(3))
            .max_length(Some(64))
            .pattern(Some(Self::PATTERN))
            .description(Some(
                "3 to 64 characters: letters, digits, '.', '_' and '-', starting with a letter or digit; case-insensitive (stored lower-case)",
            ))
            .examples([serde_json::json!("alice")])
            .into()
    }
}

impl utoipa::ToSchema for Username {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_and_accepts_the_allowed_alphabet() {
        assert_eq!(
            Username::parse("Alice.B-1_x").unwrap().as_str(),
            "alice.b-1_x"
        );
    }

    #[test]
    fn rejects_short_long_and_odd_names() {
        for bad in [
            "ab",
            "",
            "-alice",
            "al ice",
            "al/ice",
            "älice",
            &"a".repeat(65),
        ] {
            assert!(Username::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
