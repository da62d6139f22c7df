//! The thin tokio side: one task per client owns the socket (TCP or TLS), frames bytes into
//! packets, drives the [`Session`] with its timers, and reconnects with back-off. The
//! application talks to it through a [`ClientHandle`] (requests) and an [`EventStream`] (events).
//!
//! Incoming QoS 1 messages: by default the task answers PUBACK as soon as the message has been
//! handed to the [`EventStream`] channel ("ack after delivery to the channel"). With
//! [`ClientOptions::manual_ack`] the application calls [`ClientHandle::ack`] once the message is
//! safe (e.g. committed to the journal); PUBACKs still go out in arrival order. A message not
//! acknowledged before the connection drops is delivered again by the broker after reconnecting.
//!
//! Events wait for room in the [`EventStream`] channel (capacity
//! [`ClientOptions::event_capacity`]); while one waits, the socket is not read, which is the
//! backpressure towards the broker. So the application must keep reading its stream, or drop it
//! (a dropped stream discards events; QoS 1 messages are then acknowledged as delivered).
//! Requests, acks and DISCONNECT are still taken while an event waits: an application that
//! publishes before it reads its next event (the journal answers each batch with an ack per
//! kiosk) would otherwise wait on the task while the task waits on it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use crate::LinkError;
use crate::backoff::Backoff;
use crate::packet::{self, QoS};
use crate::session::{AckId, Request, RequestId, Session, SessionEvent, SessionOptions};
use crate::tls::{self, TlsOptions};

/// How to reach the broker.
#[derive(Debug, Clone)]
pub enum Transport {
    /// Plain TCP (loopback, tests, a broker on the same host).
    Tcp,
    /// TLS over TCP.
    Tls(TlsOptions),
}

/// Everything a client needs.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Broker host name or address.
    pub host: String,
    /// Broker port (1883 plain, 8883 TLS).
    pub port: u16,
    /// TCP or TLS.
    pub transport: Transport,
    /// The MQTT session: client id, credentials, keep-alive, last will, window.
    pub session: SessionOptions,
    /// `false`: PUBACK once a message is in the event channel. `true`: only on
    /// [`ClientHandle::ack`].
    pub manual_ack: bool,
    /// Largest incoming packet accepted (remaining length, bytes); larger closes the connection.
    pub max_packet_size: usize,
    /// Limit for TCP connect + TLS handshake.
    pub connect_timeout: Duration,
    /// First reconnect delay ceiling.
    pub backoff_initial: Duration,
    /// Largest reconnect delay.
    pub backoff_max: Duration,
    /// Seed of the back-off jitter; `None` picks a random one.
    pub backoff_seed: Option<u64>,
    /// Capacity of the event channel (messages wait in the socket beyond it).
    pub event_capacity: usize,
    /// Requests the client holds while offline or while the in-flight window is full, before
    /// `publish().await` starts waiting.
    pub max_queued: usize,
}

impl ClientOptions {
    /// Plain TCP to `host:port` as `client_id`, with the defaults of [`SessionOptions::new`],
    /// automatic acks, 1 MiB packets, back-off from 0.5 s up to 60 s.
    pub fn new(host: impl Into<String>, port: u16, client_id: impl Into<String>) -> Self {
        ClientOptions {
            host: host.into(),
            port,
            transport: Transport::Tcp,
            session: SessionOptions::new(client_id),
            manual_ack: false,
            max_packet_size: 1 << 20,
            connect_timeout: Duration::from_secs(10),
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(60),
            backoff_seed: None,
            event_capacity: 1024,
            max_queued: 10_000,
        }
    }
}

/// A message from the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Topic name.
    pub topic: String,
    /// Payload.
    pub payload: Bytes,
    /// QoS it was delivered with.
    pub qos: QoS,
    /// A retained message (sent because we subscribed, not because someone just published).
    pub retain: bool,
    /// The broker may have delivered it before.
    pub dup: bool,
    /// With `manual_ack` and QoS 1: pass it to [`ClientHandle::ack`] once the message is safe.
    pub ack: Option<AckId>,
}

/// Why the client is not connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// A connection attempt failed (TCP, TLS or CONNACK); the client retries after back-off.
    ConnectFailed(String),
    /// An established connection broke; the client reconnects after back-off.
    ConnectionLost(String),
    /// [`ClientHandle::disconnect`] was called or every handle was dropped; the client stopped.
    Stopped,
}

