//! Threats as sensors report them, for store tests and benches: one call instead of
//! a dozen fields. Sensor `edge-1`, protocol tcp, score 0.9.

use chrono::{DateTime, Utc};
use std::net::IpAddr;
use vigil::domain::{Category, Endpoint, Severity, Threat};

/// A threat of `category` from `source` to `destination` (IP and port) and `service`.
pub fn threat(
    category: Category,
    severity: Severity,
    source: IpAddr,
    destination: (IpAddr, u16),
    service: &str,
    at: DateTime<Utc>,
) -> Threat {
    Threat {
        category,
        severity,
        score: Some(0.9),
        source: Some(Endpoint {
            ip: Some(source),
            port: None,
        }),
        destination: Some(Endpoint {
            ip: Some(destination.0),
            port: Some(destination.1),
        }),
        protocol: Some("tcp".into()),
        service: Some(service.into()),
        sensor: Some("edge-1".into()),
        summary: None,
        model: None,
        seen_at: at,
    }
}

/// The `i`th address counting up from `base` (e.g. `ip(0xc612_0000, i)` in
/// 198.18.0.0/15, the benchmarking range).
pub fn ip(base: u32, i: u32) -> IpAddr {
    std::net::Ipv4Addr::from(base + i).into()
}

/// A threat of `category` with no addresses (a dos on `http` from sensor `edge-1`,
/// score 0.97), for tests where only the alert's existence and severity matter.
pub fn sighting(category: Category, severity: Severity, at: DateTime<Utc>) -> Threat {
    Threat {
        category,
        severity,
        score: Some(0.97),
        source: None,
        destination: None,
        protocol: Some("tcp".into()),
        service: Some("http".into()),
        sensor: Some("edge-1".into()),
        summary: Some("synthetic".into()),
        model: None,
        seen_at: at,
    }
}
