use super::{PasswordError, hash_password};
use crate::{
    domain::{Password, Role, User, Username},
    store::{StoreError, UserStore},
};

/// Why the first admin could not be made sure of; start-up stops on it.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("could not read or create the first admin")]
    Store(#[from] StoreError),
    #[error("could not hash the first admin's password")]
    Password(#[from] PasswordError),
}

#[derive(Debug, PartialEq, Eq)]
pub enum BootstrapOutcome {
    Created,
    AlreadyPresent,
}

/// Creates the user `admin` with `password` unless a user of that name exists.
/// Safe to run at every start: the create is conditional, so concurrent cold starts
/// cannot overwrite each other or a password changed later.
pub async fn ensure_admin(
    users: &dyn UserStore,
    password: Password,
) -> Result<BootstrapOutcome, BootstrapError> {
    let username = Username::parse("admin").expect("a valid name");
    if users.get(&username).await?.is_some() {
        return Ok(BootstrapOutcome::AlreadyPresent);
    }
    let now = chrono::Utc::now();
    let user = User::new(username, Role::Admin, hash_password(password).await?, now);
    match users.create(&user).await {
        Ok(()) => Ok(BootstrapOutcome::Created),
        Err(StoreError::AlreadyExists) => Ok(BootstrapOutcome::AlreadyPresent),
        Err(e) => Err(e.into()),
    }
}
