//! The MQTT 3.1.1 client protocol as a sans-I/O state machine (model: rumqttc `state.rs`).
//!
//! [`Session`] takes the packets the broker sent ([`Session::handle_incoming`]), the user's
//! requests ([`Session::handle_request`]) and the passing of time ([`Session::tick`], with `now`
//! passed in), and queues the packets to write ([`Session::take_outgoing`]) and the events for
//! the application ([`Session::take_events`]). It owns packet-id allocation, the in-flight map of
//! unacknowledged QoS 1 publishes, the order of PUBACKs for received messages, keep-alive and the
//! CONNACK/PINGRESP deadlines. It outlives connections: one `Session` per client, `connect()` per
//! transport.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::LinkError;
use crate::packet::{InPacket, LastWill, OutPacket, QoS};

/// Protocol settings of a session.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// Client id; stable across restarts so the broker keeps the session.
    pub client_id: String,
    /// Keep-alive interval; `Duration::ZERO` turns it off. Sent in whole seconds.
    pub keep_alive: Duration,
    /// `false` (the default) asks the broker to keep the session (subscriptions, queued QoS 1
    /// messages) while the client is away.
    pub clean_session: bool,
    /// Username.
    pub username: Option<String>,
    /// Password.
    pub password: Option<Bytes>,
    /// Last will.
    pub last_will: Option<LastWill>,
    /// Most QoS 1 publishes awaiting PUBACK at once; further publishes wait in the queue.
    pub max_inflight: u16,
    /// How long to wait for CONNACK, and for PINGRESP before the connection counts as dead.
    pub response_timeout: Duration,
}

impl SessionOptions {
    /// Defaults for `client_id`: persistent session, keep-alive 30 s, 10 s response timeout,
    /// 100 publishes in flight.
    pub fn new(client_id: impl Into<String>) -> Self {
        SessionOptions {
            client_id: client_id.into(),
            keep_alive: Duration::from_secs(30),
            clean_session: false,
            username: None,
            password: None,
            last_will: None,
            max_inflight: 100,
            response_timeout: Duration::from_secs(10),
        }
    }
}

/// Caller-chosen id of a request, returned in the event that completes it.
pub type RequestId = u64;

/// Identifies one received QoS 1 message for [`Request::Ack`]. It is bound to the connection the
/// message came on: an ack from an earlier connection is dropped (the broker re-sends the message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AckId {
    generation: u64,
    pid: u16,
}

/// What the application asks of the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Publish a message.
    Publish {
        /// Completion id.
        id: RequestId,
        /// Topic name.
        topic: String,
        /// Payload.
        payload: Bytes,
        /// QoS.
        qos: QoS,
        /// RETAIN flag.
        retain: bool,
    },
    /// Subscribe to filters.
    Subscribe {
        /// Completion id.
        id: RequestId,
        /// Filters and their maximum QoS.
        filters: Vec<(String, QoS)>,
    },
    /// Unsubscribe from filters.
    Unsubscribe {
        /// Completion id.
        id: RequestId,
        /// Filters.
        filters: Vec<String>,
    },
    /// The application has taken a QoS 1 message: PUBACK it (in arrival order).
    Ack(AckId),
}

/// What the session tells the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// CONNACK accepted.
    Connected {
        /// The broker still had our session.
        session_present: bool,
    },
    /// A QoS 1 publish was acknowledged by the broker, or a QoS 0 publish went to the socket.
    Published(RequestId),
    /// SUBACK: per filter, the granted QoS or `None` when refused (0x80).
    Subscribed {
        /// Completion id.
        id: RequestId,
        /// Filters as requested, with the outcome.
        results: Vec<(String, Option<QoS>)>,
    },
    /// UNSUBACK.
    Unsubscribed(RequestId),
    /// A message from the broker.
    Message {
        /// Topic name.
        topic: String,
        /// Payload.
        payload: Bytes,
        /// QoS it was delivered with.
        qos: QoS,
        /// RETAIN flag (a retained message sent on subscription).
        retain: bool,
        /// DUP flag (the broker may have sent it before).
        dup: bool,
        /// For QoS 1: pass it back in [`Request::Ack`] once the message is safe.
        ack: Option<AckId>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Down,
    AwaitingConnack { since: Instant },
    Up,
}

