use super::{ApiError, FieldError};
use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::{HeaderMap, header},
};
use serde_json::{Map, Value};

/// A JSON object body. Rejections are problem+json, never axum's plain-text ones.
///
/// Accepts `application/json` (and `+json` types), no content type at all, and
/// `application/x-www-form-urlencoded` — what `curl -d` sends by default — when the
/// body is JSON. Other content types get 415.
pub struct JsonBody(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let media_type = media_type(req.headers());
        if !reads_as_json(media_type.as_deref()) {
            return Err(ApiError::UnsupportedMediaType(format!(
                "expected an application/json body, got {}",
                media_type.unwrap_or_default()
            )));
        }
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
        parse_object(&bytes).map(JsonBody)
    }
}

/// The request's media type: its content type without parameters, lowercased.
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
}

/// Whether a body of this media type is read as JSON: `application/json` and any
/// `+json` type, `application/x-www-form-urlencoded` (what `curl -d` sends by default),
/// and a body with no content type at all.
pub fn reads_as_json(media_type: Option<&str>) -> bool {
    match media_type {
        None | Some("application/json") | Some("application/x-www-form-urlencoded") => true,
        Some(t) => t.ends_with("+json"),
    }
}

/// The body as bytes, with axum's rejections (too large, unreadable) turned into
/// problem+json.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(|e| {
                if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge {
                        detail: "the request body is too large".into(),
                    }
                } else {
                    ApiError::bad_request("the request body could not be read")
                }
            })
    }
}

/// Parses bytes into a JSON object, naming where the JSON broke.
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::invalid_field("body", "a JSON object is required"));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::invalid_field("body", "must be a JSON object")),
        Err(e) => Err(ApiError::invalid_field(
            "body",
            format!(
                "invalid JSON at line {} column {}: {}",
                e.line(),
                e.column(),
                e.classify_message()
            ),
        )),
    }
}

trait ClassifyMessage {
    fn classify_message(&self) -> &'static str;
}

impl ClassifyMessage for serde_json::Error {
    fn classify_message(&self) -> &'static str {
        use serde_json::error::Category;
        match self.classify() {
            Category::Eof => "the body ends too early",
            Category::Syntax => "syntax error",
            Category::Data => "unexpected data",
            Category::Io => "could not be read",
        }
    }
}

/// Collects every problem with a request before answering, so a client learns all
/// of them at once.
#[derive(Debug, Default)]
pub struct Validation {
    errors: Vec<FieldError>,
}

impl Validation {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, error: FieldError) {
        self.errors.push(error);
    }

    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// 400 naming every bad field, or Ok when there was none.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::BadRequest {
                detail: "the request is not valid".into(),
                errors: self.errors,
            })
        }
    }

    pub fn into_errors(self) -> Vec<FieldError> {
        self.errors
    }
}

/// Typed access to the fields of one JSON object, reporting into a [`Validation`].
/// `prefix` makes nested paths (`source.ip`, `records[3].duration`).
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    prefix: String,
    index: Option<usize>,
}

impl<'a> Fields<'a> {
    pub fn new(map: &'a Map<String, Value>) -> Self {
        Self {
            map,
            prefix: String::new(),
            index: None,
        }
    }

    pub fn nested(map: &'a Map<String, Value>, prefix: String, index: Option<usize>) -> Self {
        Self { map, prefix, index }
    }

    pub fn path(&self, name: &str) -> String {
        format!("{}{}", self.prefix, name)
    }

    pub fn error(&self, name: &str, message: impl Into<String>) -> FieldError {
        let e = FieldError::new(self.path(name), message);
        match self.index {
            Some(i) => e.at(i),
            None => e,
        }
    }

    pub fn raw(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    /// A required field, parsed by `parse`; `None` (with an error recorded) otherwise.
    pub fn required<T>(
        &self,
        v: &mut Validation,
        name: &str,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<T> {
        match self.raw(name) {
            None => {
                v.push(self.error(name, "is required"));
                None
            }
            Some(value) => self.parse_value(v, name, value, parse),
        }
    }

    /// An optional field: absent and `null` are both "not given".
    pub fn optional<T>(
        &self,
        v: &mut Validation,
        name: &str,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<T> {
        self.raw(name)
            .and_then(|value| self.parse_value(v, name, value, parse))
    }

    fn parse_value<T>(
        &self,
        v: &mut Validation,
        name: &str,
        value: &Value,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<T> {
        match parse(value) {
            Ok(t) => Some(t),
            Err(message) => {
                v.push(self.error(name, message));
                None
            }
        }
    }

    /// Unknown fields are errors: a typo (`"rol"`) should not be silently ignored.
    pub fn deny_unknown(&self, v: &mut Validation, known: &[&str]) {
        for key in self.map.keys() {
            if !known.contains(&key.as_str()) {
                v.push(self.error(key, "is not a known field"));
            }
        }
    }
}

/// Parsers for [`Fields::required`] / [`Fields::optional`].
pub mod parse {
    use serde_json::Value;
    use std::str::FromStr;

    pub fn string(value: &Value) -> Result<&str, String> {
        value.as_str().ok_or_else(|| "must be a string".to_owned())
    }

    /// A string parsed by a domain type's `FromStr`.
    pub fn from_str<T>(value: &Value) -> Result<T, String>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        string(value)?.parse::<T>().map_err(|e| e.to_string())
    }

    /// A whole number ≥ 0. JSON (and JSON Schema) make no difference between `420` and
    /// `420.0`, so neither does Vigil.
    pub fn whole_number(value: &Value) -> Option<u64> {
        value.as_u64().or_else(|| {
            value
                .as_f64()
                .filter(|x| x.fract() == 0.0 && *x >= 0.0 && *x < u64::MAX as f64)
                .map(|x| x as u64)
        })
    }

    /// A port number, 0 to 65535.
    pub fn port(value: &Value) -> Result<u16, String> {
        whole_number(value)
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| "must be a port number from 0 to 65535".to_owned())
    }

    pub fn bool(value: &Value) -> Result<bool, String> {
        value
            .as_bool()
            .ok_or_else(|| "must be true or false".to_owned())
    }

    /// Free text with a length cap.
    pub fn text(max_chars: usize) -> impl Fn(&Value) -> Result<String, String> {
        move |value| {
            let s = string(value)?;
            if s.chars().count() > max_chars {
                return Err(format!("must be at most {max_chars} characters"));
            }
            Ok(s.to_owned())
        }
    }
}
