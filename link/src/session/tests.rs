//! Unit tests of the session state machine: `now` is injected, nothing sleeps.

use super::*;

fn opts() -> SessionOptions {
    let mut o = SessionOptions::new("k1");
    o.keep_alive = Duration::from_secs(30);
    o.response_timeout = Duration::from_secs(5);
    o.username = Some("u".into());
    o.password = Some(Bytes::from_static(b"p"));
    o
}

fn publish(id: RequestId, topic: &str, qos: QoS) -> Request {
    Request::Publish {
        id,
        topic: topic.into(),
        payload: Bytes::from(format!("payload {id}")),
        qos,
        retain: false,
    }
}

/// A session connected at `t0`, with the CONNECT and Connected event drained.
fn connected(o: SessionOptions, t0: Instant) -> Session {
    let mut s = Session::new(o, t0);
    s.connect(t0);
    s.handle_incoming(
        InPacket::Connack {
            session_present: false,
            code: 0,
        },
        t0,
    )
    .unwrap();
    s.take_outgoing(t0);
    s.take_events();
    s
}

fn publish_pids(packets: &[OutPacket]) -> Vec<(u16, bool)> {
    packets
        .iter()
        .filter_map(|p| match p {
            OutPacket::Publish {
                pid: Some(pid),
                dup,
                ..
            } => Some((*pid, *dup)),
            _ => None,
        })
        .collect()
}

#[test]
fn connect_carries_the_options_and_connack_connects() {
    let t0 = Instant::now();
    let mut o = opts();
    o.last_will = Some(LastWill {
        topic: "w".into(),
        payload: Bytes::from_static(b"offline"),
        qos: QoS::AtLeastOnce,
        retain: true,
    });
    let mut s = Session::new(o.clone(), t0);
    s.connect(t0);
    let out = s.take_outgoing(t0);
    assert_eq!(
        out,
        vec![OutPacket::Connect {
            client_id: "k1".into(),
            keep_alive: 30,
            clean_session: false,
            username: Some("u".into()),
            password: Some(Bytes::from_static(b"p")),
            last_will: o.last_will,
        }]
    );
    assert!(!s.is_connected());
    s.handle_incoming(
        InPacket::Connack {
            session_present: true,
            code: 0,
        },
        t0,
    )
    .unwrap();
    assert!(s.is_connected());
    assert_eq!(
        s.take_events(),
        vec![SessionEvent::Connected {
            session_present: true
        }]
    );
}

#[test]
fn refused_connack_and_early_packets_are_errors() {
    let t0 = Instant::now();
    let mut s = Session::new(opts(), t0);
    s.connect(t0);
    let err = s.handle_incoming(
        InPacket::Connack {
            session_present: false,
            code: 4,
        },
        t0,
    );
    assert!(matches!(err, Err(LinkError::ConnectionRefused(ref m)) if m.contains("username")));

    let mut s = Session::new(opts(), t0);
    s.connect(t0);
    assert!(matches!(
        s.handle_incoming(InPacket::Pingresp, t0),
        Err(LinkError::Protocol(_))
    ));

    let mut s = connected(opts(), t0);
    let again = s.handle_incoming(
        InPacket::Connack {
            session_present: false,
            code: 0,
        },
        t0,
    );
    assert!(matches!(again, Err(LinkError::Protocol(_))));
}

#[test]
fn connack_timeout_fires_only_after_the_response_timeout() {
    let t0 = Instant::now();
    let mut s = Session::new(opts(), t0);
    assert_eq!(s.next_deadline(), None);
    s.connect(t0);
    assert_eq!(s.next_deadline(), Some(t0 + Duration::from_secs(5)));
    s.tick(t0 + Duration::from_millis(4999)).unwrap();
    assert!(matches!(
        s.tick(t0 + Duration::from_secs(5)),
        Err(LinkError::ConnackTimeout(_))
    ));
}

