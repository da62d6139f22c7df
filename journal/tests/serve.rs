//! `serve::run` in-process against a real Mosquitto: the web server answers on the listener it
//! was given, the feed commits a kiosk's message and acknowledges it, and one shutdown stops
//! both cleanly (the run returns `Ok`).

#![allow(clippy::unwrap_used)]

use otmetka_journal::clock::FixedClock;
use otmetka_journal::config::JournalConfig;
use otmetka_journal::documents::Documents;
use otmetka_journal::store::{JournalStore, SqliteJournal};
use otmetka_link::testing::Broker;
use otmetka_link::{Client, ClientOptions, Event, QoS};
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A plain HTTP/1.1 GET (the browser tests use chromium; this only checks the server's status).
fn get(port: u16, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (code, body.to_string())
}

fn data(name: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR")))
        .unwrap();
    text.trim_end().as_bytes().to_vec()
}

#[test]
fn one_process_serves_the_feed_and_the_pages_and_stops_on_one_shutdown() {
    let broker = Broker::start("").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let config = dir.path().join("journal.toml");
    std::fs::write(
        &config,
        format!(
            "database = \"journal.db\"\ncatalogue = \"{root}/config/services.toml\"\n\
             broker = \"127.0.0.1:{}\"\n[[sites]]\nid = \"demo\"\nsite_secret_file = \"s\"\n",
            broker.port
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("s"), "demo-secret-for-this-test-only\n").unwrap();
    let cfg = JournalConfig::load(&config).unwrap();
    let documents = Documents::load(&cfg).unwrap();
    let clock = Arc::new(FixedClock::new("2026-11-23T10:00:00Z".parse().unwrap()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let serving = rt.spawn({
        let cfg = cfg.clone();
        async move {
            otmetka_journal::serve::run(&cfg, documents, listener, clock, async {
                let _ = stop_rx.await;
            })
            .await
        }
    });
    // Healthy once the feed is connected.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, body) = get(port, "/healthz");
        if code == 200 {
            assert!(body.contains("\"broker\":\"connected\""), "{body}");
            break;
        }
        assert_eq!(code, 503, "{body}");
        assert!(Instant::now() < deadline, "never healthy: {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // A kiosk's message is committed and acknowledged on its acks topic.
    let acked = rt.block_on(async {
        let (kiosk, mut events) =
            Client::start(ClientOptions::new("127.0.0.1", broker.port, "kiosk-1")).unwrap();
        loop {
            if let Some(Event::Connected { .. }) = events.recv().await {
                break;
            }
        }
        kiosk
            .subscribe(&[("otmetka/v1/demo/kiosk/kiosk-1/acks", QoS::AtLeastOnce)])
            .await
            .unwrap()
            .wait()
            .await
            .unwrap();
        kiosk
            .publish(
                "otmetka/v1/demo/kiosk/kiosk-1/events",
                bytes::Bytes::from(data("schema2_units.json")),
                QoS::AtLeastOnce,
                false,
            )
            .await
            .unwrap();
        let wait = async {
            loop {
                if let Some(Event::Message(m)) = events.recv().await {
                    return String::from_utf8_lossy(&m.payload).into_owned();
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(20), wait).await
    });
    let acked = acked.expect("no ack from the journal");
    assert!(acked.contains("\"committed_seq\":0"), "{acked}");
    let stored = SqliteJournal::open(&dir.path().join("journal.db")).unwrap();
    assert_eq!(stored.gaps("demo", "kiosk-1").unwrap(), vec![(1, 2)]);
    // One shutdown: both parts stop and the run returns Ok.
    stop_tx.send(()).unwrap();
    let result = rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(20), serving).await })
        .expect("serve did not stop")
        .unwrap();
    assert!(result.is_ok(), "{result:?}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the web server is closed"
    );
}
