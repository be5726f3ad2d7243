//! What `GET /feedback` answers: a labelled record per line (CSV) or item (JSON).

use crate::domain::{
    Alert, AlertId, AlertIdText, AlertStatus, Category, FEATURES, ModelRef, Profile,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// A record's label, as NSL-KDD's `label` column holds it for training: `normal` (an
/// analyst said false positive) or the family of a threat resolved as real (`anomaly`:
/// real, family unknown — the trainer keeps those out of the classifier's classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    Normal,
    Dos,
    Probe,
    R2l,
    U2r,
    Anomaly,
}

impl Label {
    /// The label a verdict gives, or `None` for a status that is no verdict.
    pub fn of(status: AlertStatus, category: Category) -> Option<Self> {
        match status {
            AlertStatus::FalsePositive => Some(Self::Normal),
            AlertStatus::Resolved => Some(match category {
                Category::Dos => Self::Dos,
                Category::Probe => Self::Probe,
                Category::R2l => Self::R2l,
                Category::U2r => Self::U2r,
                Category::Anomaly => Self::Anomaly,
            }),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::Dos => "dos",
            Self::Probe => "probe",
            Self::R2l => "r2l",
            Self::U2r => "u2r",
            Self::Anomaly => "anomaly",
        }
    }
}

/// One labelled record.
#[derive(Serialize, ToSchema)]
#[schema(as = FeedbackItem)]
pub(super) struct Item {
    /// The alert the verdict was given on.
    #[schema(value_type = AlertIdText)]
    pub(super) alert_id: AlertId,
    /// The verdict: `false_positive` or `resolved`.
    pub(super) verdict: AlertStatus,
    pub(super) label: Label,
    /// The record: the 41 NSL-KDD features as a CSV line.
    pub(super) record: String,
    pub(super) seen_at: DateTime<Utc>,
    /// The model and profile that called it a threat.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) model: Option<ModelRef>,
    pub(super) profile: Profile,
    /// When the analyst gave the verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) resolved_at: Option<DateTime<Utc>>,
}

/// A page of labelled records, newest alerts first.
#[derive(Serialize, ToSchema)]
pub struct FeedbackList {
    pub(super) items: Vec<Item>,
    /// Pass as `cursor` (with the same `from`/`to`) for the next page; null on the last.
    pub(super) next_cursor: Option<String>,
}

impl Item {
    /// The labelled records of one closed alert: its first and (if another) its latest
    /// record. None for alerts without evidence (those not raised by the model).
    pub(super) fn of(alert: &Alert) -> Vec<Self> {
        let (Some(evidence), Some(label)) = (
            alert.evidence.as_ref(),
            Label::of(alert.status, alert.category),
        ) else {
            return Vec::new();
        };
        evidence
            .records()
            .map(|s| Item {
                alert_id: alert.id,
                verdict: alert.status,
                label,
                record: s.record.clone(),
                seen_at: s.seen_at,
                model: alert.model.clone(),
                profile: s.profile,
                resolved_at: alert.resolved_at,
            })
            .collect()
    }
}

/// The CSV header: the 41 feature names in NSL-KDD order, then `label`.
pub fn feedback_csv_header() -> String {
    let mut header: Vec<&str> = FEATURES.iter().map(|(name, _)| *name).collect();
    header.push("label");
    header.join(",") + "\n"
}

/// The CSV form as the contract shows it (a test holds it to what `to_csv` writes).
pub const FEEDBACK_CSV_EXAMPLE: &str = "duration,protocol_type,service,flag,src_bytes,dst_bytes,land,wrong_fragment,urgent,hot,num_failed_logins,logged_in,num_compromised,root_shell,su_attempted,num_root,num_file_creations,num_shells,num_access_files,num_outbound_cmds,is_host_login,is_guest_login,count,srv_count,serror_rate,srv_serror_rate,rerror_rate,srv_rerror_rate,same_srv_rate,diff_srv_rate,srv_diff_host_rate,dst_host_count,dst_host_srv_count,dst_host_same_srv_rate,dst_host_diff_srv_rate,dst_host_same_src_port_rate,dst_host_srv_diff_host_rate,dst_host_serror_rate,dst_host_srv_serror_rate,dst_host_rerror_rate,dst_host_srv_rerror_rate,label\n0,tcp,private,S0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,123,6,1,1,0,0,0.05,0.07,0,255,26,0.1,0.05,0,0,1,1,0,0,dos\n0,udp,domain_u,SF,45,44,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1,1,0,0,0,0,1,0,0,255,254,1,0.01,0,0,0,0,0,0,normal\n";

/// [`FEEDBACK_CSV_EXAMPLE`] for the OpenAPI document.
pub(super) fn feedback_csv_example() -> serde_json::Value {
    FEEDBACK_CSV_EXAMPLE.into()
}

impl FeedbackList {
    /// The CSV form: the header, then a record and its label per line.
    pub(super) fn to_csv(&self) -> String {
        let mut out = feedback_csv_header();
        for item in &self.items {
            out.push_str(&item.record);
            out.push(',');
            out.push_str(item.label.as_str());
            out.push('\n');
        }
        out
    }
}