#[test]
fn requests_wait_while_down_and_go_out_after_connack() {
    let t0 = Instant::now();
    let mut s = Session::new(opts(), t0);
    s.handle_request(publish(1, "a", QoS::AtLeastOnce));
    s.handle_request(publish(2, "b", QoS::AtMostOnce));
    assert_eq!(s.take_outgoing(t0), vec![]);
    assert_eq!(s.queued_len(), 2);
    s.connect(t0);
    s.handle_incoming(
        InPacket::Connack {
            session_present: false,
            code: 0,
        },
        t0,
    )
    .unwrap();
    let out = s.take_outgoing(t0);
    assert!(matches!(out[0], OutPacket::Connect { .. }));
    assert!(matches!(
        out[1],
        OutPacket::Publish {
            qos: QoS::AtLeastOnce,
            pid: Some(1),
            dup: false,
            ..
        }
    ));
    assert!(matches!(
        out[2],
        OutPacket::Publish {
            qos: QoS::AtMostOnce,
            pid: None,
            ..
        }
    ));
    // QoS 0 is done once on the wire; QoS 1 waits for PUBACK.
    assert_eq!(
        s.take_events(),
        vec![
            SessionEvent::Connected {
                session_present: false
            },
            SessionEvent::Published(2)
        ]
    );
    assert_eq!(s.inflight_len(), 1);
    s.handle_incoming(InPacket::Puback(1), t0).unwrap();
    assert_eq!(s.take_events(), vec![SessionEvent::Published(1)]);
    assert_eq!(s.inflight_len(), 0);
    // A duplicate PUBACK (after a re-send) is ignored.
    s.handle_incoming(InPacket::Puback(1), t0).unwrap();
    assert_eq!(s.take_events(), vec![]);
}

#[test]
fn the_inflight_window_holds_back_publishes_in_order() {
    let t0 = Instant::now();
    let mut o = opts();
    o.max_inflight = 2;
    let mut s = connected(o, t0);
    for id in 1..=4 {
        s.handle_request(publish(id, "t", QoS::AtLeastOnce));
    }
    s.handle_request(publish(5, "t", QoS::AtMostOnce));
    assert_eq!(
        publish_pids(&s.take_outgoing(t0)),
        vec![(1, false), (2, false)]
    );
    assert_eq!(s.queued_len(), 3);
    s.handle_incoming(InPacket::Puback(2), t0).unwrap();
    assert_eq!(publish_pids(&s.take_outgoing(t0)), vec![(3, false)]);
    s.handle_incoming(InPacket::Puback(1), t0).unwrap();
    let out = s.take_outgoing(t0);
    assert_eq!(publish_pids(&out), vec![(4, false)]);
    // The QoS 0 publish queued behind them follows in order.
    assert!(matches!(
        out.last(),
        Some(OutPacket::Publish {
            qos: QoS::AtMostOnce,
            ..
        })
    ));
}

#[test]
fn reconnect_resends_unacked_publishes_with_dup_and_original_pids() {
    let t0 = Instant::now();
    let mut s = connected(opts(), t0);
    for id in 1..=3 {
        s.handle_request(publish(id, "t", QoS::AtLeastOnce));
    }
    s.take_outgoing(t0);
    s.handle_incoming(InPacket::Puback(2), t0).unwrap();
    s.take_events();
    s.disconnected();
    assert!(!s.is_connected());
    let t1 = t0 + Duration::from_secs(60);
    s.connect(t1);
    s.handle_incoming(
        InPacket::Connack {
            session_present: true,
            code: 0,
        },
        t1,
    )
    .unwrap();
    assert_eq!(
        s.take_events(),
        vec![SessionEvent::Connected {
            session_present: true
        }]
    );
    let out = s.take_outgoing(t1);
    assert_eq!(publish_pids(&out), vec![(1, true), (3, true)]);
    match &out[1] {
        OutPacket::Publish { payload, .. } => assert_eq!(payload, &Bytes::from("payload 1")),
        other => panic!("{other:?}"),
    }
    // New publishes get fresh pids that do not collide with the ones still in flight.
    s.handle_request(publish(4, "t", QoS::AtLeastOnce));
    assert_eq!(publish_pids(&s.take_outgoing(t1)), vec![(4, false)]);
    s.handle_incoming(InPacket::Puback(3), t1).unwrap();
    s.handle_incoming(InPacket::Puback(1), t1).unwrap();
    assert_eq!(
        s.take_events(),
        vec![SessionEvent::Published(3), SessionEvent::Published(1)]
    );
}

