//! Syslog listeners (UDP and TCP, RFC 5424 and RFC 3164) feeding access-log lines and JSON
//! events into the store.
//!
//! Messages flow into one bounded queue that a writer drains in batches. When the store lags,
//! the queue fills: TCP readers then wait, so the senders' TCP windows close (push-back), while
//! UDP datagrams that find the queue full are dropped and counted in `/metrics`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rampart_ingest::{ErrorCode, FrameDecoder, LineFormat, RecordError, RejectSample, SyslogMessage, parse_syslog};
use rampart_model::Event;
use time::OffsetDateTime;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::detection::{Stored, store_and_detect};

/// Events a writer commits at once, and the longest it waits to fill a batch.
const BATCH_EVENTS: usize = 1000;
const BATCH_WAIT: Duration = Duration::from_millis(20);
/// Events waiting for the writer; beyond this TCP pushes back and UDP drops.
const QUEUE_EVENTS: usize = 8192;

/// `[syslog]` in `rampart.toml`, checked.
#[derive(Debug, Clone)]
pub struct SyslogConfig {
    /// UDP address, or none.
    pub udp: Option<SocketAddr>,
    /// TCP address, or none.
    pub tcp: Option<SocketAddr>,
    /// What messages carry: a format name, or `None` to detect each message's kind.
    pub format: Option<LineFormat>,
    /// The longest message accepted.
    pub max_message_bytes: usize,
}

/// The running listeners.
#[derive(Debug)]
pub struct SyslogListeners {
    /// Where UDP is bound (port 0 in the config picks one).
    pub udp: Option<SocketAddr>,
    /// Where TCP is bound.
    pub tcp: Option<SocketAddr>,
    /// Refused messages, counted, with the first few reasons.
    pub rejects: Arc<Mutex<RejectSample>>,
    tasks: Vec<JoinHandle<()>>,
}

impl SyslogListeners {
    /// Stops listening. Events already queued are still written.
    pub fn abort(&self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Binds the configured sockets and starts the listeners and their writer.
pub async fn spawn_syslog(config: SyslogConfig, state: AppState) -> std::io::Result<SyslogListeners> {
    let (sender, receiver) = mpsc::channel::<Event>(QUEUE_EVENTS);
    let rejects = Arc::new(Mutex::new(RejectSample::default()));
    let reader = Reader { state: state.clone(), format: config.format, max: config.max_message_bytes, rejects: rejects.clone() };
    let mut listeners = SyslogListeners { udp: None, tcp: None, rejects, tasks: Vec::new() };
    if let Some(address) = config.udp {
        let socket = UdpSocket::bind(address).await?;
        listeners.udp = Some(socket.local_addr()?);
        listeners.tasks.push(tokio::spawn(run_udp(socket, reader.clone(), sender.clone())));
    }
    if let Some(address) = config.tcp {
        let listener = TcpListener::bind(address).await?;
        listeners.tcp = Some(listener.local_addr()?);
        listeners.tasks.push(tokio::spawn(run_tcp(listener, reader.clone(), sender.clone())));
    }
    drop(sender);
    tokio::spawn(write_batches(receiver, state));
    tracing::info!(udp = ?listeners.udp, tcp = ?listeners.tcp, "syslog listening");
    Ok(listeners)
}

/// Turns frames into events; shared by the UDP and TCP tasks.
#[derive(Clone)]
struct Reader {
    state: AppState,
    format: Option<LineFormat>,
    max: usize,
    rejects: Arc<Mutex<RejectSample>>,
}

impl Reader {
    fn event(&self, frame: &[u8], number: usize) -> Option<Event> {
        let now = OffsetDateTime::now_utc();
        let result = parse_syslog(frame, now)
            .map_err(|error| RecordError { line: number, code: ErrorCode::InvalidLine, message: format!("syslog: {error}") })
            .and_then(|message| self.message_event(&message, number, now));
        result.map_err(|error| self.reject(error)).ok()
    }

    /// Counts a refused message; the first few are logged with their reason (never content).
    fn reject(&self, error: RecordError) {
        self.state.metrics.count_events("syslog", "rejected", 1);
        if let Ok(mut rejects) = self.rejects.lock() {
            if rejects.samples.len() < RejectSample::KEEP {
                tracing::warn!(code = %error.code, reason = %error.message, "syslog message refused");
            }
            rejects.add(error);
        }
    }

    fn message_event(&self, message: &SyslogMessage<'_>, number: usize, now: OffsetDateTime) -> Result<Event, RecordError> {
        let detected;
        let format = match &self.format {
            Some(format) => format,
            None => {
                detected = self.state.formats.detect_line(message.message).ok_or_else(|| RecordError {
                    line: number,
                    code: ErrorCode::InvalidLine,
                    message: "the message is neither JSON nor an access-log line of a known format".into(),
                })?;
                &detected
            }
        };
        // The header fields are masked for card numbers as the body is.
        self.state.ingestor.ingest_syslog(format, message, number, now)
    }
}

async fn run_udp(socket: UdpSocket, reader: Reader, sender: mpsc::Sender<Event>) {
    let mut buffer = vec![0u8; 65_536];
    let mut number = 0;
    loop {
        let Ok((len, _peer)) = socket.recv_from(&mut buffer).await else { continue };
        number += 1;
        let datagram = &buffer[..len];
        if len > reader.max {
            reader.state.metrics.count_events("syslog", "rejected", 1);
            continue;
        }
        let Some(event) = reader.event(datagram, number) else { continue };
        if sender.try_send(event).is_err() {
            // UDP cannot push back: the datagram is lost, and counted.
            reader.state.metrics.syslog_udp_dropped.inc();
        }
    }
}

async fn run_tcp(listener: TcpListener, reader: Reader, sender: mpsc::Sender<Event>) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else { continue };
        let (reader, sender) = (reader.clone(), sender.clone());
        tokio::spawn(async move {
            if let Err(error) = read_stream(stream, &reader, &sender).await {
                tracing::debug!(peer = %peer, error = %error, "syslog connection ended");
            }
        });
    }
}

