//! The shipped `config/mosquitto/` (TLS listener, password file, ACL) on a real Mosquitto, with
// Test code: a failed unwrap is a failed test with its message.
#![allow(clippy::unwrap_used)]
//! rcgen certificates, and kiosks whose clock says 1970.

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use otmetka_link::testing::{Broker, TestPki, new_year};
use otmetka_link::topics::{self, Id};
use otmetka_link::{ClientOptions, DisconnectReason, LinkError, QoS, TlsOptions, Transport};
use support::*;

const CONFIG_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/mosquitto");

fn id(s: &str) -> Id {
    Id::new(s).unwrap()
}

/// The users of the test site: (username, password).
fn users() -> Vec<(String, String)> {
    vec![
        ("journal".into(), "journal-secret".into()),
        (
            topics::kiosk_username(&id("s1"), &id("k1")),
            "k1-secret".into(),
        ),
        (
            topics::kiosk_username(&id("s1"), &id("k2")),
            "k2-secret".into(),
        ),
        (
            topics::kiosk_username(&id("s2"), &id("k9")),
            "k9-secret".into(),
        ),
    ]
}

/// The shipped mosquitto.conf with only its port and file locations rewritten, the shipped ACL
/// plus the per-kiosk blocks provisioning would append, a password file, and fresh certificates.
fn site_broker() -> Broker {
    site_broker_with(|conf| conf)
}

/// [`site_broker`] with the shipped config edited by `edit` first.
fn site_broker_with(edit: impl FnOnce(String) -> String) -> Broker {
    let conf = std::fs::read_to_string(Path::new(CONFIG_DIR).join("mosquitto.conf")).unwrap();
    let conf = edit(conf);
    assert!(conf.contains("listener 8883\n"));
    let conf = conf
        .replace("listener 8883\n", "listener {port} 127.0.0.1\n")
        .replace("/etc/mosquitto/otmetka/", "{dir}/")
        .replace("/var/lib/mosquitto/", "{dir}/")
        + "log_dest file {dir}/mosquitto.log\nlog_type all\n";
    let mut broker = Broker::configure(&conf).unwrap();
    let dir = broker.dir().to_owned();
    TestPki::generate(&["localhost", "127.0.0.1"])
        .unwrap()
        .write_to(&dir)
        .unwrap();
    let mut acl = std::fs::read_to_string(Path::new(CONFIG_DIR).join("acl")).unwrap();
    for (site, kiosk) in [("s1", "k1"), ("s1", "k2"), ("s2", "k9")] {
        acl.push('\n');
        acl.push_str(&topics::mosquitto_kiosk_acl_block(&id(site), &id(kiosk)));
    }
    std::fs::write(dir.join("acl"), acl).unwrap();
    let passwd = dir.join("passwd");
    std::fs::write(&passwd, "").unwrap();
    for (user, password) in users() {
        let ok = Command::new("mosquitto_passwd")
            .arg("-b")
            .arg(&passwd)
            .arg(&user)
            .arg(&password)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mosquitto_passwd for {user}");
    }
    broker.spawn().unwrap();
    broker
}

/// TLS options of a kiosk that booted without RTC: its clock says 1970; `lkg` is the last time
/// it knew to be good.
fn tls(broker: &Broker, lkg: Option<std::time::SystemTime>) -> TlsOptions {
    let mut t = TlsOptions::new(broker.dir().join("ca.crt"));
    t.server_name = Some("localhost".into());
    t.last_known_good = lkg;
    t.clock = Arc::new(|| new_year(1970));
    t
}

