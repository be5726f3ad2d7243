//! Floor 1: the domain. Every type here is parsed once at the edge and trusted inside.

mod alert;
mod alert_event;
mod alert_status;
mod campaign;
mod category;
mod endpoint;
mod field_error;
mod model;
mod password;
mod role;
mod severity;
pub mod sketch;
mod user;
mod username;
mod value_schemas;

pub use alert::{
    Alert, AlertId, HISTORY_KEPT, HISTORY_KEPT_BYTES, HistoryAction, HistoryEntry,
    InvalidTransition, Threat, new_alert_id,
};
pub use alert_event::AlertEvent;
pub use alert_status::AlertStatus;
pub use campaign::Grouping;
pub use category::Category;
pub use endpoint::Endpoint;
pub use field_error::FieldError;
pub use model::{Model, ModelRef};
pub use password::Password;
pub use role::Role;
pub use severity::Severity;
pub use sketch::ValueSummary;
pub use user::User;
pub use username::Username;
pub use value_schemas::{AlertIdText, IpAddress};

/// Why a value could not be parsed into a domain type. The HTTP edge adds the field name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}
