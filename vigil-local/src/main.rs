//! `vigil-local`: every Vigil route on one port, through the same routers the Lambda
//! functions serve. Embedded store by default; `VIGIL_STORE=dynamodb` for DynamoDB at
//! the standard AWS endpoint settings (add `--init` to create missing tables).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use vigil::{auth::BootstrapOutcome, config::Config, startup::Services};

const USAGE: &str = "usage: vigil-local [--port PORT] [--host ADDR] [--init]

  --port PORT  port to listen on (default: $VIGIL_PORT or 3000)
  --host ADDR  address to bind (default: 127.0.0.1)
  --init       with VIGIL_STORE=dynamodb: create missing tables first";

struct Args {
    addr: SocketAddr,
    init: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut port: u16 = match std::env::var("VIGIL_PORT") {
        Ok(p) => p
            .parse()
            .map_err(|_| format!("VIGIL_PORT: not a port: {p:?}"))?,
        Err(_) => 3000,
    };
    let mut host = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut init = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                let v = args.next().ok_or("--port needs a value")?;
                port = v
                    .parse()
                    .map_err(|_| format!("--port: not a port: {v:?}"))?;
            }
            "--host" => {
                let v = args.next().ok_or("--host needs a value")?;
                host = v
                    .parse()
                    .map_err(|_| format!("--host: not an IP address: {v:?}"))?;
            }
            "--init" => init = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
        }
    }
    Ok(Args {
        addr: SocketAddr::new(host, port),
        init,
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    vigil::telemetry::init();
    let config = Config::from_env()?;
    let aws = vigil::aws::sdk_config(&config).await;
    let (stores, changes) = vigil_local::stores(&config, aws.as_ref());
    let services = Services::with_stores(config, aws, stores).await?;
    let mut topic_arn = services.config.notify.topic_arn.clone();
    if args.init
        && let Some(created) = vigil_local::init_resources(&services).await?
    {
        topic_arn.get_or_insert(created);
    }
    let live = vigil_local::live_feed();
    vigil_local::start_notifications(&services, changes, topic_arn, live.clone()).await;

    // The first admin: the configured password, or one generated and shown once.
    let (password, generated) = match services.configured_admin_password().await? {
        Some(p) => (p, false),
        None => (vigil::auth::generate_password(), true),
    };
    let shown = password.expose().to_owned();
    if services.ensure_admin(password).await? == BootstrapOutcome::Created && generated {
        // Printed to the terminal, not logged: logs must never hold secrets.
        println!(
            "\n  First admin created. Log in with:\n    username: admin\n    password: {shown}\n"
        );
    }

    let detector = std::sync::Arc::new(
        vigil::detect::Detector::bundled()?.with_profile(services.config.detection_profile),
    );
    let app = vigil_local::app(&services, detector, &live);
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "vigil-local listening");
    let addr = listener.local_addr()?;
    println!("Vigil is listening on http://{addr} (live console: http://{addr}/console)");
    // With the peer address: login attempts are counted per source.
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
