//! The auth request bodies, parsed at the edge. Each type is both what its handler
//! gets and what the OpenAPI document states (the schema comes from the same struct);
//! `vigil-local/tests/it/openapi.rs` checks that every bound the schema states is the
//! bound the parser enforces, and that every documented example parses.

use crate::{
    domain::{Password, Role, Username},
    http::{ApiError, Fields, Validation, parse},
};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// The longest name `POST /auth/login` reads.
const LOGIN_NAME_MAX_CHARS: usize = 256;

fn new_password(x: &Value) -> Result<Password, String> {
    Password::parse_new(parse::string(x)?).map_err(|e| e.to_string())
}

/// The body of `POST /auth/login`.
#[derive(ToSchema)]
#[schema(example = json!({"username": "admin", "password": "correct horse battery staple"}))]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginRequest {
    /// Any name of 1 to 256 characters is a login attempt (one that cannot exist
    /// fails like a wrong password).
    #[schema(min_length = 1, max_length = 256, example = "admin")]
    pub username: String,
    #[schema(value_type = String, max_length = 256, format = Password, example = "correct horse battery staple")]
    pub password: Password,
}

impl LoginRequest {
    pub fn parse(body: &Map<String, Value>) -> Result<Self, ApiError> {
        let fields = Fields::new(body);
        let mut v = Validation::new();
        let username = fields.required(&mut v, "username", |x| {
            let name = parse::string(x)?;
            match name.chars().count() {
                1..=LOGIN_NAME_MAX_CHARS => Ok(name.to_owned()),
                _ => Err(format!("must be 1 to {LOGIN_NAME_MAX_CHARS} characters")),
            }
        });
        let password = fields.required(&mut v, "password", |x| {
            Password::parse_attempt(parse::string(x)?).map_err(|e| e.to_string())
        });
        fields.deny_unknown(&mut v, &["username", "password"]);
        v.finish()?;
        Ok(Self {
            username: username.expect("checked"),
            password: password.expect("checked"),
        })
    }
}

/// The body of `POST /auth/register`.
#[derive(ToSchema)]
#[schema(example = json!({"username": "ana", "password": "a long passphrase 42", "role": "analyst"}))]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterRequest {
    pub username: Username,
    /// 12 to 256 characters, not only white space.
    #[schema(value_type = String, min_length = 12, max_length = 256, pattern = "\\S", format = Password, example = "a long passphrase 42")]
    pub password: Password,
    pub role: Role,
}

impl RegisterRequest {
    pub fn parse(body: &Map<String, Value>) -> Result<Self, ApiError> {
        let fields = Fields::new(body);
        let mut v = Validation::new();
        let username = fields.required(&mut v, "username", |x| {
            Username::parse(parse::string(x)?).map_err(|e| e.to_string())
        });
        let password = fields.required(&mut v, "password", new_password);
        let role = fields.required(&mut v, "role", parse::from_str::<Role>);
        fields.deny_unknown(&mut v, &["username", "password", "role"]);
        v.finish()?;
        Ok(Self {
            username: username.expect("checked"),
            password: password.expect("checked"),
            role: role.expect("checked"),
        })
    }
}

/// The body of `PUT /auth/users/{username}`: at least one of the fields.
#[derive(ToSchema)]
#[schema(example = json!({"role": "viewer", "disabled": false}))]
#[serde(deny_unknown_fields)]
pub(crate) struct UserUpdate {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    /// A new password: 12 to 256 characters, not only white space.
    #[schema(value_type = Option<String>, min_length = 12, max_length = 256, pattern = "\\S", format = Password)]
    pub password: Option<Password>,
}

impl UserUpdate {
    pub fn parse(body: &Map<String, Value>) -> Result<Self, ApiError> {
        let fields = Fields::new(body);
        let mut v = Validation::new();
        let role = fields.optional(&mut v, "role", parse::from_str::<Role>);
        let disabled = fields.optional(&mut v, "disabled", parse::bool);
        let password = fields.optional(&mut v, "password", new_password);
        fields.deny_unknown(&mut v, &["role", "disabled", "password"]);
        if v.is_ok() && role.is_none() && disabled.is_none() && password.is_none() {
            v.push(fields.error("body", "name at least one of role, disabled, password"));
        }
        v.finish()?;
        Ok(Self {
            role,
            disabled,
            password,
        })
    }
}
