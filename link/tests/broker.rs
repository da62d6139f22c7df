//! The client against a real Mosquitto 2.0 (Debian's `/usr/sbin/mosquitto`), on a free port.
// Test code: a failed unwrap is a failed test with its message.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use otmetka_link::testing::{Broker, Proxy, ProxyMode};
use otmetka_link::{DisconnectReason, Event, LastWill, QoS};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos1_round_trip_from_publisher_to_subscriber() {
    let broker = Broker::start("").unwrap();
    let (sub, mut sub_ev) = start(options(broker.port, "sub"));
    assert!(!connected(&mut sub_ev).await);
    let granted = sub
        .subscribe(&[("t/#", QoS::AtLeastOnce)])
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(granted, vec![QoS::AtLeastOnce]);

    let (publ, mut pub_ev) = start(options(broker.port, "pub"));
    connected(&mut pub_ev).await;
    let token = publ
        .publish("t/1", &b"hello"[..], QoS::AtLeastOnce, false)
        .await
        .unwrap();
    tokio::time::timeout(WAIT, token.wait())
        .await
        .unwrap()
        .unwrap();
    let token = publ
        .publish("t/2", &b"zero"[..], QoS::AtMostOnce, false)
        .await
        .unwrap();
    tokio::time::timeout(WAIT, token.wait())
        .await
        .unwrap()
        .unwrap();

    let m = message(&mut sub_ev).await;
    assert_eq!(
        (m.topic.as_str(), &m.payload[..], m.qos, m.retain),
        ("t/1", &b"hello"[..], QoS::AtLeastOnce, false)
    );
    let m = message(&mut sub_ev).await;
    assert_eq!(
        (m.topic.as_str(), &m.payload[..], m.qos),
        ("t/2", &b"zero"[..], QoS::AtMostOnce)
    );
    // The broker log shows our PUBACK for the delivered QoS 1 message.
    let log_has_puback = || broker.log().contains("Received PUBACK from sub");
    for _ in 0..200 {
        if log_has_puback() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(log_has_puback(), "{}", broker.log());

    // After UNSUBSCRIBE nothing more arrives from t/#; a marker on another filter proves the
    // subscriber is still listening.
    sub.unsubscribe(&["t/#"])
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    sub.subscribe(&[("marker", QoS::AtLeastOnce)])
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    publ.publish("t/3", "gone", QoS::AtLeastOnce, false)
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    publ.publish("marker", "m", QoS::AtLeastOnce, false)
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(message(&mut sub_ev).await.topic, "marker");
    publ.disconnect().await.unwrap();
    sub.disconnect().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persistent_session_receives_what_was_published_while_it_was_offline() {
    let broker = Broker::start("").unwrap();
    let (sub, mut sub_ev) = start(options(broker.port, "journal-1"));
    connected(&mut sub_ev).await;
    sub.subscribe(&[("events/#", QoS::AtLeastOnce)])
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    sub.disconnect().await.unwrap();

    let (publ, mut pub_ev) = start(options(broker.port, "kiosk-1"));
    connected(&mut pub_ev).await;
    for i in 0..3 {
        let t = publ
            .publish("events/k1", format!("unit {i}"), QoS::AtLeastOnce, false)
            .await
            .unwrap();
        t.wait().await.unwrap();
    }

    // Same client id, no new SUBSCRIBE: the broker kept the session and its queue.
    let (sub, mut sub_ev) = start(options(broker.port, "journal-1"));
    assert!(connected(&mut sub_ev).await, "session_present expected");
    for i in 0..3 {
        let m = message(&mut sub_ev).await;
        assert_eq!(m.payload, format!("unit {i}").as_bytes());
    }
    sub.disconnect().await.unwrap();
    publ.disconnect().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_will_is_published_when_the_connection_dies_without_disconnect() {
    let broker = Broker::start("").unwrap();
    let (watch, mut watch_ev) = start(options(broker.port, "watcher"));
    connected(&mut watch_ev).await;
    watch
        .subscribe(&[("status/#", QoS::AtLeastOnce)])
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();

    let proxy = Proxy::start(broker.port).await.unwrap();
    let mut o = options(proxy.port, "k1");
    o.session.last_will = Some(LastWill {
        topic: "status/k1".into(),
        payload: "offline".into(),
        qos: QoS::AtLeastOnce,
        retain: true,
    });
    let (kiosk, mut kiosk_ev) = start(o);
    connected(&mut kiosk_ev).await;
    kiosk
        .publish("status/k1", "online", QoS::AtLeastOnce, true)
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(message(&mut watch_ev).await.payload, &b"online"[..]);

    proxy.cut();
    let m = message(&mut watch_ev).await;
    assert_eq!(
        (m.topic.as_str(), &m.payload[..]),
        ("status/k1", &b"offline"[..])
    );
    assert!(matches!(
        lost(&mut kiosk_ev).await,
        DisconnectReason::ConnectionLost(_)
    ));
    // The will was retained: a newcomer sees the kiosk offline.
    let (late, mut late_ev) = start(options(broker.port, "late"));
    connected(&mut late_ev).await;
    late.subscribe(&[("status/k1", QoS::AtLeastOnce)])
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    let m = message(&mut late_ev).await;
    assert_eq!((&m.payload[..], m.retain), (&b"offline"[..], true));

    // A graceful DISCONNECT, in contrast, does not fire the will.
    assert!(
        connected(&mut kiosk_ev).await,
        "the kiosk reconnects through the proxy"
    );
    kiosk
        .publish("status/k1", "online", QoS::AtLeastOnce, true)
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(message(&mut watch_ev).await.payload, &b"online"[..]);
    kiosk.disconnect().await.unwrap();
    watch
        .publish("status/marker", "m", QoS::AtLeastOnce, false)
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    let m = message(&mut watch_ev).await;
    assert_eq!(
        m.topic, "status/marker",
        "no will after DISCONNECT, got {m:?}"
    );
    late.disconnect().await.unwrap();
    watch.disconnect().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_pings_and_a_silent_link_is_declared_dead() {
    let broker = Broker::start("").unwrap();
    let proxy = Proxy::start(broker.port).await.unwrap();
    let mut o = options(proxy.port, "pinger");
    // 2 s: the broker drops a client silent for 1.5 × keep-alive; leave room on a loaded machine.
    o.session.keep_alive = Duration::from_secs(2);
    o.session.response_timeout = Duration::from_secs(2);
    let (client, mut ev) = start(o);
    connected(&mut ev).await;
    let pinged = || broker.log().contains("Received PINGREQ from pinger");
    for _ in 0..200 {
        if pinged() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(pinged(), "no PINGREQ in the broker log:\n{}", broker.log());

    // The link goes silent without TCP noticing: only the unanswered PINGREQ can tell.
    proxy.set_mode(ProxyMode::Blackhole);
    match lost(&mut ev).await {
        DisconnectReason::ConnectionLost(reason) => assert!(reason.contains("PINGREQ"), "{reason}"),
        other => panic!("{other:?}"),
    }
    proxy.set_mode(ProxyMode::Pass);
    connected(&mut ev).await;
    client.disconnect().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_broker_restart_the_client_reconnects_and_resends_unacked_qos1() {
    let mut broker = Broker::start("").unwrap();
    let (sub, mut sub_ev) = start(options(broker.port, "collector"));
    connected(&mut sub_ev).await;
    sub.subscribe(&[("r/#", QoS::AtLeastOnce)])
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();

    let proxy = Proxy::start(broker.port).await.unwrap();
    let (publ, mut pub_ev) = start(options(proxy.port, "producer"));
    connected(&mut pub_ev).await;
    // The broker gets the publish but its PUBACK never reaches us: it stays in flight.
    proxy.set_mode(ProxyMode::DropToClient);
    let token = publ
        .publish("r/1", "first", QoS::AtLeastOnce, false)
        .await
        .unwrap();
    assert_eq!(message(&mut sub_ev).await.payload, &b"first"[..]);
    let mut token = Box::pin(token.wait());
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut token)
            .await
            .is_err()
    );

    proxy.set_mode(ProxyMode::Pass);
    tokio::task::block_in_place(|| broker.restart()).unwrap();
    // The token completes only after the re-send was acknowledged by the restarted broker.
    tokio::time::timeout(WAIT, &mut token)
        .await
        .unwrap()
        .unwrap();
    let log = broker.log();
    assert!(
        log.contains("Received PUBLISH from producer (d1, q1"),
        "the re-send must carry DUP=1:\n{log}"
    );
    // Messages published while the broker was down and after are delivered too.
    let more: Vec<_> = {
        let mut tokens = Vec::new();
        for i in 2..=20 {
            tokens.push(
                publ.publish("r/n", format!("{i}"), QoS::AtLeastOnce, false)
                    .await
                    .unwrap(),
            );
        }
        tokens
    };
    for t in more {
        tokio::time::timeout(WAIT, t.wait()).await.unwrap().unwrap();
    }
    let mut seen = BTreeSet::new();
    while seen.len() < 19 {
        let m = message(&mut sub_ev).await;
        if m.topic == "r/n" {
            seen.insert(String::from_utf8(m.payload.to_vec()).unwrap());
        }
    }
    publ.disconnect().await.unwrap();
    sub.disconnect().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_during_an_outage_are_delivered_after_reconnect() {
    let mut broker = Broker::start("").unwrap();
    let (sub, mut sub_ev) = start(options(broker.port, "collector2"));
    connected(&mut sub_ev).await;
    sub.subscribe(&[("o/#", QoS::AtLeastOnce)])
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    let (publ, mut pub_ev) = start(options(broker.port, "producer2"));
    connected(&mut pub_ev).await;

    tokio::task::block_in_place(|| broker.stop()).unwrap();
    assert!(matches!(
        lost(&mut pub_ev).await,
        DisconnectReason::ConnectionLost(_)
    ));
    let mut tokens = Vec::new();
    for i in 0..50 {
        tokens.push(
            publ.publish("o/x", format!("{i}"), QoS::AtLeastOnce, false)
                .await
                .unwrap(),
        );
    }
    tokio::task::block_in_place(|| broker.spawn()).unwrap();
    assert!(
        connected(&mut pub_ev).await,
        "the broker kept the session on disk"
    );
    for t in tokens {
        tokio::time::timeout(WAIT, t.wait()).await.unwrap().unwrap();
    }
    let mut got = Vec::new();
    while got.len() < 50 {
        got.push(String::from_utf8(message(&mut sub_ev).await.payload.to_vec()).unwrap());
    }
    let expected: Vec<String> = (0..50).map(|i| i.to_string()).collect();
    assert_eq!(got, expected, "in order, none lost");
    publ.disconnect().await.unwrap();
    sub.disconnect().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_ack_holds_the_puback_until_the_application_acks() {
    let broker = Broker::start("").unwrap();
    let mut o = options(broker.port, "careful");
    o.manual_ack = true;
    let (sub, mut sub_ev) = start(o);
    connected(&mut sub_ev).await;
    sub.subscribe(&[("m/#", QoS::AtLeastOnce)])
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    let (publ, mut pub_ev) = start(options(broker.port, "sender"));
    connected(&mut pub_ev).await;
    publ.publish("m/1", "one", QoS::AtLeastOnce, false)
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    let m = message(&mut sub_ev).await;
    let ack = m.ack.expect("QoS 1 with manual_ack carries an ack id");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !broker.log().contains("Received PUBACK from careful"),
        "acked too early"
    );
    sub.ack(ack).await.unwrap();
    let acked = || broker.log().contains("Received PUBACK from careful");
    for _ in 0..200 {
        if acked() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(acked(), "{}", broker.log());
    publ.disconnect().await.unwrap();
    sub.disconnect().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_login_is_reported_and_retried() {
    let mut broker = Broker::configure(
        "per_listener_settings false\nlistener {port} 127.0.0.1\nallow_anonymous false\n\
         password_file {dir}/passwd\nlog_dest file {dir}/mosquitto.log\nlog_type all\n",
    )
    .unwrap();
    // Nobody is in the password file: every login is refused.
    std::fs::write(broker.dir().join("passwd"), "").unwrap();
    broker.spawn().unwrap();
    let (client, mut ev) = start(options(broker.port, "nobody"));
    for _ in 0..2 {
        match lost(&mut ev).await {
            DisconnectReason::ConnectFailed(reason) => {
                assert!(
                    reason.contains("not authorized") || reason.contains("username"),
                    "{reason}"
                )
            }
            other => panic!("{other:?}"),
        }
    }
    client.disconnect().await.unwrap();
    // After the stop, the stream ends with `Stopped` (failed attempts may come before it).
    while let Some(ev) = ev.recv().await {
        if ev
            == (Event::Disconnected {
                reason: DisconnectReason::Stopped,
            })
        {
            return;
        }
    }
    panic!("no Stopped event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_not_acked_before_the_connection_drops_is_delivered_again() {
    let broker = Broker::start("").unwrap();
    let proxy = Proxy::start(broker.port).await.unwrap();
    let mut o = options(proxy.port, "ingest");
    o.manual_ack = true;
    let (sub, mut sub_ev) = start(o);
    connected(&mut sub_ev).await;
    sub.subscribe(&[("e/#", QoS::AtLeastOnce)])
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    let (publ, mut pub_ev) = start(options(broker.port, "kiosk"));
    connected(&mut pub_ev).await;
    publ.publish("e/1", "unit", QoS::AtLeastOnce, false)
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    let first = message(&mut sub_ev).await;
    assert!(!first.dup);
    // The journal crashes (or the link drops) before committing: no PUBACK was sent.
    proxy.cut();
    assert!(connected(&mut sub_ev).await, "session kept");
    let again = message(&mut sub_ev).await;
    assert_eq!(
        (again.topic.as_str(), &again.payload[..], again.dup),
        ("e/1", &b"unit"[..], true)
    );
    // The old ack id is void; the new one acknowledges, and nothing comes a third time.
    sub.ack(first.ack.unwrap()).await.unwrap();
    sub.ack(again.ack.unwrap()).await.unwrap();
    publ.publish("e/2", "next", QoS::AtLeastOnce, false)
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(message(&mut sub_ev).await.topic, "e/2");
    publ.disconnect().await.unwrap();
    sub.disconnect().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_retained_message_on_a_slow_link_arrives_without_the_keep_alive_dropping_it() {
    // The hardening issue, point 11: a roster of 1 MiB at 100 KiB/s takes 10 s to arrive, five
    // times the keep-alive. The PINGRESP waits behind it; bytes arriving keep the link alive, so
    // the connection holds and the roster is not sent again in a loop.
    let broker = Broker::start("").unwrap();
    let (publ, mut pub_ev) = start(options(broker.port, "journal"));
    connected(&mut pub_ev).await;
    let roster: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    let token = publ
        .publish("site/roster", roster.clone(), QoS::AtLeastOnce, true)
        .await
        .unwrap();
    tokio::time::timeout(WAIT, token.wait())
        .await
        .unwrap()
        .unwrap();
    let proxy = Proxy::start(broker.port).await.unwrap();
    proxy.set_mode(ProxyMode::Throttle {
        bytes_per_sec: 100 * 1024,
    });
    let mut o = options(proxy.port, "kiosk");
    o.session.keep_alive = Duration::from_secs(2);
    o.session.response_timeout = Duration::from_secs(2);
    o.max_packet_size = 2 * 1024 * 1024;
    let (kiosk, mut ev) = start(o);
    connected(&mut ev).await;
    let started = std::time::Instant::now();
    kiosk
        .subscribe(&[("site/roster", QoS::AtLeastOnce)])
        .await
        .unwrap();
    let got = loop {
        match tokio::time::timeout(Duration::from_secs(40), ev.recv())
            .await
            .expect("the roster within 40 s")
            .expect("the client is running")
        {
            Event::Message(m) => break m,
            Event::Connected { .. } => {}
            Event::Disconnected { reason } => {
                panic!(
                    "the slow link was dropped after {:?}: {reason:?}",
                    started.elapsed()
                )
            }
        }
    };
    let took = started.elapsed();
    assert_eq!(got.payload.len(), roster.len());
    assert!(got.payload == roster, "the roster arrives whole");
    assert!(
        took > Duration::from_secs(6),
        "the proxy really was slow: {took:?}"
    );
    // Once it is through, the link is an ordinary one again: pings answered, no drop.
    let quiet = drain_for(&mut ev, Duration::from_secs(5)).await;
    assert!(quiet.is_empty());
    kiosk.disconnect().await.unwrap();
}

/// The journal's pattern: take a batch of messages, then publish an answer for each before
/// reading on. With its event channel full (the broker goes on sending), the task must still
/// take the publishes: once it waited on the application while the application waited on it,
/// and both stood still until the broker dropped the connection for a missed keep-alive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_publishes_while_its_events_wait_is_not_deadlocked() {
    let broker = Broker::start("").unwrap();
    let mut o = options(broker.port, "answerer");
    o.manual_ack = true;
    o.event_capacity = 4;
    let (sub, mut sub_ev) = start(o);
    connected(&mut sub_ev).await;
    sub.subscribe(&[("in/#", QoS::AtLeastOnce)])
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    let (publ, mut pub_ev) = start(options(broker.port, "sender"));
    connected(&mut pub_ev).await;
    let mut sent = Vec::new();
    for i in 0..200 {
        sent.push(
            publ.publish(format!("in/{i}"), "x", QoS::AtLeastOnce, false)
                .await
                .unwrap(),
        );
    }
    for t in sent {
        t.wait().await.unwrap();
    }
    // One message taken; its answer: more publishes than the request queue (64) holds, while
    // the broker's next messages fill the event channel.
    let first = message(&mut sub_ev).await;
    let answers = async {
        let mut tokens = Vec::new();
        for i in 0..500 {
            tokens.push(
                sub.publish(format!("out/{i}"), "answer", QoS::AtLeastOnce, false)
                    .await
                    .unwrap(),
            );
        }
        tokens
    };
    let tokens = tokio::time::timeout(Duration::from_secs(20), answers)
        .await
        .expect("the publishes were taken while events waited (no deadlock)");
    sub.ack(first.ack.unwrap()).await.unwrap();
    // The rest of the messages still arrive and are acked; the socket is read again, and the
    // broker's PUBACKs of the answers come in.
    for _ in 1..200 {
        let m = message(&mut sub_ev).await;
        sub.ack(m.ack.unwrap()).await.unwrap();
    }
    for t in tokens {
        tokio::time::timeout(Duration::from_secs(20), t.wait())
            .await
            .expect("every answer PUBACKed")
            .unwrap();
    }
    publ.disconnect().await.unwrap();
    sub.disconnect().await.unwrap();
}