/// What the client tells the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// CONNACK accepted.
    Connected {
        /// The broker kept our session (subscriptions, queued messages).
        session_present: bool,
    },
    /// Not connected (any more); see the reason.
    Disconnected {
        /// Why.
        reason: DisconnectReason,
    },
    /// A message arrived.
    Message(Message),
}

/// Completes when the request is done (PUBACK/SUBACK/UNSUBACK, or on the wire for QoS 0).
#[derive(Debug)]
pub struct Token<T> {
    rx: oneshot::Receiver<Result<T, LinkError>>,
}

impl<T> Token<T> {
    /// Waits for completion. A QoS 1 publish survives reconnects: this waits across them.
    /// `Err(Closed)` when the client stopped first.
    pub async fn wait(self) -> Result<T, LinkError> {
        self.rx.await.unwrap_or(Err(LinkError::Closed))
    }
}

/// Resolves on PUBACK (QoS 1) or once written (QoS 0).
pub type PublishToken = Token<()>;
/// Resolves on SUBACK with the granted QoS per filter; `Err(SubscribeRejected)` on 0x80.
pub type SubscribeToken = Token<Vec<QoS>>;
/// Resolves on UNSUBACK.
pub type UnsubscribeToken = Token<()>;

enum Completion {
    Publish(oneshot::Sender<Result<(), LinkError>>),
    Subscribe(oneshot::Sender<Result<Vec<QoS>, LinkError>>),
    Unsubscribe(oneshot::Sender<Result<(), LinkError>>),
}

/// A request on the bounded queue, with what to complete when it is done.
struct Queued(Request, Option<Completion>);

/// What bypasses the bounded queue.
enum Control {
    Ack(AckId),
    Disconnect(oneshot::Sender<()>),
}

/// Sends requests to the client task. Cheap to clone; the client stops when the last clone is
/// dropped (after a graceful DISCONNECT).
#[derive(Debug, Clone)]
pub struct ClientHandle {
    tx: mpsc::Sender<Queued>,
    /// Acks and DISCONNECT bypass the request queue: they must get through even when the
    /// client holds `max_queued` requests while offline.
    ctl: mpsc::UnboundedSender<Control>,
    next_id: Arc<AtomicU64>,
}

impl std::fmt::Debug for Queued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Queued({:?})", self.0)
    }
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Control::Ack(a) => write!(f, "Ack({a:?})"),
            Control::Disconnect(_) => f.write_str("Disconnect"),
        }
    }
}

