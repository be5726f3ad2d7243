//! `live` Lambda: the routes of the WebSocket API (`$connect` with a ticket,
//! `subscribe` and any other message, `$disconnect`); see `vigil::live::gateway`.
//! The pushes themselves come from `notify`, which reads the connections this writes.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use vigil::{
    config::Config,
    live::gateway::{Gateway, GatewayEvent, GatewayResponse},
    store::Stores,
};

#[tokio::main]
async fn main() -> Result<(), Error> {
    vigil::telemetry::init();
    let config = Config::from_env()?;
    let aws = vigil::aws::sdk_config(&config).await;
    let stores = Stores::from_config(&config.store, aws.as_ref());
    let gateway = &Gateway {
        live: stores.live.as_ref(),
        users: stores.users.as_ref(),
    };
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<GatewayEvent>| async move {
            Ok::<GatewayResponse, Error>(gateway.handle(event.payload).await)
        },
    ))
    .await
}
