//! What every function's `main` and the local server do once at start-up: read config,
//! build AWS clients and stores, resolve secrets.

use crate::{
    auth::{AuthState, BootstrapError, BootstrapOutcome, ensure_admin},
    aws::{self, StartupError},
    config::Config,
    domain::Password,
    http::Authenticator,
    store::Stores,
    token::TokenKeys,
};
use std::sync::Arc;

/// Everything a router needs, built once and shared by every request.
#[derive(Clone)]
pub struct Services {
    pub config: Config,
    pub aws: Option<aws_config::SdkConfig>,
    pub stores: Stores,
    pub tokens: Arc<TokenKeys>,
}

impl Services {
    pub async fn from_config(config: Config) -> Result<Self, StartupError> {
        let aws = aws::sdk_config(&config).await;
        let stores = Stores::from_config(&config.store, aws.as_ref());
        Self::with_stores(config, aws, stores).await
    }

    /// Like [`Services::from_config`] with stores built by the caller (tests).
    pub async fn with_stores(
        config: Config,
        aws: Option<aws_config::SdkConfig>,
        stores: Stores,
    ) -> Result<Self, StartupError> {
        crate::metrics::init(&config.metrics);
        let secret = aws::jwt_secret(&config.jwt.secret, aws.as_ref()).await?;
        let tokens = Arc::new(TokenKeys::new(
            &secret,
            &config.jwt.issuer,
            &config.jwt.audience,
            config.jwt.ttl,
        ));
        Ok(Self {
            config,
            aws,
            stores,
            tokens,
        })
    }

    pub fn authenticator(&self) -> Authenticator {
        Authenticator {
            tokens: self.tokens.clone(),
            users: self.stores.users.clone(),
        }
    }

    pub fn auth_state(&self) -> AuthState {
        AuthState {
            users: self.stores.users.clone(),
            tokens: self.tokens.clone(),
            live: self.stores.live.clone(),
        }
    }

    pub fn alerts_state(&self) -> crate::alerts::AlertsState {
        crate::alerts::AlertsState {
            alerts: self.stores.alerts.clone(),
            users: self.stores.users.clone(),
            authenticator: self.authenticator(),
            dedup_window: self.config.dedup_window,
        }
    }

    pub fn reports_state(&self) -> crate::reports::ReportsState {
        crate::reports::ReportsState {
            alerts: self.stores.alerts.clone(),
            authenticator: self.authenticator(),
        }
    }

    /// The predict router's state, around a detector loaded once by the caller.
    #[cfg(feature = "detect")]
    pub fn predict_state(
        &self,
        detector: Arc<crate::detect::Detector>,
    ) -> crate::detect::PredictState {
        crate::detect::PredictState {
            detector,
            alerts: self.stores.alerts.clone(),
            authenticator: self.authenticator(),
            dedup_window: self.config.dedup_window,
        }
    }

    /// The password configured for the first admin (`VIGIL_ADMIN_PASSWORD` or the
    /// Secrets Manager secret), if any.
    pub async fn configured_admin_password(&self) -> Result<Option<Password>, StartupError> {
        aws::bootstrap_password(self.config.bootstrap_admin.as_ref(), self.aws.as_ref()).await
    }

    /// Creates `admin` with `password` unless it exists.
    pub async fn ensure_admin(
        &self,
        password: Password,
    ) -> Result<BootstrapOutcome, BootstrapError> {
        ensure_admin(self.stores.users.as_ref(), password).await
    }
}