impl ClientHandle {
    fn id(&self) -> RequestId {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    async fn send(&self, cmd: Queued) -> Result<(), LinkError> {
        self.tx.send(cmd).await.map_err(|_| LinkError::Closed)
    }

    /// Queues a publish; the token completes on PUBACK (QoS 1) or once written (QoS 0). Waits
    /// only when the client already holds `max_queued` requests.
    pub async fn publish(
        &self,
        topic: impl Into<String>,
        payload: impl Into<Bytes>,
        qos: QoS,
        retain: bool,
    ) -> Result<PublishToken, LinkError> {
        let topic = topic.into();
        packet::validate_topic_name(&topic)?;
        let (tx, rx) = oneshot::channel();
        let request = Request::Publish {
            id: self.id(),
            topic,
            payload: payload.into(),
            qos,
            retain,
        };
        self.send(Queued(request, Some(Completion::Publish(tx))))
            .await?;
        Ok(Token { rx })
    }

    /// Subscribes to filters; the token completes on SUBACK. The client remembers granted
    /// filters and subscribes again if the broker ever answers `session_present = false`.
    pub async fn subscribe(&self, filters: &[(&str, QoS)]) -> Result<SubscribeToken, LinkError> {
        if filters.is_empty() {
            return Err(LinkError::InvalidTopic(String::new()));
        }
        for (f, _) in filters {
            packet::validate_topic_filter(f)?;
        }
        let (tx, rx) = oneshot::channel();
        let filters = filters.iter().map(|(f, q)| ((*f).to_owned(), *q)).collect();
        let request = Request::Subscribe {
            id: self.id(),
            filters,
        };
        self.send(Queued(request, Some(Completion::Subscribe(tx))))
            .await?;
        Ok(Token { rx })
    }

    /// Unsubscribes; the token completes on UNSUBACK.
    pub async fn unsubscribe(&self, filters: &[&str]) -> Result<UnsubscribeToken, LinkError> {
        if filters.is_empty() {
            return Err(LinkError::InvalidTopic(String::new()));
        }
        for f in filters {
            packet::validate_topic_filter(f)?;
        }
        let (tx, rx) = oneshot::channel();
        let filters = filters.iter().map(|f| (*f).to_owned()).collect();
        let request = Request::Unsubscribe {
            id: self.id(),
            filters,
        };
        self.send(Queued(request, Some(Completion::Unsubscribe(tx))))
            .await?;
        Ok(Token { rx })
    }

    /// With `manual_ack`: the application has taken the message; PUBACK it (in arrival order).
    /// Acks of messages from an earlier connection are dropped (the broker re-sends those).
    pub async fn ack(&self, ack: AckId) -> Result<(), LinkError> {
        self.ctl
            .send(Control::Ack(ack))
            .map_err(|_| LinkError::Closed)
    }

    /// Sends DISCONNECT (so the broker does not publish the last will), closes the socket and
    /// stops the client. Pending tokens fail with `Closed`.
    pub async fn disconnect(&self) -> Result<(), LinkError> {
        let (tx, rx) = oneshot::channel();
        self.ctl
            .send(Control::Disconnect(tx))
            .map_err(|_| LinkError::Closed)?;
        // The task answers once the socket is closed; a dropped answer means it already stopped.
        let _ = rx.await;
        Ok(())
    }
}

/// The events of one client, in order.
#[derive(Debug)]
pub struct EventStream {
    rx: mpsc::Receiver<Event>,
}

impl EventStream {
    /// The next event; `None` once the client has stopped and every event was taken.
    pub async fn recv(&mut self) -> Option<Event> {
        self.rx.recv().await
    }
}

/// Starts MQTT clients.
#[derive(Debug)]
pub struct Client;

impl Client {
    /// Checks the options, spawns the client task on the current tokio runtime and returns its
    /// handle and event stream. The task connects at once and reconnects until stopped.
    /// Must be called from within a tokio runtime (it spawns the task there).
    pub fn start(opts: ClientOptions) -> Result<(ClientHandle, EventStream), LinkError> {
        if opts.session.client_id.is_empty() && !opts.session.clean_session {
            return Err(LinkError::Options(
                "a persistent session (clean_session = false) needs a client id".into(),
            ));
        }
        if opts.session.client_id.len() > 65535 {
            return Err(LinkError::Options(
                "client id longer than 65535 bytes".into(),
            ));
        }
        if let Some(will) = &opts.session.last_will {
            packet::validate_topic_name(&will.topic)?;
        }
        let tls = match &opts.transport {
            Transport::Tcp => None,
            Transport::Tls(t) => Some((
                tokio_rustls::TlsConnector::from(Arc::new(tls::client_config(t)?)),
                tls::server_name(t, &opts.host)?,
            )),
        };
        let (cmd_tx, cmd_rx) = mpsc::channel(64);
        let (ctl_tx, ctl_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::channel(opts.event_capacity.max(1));
        let seed = opts.backoff_seed.unwrap_or_else(random_seed);
        let task = Task {
            backoff: Backoff::new(opts.backoff_initial, opts.backoff_max, seed),
            session: Session::new(opts.session.clone(), now()),
            opts,
            tls,
            cmd_rx,
            ctl_rx,
            ctl_closed: false,
            ev_tx,
            completions: HashMap::new(),
            stop_asked: None,
        };
        tokio::spawn(task.run());
        let handle = ClientHandle {
            tx: cmd_tx,
            ctl: ctl_tx,
            next_id: Arc::new(AtomicU64::new(1)),
        };
        Ok((handle, EventStream { rx: ev_rx }))
    }
}

fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded from the OS per process: enough to spread a fleet's jitter.
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// The tokio clock as a std `Instant`, so `tokio::time::pause()` drives the session too.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// How a connection or a wait ended.
enum Stop {
    /// Stop the client (DISCONNECT asked, or every handle dropped).
    Client(Option<oneshot::Sender<()>>),
    /// The connection failed; reconnect.
    Lost { reason: String, was_connected: bool },
}

struct Task {
    opts: ClientOptions,
    tls: Option<(
        tokio_rustls::TlsConnector,
        rustls::pki_types::ServerName<'static>,
    )>,
    session: Session,
    backoff: Backoff,
    cmd_rx: mpsc::Receiver<Queued>,
    ctl_rx: mpsc::UnboundedReceiver<Control>,
    ctl_closed: bool,
    ev_tx: mpsc::Sender<Event>,
    completions: HashMap<RequestId, Completion>,
    /// A DISCONNECT (or the last handle dropped: `Some(None)`) that came while an event waited
    /// for room; acted on once it is delivered.
    stop_asked: Option<Option<oneshot::Sender<()>>>,
}

impl Task {
    async fn run(mut self) {
        // The last reason logged: a broker that stays unreachable for the same reason (a host
        // that does not resolve) is logged once at warn, then at debug on each retry.
        let mut logged = String::new();
        loop {
            let attempt = tokio::time::timeout(self.opts.connect_timeout, self.open()).await;
            let stop = match attempt {
                Ok(Ok(stream)) => self.serve(stream).await,
                Ok(Err(e)) => Stop::Lost {
                    reason: e.to_string(),
                    was_connected: false,
                },
                Err(_) => Stop::Lost {
                    reason: format!("connect timed out after {:?}", self.opts.connect_timeout),
                    was_connected: false,
                },
            };
            self.session.disconnected();
            self.backoff.lost(now());
            match stop {
                Stop::Client(done) => return self.stopped(done),
                Stop::Lost {
                    reason,
                    was_connected,
                } => {
                    if was_connected || reason != logged {
                        warn!(%reason, was_connected, "MQTT connection down");
                        logged.clone_from(&reason);
                    } else {
                        tracing::debug!(%reason, "MQTT connection still down");
                    }
                    let reason = if was_connected {
                        DisconnectReason::ConnectionLost(reason)
                    } else {
                        DisconnectReason::ConnectFailed(reason)
                    };
                    self.emit(Event::Disconnected { reason }).await;
                }
            }
            let delay = self.backoff.next_delay();
            debug!(
                ?delay,
                attempt = self.backoff.attempts(),
                "reconnecting after back-off"
            );
            if let Some(Stop::Client(done)) = self.idle(delay).await {
                return self.stopped(done);
            }
        }
    }

