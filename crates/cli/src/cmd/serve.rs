//! `rampart serve`: the HTTP API on the embedded store, until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use prometheus_client::registry::Registry;
use rampart_detect::{CorrelationLimits, Detector};
use rampart_ingest::{CardProtector, Ingestor};
use rampart_server::AppState;
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
    let mut registry = Registry::default();
    store_metrics.register(&mut registry);
    let ingestor = Ingestor::new(config.ingest.clone(), CardProtector::new(&key)).with_client_ip(config.client_ip.clone());
    let detector = load_detector(config)?;
    let suppression = time::Duration::try_from(config.detect.suppression).context("detect.suppression is too long")?;
    let state = AppState::new(store.clone(), ingestor, config.formats.clone(), config.limits, registry)
        .with_detector(detector)
        .with_suppression(suppression);
    Ok((store, state))
}

/// Loads the rule set, logging each rule that was refused (the others run).
pub fn load_detector(config: &Config) -> Result<Arc<Detector>> {
    let limits = CorrelationLimits {
        max_keys: config.detect.max_correlation_groups,
        lateness_ms: i64::try_from(config.detect.lateness.as_millis()).unwrap_or(i64::MAX),
        ..CorrelationLimits::default()
    };
    let detector = Detector::load(config.rule_sources()).context("cannot load the detection rules")?.with_correlation_limits(limits);
    let rules = detector.rules();
    for error in &rules.errors {
        tracing::warn!(file = %error.file, line = ?error.line, rule = ?error.rule, reason = %error.kind, "rule refused");
    }
    let enabled = rules.rules.iter().filter(|r| !r.disabled).count();
    tracing::info!(rules = enabled, refused = rules.errors.len(), "detection rules loaded");
    Ok(Arc::new(detector))
}

/// Checks the rule sources every `interval` and swaps in the new set when something changed.
fn spawn_rule_reload(detector: Arc<Detector>, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let detector = detector.clone();
            match tokio::task::spawn_blocking(move || detector.reload_if_changed()).await {
                Ok(None) => {}
                Ok(Some(Ok(report))) => {
                    for error in &report.errors {
                        tracing::warn!(file = %error.file, line = ?error.line, rule = ?error.rule, reason = %error.kind, "rule refused");
                    }
                    for file in &report.kept {
                        tracing::warn!(file = %file, "the changed file has errors; its last good version stays loaded");
                    }
                    tracing::info!(rules = report.rules, refused = report.errors.len(), "detection rules reloaded");
                }
                Ok(Some(Err(error))) => tracing::error!(error = %error, "the field mapping is invalid; the current rules stay loaded"),
                Err(error) => tracing::error!(error = %error, "rule reload failed"),
            }
        }
    })
}

/// Every second, closes the correlation windows that are due and refreshes their gauges; every
/// `snapshot_interval`, saves them to the store.
pub fn spawn_correlation_upkeep(state: AppState, snapshot_interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_snapshot = tokio::time::Instant::now();
        loop {
            ticker.tick().await;
            let snapshot = last_snapshot.elapsed() >= snapshot_interval;
            if snapshot {
                last_snapshot = tokio::time::Instant::now();
            }
            let state = state.clone();
            let outcome = tokio::task::spawn_blocking(move || {
                rampart_server::correlation_upkeep(&state, time::OffsetDateTime::now_utc())?;
                if snapshot {
                    rampart_server::save_correlation_state(&state)?;
                }
                Ok::<_, rampart_store::StoreError>(())
            })
            .await;
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::error!(error = %error, "correlation upkeep failed; retrying next second"),
                Err(error) => tracing::error!(error = %error, "correlation upkeep failed"),
            }
        }
    })
}

async fn serve(config: Config) -> Result<()> {
    let (store, state) = open(&config)?;
    let restore_state = state.clone();
    tokio::task::spawn_blocking(move || rampart_server::restore_correlation_state(&restore_state))
        .await?
        .context("cannot read the saved correlation windows")?;
    let listener = tokio::net::TcpListener::bind(config.listen).await.with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(address = %address, data_dir = %config.data_dir.display(), "Rampart is listening");
    eprintln!("Rampart API on http://{address} (data in {})", config.data_dir.display());
    let retention = rampart_server::spawn_retention(store.clone(), config.retention, Duration::from_secs(3600));
    let reload = spawn_rule_reload(state.detector.clone(), config.detect.reload_interval);
    let upkeep = spawn_correlation_upkeep(state.clone(), config.detect.snapshot_interval);
    let syslog = if config.syslog.udp.is_some() || config.syslog.tcp.is_some() {
        let listeners = rampart_server::spawn_syslog(config.syslog.clone(), state.clone())
            .await
            .context("cannot open the syslog ports (set [syslog] udp/tcp, or \"\" to turn them off)")?;
        eprintln!("Syslog on udp {} tcp {}", show(listeners.udp), show(listeners.tcp));
        Some(listeners)
    } else {
        None
    };
    rampart_server::serve_with(listener, state.clone(), config.serve, shutdown_signal()).await.context("the server failed")?;
    retention.abort();
    reload.abort();
    upkeep.abort();
    // No more events come in: what the windows hold now is what a restart resumes from.
    match tokio::task::spawn_blocking(move || rampart_server::save_correlation_state(&state)).await? {
        Ok(bytes) => tracing::info!(bytes, "correlation windows saved"),
        Err(error) => tracing::error!(error = %error, "cannot save the correlation windows"),
    }
    if let Some(syslog) = syslog {
        syslog.abort();
    }
    // Requests in flight have finished; commit whatever is still queued, then stop.
    tokio::task::spawn_blocking(move || store.close()).await?;
    tracing::info!("Rampart stopped");
    Ok(())
}

fn show(address: Option<SocketAddr>) -> String {
    address.map_or_else(|| "off".to_owned(), |a| a.to_string())
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
