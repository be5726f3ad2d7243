//! Typed configuration, read once from the environment at start-up.
//!
//! Vigil's own settings are `VIGIL_*`; AWS endpoints, region and credentials come
//! from the standard AWS variables (`AWS_REGION`, `AWS_ENDPOINT_URL`, ...), which the
//! SDK reads itself. A bad value stops the process at start with a message that names
//! the variable, instead of failing on the first request.

use crate::token::JwtSecret;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var}: {message}")]
    Invalid { var: &'static str, message: String },
    #[error("{var} must be set when running in AWS Lambda")]
    Missing { var: &'static str },
}

/// Where users and alerts live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// In-process maps: for local runs and fast tests. Nothing survives a restart.
    Embedded,
    /// DynamoDB at the standard AWS endpoint settings (moto, DynamoDB Local or AWS).
    DynamoDb(TableNames),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    pub users: String,
    pub alerts: String,
    /// WebSocket tickets and connections (`VIGIL_CONNECTIONS_TABLE`).
    pub connections: String,
}

/// Where the HS256 signing secret comes from.
#[derive(Debug, Clone)]
pub enum JwtSecretSource {
    /// `VIGIL_JWT_SECRET` itself (at least 32 bytes).
    Value(JwtSecret),
    /// `VIGIL_JWT_SECRET_ARN`: read from Secrets Manager once at start (the AWS way).
    SecretsManager(String),
    /// Neither set, outside Lambda: a random secret per start, so tokens die with it.
    RandomPerStart,
}

#[derive(Debug, Clone)]
pub struct JwtConfig {
    pub secret: JwtSecretSource,
    pub issuer: String,
    pub audience: String,
    pub ttl: Duration,
}

/// How the first admin gets its password.
#[derive(Debug, Clone)]
pub enum BootstrapAdmin {
    /// `VIGIL_ADMIN_PASSWORD` (local runs).
    Password(crate::domain::Password),
    /// `VIGIL_ADMIN_SECRET_ARN`: a password the stack generated in Secrets Manager.
    SecretsManager(String),
}

#[derive(Debug, Clone)]
pub struct Config {
    pub store: StoreConfig,
    pub jwt: JwtConfig,
    pub bootstrap_admin: Option<BootstrapAdmin>,
    /// Repeats of a threat within this time of its alert's last sighting aggregate into
    /// that alert (`VIGIL_DEDUP_WINDOW_SECONDS`, default 3600).
    pub dedup_window: Duration,
    /// The operating point predict decides at (`VIGIL_DETECTION_PROFILE`: strict,
    /// balanced or sensitive; default balanced).
    pub detection_profile: crate::domain::Profile,
    /// Business metrics (`VIGIL_METRICS`, `VIGIL_STAGE`).
    pub metrics: MetricsConfig,
    /// Where alert events go (the notify function, and vigil-local).
    pub notify: NotifyConfig,
    /// Browser origins allowed to call the API (`VIGIL_CORS_ORIGINS`, comma-separated).
    /// vigil-local applies them; in AWS the HttpApi's CORS configuration does.
    pub cors_origins: CorsOrigins,
}

/// A `VIGIL_CORS_ORIGINS` item that is not an origin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not an origin like https://app.example.com: scheme://host[:port], without a path (or * alone)"
)]
pub struct NotAnOrigin(pub String);

/// Where the process runs. Lambda sets `AWS_LAMBDA_FUNCTION_NAME` in every function;
/// this is the one place that reads it (config defaults, log format, metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    Lambda,
    Local,
}

impl Runtime {
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        match get("AWS_LAMBDA_FUNCTION_NAME") {
            Some(_) => Runtime::Lambda,
            None => Runtime::Local,
        }
    }

    /// This process's.
    pub fn current() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }
}