#[derive(Debug, Clone)]
struct Inflight {
    id: RequestId,
    order: u64,
    topic: String,
    payload: Bytes,
    retain: bool,
}

/// A subscribe/unsubscribe sent and not yet answered; `id` is `None` for the automatic
/// re-subscription after the broker lost our session.
#[derive(Debug, Clone)]
enum PendingControl {
    Subscribe {
        id: Option<RequestId>,
        order: u64,
        filters: Vec<(String, QoS)>,
    },
    Unsubscribe {
        id: RequestId,
        order: u64,
        filters: Vec<String>,
    },
}

/// The protocol state of one MQTT client; see the module doc.
#[derive(Debug)]
pub struct Session {
    opts: SessionOptions,
    phase: Phase,
    generation: u64,
    next_pid: u16,
    next_order: u64,
    inflight: BTreeMap<u16, Inflight>,
    queue: VecDeque<Request>,
    control: HashMap<u16, PendingControl>,
    /// Filters we hold, re-sent when the broker answers `session_present = false`.
    subscriptions: BTreeMap<String, QoS>,
    /// Received QoS 1 pids in arrival order, with "the application has acked it".
    incoming: VecDeque<(u16, bool)>,
    last_sent: Instant,
    last_received: Instant,
    ping_sent: Option<Instant>,
    outgoing: VecDeque<OutPacket>,
    events: VecDeque<SessionEvent>,
}

