//! What the alert routes answer (besides the alert itself, `domain::Alert`).

use crate::domain::{AlertId, AlertIdText, AlertStatus, AlertView, HistoryEntry};
use serde::Serialize;
use utoipa::ToSchema;

/// A page of alerts, newest first.
#[derive(Serialize, ToSchema)]
pub struct AlertList {
    pub(super) items: Vec<AlertView>,
    /// Pass as `cursor` (with the same filters) for the next page; null on the last.
    pub(super) next_cursor: Option<String>,
}

/// A page of an alert's history, oldest first.
#[derive(Serialize, ToSchema)]
pub struct HistoryList {
    pub(super) items: Vec<HistoryEntry>,
    /// How many entries the alert has in all.
    pub(super) total: u64,
    /// Pass as `from` for the next page; null on the last.
    pub(super) next_from: Option<u64>,
}

/// What happened to one alert of a bulk change: `updated`; `unchanged` (it already had
/// the status); `not_found`; `invalid_transition` (the workflow does not allow the move
/// from its status); `conflict` (it kept changing under concurrent writes: try again);
/// `not_done` (the store failed and nothing was written for it: retry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum BulkOutcome {
    Updated,
    Unchanged,
    NotFound,
    InvalidTransition,
    Conflict,
    NotDone,
}

/// One alert's result in a bulk change.
#[derive(Serialize, ToSchema)]
pub(crate) struct BulkResult {
    #[schema(value_type = AlertIdText)]
    pub(super) id: AlertId,
    pub(super) outcome: BulkOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) status: Option<AlertStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) version: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) detail: Option<String>,
}

/// The answer to a bulk change.
#[derive(Serialize, ToSchema)]
pub(crate) struct BulkResponse {
    /// How many alerts changed.
    pub(super) updated: usize,
    pub(super) results: Vec<BulkResult>,
}