    fn stopped(self, done: Option<oneshot::Sender<()>>) {
        self.notify(Event::Disconnected {
            reason: DisconnectReason::Stopped,
        });
        // Dropping `completions` fails the pending tokens with `Closed`.
        drop(self.completions);
        if let Some(done) = done {
            let _ = done.send(());
        }
    }

    /// The last event, from a task that is ending: if the application is not reading, it is
    /// dropped rather than waited for.
    fn notify(&self, event: Event) {
        if self.ev_tx.try_send(event).is_err() {
            debug!("event channel full or closed; final event dropped");
        }
    }

    /// Hands an event to the application, waiting for room: connection events are never lost
    /// (an outbox may start draining on `Connected`). The application must keep reading its
    /// [`EventStream`] or drop it; a dropped stream discards events.
    ///
    /// While it waits, acks and requests are still taken into the session (their packets go
    /// out after), and a DISCONNECT is kept in [`Task::stop_asked`].
    async fn emit(&mut self, event: Event) {
        let mut cmds_open = true;
        // A clone, so that waiting for room does not hold `self`.
        let tx = self.ev_tx.clone();
        loop {
            let room = cmds_open && self.session.queued_len() < self.opts.max_queued;
            tokio::select! {
                biased;
                permit = tx.reserve() => {
                    // Err: the application dropped its stream; the event is discarded.
                    if let Ok(permit) = permit {
                        permit.send(event);
                    }
                    return;
                }
                ctl = self.ctl_rx.recv(), if !self.ctl_closed => match ctl {
                    Some(Control::Ack(ack)) => self.session.handle_request(Request::Ack(ack)),
                    None => self.ctl_closed = true,
                    Some(Control::Disconnect(done)) => self.stop_asked = Some(Some(done)),
                },
                cmd = self.cmd_rx.recv(), if room => match cmd {
                    Some(Queued(r, c)) => self.accept(r, c),
                    None => {
                        cmds_open = false;
                        self.stop_asked.get_or_insert(None);
                    }
                },
            }
        }
    }

