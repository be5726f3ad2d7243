//! Request bodies and query strings of the alert routes, parsed into domain types.

use super::{Cursor, DEFAULT_LIMIT, MAX_BULK, MAX_HISTORY_PAGE, MAX_LIMIT};
use crate::{
    domain::{
        AlertId, AlertIdText, AlertStatus, Category, Endpoint, Severity, Threat, Username,
        attack_ids,
    },
    http::{ApiError, FieldError, Fields, Validation, parse},
    store::AlertQuery,
};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

pub const MAX_NOTE_CHARS: usize = 2000;

/// `GET /alerts?...` → a store query. Repeated or comma-separated `status` values
/// select any of them.
pub fn list_query(raw: Option<&str>) -> Result<AlertQuery, ApiError> {
    let mut q = AlertQuery {
        limit: DEFAULT_LIMIT,
        ..Default::default()
    };
    let mut cursor = None;
    // A tactic or technique belongs to one category (`domain/attack.rs`), so it is
    // served by the category index.
    let mut attack_category: Option<(String, Category)> = None;
    let mut v = Validation::new();
    for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        let field = |m: String| FieldError::new(key.to_string(), m);
        match key.as_ref() {
            "status" => {
                if let Err(m) = query::statuses(&value, &mut q.statuses) {
                    v.push(field(m));
                }
            }
            "severity" => match query::severity(&value) {
                Ok(s) => q.min_severity = Some(s),
                Err(m) => v.push(field(m)),
            },
            "category" => match value.parse::<Category>() {
                Ok(c) => q.category = Some(c),
                Err(e) => v.push(field(e.to_string())),
            },
            "from" | "to" => match parse_time(&value) {
                Ok(t) if key == "from" => q.from = Some(t),
                Ok(t) => q.to = Some(t),
                Err(m) => v.push(field(m)),
            },
            "assignee" => match Username::parse(&value) {
                Ok(u) => q.assignee = Some(u),
                Err(e) => v.push(field(e.to_string())),
            },
            "source_ip" => match value.parse() {
                Ok(ip) => q.source_ip = Some(ip),
                Err(_) => v.push(field("must be an IPv4 or IPv6 address".into())),
            },
            "limit" => match value.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => q.limit = n,
                _ => v.push(field(format!(
                    "must be a whole number from 1 to {MAX_LIMIT}"
                ))),
            },
            "tactic" | "technique" => match Category::with_attack_id(&value).as_slice() {
                [category] => attack_category = Some((key.to_string(), *category)),
                _ => v.push(field(format!(
                    "must be an ATT&CK id the mapping uses: one of {}",
                    attack_ids().join(", ")
                ))),
            },
            "cursor" => cursor = Some(value.into_owned()),
            other => v.push(query::unknown(other)),
        }
    }
    v.finish()?;
    if let (Some(from), Some(to)) = (q.from, q.to) {
        query::frame(from, to)?;
    }
    if let Some((param, category)) = attack_category {
        match q.category {
            Some(asked) if asked != category => {
                return Err(ApiError::unprocessable_field(
                    param,
                    format!("is filed under {category}, and category asks for {asked}"),
                ));
            }
            _ => q.category = Some(category),
        }
    }
    if let Some(raw) = cursor {
        q.before = Some(Cursor::decode(&raw, &q)?);
    }
    Ok(q)
}

use crate::http::query::{self, time as parse_time};

// The request bodies: each type is both what its handler gets and what the OpenAPI
// document states (the schema is derived from the same struct), so the parser's
// output and the contract are one definition. The bounds in `#[schema(...)]` must be
// literals; `vigil-local/tests/it/openapi.rs` checks each one against the parser.

fn short_text(max: usize) -> impl Fn(&Value) -> Result<String, String> {
    move |x| {
        let s = parse::string(x)?;
        if s.is_empty() || s.chars().count() > max {
            return Err(format!("must be 1 to {max} characters"));
        }
        Ok(s.to_owned())
    }
}