/// Business metrics as CloudWatch embedded-metric-format lines on stdout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// `VIGIL_METRICS`: `emf` or `off`; by default on in Lambda, off locally.
    pub enabled: bool,
    /// `VIGIL_STAGE`: the `Stage` dimension of every metric, when set.
    pub stage: Option<String>,
}

/// Where alert events are delivered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifyConfig {
    /// `VIGIL_TOPIC_ARN`: the SNS topic (required by notify; vigil-local logs without).
    pub topic_arn: Option<String>,
    /// `VIGIL_RETRY_QUEUE_URL`: the SQS FIFO queue that holds what SNS refused.
    pub retry_queue_url: Option<String>,
    /// `VIGIL_WS_ENDPOINT`: the WebSocket API's stage URL, to push events live.
    pub ws_endpoint: Option<String>,
}

/// The origins a browser may call Vigil from: a list of `scheme://host[:port]`, or
/// `*` for any. Credentials are never allowed (the API uses bearer tokens, not
/// cookies), so `*` cannot expose anything a cookie would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    Any,
    List(Vec<String>),
}

impl CorsOrigins {
    /// The origins a frontend dev server usually runs on (Vite's default port).
    pub const LOCAL_DEFAULT: &str = "http://localhost:5173,http://127.0.0.1:5173";

