//! `clawchat-emulator`: run a local ClawChat server until Ctrl-C.

use clap::Parser;
use clawchat_emulator::{start, Config};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let config = Config::parse();
    let running = match start(config).await {
        Ok(running) => running,
        Err(err) => {
            eprintln!("clawchat-emulator: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!(
        "ClawChat emulator ready: {}  (admin {})",
        running.base_url(),
        running.admin_url()
    );
    let _ = tokio::signal::ctrl_c().await;
    running.stop().await;
    std::process::ExitCode::SUCCESS
}
