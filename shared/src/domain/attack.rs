//! MITRE ATT&CK (Enterprise) for each category: the tactics (the adversary's goal) and
//! techniques (how) an analyst files an alert under. This table is the mapping, in one
//! place: alerts, notifications, live messages and the `tactic`/`technique` filters of
//! `GET /alerts` all read it, and the README shows it.
//!
//! NSL-KDD's families are coarse, so the mapping names what the family's attacks are
//! (dos: floods such as neptune and smurf; probe: scans such as satan and portsweep;
//! r2l: password guessing and exploits of exposed services such as guess_passwd, imap
//! and phf; u2r: local exploits to root such as buffer_overflow). An anomaly (traffic
//! the model finds novel) claims no technique.

use super::Category;
use serde::Serialize;

/// An ATT&CK tactic or technique: its id and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AttackEntry {
    #[schema(example = "T1498")]
    pub id: &'static str,
    #[schema(example = "Network Denial of Service")]
    pub name: &'static str,
}

/// What ATT&CK calls an alert of a category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Attack {
    /// The adversary's goals (TA…).
    pub tactics: &'static [AttackEntry],
    /// How they pursue them (T…).
    pub techniques: &'static [AttackEntry],
}

const fn entry(id: &'static str, name: &'static str) -> AttackEntry {
    AttackEntry { id, name }
}

/// The mapping.
const MAPPING: [(Category, Attack); 5] = [
    (
        Category::Dos,
        Attack {
            tactics: &[entry("TA0040", "Impact")],
            techniques: &[
                entry("T1498", "Network Denial of Service"),
                entry("T1499", "Endpoint Denial of Service"),
            ],
        },
    ),
    (
        Category::Probe,
        Attack {
            tactics: &[
                entry("TA0007", "Discovery"),
                entry("TA0043", "Reconnaissance"),
            ],
            techniques: &[
                entry("T1046", "Network Service Discovery"),
                entry("T1595", "Active Scanning"),
            ],
        },
    ),
    (
        Category::R2l,
        Attack {
            tactics: &[
                entry("TA0006", "Credential Access"),
                entry("TA0001", "Initial Access"),
            ],
            techniques: &[
                entry("T1110", "Brute Force"),
                entry("T1190", "Exploit Public-Facing Application"),
            ],
        },
    ),
    (
        Category::U2r,
        Attack {
            tactics: &[entry("TA0004", "Privilege Escalation")],
            techniques: &[entry("T1068", "Exploitation for Privilege Escalation")],
        },
    ),
    (
        Category::Anomaly,
        Attack {
            tactics: &[],
            techniques: &[],
        },
    ),
];

impl Category {
    /// What ATT&CK calls alerts of this category.
    pub fn attack(self) -> Attack {
        MAPPING
            .iter()
            .find(|(c, _)| *c == self)
            .map(|(_, a)| *a)
            .expect("every category is in the mapping")
    }

    /// The categories filed under a tactic (`TA…`) or technique (`T…`) id; empty for an
    /// id the mapping does not use.
    pub fn with_attack_id(id: &str) -> Vec<Category> {
        MAPPING
            .iter()
            .filter(|(_, a)| a.tactics.iter().chain(a.techniques).any(|e| e.id == id))
            .map(|(c, _)| *c)
            .collect()
    }
}

/// Every tactic and technique the mapping uses, each once (for messages naming them).
pub fn attack_ids() -> Vec<&'static str> {
    let mut ids: Vec<&str> = MAPPING
        .iter()
        .flat_map(|(_, a)| a.tactics.iter().chain(a.techniques).map(|e| e.id))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_category_is_mapped_and_every_id_belongs_to_one_category() {
        for category in Category::ALL {
            let _ = category.attack();
        }
        assert_eq!(Category::Dos.attack().techniques[0].id, "T1498");
        // One category per id: a tactic or technique filter is a category filter.
        for id in attack_ids() {
            assert_eq!(Category::with_attack_id(id).len(), 1, "{id}");
        }
        assert_eq!(Category::with_attack_id("TA0043"), [Category::Probe]);
        assert!(Category::with_attack_id("T9999").is_empty());
        assert!(Category::Anomaly.attack().techniques.is_empty());
    }
}