    async fn open(&self) -> Result<Box<dyn Stream>, LinkError> {
        let tcp = TcpStream::connect((self.opts.host.as_str(), self.opts.port))
            .await
            .map_err(|source| LinkError::Connect {
                addr: format!("{}:{}", self.opts.host, self.opts.port),
                source,
            })?;
        tcp.set_nodelay(true)?;
        match &self.tls {
            None => Ok(Box::new(tcp)),
            Some((connector, name)) => {
                let tls = connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|e| LinkError::Tls(format!("handshake with the broker: {e}")))?;
                Ok(Box::new(tls))
            }
        }
    }

    /// Waits `delay` while still taking requests into the session's queue.
    async fn idle(&mut self, delay: Duration) -> Option<Stop> {
        let until = tokio::time::Instant::now() + delay;
        loop {
            if let Some(done) = self.stop_asked.take() {
                return Some(Stop::Client(done));
            }
            let room = self.session.queued_len() < self.opts.max_queued;
            tokio::select! {
                _ = tokio::time::sleep_until(until) => return None,
                ctl = self.ctl_rx.recv(), if !self.ctl_closed => match ctl {
                    // Every handle is gone; stop once `cmd_rx` has given up what they sent.
                    None => self.ctl_closed = true,
                    Some(Control::Disconnect(done)) => return Some(Stop::Client(Some(done))),
                    Some(Control::Ack(ack)) => self.session.handle_request(Request::Ack(ack)),
                },
                cmd = self.cmd_rx.recv(), if room => match cmd {
                    None => return Some(Stop::Client(None)),
                    Some(Queued(r, c)) => self.accept(r, c),
                },
            }
        }
    }

    fn accept(&mut self, request: Request, completion: Option<Completion>) {
        let id = match &request {
            Request::Publish { id, .. }
            | Request::Subscribe { id, .. }
            | Request::Unsubscribe { id, .. } => Some(*id),
            Request::Ack(_) => None,
        };
        if let (Some(id), Some(c)) = (id, completion) {
            self.completions.insert(id, c);
        }
        self.session.handle_request(request);
    }

    /// Runs one connection until it ends.
    async fn serve(&mut self, mut stream: Box<dyn Stream>) -> Stop {
        let mut was_connected = false;
        let lost = |reason: String, was_connected| Stop::Lost {
            reason,
            was_connected,
        };
        self.session.connect(now());
        let mut rbuf = BytesMut::with_capacity(8 * 1024);
        loop {
            // Hand events to the application, then write whatever the session has queued.
            if let Err(e) = self.dispatch(&mut was_connected).await {
                return lost(e.to_string(), was_connected);
            }
            if let Some(done) = self.stop_asked.take() {
                self.close(&mut stream).await;
                return Stop::Client(done);
            }
            if let Err(e) = self.write_out(&mut stream).await {
                return lost(e.to_string(), was_connected);
            }
            let deadline = self
                .session
                .next_deadline()
                .map(tokio::time::Instant::from_std);
            let room = self.session.queued_len() < self.opts.max_queued;
            tokio::select! {
                read = stream.read_buf(&mut rbuf) => match read {
                    Ok(0) => return lost("the broker closed the connection".into(), was_connected),
                    Ok(_) => {
                        self.session.bytes_received(now());
                        if let Err(e) = self.take_frames(&mut rbuf) {
                            return lost(e.to_string(), was_connected);
                        }
                    }
                    Err(e) => return lost(e.to_string(), was_connected),
                },
                ctl = self.ctl_rx.recv(), if !self.ctl_closed => match ctl {
                    Some(Control::Ack(ack)) => self.session.handle_request(Request::Ack(ack)),
                    None => self.ctl_closed = true,
                    Some(Control::Disconnect(done)) => {
                        self.close(&mut stream).await;
                        return Stop::Client(Some(done));
                    }
                },
                cmd = self.cmd_rx.recv(), if room => match cmd {
                    Some(Queued(r, c)) => {
                        self.accept(r, c);
                        self.accept_ready();
                    }
                    None => {
                        self.close(&mut stream).await;
                        return Stop::Client(None);
                    }
                },
                _ = sleep_until_opt(deadline) => {
                    if let Err(e) = self.session.tick(now()) {
                        return lost(e.to_string(), was_connected);
                    }
                }
            }
        }
    }

