//! AWS clients and secrets, built once at start-up.

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
    #[error("secret {arn}: {message}")]
    BadSecret { arn: String, message: String },
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
        Some(aws_config::load_from_env().await)
    } else {
        None
    }
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
        message: "has no string value".into(),
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
            JwtSecret::new(value.into_bytes()).map_err(|message| StartupError::BadSecret {
                arn: arn.clone(),
                message,
            })
        }
        _ => Ok(JwtSecret::random()),
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
                    message: e.to_string(),
                })
        }
        _ => Ok(None),
    }
}
