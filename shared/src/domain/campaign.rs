//! Campaign grouping: which threats are one attack, and so one alert.
//!
//! An analyst triages attacks, not connections. A flood comes from thousands of
//! (often spoofed) sources at one target, so a DoS is grouped by its **target**. A
//! scan or sweep is one source touching many ports or hosts, so a probe is grouped by
//! its **source**. Everything else (r2l, u2r, anomalies) is a conversation between one
//! source and one destination service, and is grouped by all three. What varies
//! inside a group is summarised on the alert (`sources`, and `targets`/`ports` where
//! the group is keyed on the source) instead of opening another alert.

use super::{Category, Endpoint};

/// What a category's threats are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// Destination IP and service (or destination port when no service is known).
    Target,
    /// Source IP.
    Source,
    /// Source IP, destination IP and service (or port).
    Conversation,
}

impl Grouping {
    pub fn of(category: Category) -> Self {
        match category {
            Category::Dos => Self::Target,
            Category::Probe => Self::Source,
            Category::R2l | Category::U2r | Category::Anomaly => Self::Conversation,
        }
    }

    /// Whether the group is keyed on the source, so that its targets and ports vary
    /// and are worth summarising.
    pub fn summarises_targets(self) -> bool {
        !matches!(self, Self::Target)
    }

    /// The group key: the category, the sensor, and what the category groups by.
    pub fn key(
        self,
        category: Category,
        sensor: Option<&str>,
        source: Option<&Endpoint>,
        destination: Option<&Endpoint>,
        service: Option<&str>,
    ) -> String {
        let ip = |e: Option<&Endpoint>| {
            e.and_then(|e| e.ip)
                .map(|ip| ip.to_string())
                .unwrap_or_default()
        };
        let service = || match service {
            Some(service) => service.to_owned(),
            None => destination
                .and_then(|d| d.port)
                .map(|p| format!("port {p}"))
                .unwrap_or_default(),
        };
        let sensor = sensor.unwrap_or("");
        match self {
            Self::Target => format!("{category}|{sensor}|to|{}|{}", ip(destination), service()),
            Self::Source => format!("{category}|{sensor}|from|{}", ip(source)),
            Self::Conversation => format!(
                "{category}|{sensor}|{}|{}|{}",
                ip(source),
                ip(destination),
                service()
            ),
        }
    }
}
