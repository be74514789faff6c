//! What every abis server binary (`abis-shard-node`, `abis-coordinator`) does the same way, so
//! each binary's `main` is its configuration and its server, nothing else:
//! - [`main_with`]: logs to stderr (`RUST_LOG` filters, default `info`; colours only on a
//!   terminal), builds the configuration, runs the server on a multi-threaded tokio runtime and
//!   turns the outcome into the exit status every abis server uses: 0 after a graceful shutdown,
//!   2 for a bad configuration, 1 when the server cannot start or fails.
//! - [`listen`]: binds the listening socket and announces the bound address on stdout (the only
//!   thing servers print there, so scripts and tests can find a port chosen with `:0`).
//! - [`shutdown_signal`]: waits for SIGTERM or SIGINT.
//! - [`pki`]: a CA made on the spot, for TLS hops set up by one program; [`tls`]: PEM material
//!   and the tonic TLS configurations every server and client here builds from it.
//! - [`process`]: starting a server binary as a child and waiting for its announcement.
//! - [`metrics`]: per-RPC Prometheus metrics and the `GET /metrics` endpoint.
//! - [`audit`]: the append-only, hash-chained audit log both API servers write, and its check.
//! - [`errors`]: a layer giving errors tonic answers by itself (oversized requests) a typed
//!   detail.
//! - [`Launch`]: the same server run as its own process (the above) or inside another
//!   program (`abis serve` runs a shard node and a coordinator in one process): quiet binding
//!   whose address goes back to the caller, and a stop the caller triggers.

pub mod audit;
pub mod errors;
pub mod metrics;
pub mod pki;
pub mod process;
pub mod tls;

use anyhow::Context;
use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::ExitCode;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{oneshot, watch};
use tracing_subscriber::EnvFilter;

/// Runs a server binary named `name`: `config` parses its flags and files, `run` serves until a
/// graceful shutdown. Returns the process exit status (see the crate docs).
pub fn main_with<C, F, Fut>(
    name: &str,
    config: impl FnOnce() -> anyhow::Result<C>,
    run: F,
) -> ExitCode
where
    F: FnOnce(C) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let config = match config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{name}: {e:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{name}: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("{name}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Binds `addr` and prints `<what> <bound address>` on stdout (a closed stdout is ignored: it
/// must not stop a server).
pub async fn listen(addr: SocketAddr, what: &str) -> anyhow::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let bound = listener.local_addr()?;
    announce(what, bound);
    Ok((listener, bound))
}

/// Prints `<what> <addr>` on stdout and flushes it, ignoring a closed stdout.
pub fn announce(what: &str, addr: SocketAddr) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{what} {addr}");
    let _ = out.flush();
}

/// Resolves with the name of the first SIGTERM or SIGINT received. The handlers are installed
/// when this is called, so call it before serving.
pub fn shutdown_signal() -> anyhow::Result<impl Future<Output = &'static str>> {
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        }
    })
}

/// How a server is started and stopped.
pub enum Launch {
    /// As its own process: [`listen`] announces the address on stdout, SIGTERM or SIGINT stop it.
    Process,
    /// Inside another program: the bound address is sent on `bound` (nothing is printed), and
    /// the server stops when `stop` turns true (or its sender is dropped).
    Embedded {
        /// Receives the bound address.
        bound: Option<oneshot::Sender<SocketAddr>>,
        /// The stop trigger.
        stop: watch::Receiver<bool>,
    },
}

/// A future naming why a server stops.
pub type StopFuture = Pin<Box<dyn Future<Output = &'static str> + Send>>;

impl Launch {
    /// Sets up the stop (signal handlers for a process: call before announcing) and returns the
    /// future that resolves when the server must stop.
    pub fn stopper(&self) -> anyhow::Result<StopFuture> {
        match self {
            Self::Process => Ok(Box::pin(shutdown_signal()?)),
            Self::Embedded { stop, .. } => {
                let mut stop = stop.clone();
                Ok(Box::pin(async move {
                    // An error means the sender is gone: stop as well.
                    let _ = stop.wait_for(|s| *s).await;
                    "stop requested"
                }))
            }
        }
    }

    /// Binds the server's main listener: announced as `<what> <addr>` for a process, sent back
    /// to the caller when embedded.
    pub async fn listen(
        &mut self,
        addr: SocketAddr,
        what: &str,
    ) -> anyhow::Result<(TcpListener, SocketAddr)> {
        match self {
            Self::Process => listen(addr, what).await,
            Self::Embedded { bound, .. } => {
                let listener = TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr}"))?;
                let addr = listener.local_addr()?;
                if let Some(tx) = bound.take() {
                    let _ = tx.send(addr);
                }
                Ok((listener, addr))
            }
        }
    }
}
