//! AWS clients and secrets, built once at start-up.

mod https;

pub use https::Https;

use crate::{
    config::{BootstrapAdmin, Config, JwtSecretSource, StoreConfig},
    domain::Password,
    token::JwtSecret,
};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("could not read secret {arn} from Secrets Manager")]
    Secret {
        arn: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("secret {arn} cannot be used")]
    BadSecret {
        arn: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A secret lives in Secrets Manager but no AWS configuration was built: a wiring
    /// mistake, refused at start rather than papered over.
    #[error("secret {arn} is in Secrets Manager, but no AWS configuration was loaded")]
    NoAws { arn: String },
}

/// The shared SDK configuration (region, credentials, `AWS_ENDPOINT_URL`), when any
/// part of the config needs AWS.
pub async fn sdk_config(config: &Config) -> Option<aws_config::SdkConfig> {
    let needs_aws = matches!(config.store, StoreConfig::DynamoDb(_))
        || matches!(config.jwt.secret, JwtSecretSource::SecretsManager(_))
        || matches!(
            config.bootstrap_admin,
            Some(BootstrapAdmin::SecretsManager(_))
        );
    if needs_aws {
        Some(load_sdk_config().await)
    } else {
        None
    }
}

/// The SDK configuration from the environment (region, credentials,
/// `AWS_ENDPOINT_URL`), with the HTTPS client of [`sdk_loader`].
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    sdk_loader().load().await
}

/// The SDK's configuration loader with the one HTTP client every Vigil process uses
/// ([`Https`]: HTTP/1.1, rustls on ring). The SDK crates are built without their
/// default client (which would bring AWS-LC), so this is the way to make one; tests
/// set more on it.
pub fn sdk_loader() -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(Https::new())
}

async fn read_secret(aws: &aws_config::SdkConfig, arn: &str) -> Result<String, StartupError> {
    let client = aws_sdk_secretsmanager::Client::new(aws);
    let out = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| StartupError::Secret {
            arn: arn.to_owned(),
            source: Box::new(e),
        })?;
    out.secret_string.ok_or_else(|| StartupError::BadSecret {
        arn: arn.to_owned(),
        source: Box::new(crate::domain::Invalid::new("it has no string value")),
    })
}

/// The JWT signing secret, wherever the config says it lives.
pub async fn jwt_secret(
    source: &JwtSecretSource,
    aws: Option<&aws_config::SdkConfig>,
) -> Result<JwtSecret, StartupError> {
    match (source, aws) {
        (JwtSecretSource::Value(secret), _) => Ok(secret.clone()),
        (JwtSecretSource::SecretsManager(arn), Some(aws)) => {
            let value = read_secret(aws, arn).await?;
            JwtSecret::new(value.into_bytes()).map_err(|e| StartupError::BadSecret {
                arn: arn.clone(),
                source: Box::new(e),
            })
        }
        (JwtSecretSource::SecretsManager(arn), None) => {
            Err(StartupError::NoAws { arn: arn.clone() })
        }
        // Said out loud by the config: tokens die with this process (local runs only;
        // in Lambda the config requires VIGIL_JWT_SECRET_ARN).
        (JwtSecretSource::RandomPerStart, _) => Ok(JwtSecret::random()),
    }
}

/// The first admin's password, if the config provides one.
pub async fn bootstrap_password(
    source: Option<&BootstrapAdmin>,
    aws: Option<&aws_config::SdkConfig>,
) -> Result<Option<Password>, StartupError> {
    match (source, aws) {
        (Some(BootstrapAdmin::Password(p)), _) => Ok(Some(p.clone())),
        (Some(BootstrapAdmin::SecretsManager(arn)), Some(aws)) => {
            let value = read_secret(aws, arn).await?;
            Password::parse_new(&value)
                .map(Some)
                .map_err(|e| StartupError::BadSecret {
                    arn: arn.clone(),
                    source: Box::new(e),
                })
        }
        (Some(BootstrapAdmin::SecretsManager(arn)), None) => {
            Err(StartupError::NoAws { arn: arn.clone() })
        }
        (None, _) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_secret_in_secrets_manager_without_aws_is_an_error_not_a_random_key() {
        let arn = "arn:aws:secretsmanager:us-east-1:1:secret:jwt".to_owned();
        let err = jwt_secret(&JwtSecretSource::SecretsManager(arn.clone()), None)
            .await
            .expect_err("refused");
        assert!(matches!(err, StartupError::NoAws { arn: a } if a == arn));
        let err = bootstrap_password(Some(&BootstrapAdmin::SecretsManager(arn)), None)
            .await
            .expect_err("refused");
        assert!(matches!(err, StartupError::NoAws { .. }));
        assert!(
            jwt_secret(&JwtSecretSource::RandomPerStart, None)
                .await
                .is_ok()
        );
    }
}
