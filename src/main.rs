//! vcms: the terminal console for the vcms cloud service.
//!
//! The full-screen console and the scripting CLI grow on top of this; today it checks a
//! server and prints its health.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "vcms",
    version,
    about = "Terminal console for the vcms VC cloud management service"
)]
struct Cli {
    /// Server address.
    #[arg(
        long,
        env = "VCMS_SERVER",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    server: String,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Check that the server answers.
    Health,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let client = vcms_server::client::Client::new(&cli.server);
    match cli.cmd.unwrap_or(Cmd::Health) {
        Cmd::Health => {
            let h = client.health().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "{} is {} (database {}, version {})",
                cli.server, h.status, h.database, h.version
            );
        }
    }
    Ok(())
}