impl Session {
    /// A session that is not connected yet.
    pub fn new(opts: SessionOptions, now: Instant) -> Self {
        Session {
            opts,
            phase: Phase::Down,
            generation: 0,
            next_pid: 1,
            next_order: 0,
            inflight: BTreeMap::new(),
            queue: VecDeque::new(),
            control: HashMap::new(),
            subscriptions: BTreeMap::new(),
            incoming: VecDeque::new(),
            last_sent: now,
            last_received: now,
            ping_sent: None,
            outgoing: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The options.
    pub fn options(&self) -> &SessionOptions {
        &self.opts
    }

    /// True between an accepted CONNACK and the end of the connection.
    pub fn is_connected(&self) -> bool {
        self.phase == Phase::Up
    }

    /// QoS 1 publishes sent and not yet acknowledged.
    pub fn inflight_len(&self) -> usize {
        self.inflight.len()
    }

    /// Requests waiting for the connection or for room in the in-flight window.
    pub fn queued_len(&self) -> usize {
        self.queue.len()
    }

    /// A transport is up: queue CONNECT and wait for CONNACK.
    pub fn connect(&mut self, now: Instant) {
        self.outgoing.clear();
        self.incoming.clear();
        self.generation += 1;
        self.phase = Phase::AwaitingConnack { since: now };
        self.ping_sent = None;
        self.last_received = now;
        // Keep-alive goes on the wire in whole seconds, at most u16::MAX (MQTT 3.1.1 §3.1.2.10).
        let keep_alive = u16::try_from(self.opts.keep_alive.as_secs()).unwrap_or(u16::MAX);
        self.outgoing.push_back(OutPacket::Connect {
            client_id: self.opts.client_id.clone(),
            keep_alive,
            clean_session: self.opts.clean_session,
            username: self.opts.username.clone(),
            password: self.opts.password.clone(),
            last_will: self.opts.last_will.clone(),
        });
    }

    /// The transport is gone (error, timeout, or after DISCONNECT). In-flight publishes are
    /// kept for re-sending; unanswered (un)subscribes go back to the front of the queue.
    pub fn disconnected(&mut self) {
        self.phase = Phase::Down;
        self.outgoing.clear();
        self.incoming.clear();
        self.ping_sent = None;
        let mut pending: Vec<PendingControl> = self.control.drain().map(|(_, c)| c).collect();
        pending.sort_by_key(|c| match c {
            PendingControl::Subscribe { order, .. } | PendingControl::Unsubscribe { order, .. } => {
                *order
            }
        });
        for c in pending.into_iter().rev() {
            match c {
                PendingControl::Subscribe {
                    id: Some(id),
                    filters,
                    ..
                } => self.queue.push_front(Request::Subscribe { id, filters }),
                // The automatic re-subscription is redone from `subscriptions` if needed.
                PendingControl::Subscribe { id: None, .. } => {}
                PendingControl::Unsubscribe { id, filters, .. } => {
                    self.queue.push_front(Request::Unsubscribe { id, filters })
                }
            }
        }
    }

    /// Queues a graceful DISCONNECT (when connected) and ends the connection state.
    pub fn disconnect(&mut self) {
        if self.phase == Phase::Up {
            self.outgoing.push_back(OutPacket::Disconnect);
        }
        self.phase = Phase::Down;
    }

    /// Takes the packets to write now. Counts as "sent" for keep-alive.
    pub fn take_outgoing(&mut self, now: Instant) -> Vec<OutPacket> {
        if !self.outgoing.is_empty() {
            self.last_sent = now;
        }
        self.outgoing.drain(..).collect()
    }

    /// Takes the events for the application.
    pub fn take_events(&mut self) -> Vec<SessionEvent> {
        self.events.drain(..).collect()
    }

    /// A request from the application.
    pub fn handle_request(&mut self, request: Request) {
        match request {
            Request::Ack(ack) => self.ack(ack),
            other => {
                self.queue.push_back(other);
                self.flush_queue();
            }
        }
    }

    /// Bytes came from the broker (part of a packet, perhaps): the link is alive. A large
    /// packet on a slow link (a roster of megabytes at 100 KiB/s) takes longer than the
    /// keep-alive; the PINGRESP waits behind it, so the ping's deadline counts from the last
    /// byte, not from the ping, and the connection is not dropped (and the roster sent again)
    /// in a loop.
    pub fn bytes_received(&mut self, now: Instant) {
        self.last_received = now;
        if let Some(sent) = self.ping_sent.as_mut() {
            *sent = (*sent).max(now);
        }
    }

    /// A packet from the broker. An error means the connection must be closed.
    pub fn handle_incoming(&mut self, packet: InPacket, now: Instant) -> Result<(), LinkError> {
        self.last_received = now;
        let awaiting = matches!(self.phase, Phase::AwaitingConnack { .. });
        match packet {
            InPacket::Connack {
                session_present,
                code,
            } => {
                if !awaiting {
                    return Err(LinkError::Protocol(
                        "CONNACK outside connection setup".into(),
                    ));
                }
                if code != 0 {
                    return Err(LinkError::ConnectionRefused(connack_reason(code)));
                }
                self.on_connack(session_present);
                Ok(())
            }
            _ if awaiting || self.phase == Phase::Down => {
                Err(LinkError::Protocol("packet before CONNACK".into()))
            }
            InPacket::Publish {
                dup,
                qos,
                pid,
                retain,
                topic,
                payload,
            } => {
                let ack = match (qos, pid) {
                    (QoS::AtLeastOnce, Some(pid)) => {
                        self.incoming.push_back((pid, false));
                        Some(AckId {
                            generation: self.generation,
                            pid,
                        })
                    }
                    (QoS::AtLeastOnce, None) => {
                        return Err(LinkError::Protocol("QoS 1 publish without pid".into()));
                    }
                    (QoS::AtMostOnce, _) => None,
                };
                self.events.push_back(SessionEvent::Message {
                    topic,
                    payload,
                    qos,
                    retain,
                    dup,
                    ack,
                });
                Ok(())
            }
            InPacket::Puback(pid) => {
                // An unknown pid is a late duplicate PUBACK after a re-send: harmless.
                if let Some(done) = self.inflight.remove(&pid) {
                    self.events.push_back(SessionEvent::Published(done.id));
                    self.flush_queue();
                }
                Ok(())
            }
            InPacket::Suback { pid, granted } => {
                match self.control.remove(&pid) {
                    Some(PendingControl::Subscribe { id, filters, .. }) => {
                        if granted.len() != filters.len() {
                            return Err(LinkError::Protocol(format!(
                                "SUBACK has {} return codes for {} filters",
                                granted.len(),
                                filters.len()
                            )));
                        }
                        let results: Vec<(String, Option<QoS>)> =
                            filters.into_iter().map(|(f, _)| f).zip(granted).collect();
                        for (filter, outcome) in &results {
                            if let Some(q) = outcome {
                                self.subscriptions.insert(filter.clone(), *q);
                            } else {
                                tracing::warn!(filter, "broker refused subscription");
                            }
                        }
                        if let Some(id) = id {
                            self.events
                                .push_back(SessionEvent::Subscribed { id, results });
                        }
                    }
                    Some(other) => {
                        self.control.insert(pid, other);
                        return Err(LinkError::Protocol("SUBACK for an UNSUBSCRIBE".into()));
                    }
                    None => {}
                }
                self.flush_queue();
                Ok(())
            }
            InPacket::Unsuback(pid) => {
                match self.control.remove(&pid) {
                    Some(PendingControl::Unsubscribe { id, filters, .. }) => {
                        for f in &filters {
                            self.subscriptions.remove(f);
                        }
                        self.events.push_back(SessionEvent::Unsubscribed(id));
                    }
                    Some(other) => {
                        self.control.insert(pid, other);
                        return Err(LinkError::Protocol("UNSUBACK for a SUBSCRIBE".into()));
                    }
                    None => {}
                }
                self.flush_queue();
                Ok(())
            }
            InPacket::Pingresp => {
                self.ping_sent = None;
                Ok(())
            }
        }
    }

    /// Time has passed: send PINGREQ when the link has been quiet for the keep-alive interval;
    /// fail when CONNACK or PINGRESP is overdue.
    pub fn tick(&mut self, now: Instant) -> Result<(), LinkError> {
        match self.phase {
            Phase::Down => Ok(()),
            Phase::AwaitingConnack { since } => {
                if now.saturating_duration_since(since) >= self.opts.response_timeout {
                    Err(LinkError::ConnackTimeout(self.opts.response_timeout))
                } else {
                    Ok(())
                }
            }
            Phase::Up => {
                if self.opts.keep_alive.is_zero() {
                    return Ok(());
                }
                if let Some(sent) = self.ping_sent {
                    if now.saturating_duration_since(sent) >= self.opts.response_timeout {
                        return Err(LinkError::KeepAliveTimeout(self.opts.response_timeout));
                    }
                } else if now.saturating_duration_since(self.quiet_since()) >= self.opts.keep_alive
                {
                    // Quiet in either direction: a broker that stopped talking is found too,
                    // not only one we stopped talking to.
                    self.outgoing.push_back(OutPacket::Pingreq);
                    self.ping_sent = Some(now);
                }
                Ok(())
            }
        }
    }

    /// When [`Session::tick`] next has something to do; `None` when nothing is timed.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Down => None,
            Phase::AwaitingConnack { since } => Some(since + self.opts.response_timeout),
            Phase::Up if self.opts.keep_alive.is_zero() => None,
            Phase::Up => Some(match self.ping_sent {
                Some(sent) => sent + self.opts.response_timeout,
                None => self.quiet_since() + self.opts.keep_alive,
            }),
        }
    }

