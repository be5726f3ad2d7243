use super::{
    AlertStatus, Category, Endpoint, Evidence, Grouping, ModelRef, Severity, Username, ValueSummary,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Alert ids are ULIDs: unique without coordination and sortable by creation time,
/// which is what lets every list index sort "newest first" on the id alone.
pub type AlertId = ulid::Ulid;

/// What a history entry records: `created` (`to`: the first status), `status` (`from`
/// and `to`: statuses), `assignment` (`from` and `to`: usernames, absent for nobody),
/// `note` (`note`).
// Stored as the same words the API sends, which every entry ever written used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HistoryAction {
    /// The alert opened (`to`: its first status).
    Created,
    /// A workflow move (`from` and `to`: statuses).
    Status,
    /// Assigned or unassigned (`from` and `to`: usernames, absent for nobody).
    Assignment,
    /// A note was added (`note`).
    Note,
}

/// One change in an alert's life: who changed what, when, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    /// Its place in the alert's history: 1 for the first entry, then one more each.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub seq: u64,
    pub at: DateTime<Utc>,
    /// The username (or sensor) that made the change.
    pub by: String,
    pub action: HistoryAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A detected threat and its workflow state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Alert {
    #[schema(value_type = super::AlertIdText)]
    pub id: AlertId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the threat was last observed; moves forward as repeats are aggregated.
    pub last_seen: DateTime<Utc>,
    pub category: Category,
    pub severity: Severity,
    /// The model's attack probability, when a model raised the alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub score: Option<f64>,
    pub status: AlertStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<Username>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Endpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Endpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelRef>,
    /// When the model raised the alert: the first and the latest record it grouped,
    /// each with its scores and why it was a threat. Two records however many it
    /// groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
    /// The campaign key: threats with the same key inside the dedup window are one
    /// attack and aggregate here (see `domain::campaign` for what each category is
    /// grouped by).
    pub dedup_key: String,
    /// How many threats (records) this alert groups.
    #[schema(minimum = 1)]
    pub count: u64,
    /// The source IPs of the threats it groups.
    #[serde(default)]
    #[schema(value_type = super::sketch::ValueSummaryView)]
    pub sources: ValueSummary,
    /// Their destination IPs, where the alert groups by source (probes and
    /// conversations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<super::sketch::ValueSummaryView>)]
    pub targets: Option<ValueSummary>,
    /// Their destination ports, where the alert groups by source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<super::sketch::ValueSummaryView>)]
    pub ports: Option<ValueSummary>,
    /// When the alert was first acknowledged (or moved past that).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// When the alert was first resolved or marked a false positive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<DateTime<Utc>>,
    /// The newest history entries (at most 50, and at most 16 KiB of them); the whole
    /// history is at `GET /alerts/{id}/history`.
    pub history: Vec<HistoryEntry>,
    /// How many history entries the alert has in all.
    #[serde(default)]
    pub history_total: u64,
    /// Optimistic-locking version: every write must name the version it was based on.
    #[schema(minimum = 1)]
    pub version: u64,
}

/// What a sensor or the model saw: the facts an alert opens from.
#[derive(Debug, Clone, PartialEq)]
pub struct Threat {
    pub category: Category,
    pub severity: Severity,
    pub score: Option<f64>,
    pub source: Option<Endpoint>,
    pub destination: Option<Endpoint>,
    pub protocol: Option<String>,
    pub service: Option<String>,
    pub sensor: Option<String>,
    pub summary: Option<String>,
    pub model: Option<ModelRef>,
    /// When the threat was observed (the sensor's time, else when it arrived).
    pub seen_at: DateTime<Utc>,
}

impl Threat {
    /// The key of the alert this threat opens or repeats: its campaign.
    pub fn dedup_key(&self) -> String {
        Grouping::of(self.category).key(
            self.category,
            self.sensor.as_deref(),
            self.source.as_ref(),
            self.destination.as_ref(),
            self.service.as_deref(),
        )
    }

    fn source_ip(&self) -> Option<String> {
        self.source.as_ref()?.ip.map(|ip| ip.to_string())
    }

    fn target_ip(&self) -> Option<String> {
        self.destination.as_ref()?.ip.map(|ip| ip.to_string())
    }

