//! Threats become alerts: a batch's threats grouped by campaign, then written in one
//! batched call, with an outcome per record.

use super::{
    ConnectionRecord, Contribution, FeatureSchema, PredictState, Prediction, view::Summary,
};
use crate::{
    domain::{
        Alert, AlertId, Category, Endpoint, Evidence, Profile, Role, Severity, Sighting, Threat,
    },
    http::{Caller, error_chain},
    store::{Ingest, StoreError},
};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// A batch's threats grouped by campaign: each group one alert to write (however many
/// records it holds), its members (record indexes, in order) and its latest record.
pub(super) struct Groups {
    groups: Vec<Group>,
}

struct Group {
    alert: Alert,
    members: Vec<usize>,
    /// When the first member was seen.
    first_seen: DateTime<Utc>,
    /// The member seen last (the first of them on a tie), and when.
    latest: (usize, DateTime<Utc>),
}

impl Groups {
    /// Groups the threats among `predictions` by campaign. Repeats inside the batch
    /// are absorbed here, by the same rule the stores use for repeats across batches,
    /// so only a group's first threat opens an alert (an id, a summary, a history).
    pub(super) fn of(
        schema: &FeatureSchema,
        caller: &Caller,
        records: &[ConnectionRecord],
        predictions: &[Prediction],
        now: DateTime<Utc>,
    ) -> Self {
        let mut groups: Vec<Group> = Vec::new();
        let mut by_key: HashMap<String, usize> = HashMap::new();
        for (index, (record, prediction)) in records.iter().zip(predictions).enumerate() {
            let (Some(category), Some(severity)) = (prediction.category, prediction.severity)
            else {
                continue;
            };
            let threat = threat_of(record, prediction, category, severity, caller, now);
            let key = threat.dedup_key();
            match by_key.get(&key) {
                Some(&g) => {
                    let group = &mut groups[g];
                    if threat.seen_at > group.latest.1 {
                        group.latest = (index, threat.seen_at);
                    }
                    group.alert.absorb_threat(&threat, now);
                    group.members.push(index);
                }
                None => {
                    let threat = Threat {
                        summary: Some(format!(
                            "{category} traffic detected by {} {}",
                            schema.model.name, schema.model.version
                        )),
                        model: Some(schema.model.reference()),
                        ..threat
                    };
                    by_key.insert(key, groups.len());
                    groups.push(Group {
                        first_seen: threat.seen_at,
                        latest: (index, threat.seen_at),
                        alert: Alert::open(threat, caller.username.as_str(), now),
                        members: vec![index],
                    });
                }
            }
        }
        Self { groups }
    }

    /// The records whose explanations the alerts keep: each group's first and latest.
    pub(super) fn evidence_records(&self) -> Vec<usize> {
        let mut indexes: Vec<usize> = self
            .groups
            .iter()
            .flat_map(|g| [g.members[0], g.latest.0])
            .collect();
        indexes.sort_unstable();
        indexes.dedup();
        indexes
    }

    /// Gives each alert its evidence: its first and latest record, scored and
    /// explained (`explanations` by record index), decided at `profile`.
    pub(super) fn attach_evidence(
        &mut self,
        records: &[ConnectionRecord],
        predictions: &[Prediction],
        explanations: &HashMap<usize, Vec<Contribution>>,
        profile: Profile,
    ) {
        let sighting = |index: usize, seen_at| Sighting {
            seen_at,
            record: records[index].to_csv_line(),
            score: predictions[index].score,
            novelty: predictions[index].novelty,
            profile,
            explanation: explanations.get(&index).cloned().unwrap_or_default(),
        };
        for group in &mut self.groups {
            let first = group.members[0];
            let mut evidence = Evidence::of(sighting(first, group.first_seen));
            if group.latest.0 != first {
                evidence.see(sighting(group.latest.0, group.latest.1));
            }
            group.alert.evidence = Some(evidence);
        }
    }
}

/// What the model saw in one record, as a threat.
fn threat_of(
    record: &ConnectionRecord,
    prediction: &Prediction,
    category: Category,
    severity: Severity,
    caller: &Caller,
    now: DateTime<Utc>,
) -> Threat {
    let ctx = &record.context;
    let sensor = ctx
        .sensor
        .clone()
        .or_else(|| (caller.role == Role::Sensor).then(|| caller.username.to_string()));
    let source = (ctx.src_ip.is_some() || ctx.src_port.is_some()).then_some(Endpoint {
        ip: ctx.src_ip,
        port: ctx.src_port,
    });
    let destination = (ctx.dst_ip.is_some() || ctx.dst_port.is_some()).then_some(Endpoint {
        ip: ctx.dst_ip,
        port: ctx.dst_port,
    });
    Threat {
        category,
        severity,
        score: Some(f64::from(prediction.score)),
        source,
        destination,
        protocol: Some(record.protocol_type.into()),
        service: Some(record.service.into()),
        sensor,
        summary: None,
        model: None,
        seen_at: ctx.observed_at.unwrap_or(now),
    }
}

/// Records the groups in the alert store in one batched call; an outcome per record.
pub(super) async fn store_alerts(
    state: &PredictState,
    groups: Groups,
    ingest: Ingest<'_>,
    outcomes: &mut HashMap<usize, Result<AlertId, &'static str>>,
    summary: &mut Summary,
) {
    let (candidates, members): (Vec<Alert>, Vec<Vec<usize>>) = groups
        .groups
        .into_iter()
        .map(|g| (g.alert, g.members))
        .unzip();
    let detections = state
        .alerts
        .record_detections(&candidates, state.dedup_window, ingest)
        .await;
    for (outcome, members) in detections.into_iter().zip(members) {
        let outcome = match outcome {
            Ok(detection) => {
                if detection.created {
                    summary.alerts_created += 1;
                } else {
                    summary.alerts_updated += 1;
                }
                Ok(detection.alert.id)
            }
            Err(e) => {
                summary.alerts_failed += 1;
                log_store_failure(&e);
                Err(not_stored(&e))
            }
        };
        for index in members {
            outcomes.insert(index, outcome);
        }
    }
}

/// What a record's `alert_error` says, by what is known of the write.
pub(super) fn not_stored(e: &StoreError) -> &'static str {
    match e {
        StoreError::OutOfTime => {
            "not stored: the request ran out of time first; resend it with the same \
             Idempotency-Key to store the rest without counting anything twice"
        }
        StoreError::OutcomeUnknown(_) => {
            "the store did not confirm this alert: it may have been stored; resend with \
             the same Idempotency-Key to settle it without counting it twice"
        }
        _ => "the alert could not be stored; nothing was written for it, resend the record",
    }
}

pub(super) fn log_store_failure(e: &StoreError) {
    tracing::error!(error = %error_chain(e), "storing a detected threat failed");
}
