//! Floor 1: the domain. Every type here is parsed once at the edge and trusted inside.

/// An enum whose values travel as words (API, store, metrics): `ALL`, `as_str`,
/// `FromStr` (naming every word when a value is none of them) and `Display`, from one
/// list. The enum's serde names must be the same words (its `rename_all`); the test
/// `every_word_is_its_serde_name` below holds them to it.
macro_rules! words {
    ($ty:ident { $($variant:ident => $word:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: [$ty; [$($word),+].len()] = [$($ty::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $word,)+
                }
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $crate::domain::Invalid;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($word => Ok($ty::$variant),)+
                    _ => Err($crate::domain::Invalid::new(words!(@one_of $($word),+))),
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
    (@one_of $first:literal $(, $rest:literal)*) => {
        concat!("must be one of ", $first $(, ", ", $rest)*)
    };
}

mod alert;
mod alert_event;
mod alert_status;
mod alert_view;
mod attack;
mod campaign;
mod category;
mod endpoint;
mod evidence;
mod field_error;
mod model;
mod nsl_kdd;
mod password;
mod profile;
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
pub use alert_view::AlertView;
pub use attack::{Attack, AttackEntry, attack_ids};
pub use campaign::Grouping;
pub use category::Category;
pub use endpoint::Endpoint;
pub use evidence::{Contribution, Evidence, FeatureValue, SIGHTING_MAX_BYTES, Sighting};
pub use field_error::FieldError;
pub use model::{Model, ModelRef};
pub use nsl_kdd::{FEATURES, FeatureKind};
pub use password::Password;
pub use profile::Profile;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn serde_name<T: serde::Serialize>(value: T) -> String {
        serde_json::to_value(value)
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn every_word_is_its_serde_name() {
        for v in Category::ALL {
            assert_eq!(serde_name(v), v.as_str());
            assert_eq!(v.as_str().parse::<Category>(), Ok(v));
        }
        for v in Severity::ALL {
            assert_eq!(serde_name(v), v.as_str());
        }
        for v in Role::ALL {
            assert_eq!(serde_name(v), v.as_str());
        }
        for v in AlertStatus::ALL {
            assert_eq!(serde_name(v), v.as_str());
        }
        for v in AlertEvent::ALL {
            assert_eq!(serde_name(v), v.as_str());
        }
        for v in Profile::ALL {
            assert_eq!(serde_name(v), v.as_str());
        }
        assert_eq!(
            "x".parse::<Severity>().unwrap_err().to_string(),
            "must be one of low, medium, high, critical"
        );
    }
}
