//! `rampart serve`: the HTTP API on the embedded store, until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use prometheus_client::registry::Registry;
use rampart_ingest::{CardProtector, Ingestor};
use rampart_server::{AppState, ServerMetrics};
use rampart_store::{SqliteOptions, SqliteStore, StoreMetrics};

use super::Global;
use crate::config::Config;
use crate::datadir::DataDir;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on (overrides server.listen).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
}

pub fn run(global: &Global, args: Args) -> Result<()> {
    let mut config = global.config()?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    runtime.block_on(serve(config))
}

/// Opens the data directory and builds the state the API runs on.
pub fn open(config: &Config) -> Result<(Arc<SqliteStore>, AppState)> {
    let dir = DataDir::new(&config.data_dir);
    let key = dir.open_key()?;
    let store_metrics = StoreMetrics::default();
    let options = SqliteOptions {
        synchronous: config.synchronous,
        dedup_window: config.dedup_window,
        metrics: store_metrics.clone(),
        ..SqliteOptions::default()
    };
    let store = Arc::new(SqliteStore::open(&dir.db_path(), options)?);
    let metrics = ServerMetrics::default();
    let mut registry = Registry::default();
    metrics.register(&mut registry);
    store_metrics.register(&mut registry);
    let state = AppState {
        store: store.clone(),
        ingestor: Arc::new(Ingestor::new(config.ingest.clone(), CardProtector::new(&key))),
        limits: config.limits,
        metrics,
        registry: Arc::new(registry),
    };
    Ok((store, state))
}

async fn serve(config: Config) -> Result<()> {
    let (store, state) = open(&config)?;
    let listener = tokio::net::TcpListener::bind(config.listen).await.with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(address = %address, data_dir = %config.data_dir.display(), "Rampart is listening");
    eprintln!("Rampart API on http://{address} (data in {})", config.data_dir.display());
    let retention = rampart_server::spawn_retention(store.clone(), config.retention, Duration::from_secs(3600));
    rampart_server::serve(listener, state, shutdown_signal()).await.context("the server failed")?;
    retention.abort();
    // Requests in flight have finished; commit whatever is still queued, then stop.
    tokio::task::spawn_blocking(move || store.close()).await?;
    tracing::info!("Rampart stopped");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
    tracing::info!("shutting down: finishing requests in flight");
}