#[test]
fn pid_allocation_wraps_and_skips_pids_in_use() {
    let t0 = Instant::now();
    let mut s = connected(opts(), t0);
    s.next_pid = u16::MAX;
    s.handle_request(publish(1, "t", QoS::AtLeastOnce));
    s.handle_request(publish(2, "t", QoS::AtLeastOnce));
    assert_eq!(
        publish_pids(&s.take_outgoing(t0)),
        vec![(u16::MAX, false), (1, false)]
    );
    // Come round again: 65535 and 1 are still in flight and are skipped.
    s.next_pid = u16::MAX;
    s.handle_request(publish(3, "t", QoS::AtLeastOnce));
    assert_eq!(publish_pids(&s.take_outgoing(t0)), vec![(2, false)]);
}

#[test]
fn suback_reports_refused_filters() {
    let t0 = Instant::now();
    let mut s = connected(opts(), t0);
    s.handle_request(Request::Subscribe {
        id: 9,
        filters: vec![
            ("a/#".into(), QoS::AtLeastOnce),
            ("b".into(), QoS::AtMostOnce),
        ],
    });
    let out = s.take_outgoing(t0);
    let OutPacket::Subscribe { pid, filters } = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(filters.len(), 2);
    s.handle_incoming(
        InPacket::Suback {
            pid: *pid,
            granted: vec![Some(QoS::AtLeastOnce), None],
        },
        t0,
    )
    .unwrap();
    assert_eq!(
        s.take_events(),
        vec![SessionEvent::Subscribed {
            id: 9,
            results: vec![("a/#".into(), Some(QoS::AtLeastOnce)), ("b".into(), None)],
        }]
    );
    // Only the granted filter is re-subscribed when the broker loses the session.
    s.disconnected();
    s.connect(t0);
    s.handle_incoming(
        InPacket::Connack {
            session_present: false,
            code: 0,
        },
        t0,
    )
    .unwrap();
    let out = s.take_outgoing(t0);
    assert!(matches!(&out[1], OutPacket::Subscribe { filters, .. }
        if filters == &vec![("a/#".to_string(), QoS::AtLeastOnce)]));
    // ... and not when the broker kept it.
    s.disconnected();
    s.connect(t0);
    s.handle_incoming(
        InPacket::Connack {
            session_present: true,
            code: 0,
        },
        t0,
    )
    .unwrap();
    assert_eq!(s.take_outgoing(t0).len(), 1);
}

#[test]
fn a_suback_with_the_wrong_number_of_codes_is_a_protocol_error() {
    let t0 = Instant::now();
    let mut s = connected(opts(), t0);
    s.handle_request(Request::Subscribe {
        id: 1,
        filters: vec![("a".into(), QoS::AtLeastOnce)],
    });
    let out = s.take_outgoing(t0);
    let OutPacket::Subscribe { pid, .. } = &out[0] else {
        panic!()
    };
    let r = s.handle_incoming(
        InPacket::Suback {
            pid: *pid,
            granted: vec![],
        },
        t0,
    );
    assert!(matches!(r, Err(LinkError::Protocol(_))));
}