    fn quiet_since(&self) -> Instant {
        self.last_sent.min(self.last_received)
    }

    fn on_connack(&mut self, session_present: bool) {
        self.phase = Phase::Up;
        self.events
            .push_back(SessionEvent::Connected { session_present });
        if !session_present && !self.subscriptions.is_empty() {
            // The broker lost our session (or we asked for a clean one): subscribe again.
            let filters: Vec<(String, QoS)> = self
                .subscriptions
                .iter()
                .map(|(f, q)| (f.clone(), *q))
                .collect();
            if let Some(pid) = self.allocate_pid() {
                let order = self.bump_order();
                self.control.insert(
                    pid,
                    PendingControl::Subscribe {
                        id: None,
                        order,
                        filters: filters.clone(),
                    },
                );
                self.outgoing
                    .push_back(OutPacket::Subscribe { pid, filters });
            }
        }
        // MQTT 3.1.1 §4.4: re-send unacknowledged QoS 1 publishes with their original pids, in
        // their original order, with DUP set.
        let mut resend: Vec<(&u16, &Inflight)> = self.inflight.iter().collect();
        resend.sort_by_key(|(_, m)| m.order);
        for (pid, m) in resend {
            self.outgoing.push_back(OutPacket::Publish {
                dup: true,
                qos: QoS::AtLeastOnce,
                pid: Some(*pid),
                retain: m.retain,
                topic: m.topic.clone(),
                payload: m.payload.clone(),
            });
        }
        self.flush_queue();
    }

