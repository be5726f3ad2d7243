//! Threats become alerts: a batch's threats grouped by campaign, then written in one
//! batched call, with an outcome per record.

use super::{ConnectionRecord, Contribution, PredictState, Prediction, view::Summary};
use crate::{
    domain::{Alert, AlertId, Endpoint, Evidence, Role, Sighting, Threat},
    http::{Caller, error_chain},
    store::{Ingest, StoreError},
};
use chrono::Utc;
use std::collections::HashMap;

/// Groups the batch's threats by campaign (one write per group, however many records
/// it holds), then records the groups in the alert store in one batched call. Each
/// group's alert keeps its first and its latest record as evidence, with their
/// `explanations` (by record index).
#[allow(clippy::too_many_arguments)]
pub(super) async fn store_alerts(
    state: &PredictState,
    caller: &Caller,
    records: &[ConnectionRecord],
    predictions: &[Prediction],
    explanations: &HashMap<usize, Vec<Contribution>>,
    ingest: Ingest<'_>,
    outcomes: &mut HashMap<usize, Result<AlertId, &'static str>>,
    summary: &mut Summary,
) {
    let schema = state.detector.schema();
    let now = Utc::now();
    let profile = state.detector.profile();
    let sighting = |index: usize, seen_at| Sighting {
        seen_at,
        record: records[index].to_csv_line(),
        score: predictions[index].score,
        novelty: predictions[index].novelty,
        profile,
        explanation: explanations.get(&index).cloned().unwrap_or_default(),
    };
    let mut groups: Vec<(Alert, Vec<usize>)> = Vec::new();
    // Each group's latest record: its index and when it was seen.
    let mut latest: Vec<(usize, chrono::DateTime<Utc>)> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for (index, (record, prediction)) in records.iter().zip(predictions).enumerate() {
        let (Some(category), Some(severity)) = (prediction.category, prediction.severity) else {
            continue;
        };
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
        let threat = Threat {
            category,
            severity,
            score: Some(f64::from(prediction.score)),
            source,
            destination,
            protocol: Some(record.protocol_type.clone()),
            service: Some(record.service.clone()),
            sensor,
            summary: None,
            model: None,
            seen_at: ctx.observed_at.unwrap_or(now),
        };
        // Repeats inside the batch are absorbed here, by the same rule the stores use
        // for repeats across batches, so a group costs one write however many repeat;
        // only a group's first threat opens an alert (an id, a summary, a history).
        let key = threat.dedup_key();
        match by_key.get(&key) {
            Some(&g) => {
                let (alert, members) = &mut groups[g];
                if threat.seen_at >= latest[g].1 {
                    latest[g] = (index, threat.seen_at);
                }
                alert.absorb_threat(&threat, now);
                members.push(index);
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
                latest.push((index, threat.seen_at));
                let seen_at = threat.seen_at;
                let mut alert = Alert::open(threat, caller.username.as_str(), now);
                alert.evidence = Some(Evidence::of(sighting(index, seen_at)));
                groups.push((alert, vec![index]));
            }
        }
    }
    // The latest records' evidence is built once per group, not once per repeat.
    for ((alert, members), (index, seen_at)) in groups.iter_mut().zip(latest) {
        if let Some(evidence) = alert.evidence.as_mut()
            && index != members[0]
        {
            evidence.see(sighting(index, seen_at));
        }
    }
    let (candidates, members): (Vec<Alert>, Vec<Vec<usize>>) = groups.into_iter().unzip();
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