fn endpoint(fields: &Fields, v: &mut Validation, name: &str) -> Option<Endpoint> {
    let raw = fields.raw(name)?;
    let Some(map) = raw.as_object() else {
        v.push(fields.error(name, "must be an object with ip and port"));
        return None;
    };
    let inner = Fields::nested(map, format!("{}.", fields.path(name)), None);
    let ip = inner.optional(v, "ip", |x| {
        parse::string(x)?
            .parse()
            .map_err(|_| "must be an IPv4 or IPv6 address".to_owned())
    });
    let port = inner.optional(v, "port", parse::port);
    inner.deny_unknown(v, &["ip", "port"]);
    (ip.is_some() || port.is_some()).then_some(Endpoint { ip, port })
}

/// The body of `POST /alerts`.
#[derive(utoipa::ToSchema)]
#[schema(example = json!({
    "category": "r2l", "severity": "high", "score": 0.91,
    "source": {"ip": "203.0.113.7"}, "destination": {"ip": "10.0.0.5", "port": 22},
    "protocol": "tcp", "service": "ssh", "sensor": "edge-1",
    "summary": "SSH brute force from 203.0.113.7"
}))]
#[serde(deny_unknown_fields)]
pub struct NewAlertRequest {
    pub category: Category,
    pub severity: Severity,
    /// The detector's attack probability.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub score: Option<f64>,
    pub source: Option<Endpoint>,
    pub destination: Option<Endpoint>,
    #[schema(min_length = 1, max_length = 16, example = "tcp")]
    pub protocol: Option<String>,
    #[schema(min_length = 1, max_length = 64, example = "ssh")]
    pub service: Option<String>,
    /// Defaults to the caller's name when a sensor reports.
    #[schema(min_length = 1, max_length = 128, example = "edge-1")]
    pub sensor: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 1000,
        example = "SSH brute force from 203.0.113.7"
    )]
    pub summary: Option<String>,
    /// When the threat was seen (default: now).
    pub observed_at: Option<DateTime<Utc>>,
}

impl NewAlertRequest {
    const FIELDS: [&str; 10] = [
        "category",
        "severity",
        "score",
        "source",
        "destination",
        "protocol",
        "service",
        "sensor",
        "summary",
        "observed_at",
    ];

    pub fn parse(body: &Map<String, Value>) -> Result<Self, ApiError> {
        let f = Fields::new(body);
        let mut v = Validation::new();
        let category = f.required(&mut v, "category", parse::from_str::<Category>);
        let severity = f.required(&mut v, "severity", parse::from_str::<Severity>);
        let score = f.optional(&mut v, "score", |x| {
            x.as_f64()
                .filter(|s| (0.0..=1.0).contains(s))
                .ok_or_else(|| "must be a number from 0 to 1".to_owned())
        });
        let source = endpoint(&f, &mut v, "source");
        let destination = endpoint(&f, &mut v, "destination");
        let protocol = f.optional(&mut v, "protocol", short_text(16));
        let service = f.optional(&mut v, "service", short_text(64));
        let sensor = f.optional(&mut v, "sensor", short_text(128));
        let summary = f.optional(&mut v, "summary", short_text(1000));
        let observed_at = f.optional(&mut v, "observed_at", |x| parse_time(parse::string(x)?));
        f.deny_unknown(&mut v, &Self::FIELDS);
        v.finish()?;
        Ok(Self {
            category: category.expect("checked"),
            severity: severity.expect("checked"),
            score,
            source,
            destination,
            protocol,
            service,
            sensor,
            summary,
            observed_at,
        })
    }

    /// The threat it reports; `now` stands in for a missing `observed_at`.
    pub fn into_threat(self, now: DateTime<Utc>) -> Threat {
        Threat {
            category: self.category,
            severity: self.severity,
            score: self.score,
            source: self.source,
            destination: self.destination,
            protocol: self.protocol,
            service: self.service,
            sensor: self.sensor,
            summary: self.summary,
            model: None,
            seen_at: self.observed_at.unwrap_or(now),
        }
    }
}

/// The body of `PUT /alerts/{id}`: the version read, and at least one change.
#[derive(utoipa::ToSchema)]
#[schema(example = json!({"version": 1, "status": "acknowledged", "assignee": "ana", "note": "on it"}))]
#[serde(deny_unknown_fields)]
pub struct AlertUpdateRequest {
    /// The alert's `version` as the client last read it (optimistic locking).
    #[schema(minimum = 1, example = 1)]
    pub version: u64,
    /// The workflow: open → acknowledged → investigating → resolved or
    /// false_positive; a closed alert may be reopened (open).
    pub status: Option<AlertStatus>,
    /// Who works on it; `null` unassigns. Must name an active user.
    #[schema(value_type = Option<Username>, nullable)]
    pub assignee: Option<Option<Username>>,
    #[schema(min_length = 1, max_length = 2000)]
    pub note: Option<String>,
}