fn login(broker: &Broker, user: &str, password: &str) -> ClientOptions {
    let mut o = options(broker.port, user);
    o.transport = Transport::Tls(tls(broker, Some(new_year(2026))));
    o.session.username = Some(user.into());
    o.session.password = Some(password.to_owned().into());
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kiosk_cannot_publish_as_another_kiosk_or_another_site() {
    let broker = site_broker();
    let (s1, k1, k2) = (id("s1"), id("k1"), id("k2"));
    let (journal, mut journal_ev) = start(login(&broker, "journal", "journal-secret"));
    connected(&mut journal_ev).await;
    let granted = journal
        .subscribe(&[
            (topics::ALL_EVENTS_FILTER, QoS::AtLeastOnce),
            (topics::ALL_STATUS_FILTER, QoS::AtLeastOnce),
        ])
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(granted, vec![QoS::AtLeastOnce, QoS::AtLeastOnce]);

    let (kiosk, mut kiosk_ev) = start(login(&broker, "s1/kiosk/k1", "k1-secret"));
    connected(&mut kiosk_ev).await;
    let attempts = [
        (topics::events(&s1, &k1), "legit-1"),
        (topics::events(&s1, &k2), "forged-other-kiosk"),
        (topics::events(&id("s2"), &k1), "forged-other-site"),
        (topics::status(&s1, &k2), "forged-other-status"),
        (topics::status(&s1, &k1), "online"),
        (topics::events(&s1, &k1), "legit-2"),
    ];
    for (topic, payload) in &attempts {
        // Mosquitto answers PUBACK even to a refused QoS 1 publish (MQTT 3.1.1 cannot say no).
        let t = kiosk
            .publish(topic.clone(), *payload, QoS::AtLeastOnce, false)
            .await
            .unwrap();
        tokio::time::timeout(WAIT, t.wait()).await.unwrap().unwrap();
    }
    let mut seen = Vec::new();
    loop {
        let m = message(&mut journal_ev).await;
        let payload = String::from_utf8(m.payload.to_vec()).unwrap();
        seen.push((m.topic, payload.clone()));
        if payload == "legit-2" {
            break;
        }
    }
    seen.extend(
        drain_for(&mut journal_ev, Duration::from_millis(300))
            .await
            .into_iter()
            .map(|m| (m.topic, String::from_utf8(m.payload.to_vec()).unwrap())),
    );
    let payloads: Vec<&str> = seen.iter().map(|(_, p)| p.as_str()).collect();
    assert_eq!(payloads, vec!["legit-1", "online", "legit-2"], "{seen:?}");
    kiosk.disconnect().await.unwrap();
    journal.disconnect().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kiosk_receives_nothing_from_another_site_or_kiosk() {
    let broker = site_broker();
    let (s1, s2, k1, k9) = (id("s1"), id("s2"), id("k1"), id("k9"));
    let (journal, mut journal_ev) = start(login(&broker, "journal", "journal-secret"));
    connected(&mut journal_ev).await;
    for (topic, payload) in [
        (topics::roster(&s1), "roster-s1"),
        (topics::roster(&s2), "roster-s2"),
        (topics::schedule(&s2), "schedule-s2"),
        (topics::catalogue(&s2), "catalogue-s2"),
    ] {
        journal
            .publish(topic, payload, QoS::AtLeastOnce, true)
            .await
            .unwrap()
            .wait()
            .await
            .unwrap();
    }

    let (kiosk, mut kiosk_ev) = start(login(&broker, "s1/kiosk/k1", "k1-secret"));
    connected(&mut kiosk_ev).await;
    let own = [
        topics::acks(&s1, &k1),
        topics::enrol(&s1, &k1),
        topics::roster(&s1),
    ];
    for filter in &own {
        let granted = kiosk
            .subscribe(&[(filter, QoS::AtLeastOnce)])
            .await
            .unwrap()
            .wait()
            .await;
        assert_eq!(granted.unwrap(), vec![QoS::AtLeastOnce], "{filter}");
    }
    let foreign = [
        topics::roster(&s2),
        topics::schedule(&s2),
        "otmetka/v1/+/catalogue".to_string(),
        topics::acks(&s2, &k9),
        "otmetka/v1/s1/kiosk/+/acks".to_string(),
        "otmetka/#".to_string(),
    ];
    for filter in &foreign {
        // Mosquitto 2.0 may refuse the subscription (0x80) or grant it and deliver nothing;
        // either way nothing may arrive, which is checked below.
        match kiosk
            .subscribe(&[(filter, QoS::AtLeastOnce)])
            .await
            .unwrap()
            .wait()
            .await
        {
            Ok(granted) => eprintln!("{filter}: granted {granted:?}"),
            Err(LinkError::SubscribeRejected { .. }) => eprintln!("{filter}: refused (0x80)"),
            Err(e) => panic!("{filter}: {e}"),
        }
    }
    for (topic, payload) in [
        (topics::acks(&s2, &k9), "ack-k9"),
        (topics::acks(&s1, &id("k2")), "ack-k2"),
        (topics::catalogue(&s2), "catalogue-s2-live"),
        (topics::acks(&s1, &k1), "ack-k1"),
    ] {
        journal
            .publish(topic, payload, QoS::AtLeastOnce, false)
            .await
            .unwrap()
            .wait()
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    loop {
        let m = message(&mut kiosk_ev).await;
        let payload = String::from_utf8(m.payload.to_vec()).unwrap();
        seen.push(payload.clone());
        if payload == "ack-k1" {
            break;
        }
    }
    seen.extend(
        drain_for(&mut kiosk_ev, Duration::from_millis(300))
            .await
            .into_iter()
            .map(|m| String::from_utf8(m.payload.to_vec()).unwrap()),
    );
    seen.sort();
    seen.dedup();
    assert_eq!(
        seen,
        vec!["ack-k1", "roster-s1"],
        "the kiosk saw more than its own"
    );
    kiosk.disconnect().await.unwrap();
    journal.disconnect().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_certificate_time_uses_the_last_known_good_time_not_the_1970_clock() {
    let broker = site_broker();
    // Clock in 1970, nothing better known: the broker's certificate is "not valid yet".
    let mut o = login(&broker, "s1/kiosk/k1", "k1-secret");
    o.transport = Transport::Tls(tls(&broker, None));
    let (client, mut ev) = start(o);
    match lost(&mut ev).await {
        DisconnectReason::ConnectFailed(reason) => {
            assert!(reason.contains("not valid yet"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    client.disconnect().await.unwrap();
    // Same clock, with the last time known good: connects.
    let (client, mut ev) = start(login(&broker, "s1/kiosk/k1", "k1-secret"));
    connected(&mut ev).await;
    client.disconnect().await.unwrap();
    // A wrong password over good TLS is refused by the broker.
    let (client, mut ev) = start(login(&broker, "s1/kiosk/k1", "wrong"));
    match lost(&mut ev).await {
        DisconnectReason::ConnectFailed(reason) => assert!(reason.contains("refused"), "{reason}"),
        other => panic!("{other:?}"),
    }
    client.disconnect().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_certificate_from_another_ca_is_refused() {
    let broker = site_broker();
    let other = tempfile::tempdir().unwrap();
    TestPki::generate(&["localhost"])
        .unwrap()
        .write_to(other.path())
        .unwrap();
    let mut o = login(&broker, "s1/kiosk/k1", "k1-secret");
    let mut t = tls(&broker, Some(new_year(2026)));
    t.ca_file = other.path().join("ca.crt");
    o.transport = Transport::Tls(t);
    let (client, mut ev) = start(o);
    assert!(matches!(
        lost(&mut ev).await,
        DisconnectReason::ConnectFailed(_)
    ));
    client.disconnect().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_is_presented_when_the_broker_requires_one() {
    let broker = site_broker_with(|conf| {
        assert!(conf.contains("require_certificate false\n"));
        conf.replace("require_certificate false\n", "require_certificate true\n")
    });
    // Without a certificate the handshake fails.
    let (client, mut ev) = start(login(&broker, "s1/kiosk/k1", "k1-secret"));
    assert!(matches!(
        lost(&mut ev).await,
        DisconnectReason::ConnectFailed(_)
    ));
    client.disconnect().await.unwrap();
    // With the CA-signed client certificate (and the password) it connects.
    let mut o = login(&broker, "s1/kiosk/k1", "k1-secret");
    let mut t = tls(&broker, Some(new_year(2026)));
    t.client_cert = Some((
        broker.dir().join("client.crt"),
        broker.dir().join("client.key"),
    ));
    o.transport = Transport::Tls(t);
    let (client, mut ev) = start(o);
    connected(&mut ev).await;
    client.disconnect().await.unwrap();
}