#[test]
fn an_unanswered_subscribe_is_sent_again_after_reconnect() {
    let t0 = Instant::now();
    let mut s = connected(opts(), t0);
    s.handle_request(Request::Subscribe {
        id: 1,
        filters: vec![("a".into(), QoS::AtLeastOnce)],
    });
    s.handle_request(Request::Unsubscribe {
        id: 2,
        filters: vec!["b".into()],
    });
    assert_eq!(s.take_outgoing(t0).len(), 2);
    s.disconnected();
    s.connect(t0);
    s.handle_incoming(
        InPacket::Connack {
            session_present: true,
            code: 0,
        },
        t0,
    )
    .unwrap();
    let out = s.take_outgoing(t0);
    assert!(matches!(&out[1], OutPacket::Subscribe { .. }));
    assert!(matches!(&out[2], OutPacket::Unsubscribe { .. }));
    let OutPacket::Unsubscribe { pid, .. } = &out[2] else {
        panic!()
    };
    s.handle_incoming(InPacket::Unsuback(*pid), t0).unwrap();
    assert_eq!(
        s.take_events(),
        vec![
            SessionEvent::Connected {
                session_present: true
            },
            SessionEvent::Unsubscribed(2)
        ]
    );
}

fn incoming(pid: u16, topic: &str) -> InPacket {
    InPacket::Publish {
        dup: false,
        qos: QoS::AtLeastOnce,
        pid: Some(pid),
        retain: false,
        topic: topic.into(),
        payload: Bytes::from_static(b"x"),
    }
}

fn ack_of(event: &SessionEvent) -> AckId {
    match event {
        SessionEvent::Message { ack: Some(a), .. } => *a,
        other => panic!("{other:?}"),
    }
}

#[test]
fn pubacks_wait_for_the_application_and_keep_arrival_order() {
    let t0 = Instant::now();
    let mut s = connected(opts(), t0);
    s.handle_incoming(incoming(10, "a"), t0).unwrap();
    s.handle_incoming(incoming(11, "b"), t0).unwrap();
    s.handle_incoming(
        InPacket::Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            pid: None,
            retain: true,
            topic: "c".into(),
            payload: Bytes::new(),
        },
        t0,
    )
    .unwrap();
    let events = s.take_events();
    assert_eq!(events.len(), 3);
    assert!(matches!(
        &events[2],
        SessionEvent::Message {
            ack: None,
            retain: true,
            ..
        }
    ));
    // Nothing is acknowledged by receipt alone.
    assert_eq!(s.take_outgoing(t0), vec![]);
    s.handle_request(Request::Ack(ack_of(&events[1])));
    assert_eq!(
        s.take_outgoing(t0),
        vec![],
        "PUBACK 11 must wait for PUBACK 10"
    );
    s.handle_request(Request::Ack(ack_of(&events[0])));
    assert_eq!(
        s.take_outgoing(t0),
        vec![OutPacket::Puback(10), OutPacket::Puback(11)]
    );
}

#[test]
fn acks_from_an_earlier_connection_are_dropped() {
    let t0 = Instant::now();
    let mut s = connected(opts(), t0);
    s.handle_incoming(incoming(5, "a"), t0).unwrap();
    let old = ack_of(&s.take_events()[0]);
    s.disconnected();
    s.connect(t0);
    s.handle_incoming(
        InPacket::Connack {
            session_present: true,
            code: 0,
        },
        t0,
    )
    .unwrap();
    s.take_outgoing(t0);
    // The broker re-sends pid 5; the stale ack must not acknowledge it.
    s.handle_incoming(incoming(5, "a"), t0).unwrap();
    s.handle_request(Request::Ack(old));
    assert_eq!(s.take_outgoing(t0), vec![]);
    let events = s.take_events();
    let fresh = ack_of(&events[1]);
    s.handle_request(Request::Ack(fresh));
    assert_eq!(s.take_outgoing(t0), vec![OutPacket::Puback(5)]);
}

