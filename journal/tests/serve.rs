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

/// `serve::run` on its own runtime and a free port, until [`Serving::stop`].
struct Serving {
    rt: tokio::runtime::Runtime,
    port: u16,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), otmetka_journal::Error>>,
}

impl Serving {
    fn start(cfg: &JournalConfig) -> Serving {
        let documents = Documents::load(cfg).unwrap();
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
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let task = rt.spawn({
            let cfg = cfg.clone();
            async move {
                otmetka_journal::serve::run(&cfg, documents, listener, clock, async {
                    let _ = stop_rx.await;
                })
                .await
            }
        });
        Serving {
            rt,
            port,
            stop,
            task,
        }
    }

    /// One shutdown: both parts stop and the run returns `Ok`.
    fn stop(self) {
        self.stop.send(()).unwrap();
        let task = self.task;
        let result = self
            .rt
            .block_on(async { tokio::time::timeout(Duration::from_secs(20), task).await })
            .expect("serve did not stop")
            .unwrap();
        assert!(result.is_ok(), "{result:?}");
    }
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
    let serving = Serving::start(&cfg);
    let (rt, port) = (&serving.rt, serving.port);
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
    serving.stop();
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the web server is closed"
    );
}

#[test]
fn the_pages_are_served_over_tls_when_the_config_names_a_certificate_and_the_cookie_is_secure() {
    use otmetka_journal::store::StaffStore;
    use otmetka_journal::store::staff::{NewUser, Role};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let broker = Broker::start("").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pki = otmetka_link::testing::TestPki::generate(&["localhost", "127.0.0.1"]).unwrap();
    for (name, pem) in [
        ("ca.pem", &pki.ca_pem),
        ("web.pem", &pki.server_cert_pem),
        ("web.key", &pki.server_key_pem),
    ] {
        std::fs::write(dir.path().join(name), pem).unwrap();
    }
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let config = dir.path().join("journal.toml");
    let text = |web: &str| {
        format!(
            "database = \"journal.db\"\ncatalogue = \"{root}/config/services.toml\"\n\
             broker = \"127.0.0.1:{}\"\n[[sites]]\nid = \"demo\"\nsite_secret_file = \"s\"\n[web]\n{web}",
            broker.port
        )
    };
    // Half a TLS setting is refused at start.
    std::fs::write(&config, text("cert_file = \"web.pem\"\n")).unwrap();
    let err = JournalConfig::load(&config).unwrap_err().to_string();
    assert!(err.contains("both cert_file and key_file"), "{err}");
    std::fs::write(
        &config,
        text("cert_file = \"web.pem\"\nkey_file = \"web.key\"\n"),
    )
    .unwrap();
    std::fs::write(dir.path().join("s"), "demo-secret-for-this-test-only\n").unwrap();
    let cfg = JournalConfig::load(&config).unwrap();
    let hash = otmetka_journal::web::auth::hash_password("a-long-password-1").unwrap();
    SqliteJournal::open(&dir.path().join("journal.db"))
        .unwrap()
        .add_user(
            &NewUser {
                login: "head".into(),
                name: "Заведующий".into(),
                role: Role::Head,
                password_hash: hash,
            },
            "2026-11-23T10:00:00Z".parse().unwrap(),
        )
        .unwrap();
    let serving = Serving::start(&cfg);
    let (rt, port) = (&serving.rt, serving.port);
    let tls = otmetka_link::tls::client_config(&otmetka_link::tls::TlsOptions::new(
        dir.path().join("ca.pem"),
    ))
    .unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
    let ask = |request: String| {
        let connector = connector.clone();
        rt.block_on(async move {
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .unwrap();
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            let mut s = connector.connect(name, tcp).await.unwrap();
            s.write_all(request.as_bytes()).await.unwrap();
            let mut out = Vec::new();
            let _ = s.read_to_end(&mut out).await;
            String::from_utf8_lossy(&out).into_owned()
        })
    };
    let page = ask("GET /signin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".into());
    assert!(
        page.starts_with("HTTP/1.1 200") && page.contains("Вход в журнал"),
        "{page}"
    );
    let form = "login=head&password=a-long-password-1";
    let signed = ask(format!(
        "POST /signin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    ));
    let cookie = signed
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap_or_default();
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{signed}"
    );
    // Plain HTTP on the TLS port gets no page.
    let (code, _) = std::panic::catch_unwind(|| get(port, "/signin")).unwrap_or((0, String::new()));
    assert_ne!(code, 200);
    serving.stop();
}
