//! Where a request comes from when the server's own SSH console sends it: the console talks
//! to the HTTP API over this machine's loopback like any client, with a header that proves
//! the request comes from this process (a key derived from the secret key, never sent
//! elsewhere) and names the SSH client's address. The API then applies its per-address rules
//! (freezes, throttles, audit) to the SSH client, not to 127.0.0.1, and every audit entry
//! written while serving the request says it came over SSH.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;

use crate::service::AppState;

/// `X-Vcms-Ssh-Console: <client address> <proof>`.
pub const HEADER: &str = "x-vcms-ssh-console";

tokio::task_local! {
    static OVER_SSH: bool;
}

/// Run `f` as work done for a console served over SSH (see [`is_ssh`]).
pub async fn over_ssh<F: std::future::Future>(f: F) -> F::Output {
    OVER_SSH.scope(true, f).await
}

/// The work being done is for a console served over SSH.
pub fn is_ssh() -> bool {
    OVER_SSH.try_with(|v| *v).unwrap_or(false)
}

/// The proof this process's console sends (hex of a key derived from the secret key).
pub fn proof(app: &crate::service::App) -> String {
    hex::encode(app.secrets.derive_key("ssh-console-origin"))
}

/// The header's value for a console serving the SSH client at `ip`.
pub fn header_value(app: &crate::service::App, ip: IpAddr) -> String {
    format!("{ip} {}", proof(app))
}

/// Requests with a valid header are taken as the SSH client's own: its address replaces the
/// connection's, and they run [`over_ssh`]. The header is removed either way; a wrong one is
/// ignored (the request is the connection's own, like any other).
pub async fn console_origin(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(value) = req.headers_mut().remove(HEADER) else {
        return next.run(req).await;
    };
    let claimed = value.to_str().ok().and_then(|v| {
        let (ip, proof_given) = v.split_once(' ')?;
        let ok: bool = proof_given.as_bytes().ct_eq(proof(&app).as_bytes()).into();
        ok.then(|| ip.parse::<IpAddr>().ok()).flatten()
    });
    match claimed {
        Some(ip) => {
            req.extensions_mut()
                .insert(ConnectInfo(SocketAddr::new(ip, 0)));
            over_ssh(next.run(req)).await
        }
        None => {
            tracing::warn!("a request came with a wrong {HEADER} header: ignored");
            next.run(req).await
        }
    }
}