    fn target_port(&self) -> Option<String> {
        self.destination.as_ref()?.port.map(|p| p.to_string())
    }
}

/// How many history entries an alert item keeps, and how many bytes of them: the
/// bound that keeps an item small however long analysts work on it.
pub const HISTORY_KEPT: usize = 50;
pub const HISTORY_KEPT_BYTES: usize = 16 * 1024;

impl HistoryEntry {
    /// Roughly what the entry takes in a stored item (UTF-8 bytes of its text plus
    /// its fixed fields).
    pub fn size(&self) -> usize {
        96 + self.by.len()
            + self.from.as_deref().map_or(0, str::len)
            + self.to.as_deref().map_or(0, str::len)
            + self.note.as_deref().map_or(0, str::len)
    }
}

impl Alert {
    /// A new open alert for `threat`, raised by `by` at `now`: version 1, count 1, and
    /// a `created` history entry. Both ways in (POST /alerts and predict) open alerts
    /// here, and the stores decide whether it is new or absorbed by an open one.
    pub fn open(threat: Threat, by: &str, now: DateTime<Utc>) -> Self {
        let dedup_key = threat.dedup_key();
        let mut sources = ValueSummary::default();
        let summarised = Grouping::of(threat.category).summarises_targets();
        let (mut targets, mut ports) = (
            summarised.then(ValueSummary::default),
            summarised.then(ValueSummary::default),
        );
        add_values(&mut sources, &mut targets, &mut ports, &threat);
        Self {
            id: new_alert_id(),
            created_at: now,
            updated_at: now,
            last_seen: threat.seen_at,
            category: threat.category,
            severity: threat.severity,
            score: threat.score,
            status: AlertStatus::Open,
            assignee: None,
            source: threat.source,
            destination: threat.destination,
            protocol: threat.protocol,
            service: threat.service,
            sensor: threat.sensor,
            summary: threat.summary,
            model: threat.model,
            evidence: None,
            dedup_key,
            count: 1,
            sources,
            targets,
            ports,
            acknowledged_at: None,
            resolved_at: None,
            history_total: 1,
            history: vec![HistoryEntry {
                seq: 1,
                at: now,
                by: by.to_owned(),
                action: HistoryAction::Created,
                from: None,
                to: Some(AlertStatus::Open.as_str().into()),
                note: None,
            }],
            version: 1,
        }
    }

    /// Whether `repeat` (a newly opened alert) is the same threat seen again inside
    /// the dedup window, so that this alert absorbs it instead of a new one opening.
    /// A closed alert absorbs nothing: a threat after the verdict is news.
    pub fn absorbs(&self, repeat: &Alert, window: std::time::Duration) -> bool {
        let gap = (repeat.last_seen - self.last_seen).abs();
        !self.status.is_closed()
            && gap.to_std().is_ok_and(|gap| gap <= window)
            && self.dedup_key == repeat.dedup_key
    }

    /// Takes in a repeat: counts add up; last seen, severity and score only rise.
    /// Workflow state (status, assignee, history) stays as the analysts left it.
    pub fn absorb(&mut self, repeat: &Alert, now: DateTime<Utc>) {
        self.sources.merge(&repeat.sources);
        match (self.evidence.as_mut(), repeat.evidence.as_ref()) {
            (Some(mine), Some(theirs)) => mine.merge(theirs),
            (None, Some(theirs)) => self.evidence = Some(theirs.clone()),
            _ => {}
        }
        merge_into(&mut self.targets, repeat.targets.as_ref());
        merge_into(&mut self.ports, repeat.ports.as_ref());
        self.take_in(
            repeat.count,
            repeat.last_seen,
            repeat.severity,
            repeat.score,
            now,
        );
    }

    /// Takes in one more sighting of this alert's threat (a repeat inside one predict
    /// batch), by the same rule as [`Alert::absorb`], without opening an alert for it.
    pub fn absorb_threat(&mut self, threat: &Threat, now: DateTime<Utc>) {
        add_values(
            &mut self.sources,
            &mut self.targets,
            &mut self.ports,
            threat,
        );
        self.take_in(1, threat.seen_at, threat.severity, threat.score, now);
    }