    fn ack(&mut self, ack: AckId) {
        if ack.generation != self.generation || self.phase != Phase::Up {
            // From an earlier connection: the broker will deliver the message again.
            return;
        }
        if let Some(entry) = self
            .incoming
            .iter_mut()
            .find(|(pid, done)| *pid == ack.pid && !done)
        {
            entry.1 = true;
        }
        // MQTT 3.1.1 §4.6: PUBACKs go out in the order the PUBLISHes came in.
        while let Some(&(pid, true)) = self.incoming.front() {
            self.incoming.pop_front();
            self.outgoing.push_back(OutPacket::Puback(pid));
        }
    }

    fn bump_order(&mut self) -> u64 {
        self.next_order += 1;
        self.next_order
    }

    fn allocate_pid(&mut self) -> Option<u16> {
        for _ in 0..u16::MAX {
            let pid = self.next_pid;
            self.next_pid = if pid == u16::MAX { 1 } else { pid + 1 };
            if !self.inflight.contains_key(&pid) && !self.control.contains_key(&pid) {
                return Some(pid);
            }
        }
        None
    }

    fn flush_queue(&mut self) {
        while self.phase == Phase::Up {
            let window_full = self.inflight.len() >= usize::from(self.opts.max_inflight.max(1));
            let Some(front) = self.queue.front() else {
                break;
            };
            if matches!(
                front,
                Request::Publish {
                    qos: QoS::AtLeastOnce,
                    ..
                }
            ) && window_full
            {
                // Strict FIFO: later requests wait too, so messages keep their order.
                break;
            }
            let Some(request) = self.queue.pop_front() else {
                break;
            };
            match request {
                Request::Publish {
                    id,
                    topic,
                    payload,
                    qos: QoS::AtMostOnce,
                    retain,
                } => {
                    self.outgoing.push_back(OutPacket::Publish {
                        dup: false,
                        qos: QoS::AtMostOnce,
                        pid: None,
                        retain,
                        topic,
                        payload,
                    });
                    self.events.push_back(SessionEvent::Published(id));
                }
                Request::Publish {
                    id,
                    topic,
                    payload,
                    qos: QoS::AtLeastOnce,
                    retain,
                } => {
                    let Some(pid) = self.allocate_pid() else {
                        self.queue.push_front(Request::Publish {
                            id,
                            topic,
                            payload,
                            qos: QoS::AtLeastOnce,
                            retain,
                        });
                        break;
                    };
                    let order = self.bump_order();
                    self.outgoing.push_back(OutPacket::Publish {
                        dup: false,
                        qos: QoS::AtLeastOnce,
                        pid: Some(pid),
                        retain,
                        topic: topic.clone(),
                        payload: payload.clone(),
                    });
                    self.inflight.insert(
                        pid,
                        Inflight {
                            id,
                            order,
                            topic,
                            payload,
                            retain,
                        },
                    );
                }
                Request::Subscribe { id, filters } => {
                    let Some(pid) = self.allocate_pid() else {
                        self.queue.push_front(Request::Subscribe { id, filters });
                        break;
                    };
                    let order = self.bump_order();
                    self.outgoing.push_back(OutPacket::Subscribe {
                        pid,
                        filters: filters.clone(),
                    });
                    self.control.insert(
                        pid,
                        PendingControl::Subscribe {
                            id: Some(id),
                            order,
                            filters,
                        },
                    );
                }
                Request::Unsubscribe { id, filters } => {
                    let Some(pid) = self.allocate_pid() else {
                        self.queue.push_front(Request::Unsubscribe { id, filters });
                        break;
                    };
                    let order = self.bump_order();
                    self.outgoing.push_back(OutPacket::Unsubscribe {
                        pid,
                        filters: filters.clone(),
                    });
                    self.control
                        .insert(pid, PendingControl::Unsubscribe { id, order, filters });
                }
                Request::Ack(ack) => self.ack(ack),
            }
        }
    }
}

/// MQTT 3.1.1 §3.2.2.3, CONNACK return codes.
fn connack_reason(code: u8) -> String {
    match code {
        1 => "unacceptable protocol version (1)".into(),
        2 => "client identifier rejected (2)".into(),
        3 => "server unavailable (3)".into(),
        4 => "bad username or password (4)".into(),
        5 => "not authorized (5)".into(),
        other => format!("unknown return code {other}"),
    }
}

#[cfg(test)]
mod tests;