    pub fn parse(raw: &str) -> Result<Self, NotAnOrigin> {
        let items: Vec<&str> = raw
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if items == ["*"] {
            return Ok(Self::Any);
        }
        let mut origins = Vec::with_capacity(items.len());
        for item in items {
            let rest = item
                .strip_prefix("https://")
                .or_else(|| item.strip_prefix("http://"))
                .ok_or_else(|| NotAnOrigin(item.to_owned()))?;
            if rest.is_empty() || rest.contains(['/', '?', '#', ' ', '*']) {
                return Err(NotAnOrigin(item.to_owned()));
            }
            origins.push(item.to_ascii_lowercase());
        }
        Ok(Self::List(origins))
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Reads any key/value source: tests pass a map instead of mutating the environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let in_lambda = Runtime::from_lookup(&get) == Runtime::Lambda;
        let tables = || TableNames {
            users: get("VIGIL_USERS_TABLE").unwrap_or_else(|| "vigil-users".into()),
            alerts: get("VIGIL_ALERTS_TABLE").unwrap_or_else(|| "vigil-alerts".into()),
            connections: get("VIGIL_CONNECTIONS_TABLE")
                .unwrap_or_else(|| "vigil-connections".into()),
        };
        let store = match get("VIGIL_STORE").as_deref() {
            Some("dynamodb") => StoreConfig::DynamoDb(tables()),
            Some("embedded") if in_lambda => {
                return Err(ConfigError::Invalid {
                    var: "VIGIL_STORE",
                    message: "the embedded store cannot be used in Lambda (each instance would have its own data)".into(),
                });
            }
            Some("embedded") => StoreConfig::Embedded,
            None if in_lambda => StoreConfig::DynamoDb(tables()),
            None => StoreConfig::Embedded,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    var: "VIGIL_STORE",
                    message: format!("must be 'embedded' or 'dynamodb', not {other:?}"),
                });
            }
        };

        let secret = match (get("VIGIL_JWT_SECRET"), get("VIGIL_JWT_SECRET_ARN")) {
            (Some(value), _) => {
                JwtSecretSource::Value(JwtSecret::new(value.into_bytes()).map_err(|e| {
                    ConfigError::Invalid {
                        var: "VIGIL_JWT_SECRET",
                        message: e.to_string(),
                    }
                })?)
            }
            (None, Some(arn)) => JwtSecretSource::SecretsManager(arn),
            (None, None) if in_lambda => {
                return Err(ConfigError::Missing {
                    var: "VIGIL_JWT_SECRET_ARN",
                });
            }
            (None, None) => JwtSecretSource::RandomPerStart,
        };
        let ttl_seconds = match get("VIGIL_JWT_TTL_SECONDS") {
            None => 3600,
            Some(raw) => raw
                .parse::<u64>()
                .ok()
                .filter(|s| (60..=86_400).contains(s))
                .ok_or(ConfigError::Invalid {
                    var: "VIGIL_JWT_TTL_SECONDS",
                    message: format!(
                        "must be a whole number of seconds from 60 to 86400, not {raw:?}"
                    ),
                })?,
        };
        let jwt = JwtConfig {
            secret,
            issuer: get("VIGIL_JWT_ISSUER").unwrap_or_else(|| "vigil".into()),
            audience: get("VIGIL_JWT_AUDIENCE").unwrap_or_else(|| "vigil-api".into()),
            ttl: Duration::from_secs(ttl_seconds),
        };

        let bootstrap_admin = match (get("VIGIL_ADMIN_PASSWORD"), get("VIGIL_ADMIN_SECRET_ARN")) {
            (Some(raw), _) => Some(BootstrapAdmin::Password(
                crate::domain::Password::parse_new(&raw).map_err(|e| ConfigError::Invalid {
                    var: "VIGIL_ADMIN_PASSWORD",
                    message: e.to_string(),
                })?,
            )),
            (None, Some(arn)) => Some(BootstrapAdmin::SecretsManager(arn)),
            (None, None) => None,
        };

        let dedup_window = match get("VIGIL_DEDUP_WINDOW_SECONDS") {
            None => Duration::from_secs(3600),
            Some(raw) => raw
                .parse::<u64>()
                .ok()
                .filter(|s| (1..=7 * 86_400).contains(s))
                .map(Duration::from_secs)
                .ok_or(ConfigError::Invalid {
                    var: "VIGIL_DEDUP_WINDOW_SECONDS",
                    message: format!(
                        "must be a whole number of seconds from 1 to 604800, not {raw:?}"
                    ),
                })?,
        };

        let detection_profile =
            match get("VIGIL_DETECTION_PROFILE") {
                None => crate::domain::Profile::default(),
                Some(raw) => raw.trim().parse().map_err(|e: crate::domain::Invalid| {
                    ConfigError::Invalid {
                        var: "VIGIL_DETECTION_PROFILE",
                        message: format!("{e}, not {raw:?}"),
                    }
                })?,
            };

        let cors_origins = CorsOrigins::parse(
            get("VIGIL_CORS_ORIGINS")
                .as_deref()
                .unwrap_or(CorsOrigins::LOCAL_DEFAULT),
        )
        .map_err(|e| ConfigError::Invalid {
            var: "VIGIL_CORS_ORIGINS",
            message: e.to_string(),
        })?;

        let metrics = MetricsConfig {
            enabled: match get("VIGIL_METRICS").as_deref() {
                Some("emf") => true,
                Some("off") => false,
                None => in_lambda,
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        var: "VIGIL_METRICS",
                        message: format!("must be 'emf' or 'off', not {other:?}"),
                    });
                }
            },
            stage: get("VIGIL_STAGE")
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty()),
        };

        let notify = NotifyConfig {
            topic_arn: get("VIGIL_TOPIC_ARN"),
            retry_queue_url: get("VIGIL_RETRY_QUEUE_URL"),
            ws_endpoint: get("VIGIL_WS_ENDPOINT"),
        };

        Ok(Self {
            store,
            jwt,
            bootstrap_admin,
            dedup_window,
            detection_profile,
            metrics,
            notify,
            cors_origins,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn local_defaults_need_no_variables() {
        let c = config(&[]).unwrap();
        assert_eq!(c.store, StoreConfig::Embedded);
        assert!(matches!(c.jwt.secret, JwtSecretSource::RandomPerStart));
        assert_eq!(c.jwt.ttl, Duration::from_secs(3600));
    }

    #[test]
    fn metrics_are_on_in_lambda_unless_turned_off_and_a_bad_setting_stops_start() {
        let lambda = [
            ("AWS_LAMBDA_FUNCTION_NAME", "vigil-dev-predict"),
            ("VIGIL_JWT_SECRET_ARN", "arn:aws:secretsmanager:x"),
        ];
        assert!(config(&lambda).unwrap().metrics.enabled);
        assert!(!config(&[]).unwrap().metrics.enabled);
        let off = [
            lambda[0],
            lambda[1],
            ("VIGIL_METRICS", "off"),
            ("VIGIL_STAGE", " dev "),
        ];
        let c = config(&off).unwrap();
        assert!(!c.metrics.enabled);
        assert_eq!(c.metrics.stage.as_deref(), Some("dev"));
        let err = config(&[("VIGIL_METRICS", "yes")]).unwrap_err();
        assert!(err.to_string().starts_with("VIGIL_METRICS:"), "{err}");
        assert_eq!(Runtime::from_lookup(|_| None), Runtime::Local);
    }

    #[test]
    fn the_detection_profile_defaults_to_balanced_and_a_bad_one_stops_start() {
        use crate::domain::Profile;
        assert_eq!(config(&[]).unwrap().detection_profile, Profile::Balanced);
        let strict = config(&[("VIGIL_DETECTION_PROFILE", "strict")]).unwrap();
        assert_eq!(strict.detection_profile, Profile::Strict);
        let err = config(&[("VIGIL_DETECTION_PROFILE", "paranoid")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "VIGIL_DETECTION_PROFILE: must be one of strict, balanced, sensitive, not \"paranoid\""
        );
    }

    #[test]
    fn cors_origins_are_a_list_of_origins_or_any() {
        assert_eq!(
            config(&[]).unwrap().cors_origins,
            CorsOrigins::List(vec![
                "http://localhost:5173".into(),
                "http://127.0.0.1:5173".into()
            ])
        );
        let c = config(&[(
            "VIGIL_CORS_ORIGINS",
            "https://soc.example.com, http://localhost:8080",
        )]);
        assert_eq!(
            c.unwrap().cors_origins,
            CorsOrigins::List(vec![
                "https://soc.example.com".into(),
                "http://localhost:8080".into()
            ])
        );
        assert_eq!(
            config(&[("VIGIL_CORS_ORIGINS", "*")]).unwrap().cors_origins,
            CorsOrigins::Any
        );
        for bad in [
            "soc.example.com",
            "https://soc.example.com/app",
            "https://*.example.com",
        ] {
            let err = config(&[("VIGIL_CORS_ORIGINS", bad)]).unwrap_err();
            assert!(
                err.to_string().contains("VIGIL_CORS_ORIGINS"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn lambda_requires_a_secret_and_uses_dynamodb() {
        let err = config(&[("AWS_LAMBDA_FUNCTION_NAME", "auth")]).unwrap_err();
        assert!(err.to_string().contains("VIGIL_JWT_SECRET_ARN"));
        let c = config(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "auth"),
            ("VIGIL_JWT_SECRET_ARN", "arn:aws:secretsmanager:x"),
            ("VIGIL_USERS_TABLE", "u"),
        ])
        .unwrap();
        assert!(
            matches!(c.store, StoreConfig::DynamoDb(TableNames { ref users, .. }) if users == "u")
        );
    }

    #[test]
    fn short_secrets_and_bad_values_fail_fast_naming_the_variable() {
        let err = config(&[("VIGIL_JWT_SECRET", "too-short")]).unwrap_err();
        assert!(err.to_string().starts_with("VIGIL_JWT_SECRET:"));
        let err = config(&[("VIGIL_STORE", "postgres")]).unwrap_err();
        assert!(err.to_string().starts_with("VIGIL_STORE:"));
        let err = config(&[("VIGIL_JWT_TTL_SECONDS", "forever")]).unwrap_err();
        assert!(err.to_string().starts_with("VIGIL_JWT_TTL_SECONDS:"));
    }
}