    fn take_in(
        &mut self,
        count: u64,
        seen_at: DateTime<Utc>,
        severity: Severity,
        score: Option<f64>,
        now: DateTime<Utc>,
    ) {
        self.count += count;
        self.last_seen = self.last_seen.max(seen_at);
        self.severity = self.severity.max(severity);
        self.score = match (self.score, score) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.updated_at = now;
    }
}

/// A status change the workflow does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an alert cannot move from {from} to {to}{hint}")]
pub struct InvalidTransition {
    pub from: AlertStatus,
    pub to: AlertStatus,
    hint: &'static str,
}

impl Alert {
    /// Moves the alert to `to`, recording who did it and why. Moving to the current
    /// status is not a change and is refused like any other impossible move.
    pub fn move_to(
        &mut self,
        to: AlertStatus,
        by: &str,
        note: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<(), InvalidTransition> {
        if !self.status.can_move_to(to) {
            let hint = if self.status.is_closed() {
                "; reopen it (status open) first"
            } else {
                ""
            };
            return Err(InvalidTransition {
                from: self.status,
                to,
                hint,
            });
        }
        self.push_history(HistoryEntry {
            seq: 0,
            at,
            by: by.to_owned(),
            action: HistoryAction::Status,
            from: Some(self.status.as_str().into()),
            to: Some(to.as_str().into()),
            note,
        });
        self.status = to;
        if to.is_acknowledged() && self.acknowledged_at.is_none() {
            self.acknowledged_at = Some(at);
        }
        if to.is_closed() && self.resolved_at.is_none() {
            self.resolved_at = Some(at);
        }
        Ok(())
    }

    /// Assigns the alert (or unassigns it with `None`).
    pub fn assign(&mut self, to: Option<Username>, by: &str, at: DateTime<Utc>) {
        if self.assignee == to {
            return;
        }
        self.push_history(HistoryEntry {
            seq: 0,
            at,
            by: by.to_owned(),
            action: HistoryAction::Assignment,
            from: self.assignee.as_ref().map(|u| u.to_string()),
            to: to.as_ref().map(|u| u.to_string()),
            note: None,
        });
        self.assignee = to;
    }

    pub fn add_note(&mut self, note: String, by: &str, at: DateTime<Utc>) {
        self.push_history(HistoryEntry {
            seq: 0,
            at,
            by: by.to_owned(),
            action: HistoryAction::Note,
            from: None,
            to: None,
            note: Some(note),
        });
    }

    fn push_history(&mut self, mut entry: HistoryEntry) {
        self.history_total += 1;
        entry.seq = self.history_total;
        self.history.push(entry);
    }

    /// Takes the workflow fields of `changed` (an edited copy of this alert): status,
    /// assignee, history, first acknowledgement and resolution, `updated_at` and
    /// `version`. Detection fields (count, last seen, severity, score, summaries)
    /// stay as stored, so a workflow write never undoes a detection that landed
    /// after the analyst read the alert.
    pub fn take_workflow(&mut self, changed: &Alert) {
        self.status = changed.status;
        self.assignee = changed.assignee.clone();
        self.history = changed.history.clone();
        self.history_total = changed.history_total;
        self.acknowledged_at = changed.acknowledged_at;
        self.resolved_at = changed.resolved_at;
        self.updated_at = changed.updated_at;
        self.version = changed.version;
    }

    /// Applies the history bound: drops the oldest entries beyond [`HISTORY_KEPT`]
    /// or [`HISTORY_KEPT_BYTES`] (always keeping the newest) and returns them, for
    /// the store to keep as history items of their own in the same write.
    pub fn archive_history(&mut self) -> Vec<HistoryEntry> {
        let mut bytes: usize = self.history.iter().map(HistoryEntry::size).sum();
        let mut cut = 0;
        while self.history.len() - cut > 1
            && (self.history.len() - cut > HISTORY_KEPT || bytes > HISTORY_KEPT_BYTES)
        {
            bytes -= self.history[cut].size();
            cut += 1;
        }
        self.history.drain(..cut).collect()
    }

    /// The seq of the oldest entry still on the alert (entries before it are
    /// archived).
    pub fn first_kept_seq(&self) -> u64 {
        self.history_total + 1 - self.history.len() as u64
    }
}

fn add_values(
    sources: &mut ValueSummary,
    targets: &mut Option<ValueSummary>,
    ports: &mut Option<ValueSummary>,
    threat: &Threat,
) {
    if let Some(ip) = threat.source_ip() {
        sources.add(&ip, 1);
    }
    if let (Some(targets), Some(ip)) = (targets.as_mut(), threat.target_ip()) {
        targets.add(&ip, 1);
    }
    if let (Some(ports), Some(port)) = (ports.as_mut(), threat.target_port()) {
        ports.add(&port, 1);
    }
}

fn merge_into(mine: &mut Option<ValueSummary>, theirs: Option<&ValueSummary>) {
    match (mine.as_mut(), theirs) {
        (Some(mine), Some(theirs)) => mine.merge(theirs),
        (None, Some(theirs)) => *mine = Some(theirs.clone()),
        _ => {}
    }
}

/// A new alert id. Ids from one process increase strictly, even within one
/// millisecond, so "newest first" is also creation order for alerts made together.
pub fn new_alert_id() -> AlertId {
    use std::sync::{Mutex, OnceLock};
    static GENERATOR: OnceLock<Mutex<ulid::Generator>> = OnceLock::new();
    let generator = GENERATOR.get_or_init(|| Mutex::new(ulid::Generator::new()));
    generator
        .lock()
        .ok()
        .and_then(|mut g| g.generate().ok())
        .unwrap_or_else(|| ulid::Ulid::from_datetime(std::time::SystemTime::now()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn threat(severity: Severity, score: f64, seen_at: DateTime<Utc>) -> Threat {
        Threat {
            category: Category::Dos,
            severity,
            score: Some(score),
            source: Some(Endpoint {
                ip: Some("198.51.100.7".parse().unwrap()),
                port: Some(40_000),
            }),
            destination: Some(Endpoint {
                ip: Some("10.0.0.9".parse().unwrap()),
                port: Some(80),
            }),
            protocol: Some("tcp".into()),
            service: Some("http".into()),
            sensor: Some("edge-1".into()),
            summary: None,
            model: None,
            seen_at,
        }
    }

    #[test]
    fn an_alert_opens_once_with_its_key_and_a_created_entry() {
        let t = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        let alert = Alert::open(threat(Severity::High, 0.9, t), "edge-1", t);
        assert_eq!((alert.count, alert.version), (1, 1));
        assert_eq!(alert.status, AlertStatus::Open);
        assert_eq!(alert.dedup_key, "dos|edge-1|to|10.0.0.9|http");
        assert_eq!(alert.history.len(), 1);
        assert_eq!(alert.history[0].action, HistoryAction::Created);
    }

    #[test]
    fn a_repeat_inside_the_window_is_absorbed_and_only_raises() {
        let t = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        let later = t + chrono::Duration::minutes(5);
        let mut alert = Alert::open(threat(Severity::High, 0.9, t), "edge-1", t);
        alert
            .move_to(AlertStatus::Acknowledged, "ana", None, t)
            .unwrap();
        let repeat = Alert::open(threat(Severity::Medium, 0.95, later), "edge-1", later);
        let window = std::time::Duration::from_secs(15 * 60);

        assert!(alert.absorbs(&repeat, window));
        assert!(!alert.absorbs(&repeat, std::time::Duration::from_secs(60)));
        alert.absorb(&repeat, later);

        assert_eq!(alert.count, 2);
        assert_eq!(alert.last_seen, later);
        assert_eq!(alert.severity, Severity::High, "severity never drops");
        assert_eq!(alert.score, Some(0.95));
        assert_eq!(
            alert.status,
            AlertStatus::Acknowledged,
            "workflow untouched"
        );
    }

    #[test]
    fn a_closed_alert_absorbs_nothing() {
        let t = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        let mut alert = Alert::open(threat(Severity::High, 0.9, t), "edge-1", t);
        alert
            .move_to(AlertStatus::Resolved, "ana", None, t)
            .unwrap();
        let repeat = Alert::open(threat(Severity::High, 0.9, t), "edge-1", t);
        assert!(!alert.absorbs(&repeat, std::time::Duration::from_secs(900)));
    }
}