async fn read_stream(mut stream: tokio::net::TcpStream, reader: &Reader, sender: &mpsc::Sender<Event>) -> std::io::Result<()> {
    let mut decoder = FrameDecoder::new(reader.max);
    let mut buffer = vec![0u8; 64 * 1024];
    let mut number = 0;
    loop {
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            while let Some(frame) = decoder.finish() {
                number += 1;
                let event = frame.ok().and_then(|frame| reader.event(frame, number));
                if let Some(event) = event
                    && sender.send(event).await.is_err()
                {
                    return Ok(());
                }
            }
            return Ok(());
        }
        decoder.push(&buffer[..read]);
        // Events are built first and sent after, since a frame borrows the decoder.
        let mut events = Vec::new();
        while let Some(frame) = decoder.next_frame() {
            number += 1;
            match frame {
                Ok(frame) => events.extend(reader.event(frame, number)),
                Err(error) => reader.reject(RecordError { line: number, code: ErrorCode::LineTooLong, message: error.to_string() }),
            }
        }
        for event in events {
            // Waiting here is the push-back: while the queue is full this connection is not read.
            if sender.send(event).await.is_err() {
                return Ok(());
            }
        }
    }
}

async fn write_batches(mut receiver: mpsc::Receiver<Event>, state: AppState) {
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::sleep(BATCH_WAIT);
        tokio::pin!(deadline);
        while batch.len() < BATCH_EVENTS {
            tokio::select! {
                event = receiver.recv() => match event {
                    Some(event) => batch.push(event),
                    None => break,
                },
                () = &mut deadline => break,
            }
        }
        let (worker_state, count) = (state.clone(), batch.len());
        let stored = tokio::task::spawn_blocking(move || store_and_detect(&worker_state, batch));
        match stored.await {
            Ok(Ok(Stored { outcome, .. })) => {
                state.metrics.count_events("syslog", "accepted", outcome.stored);
                state.metrics.count_events("syslog", "duplicate", outcome.duplicates);
            }
            Ok(Err(error)) => tracing::error!(events = count, error = %error, "syslog events could not be stored and are lost"),
            Err(error) => tracing::error!(events = count, error = %error, "the syslog writer failed; events are lost"),
        }
    }
}
