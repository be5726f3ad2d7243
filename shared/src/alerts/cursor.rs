//! The opaque paging cursor of `GET /alerts`: the id of the last alert of the previous
//! page, bound to the filters it was issued for. A cursor that does not decode, or
//! that is sent with other filters, is a 400 — never a 500, never a silently wrong page.

use crate::{domain::AlertId, http::ApiError, store::AlertQuery};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use std::hash::{DefaultHasher, Hash, Hasher};

pub struct Cursor;

impl Cursor {
    /// A fingerprint of the filters (not the page bounds) of a query.
    fn fingerprint(query: &AlertQuery) -> u64 {
        let mut h = DefaultHasher::new();
        let statuses: Vec<&str> = query.statuses.iter().map(|s| s.as_str()).collect();
        statuses.hash(&mut h);
        query.min_severity.map(|s| s.as_str()).hash(&mut h);
        query.category.map(|c| c.as_str()).hash(&mut h);
        query.from.map(|t| t.timestamp_millis()).hash(&mut h);
        query.to.map(|t| t.timestamp_millis()).hash(&mut h);
        query.assignee.as_ref().map(|a| a.to_string()).hash(&mut h);
        query.source_ip.map(|ip| ip.to_string()).hash(&mut h);
        h.finish()
    }

    pub fn encode(last: AlertId, query: &AlertQuery) -> String {
        URL_SAFE_NO_PAD.encode(format!("{last}.{:016x}", Self::fingerprint(query)))
    }

    pub fn decode(raw: &str, query: &AlertQuery) -> Result<AlertId, ApiError> {
        // 422, not 400: any string is a well-formed cursor parameter; this one just
        // does not continue a listing this API started.
        let bad = || ApiError::unprocessable_field("cursor", "is not a cursor this API issued");
        let text = URL_SAFE_NO_PAD
            .decode(raw)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(bad)?;
        let (id, fingerprint) = text.split_once('.').ok_or_else(bad)?;
        let id: AlertId = id.parse().map_err(|_| bad())?;
        if fingerprint != format!("{:016x}", Self::fingerprint(query)) {
            return Err(ApiError::unprocessable_field(
                "cursor",
                "belongs to a listing with other filters; start again without it",
            ));
        }
        Ok(id)
    }
}