pub fn alert_change(body: &Map<String, Value>) -> Result<AlertUpdateRequest, ApiError> {
    let f = Fields::new(body);
    let mut v = Validation::new();
    let version = f.required(&mut v, "version", |x| {
        parse::whole_number(x)
            .filter(|n| *n >= 1)
            .ok_or_else(|| "must be the alert's version, a whole number from 1".to_owned())
    });
    let status = f.optional(&mut v, "status", parse::from_str::<AlertStatus>);
    let assignee = match body.get("assignee") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(_) => f
            .optional(&mut v, "assignee", |x| {
                Username::parse(parse::string(x)?).map_err(|e| e.to_string())
            })
            .map(Some),
    };
    let note = f.optional(&mut v, "note", short_text(MAX_NOTE_CHARS));
    f.deny_unknown(&mut v, &["version", "status", "assignee", "note"]);
    if v.is_ok() && status.is_none() && assignee.is_none() && note.is_none() {
        v.push(FieldError::new(
            "body",
            "name at least one of status, assignee, note",
        ));
    }
    v.finish()?;
    Ok(AlertUpdateRequest {
        version: version.expect("checked"),
        status,
        assignee,
        note,
    })
}

/// The body of `POST /alerts/bulk`: one status change for many alerts.
#[derive(utoipa::ToSchema)]
#[schema(example = json!({"ids": ["01M8BMRD80K9M2N4P7R3S8T1VW"], "status": "resolved", "note": "blocked at the edge"}))]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    #[schema(value_type = Vec<AlertIdText>, min_items = 1, max_items = 100)]
    pub ids: Vec<AlertId>,
    pub status: AlertStatus,
    #[schema(min_length = 1, max_length = 2000)]
    pub note: Option<String>,
}

pub fn bulk_change(body: &Map<String, Value>) -> Result<BulkRequest, ApiError> {
    let f = Fields::new(body);
    let mut v = Validation::new();
    let ids = f.required(&mut v, "ids", |x| {
        let items = x.as_array().ok_or("must be an array of alert ids")?;
        if items.is_empty() || items.len() > MAX_BULK {
            return Err(format!("must hold 1 to {MAX_BULK} ids"));
        }
        let mut ids = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let id = item
                .as_str()
                .and_then(|s| s.parse::<AlertId>().ok())
                .ok_or_else(|| format!("item {i} is not an alert id"))?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        Ok(ids)
    });
    let status = f.required(&mut v, "status", parse::from_str::<AlertStatus>);
    let note = f.optional(&mut v, "note", short_text(MAX_NOTE_CHARS));
    f.deny_unknown(&mut v, &["ids", "status", "note"]);
    v.finish()?;
    Ok(BulkRequest {
        ids: ids.expect("checked"),
        status: status.expect("checked"),
        note,
    })
}

/// What `GET /alerts/{id}/history` asks for: entries from `from` (a seq), `limit` of
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryQuery {
    pub from: u64,
    pub limit: usize,
}

pub fn history_query(raw: Option<&str>) -> Result<HistoryQuery, ApiError> {
    let mut q = HistoryQuery {
        from: 1,
        limit: MAX_HISTORY_PAGE,
    };
    let mut v = Validation::new();
    for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        let field = |m: String| FieldError::new(key.to_string(), m);
        match key.as_ref() {
            "from" => match value.parse::<u32>() {
                Ok(n) if (1..=i32::MAX as u32).contains(&n) => q.from = u64::from(n),
                _ => v.push(field(format!(
                    "must be a whole number from 1 to {} (an entry's seq)",
                    i32::MAX
                ))),
            },
            "limit" => match value.parse::<usize>() {
                Ok(n) if (1..=MAX_HISTORY_PAGE).contains(&n) => q.limit = n,
                _ => v.push(field(format!(
                    "must be a whole number from 1 to {MAX_HISTORY_PAGE}"
                ))),
            },
            other => v.push(query::unknown(other)),
        }
    }
    v.finish()?;
    Ok(q)
}