#[test]
fn keep_alive_pings_when_quiet_and_declares_a_silent_broker_dead() {
    let t0 = Instant::now();
    let s30 = Duration::from_secs(30);
    let mut s = connected(opts(), t0);
    assert_eq!(s.next_deadline(), Some(t0 + s30));
    s.tick(t0 + Duration::from_secs(29)).unwrap();
    assert_eq!(s.take_outgoing(t0 + Duration::from_secs(29)), vec![]);
    // Traffic out alone does not postpone the ping: the broker has been silent for 30 s.
    s.handle_request(publish(1, "t", QoS::AtMostOnce));
    s.take_outgoing(t0 + Duration::from_secs(20));
    let t30 = t0 + s30;
    s.tick(t30).unwrap();
    assert_eq!(s.take_outgoing(t30), vec![OutPacket::Pingreq]);
    assert_eq!(s.next_deadline(), Some(t30 + Duration::from_secs(5)));
    // Only one PINGREQ outstanding.
    s.tick(t30 + Duration::from_secs(1)).unwrap();
    assert_eq!(s.take_outgoing(t30), vec![]);
    // PINGRESP clears it; the next ping is due 30 s after the quietest direction.
    let t31 = t30 + Duration::from_secs(1);
    s.handle_incoming(InPacket::Pingresp, t31).unwrap();
    assert_eq!(s.next_deadline(), Some(t30 + s30));
    let t60 = t30 + s30;
    s.tick(t60).unwrap();
    assert_eq!(s.take_outgoing(t60), vec![OutPacket::Pingreq]);
    s.tick(t60 + Duration::from_millis(4999)).unwrap();
    assert!(matches!(
        s.tick(t60 + Duration::from_secs(5)),
        Err(LinkError::KeepAliveTimeout(_))
    ));
}

#[test]
fn bytes_of_a_long_packet_keep_the_link_alive_while_the_pingresp_waits_behind_it() {
    // A 2 MiB retained roster at 100 KiB/s: 20 s of bytes, no whole packet, keep-alive 30 s and
    // a 5 s response timeout. The ping goes out when the link has been quiet; bytes keep coming
    // and the connection stays up until the roster (and the PINGRESP behind it) arrives.
    let t0 = Instant::now();
    let s30 = Duration::from_secs(30);
    let mut s = connected(opts(), t0);
    let t30 = t0 + s30;
    s.tick(t30).unwrap();
    assert_eq!(s.take_outgoing(t30), vec![OutPacket::Pingreq]);
    for ms in (100..20_000).step_by(100) {
        let at = t30 + Duration::from_millis(ms);
        s.bytes_received(at);
        s.tick(at).unwrap();
    }
    let last = t30 + Duration::from_millis(19_900);
    assert_eq!(s.next_deadline(), Some(last + Duration::from_secs(5)));
    s.handle_incoming(InPacket::Pingresp, last).unwrap();
    s.tick(last + Duration::from_secs(6)).unwrap();
    // Bytes that stop are a dead link again, 5 s after the last one.
    let t = last + s30;
    s.tick(t).unwrap();
    assert_eq!(s.take_outgoing(t), vec![OutPacket::Pingreq]);
    assert!(matches!(
        s.tick(t + Duration::from_secs(5)),
        Err(LinkError::KeepAliveTimeout(_))
    ));
}

#[test]
fn keep_alive_zero_never_pings() {
    let t0 = Instant::now();
    let mut o = opts();
    o.keep_alive = Duration::ZERO;
    let mut s = connected(o, t0);
    assert_eq!(s.next_deadline(), None);
    s.tick(t0 + Duration::from_secs(3600)).unwrap();
    assert_eq!(s.take_outgoing(t0), vec![]);
}

#[test]
fn graceful_disconnect_sends_disconnect_once() {
    let t0 = Instant::now();
    let mut s = connected(opts(), t0);
    s.disconnect();
    assert_eq!(s.take_outgoing(t0), vec![OutPacket::Disconnect]);
    s.disconnect();
    assert_eq!(s.take_outgoing(t0), vec![]);
}
