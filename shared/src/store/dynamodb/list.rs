//! Listing alerts: which index answers a query, and reading it newest first.

use super::{DynamoAlertStore, Item, ItemKind, items::alert_from, s, sdk_error};
use crate::{
    domain::{Alert, AlertId, Severity},
    store::{AlertPage, AlertQuery, MAX_ITEMS_READ, StoreError},
};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

impl DynamoAlertStore {
    /// Reads up to `limit` matching alerts from one index partition, newest first,
    /// reading at most [`MAX_ITEMS_READ`] items. Returns them, whether the partition
    /// may hold more, and, when the read budget ran out first, the id it stopped at.
    async fn query_partition(
        &self,
        plan: &ListPlan<'_>,
        partition: &str,
    ) -> Result<(Vec<Alert>, bool, Option<AlertId>), StoreError> {
        let (lower, upper) = plan.query.id_range();
        let mut found = Vec::new();
        let mut start: Option<Item> = None;
        let mut read = 0usize;
        loop {
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(plan.index)
                .key_condition_expression("#pkey = :pkey AND #id BETWEEN :lower AND :upper")
                .expression_attribute_names("#pkey", plan.key_attribute)
                .expression_attribute_names("#id", "id")
                .expression_attribute_values(":pkey", s(partition))
                .expression_attribute_values(":lower", s(lower.to_string()))
                .expression_attribute_values(":upper", s(upper.to_string()))
                .scan_index_forward(false)
                // Filters drop items after the read, so read a little more than asked.
                .limit((plan.query.limit as i32 + 1).max(25))
                .set_exclusive_start_key(start.take());
            if let Some((expression, names, values)) = &plan.filter {
                request = request
                    .filter_expression(expression)
                    .set_expression_attribute_names(Some({
                        let mut all = names.clone();
                        all.insert("#pkey".into(), plan.key_attribute.into());
                        all.insert("#id".into(), "id".into());
                        all
                    }))
                    .set_expression_attribute_values(Some({
                        let mut all = values.clone();
                        all.insert(":pkey".into(), s(partition));
                        all.insert(":lower".into(), s(lower.to_string()));
                        all.insert(":upper".into(), s(upper.to_string()));
                        all
                    }));
            }
            let out = request.send().await.map_err(sdk_error)?;
            read += out.scanned_count.max(0) as usize;
            for item in out.items.unwrap_or_default() {
                let alert = alert_from(item)?;
                // The filter expression already did this; checking again keeps the two
                // stores' semantics identical by construction.
                if plan.query.matches(&alert) {
                    found.push(alert);
                }
            }
            let more = matches!(&out.last_evaluated_key, Some(k) if !k.is_empty());
            if found.len() > plan.query.limit || !more {
                return Ok((found, more, None));
            }
            if read >= MAX_ITEMS_READ {
                let stopped_at = out
                    .last_evaluated_key
                    .as_ref()
                    .and_then(|k| k.get("id"))
                    .and_then(|v| v.as_s().ok())
                    .and_then(|id| id.parse::<AlertId>().ok());
                return Ok((found, true, stopped_at));
            }
            start = out.last_evaluated_key;
        }
    }

    pub(super) async fn list_alerts(&self, query: &AlertQuery) -> Result<AlertPage, StoreError> {
        let (lower, upper) = query.id_range();
        if lower > upper || query.limit == 0 {
            return Ok(AlertPage {
                items: Vec::new(),
                next: None,
            });
        }
        let plan = ListPlan::new(query);
        // Every index partition is sorted by id, so the newest `limit` alerts overall
        // are among the newest `limit` of each partition: merge and cut.
        let mut merged = Vec::new();
        let mut more = false;
        // Where a partition ran out of read budget: the page covers ids down to the
        // highest such point only, so that no partition's unread items are skipped.
        let mut covered_to: Option<AlertId> = None;
        for partition in &plan.partitions {
            let (items, partition_has_more, stopped_at) =
                self.query_partition(&plan, partition).await?;
            more |= partition_has_more;
            covered_to = covered_to.max(stopped_at);
            merged.extend(items);
        }
        if let Some(edge) = covered_to {
            merged.retain(|a| a.id >= edge);
        }
        merged.sort_by_key(|a| std::cmp::Reverse(a.id));
        let truncated = merged.len() > query.limit;
        merged.truncate(query.limit);
        let next = match (truncated, covered_to) {
            (true, _) => merged.last().map(|a| a.id),
            // A rare filter: a short (even empty) page, and a cursor to read on from.
            (false, Some(edge)) => Some(edge),
            (false, None) if more => merged.last().map(|a| a.id),
            (false, None) => None,
        };
        Ok(AlertPage {
            items: merged,
            next,
        })
    }
}

type Filter = (
    String,
    HashMap<String, String>,
    HashMap<String, AttributeValue>,
);

/// Which index answers a query, which partitions of it to read, and what is left to
/// filter. The most selective given filter picks the index.
struct ListPlan<'a> {
    query: &'a AlertQuery,
    index: &'static str,
    key_attribute: &'static str,
    partitions: Vec<String>,
    filter: Option<Filter>,
}

impl<'a> ListPlan<'a> {
    fn new(query: &'a AlertQuery) -> Self {
        let (index, key_attribute, partitions): (_, _, Vec<String>) = if !query.statuses.is_empty()
        {
            let statuses = query.statuses.iter().map(|s| s.as_str().to_owned());
            ("by-status", "status", statuses.collect())
        } else if let Some(category) = query.category {
            (
                "by-category",
                "category",
                vec![category.as_str().to_owned()],
            )
        } else if let Some(min) = query.min_severity {
            let severities = Severity::ALL.into_iter().filter(|s| *s >= min);
            (
                "by-severity",
                "severity",
                severities.map(|s| s.as_str().to_owned()).collect(),
            )
        } else {
            (
                "by-kind",
                ItemKind::ATTRIBUTE,
                vec![ItemKind::Alert.as_str().to_owned()],
            )
        };

        let mut clauses = Vec::new();
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        if key_attribute != "severity"
            && let Some(min) = query.min_severity
        {
            let allowed: Vec<String> = Severity::ALL
                .into_iter()
                .filter(|s| *s >= min)
                .enumerate()
                .map(|(i, s)| {
                    values.insert(format!(":sev{i}"), s_value(s.as_str()));
                    format!(":sev{i}")
                })
                .collect();
            names.insert("#severity".into(), "severity".into());
            clauses.push(format!("#severity IN ({})", allowed.join(", ")));
        }
        if key_attribute != "category"
            && let Some(category) = query.category
        {
            names.insert("#category".into(), "category".into());
            values.insert(":category".into(), s_value(category.as_str()));
            clauses.push("#category = :category".into());
        }
        if let Some(assignee) = &query.assignee {
            names.insert("#assignee".into(), "assignee".into());
            values.insert(":assignee".into(), s_value(assignee.as_str()));
            clauses.push("#assignee = :assignee".into());
        }
        if let Some(ip) = query.source_ip {
            names.insert("#source".into(), "source".into());
            names.insert("#ip".into(), "ip".into());
            values.insert(":ip".into(), s_value(&ip.to_string()));
            clauses.push("#source.#ip = :ip".into());
        }
        let filter = (!clauses.is_empty()).then(|| (clauses.join(" AND "), names, values));
        Self {
            query,
            index,
            key_attribute,
            partitions,
            filter,
        }
    }
}

fn s_value(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}