    /// Takes requests that are already waiting (up to a batch), so that their packets go out in
    /// one write instead of one system call each.
    fn accept_ready(&mut self) {
        for _ in 0..256 {
            if self.session.queued_len() >= self.opts.max_queued {
                return;
            }
            match self.cmd_rx.try_recv() {
                Ok(Queued(r, c)) => self.accept(r, c),
                Err(_) => return,
            }
        }
    }

    /// Graceful end: DISCONNECT (so no last will), then close the socket.
    async fn close(&mut self, stream: &mut Box<dyn Stream>) {
        self.session.disconnect();
        let _ = self.write_out(stream).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), stream.shutdown()).await;
    }

    fn take_frames(&mut self, rbuf: &mut BytesMut) -> Result<(), LinkError> {
        while let Some(frame) = packet::split_frame(rbuf, self.opts.max_packet_size)? {
            let packet = packet::decode_frame(&frame)?;
            self.session.handle_incoming(packet, now())?;
        }
        Ok(())
    }

    async fn write_out(&mut self, stream: &mut Box<dyn Stream>) -> Result<(), LinkError> {
        let packets = self.session.take_outgoing(now());
        if packets.is_empty() {
            return Ok(());
        }
        let mut wbuf = BytesMut::new();
        for p in &packets {
            p.encode(&mut wbuf)?;
        }
        // A broker that stops reading must not freeze the task (and its keep-alive).
        let limit = self
            .opts
            .session
            .response_timeout
            .max(Duration::from_secs(1));
        let write = async {
            stream.write_all(&wbuf).await?;
            stream.flush().await
        };
        match tokio::time::timeout(limit, write).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(LinkError::ConnectionLost(format!(
                "write blocked for {limit:?}"
            ))),
        }
    }

    async fn dispatch(&mut self, was_connected: &mut bool) -> Result<(), LinkError> {
        loop {
            let events = self.session.take_events();
            if events.is_empty() {
                return Ok(());
            }
            for event in events {
                match event {
                    SessionEvent::Connected { session_present } => {
                        *was_connected = true;
                        self.backoff.connected(now());
                        info!(session_present, "MQTT connected");
                        self.emit(Event::Connected { session_present }).await;
                    }
                    SessionEvent::Published(id) => {
                        if let Some(Completion::Publish(tx)) = self.completions.remove(&id) {
                            let _ = tx.send(Ok(()));
                        }
                    }
                    SessionEvent::Subscribed { id, results } => {
                        if let Some(Completion::Subscribe(tx)) = self.completions.remove(&id) {
                            let refused = results.iter().find(|(_, q)| q.is_none());
                            let outcome = match refused {
                                Some((filter, _)) => Err(LinkError::SubscribeRejected {
                                    filter: filter.clone(),
                                }),
                                None => Ok(results.iter().filter_map(|(_, q)| *q).collect()),
                            };
                            let _ = tx.send(outcome);
                        }
                    }
                    SessionEvent::Unsubscribed(id) => {
                        if let Some(Completion::Unsubscribe(tx)) = self.completions.remove(&id) {
                            let _ = tx.send(Ok(()));
                        }
                    }
                    SessionEvent::Message {
                        topic,
                        payload,
                        qos,
                        retain,
                        dup,
                        ack,
                    } => {
                        let manual = self.opts.manual_ack;
                        let message = Message {
                            topic,
                            payload,
                            qos,
                            retain,
                            dup,
                            ack: if manual { ack } else { None },
                        };
                        // Waiting for room here is the backpressure: the socket is not read
                        // meanwhile. If the application dropped its stream, the message is gone
                        // and is acknowledged like a delivered one.
                        self.emit(Event::Message(message)).await;
                        if let (false, Some(ack)) = (manual, ack) {
                            self.session.handle_request(Request::Ack(ack));
                        }
                    }
                }
            }
        }
    }
}

async fn sleep_until_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
