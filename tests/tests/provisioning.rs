//! Provisioning and revocation with real parts: the shipped Mosquitto config (TLS, password
//! file, ACL) on a free loopback port, `otmetka-journal provision-kiosk` / `revoke-kiosk`,
//! `otmetka-kiosk enroll`, and the real kiosk and journal processes.

#![allow(clippy::unwrap_used)]

use otmetka_app::kiosk::{Command, Reply};
use otmetka_core::decision::DecisionKind;
use otmetka_link::testing::Broker;
use otmetka_link::{Client, ClientOptions, DisconnectReason, Event, TlsOptions, Transport};
use otmetka_tests::site::{
    JournalProcess, KioskProcess, localize_kiosk_config, run_binary, secure_broker,
    secure_journal_toml, wait_for,
};
use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

fn provision(journal_toml: &Path, site: &str, kiosk: &str, out: &Path) -> (bool, String) {
    run_binary(
        "otmetka-journal",
        &[
            OsStr::new("provision-kiosk"),
            OsStr::new("--config"),
            journal_toml.as_os_str(),
            OsStr::new(site),
            OsStr::new(kiosk),
            OsStr::new("--out"),
            out.as_os_str(),
        ],
    )
    .unwrap()
}

fn revoke(journal_toml: &Path, site: &str, kiosk: &str) -> (bool, String) {
    run_binary(
        "otmetka-journal",
        &[
            OsStr::new("revoke-kiosk"),
            OsStr::new("--config"),
            journal_toml.as_os_str(),
            OsStr::new(site),
            OsStr::new(kiosk),
        ],
    )
    .unwrap()
}

fn enroll(bundle: &Path, into: &Path) -> (bool, String) {
    run_binary(
        "otmetka-kiosk",
        &[
            OsStr::new("enroll"),
            bundle.as_os_str(),
            OsStr::new("--into"),
            into.as_os_str(),
        ],
    )
    .unwrap()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Enrolls `bundle` into `dir/etc` and makes the config runnable here; returns its path.
fn enroll_here(bundle: &Path, dir: &Path) -> std::path::PathBuf {
    let etc = dir.join("etc");
    let (ok, out) = enroll(bundle, &etc);
    assert!(ok, "enroll: {out}");
    let config = etc.join("kiosk.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, localize_kiosk_config(&text, dir)).unwrap();
    config
}

fn session_of(k: &KioskProcess, cards: &[u8]) -> usize {
    k.sign_in_and_start("001").unwrap();
    for n in cards {
        let Reply::Tap(t) = k
            .call(Command::Tap {
                card: format!("0A0000{n:02X}"),
            })
            .unwrap()
        else {
            panic!("not a tap reply")
        };
        assert_eq!(t.kind, DecisionKind::Accepted, "card {n}");
        assert!(t.committed, "a tap is durable before the screen says so");
    }
    let Reply::Ended { units, .. } = k
        .call(Command::End {
            head_count: Some(cards.len() as u32),
            reason: None,
        })
        .unwrap()
    else {
        panic!("not an end reply")
    };
    units.len()
}

fn status(k: &KioskProcess) -> otmetka_app::kiosk::StatusReply {
    let Reply::Status(s) = k.call(Command::Status).unwrap() else {
        panic!("not a status reply")
    };
    *s
}

/// A kiosk login straight through the link client: the first connection outcome.
async fn try_login(broker: &Broker, user: &str, password: &str) -> Result<(), String> {
    let mut o = ClientOptions::new("127.0.0.1", broker.port, user);
    o.session.username = Some(user.into());
    o.session.password = Some(password.to_owned().into());
    o.transport = Transport::Tls(TlsOptions::new(broker.dir().join("ca.crt")));
    o.backoff_initial = Duration::from_secs(30);
    let (handle, mut events) = Client::start(o).unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(30), events.recv()).await;
    let _ = handle.disconnect().await;
    match outcome {
        Ok(Some(Event::Connected { .. })) => Ok(()),
        Ok(Some(Event::Disconnected {
            reason: DisconnectReason::ConnectFailed(why),
        })) => Err(why),
        other => Err(format!("unexpected: {other:?}")),
    }
}

#[test]
fn a_provisioned_kiosk_delivers_a_revoked_one_is_refused_and_keeps_its_taps() {
    let dir = tempfile::tempdir().unwrap();
    let broker = secure_broker("").unwrap();
    let jdir = dir.path().join("journal");
    let mut jtext = secure_journal_toml(&jdir, &broker, &["demo"], "").unwrap();
    // mosquitto_passwd behind a wrapper that records its command line (what `ps` shows).
    let argv_log = dir.path().join("mosquitto_passwd.argv");
    let wrapper = dir.path().join("mosquitto_passwd");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho \"$@\" >> {:?}\nexec /usr/bin/mosquitto_passwd \"$@\"\n",
            argv_log
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755),
    )
    .unwrap();
    jtext.push_str(&format!("mosquitto_passwd = {wrapper:?}\n"));
    let jconf = jdir.join("journal.toml");
    std::fs::write(&jconf, &jtext).unwrap();

    // Bad input is refused with a message that names it, and changes nothing.
    let (ok, out) = provision(&jconf, "Demo", "kiosk-1", &dir.path().join("x"));
    assert!(!ok && out.contains("bad site id"), "{out}");
    let (ok, out) = provision(&jconf, "other", "kiosk-1", &dir.path().join("x"));
    assert!(!ok && out.contains("not served by this journal"), "{out}");
    std::fs::create_dir(dir.path().join("exists")).unwrap();
    let (ok, out) = provision(&jconf, "demo", "kiosk-1", &dir.path().join("exists"));
    assert!(!ok && out.contains("already exists"), "{out}");
    let bad_conf = jdir.join("unwritable.toml");
    let passwd_path = format!("{:?}", broker.dir().join("passwd"));
    assert!(jtext.contains(&passwd_path));
    std::fs::write(
        &bad_conf,
        jtext.replace(&passwd_path, "\"/nonexistent/otmetka/passwd\""),
    )
    .unwrap();
    let (ok, out) = provision(&bad_conf, "demo", "kiosk-1", &dir.path().join("x"));
    assert!(
        !ok && out.contains("cannot write the broker password file /nonexistent/otmetka/passwd"),
        "{out}"
    );
    assert!(!dir.path().join("x").exists());
    let passwd = broker.dir().join("passwd");
    assert!(
        !std::fs::read_to_string(&passwd)
            .unwrap()
            .contains("demo/kiosk/kiosk-1:"),
        "a refused provisioning adds no credential"
    );

    // Provision: the bundle, the credential, the ACL block, the reload.
    let bundle = dir.path().join("bundle");
    let (ok, out) = provision(&jconf, "demo", "kiosk-1", &bundle);
    assert!(ok, "{out}");
    let pid = broker.pid().unwrap();
    assert!(
        out.contains(&format!("(pid {pid}) was told to reload")),
        "{out}"
    );
    for f in [
        "kiosk.toml",
        "mqtt-password",
        "ca.crt",
        "site-secret",
        "services.toml",
    ] {
        assert!(bundle.join(f).is_file(), "{f} in the bundle");
    }
    assert_eq!(mode(&bundle.join("mqtt-password")), 0o600);
    assert_eq!(mode(&bundle.join("site-secret")), 0o600);
    let password = std::fs::read_to_string(bundle.join("mqtt-password")).unwrap();
    assert_eq!(password.trim().len(), 64);
    let argv = std::fs::read_to_string(&argv_log).unwrap();
    assert!(argv.contains("demo/kiosk/kiosk-1"), "{argv}");
    assert!(
        !argv.contains(password.trim()),
        "the password never is on a command line: {argv}"
    );
    let passwd_text = std::fs::read_to_string(&passwd).unwrap();
    let entry = passwd_text
        .lines()
        .find(|l| l.starts_with("demo/kiosk/kiosk-1:"))
        .expect("the kiosk's credential in the broker's password file");
    assert!(
        entry.contains(":$7$"),
        "Mosquitto's PBKDF2-SHA512 hash: {entry}"
    );
    assert!(
        !entry.contains(password.trim()),
        "never the password itself"
    );
    let acl = std::fs::read_to_string(broker.dir().join("acl")).unwrap();
    assert!(acl.contains("user demo/kiosk/kiosk-1\ntopic read otmetka/v1/demo/roster\n"));

    // Enroll refuses a bundle whose password others can read, and one with a file missing.
    let leaky = dir.path().join("leaky");
    std::fs::create_dir(&leaky).unwrap();
    for e in std::fs::read_dir(&bundle).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), leaky.join(e.file_name())).unwrap();
    }
    std::fs::set_permissions(
        leaky.join("mqtt-password"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let (ok, out) = enroll(&leaky, &dir.path().join("leaky-etc"));
    assert!(!ok && out.contains("readable by others"), "{out}");
    std::fs::set_permissions(
        leaky.join("mqtt-password"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::fs::remove_file(leaky.join("ca.crt")).unwrap();
    let (ok, out) = enroll(&leaky, &dir.path().join("leaky-etc"));
    assert!(!ok && out.contains("ca.crt"), "{out}");
    assert!(!dir.path().join("leaky-etc").exists(), "nothing installed");

    // Enroll, run the kiosk from the bundle's config, tap: the units land.
    let kdir = dir.path().join("kiosk");
    let config = enroll_here(&bundle, &kdir);
    assert_eq!(mode(&kdir.join("etc/mqtt-password")), 0o600);
    let mut journal = JournalProcess::start_with_config(&jdir, &jtext).unwrap();
    let mut k = KioskProcess::start_from_config(&kdir, &config, &kdir.join("kiosk.sock")).unwrap();
    // The roster comes from the journal through the broker: TLS, the credential and the ACL's
    // read block all work.
    wait_for("the journal's roster on the kiosk", 60, || {
        (status(&k).roster_version >= 1).then_some(())
    });
    assert_eq!(session_of(&k, &[1, 2, 3]), 3);
    wait_for("3 units in the journal", 60, || {
        (journal.units().ok()?.len() == 3).then_some(())
    });

    // Revoke. Does Mosquitto's reload drop the kiosk's live session?
    let drops_before = k.log().matches("feed disconnected").count();
    let broker_log_before = broker.log().len();
    let (ok, out) = revoke(&jconf, "demo", "kiosk-1");
    assert!(ok, "{out}");
    assert!(out.contains("revoked kiosk kiosk-1 of site demo"), "{out}");
    assert!(
        !std::fs::read_to_string(&passwd)
            .unwrap()
            .contains("demo/kiosk/kiosk-1:")
    );
    assert!(
        !std::fs::read_to_string(broker.dir().join("acl"))
            .unwrap()
            .contains("user demo/kiosk/kiosk-1")
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let dropped = loop {
        if k.log().matches("feed disconnected").count() > drops_before {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    println!(
        "FINDING: Mosquitto 2.0.11 SIGHUP after the kiosk's user left the password file {} its live session",
        if dropped { "DROPPED" } else { "did NOT drop" }
    );
    for line in broker.log()[broker_log_before..]
        .lines()
        .filter(|l| l.contains("kiosk-1") || l.contains("eload"))
    {
        println!("  broker: {line}");
    }

    // Taps go on while refused: durable on the kiosk, nothing lands.
    assert_eq!(session_of(&k, &[4, 5]), 2);
    if !dropped {
        // Whatever still arrives from the revoked kiosk is refused and recorded with its reason.
        wait_for("a rejection of the revoked kiosk", 30, || {
            let store = otmetka_journal::store::SqliteJournal::open(&journal.database).ok()?;
            use otmetka_journal::store::JournalStore;
            store
                .rejections()
                .ok()?
                .iter()
                .any(|r| matches!(r.reason, otmetka_core::wire::RejectReason::Revoked { .. }))
                .then_some(())
        });
    }
    // A restart makes the kiosk connect again: refused at CONNACK, and its log says why.
    k.kill();
    k.spawn().unwrap();
    let refusal = wait_for("the refusal in the kiosk's log", 60, || {
        let log = k.log();
        let line = log
            .lines()
            .find(|l| l.contains("feed cannot connect to the broker"))?;
        (line.contains("refused")
            && (line.contains("not authorized") || line.contains("bad username")))
        .then(|| line.to_string())
    });
    println!("kiosk log: {refusal}");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        journal.units().unwrap().len(),
        3,
        "nothing lands after revocation"
    );
    assert!(
        status(&k).outbox_depth > 0,
        "the refused kiosk keeps its events in the outbox"
    );
    assert!(journal.is_running());

    // A wrong password, and a kiosk never provisioned, are refused at connect too.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let wrong = rt.block_on(try_login(&broker, "demo/kiosk/kiosk-1", password.trim()));
    assert!(
        matches!(&wrong, Err(why) if why.contains("refused")),
        "the revoked password: {wrong:?}"
    );
    let never = rt.block_on(try_login(&broker, "demo/kiosk/kiosk-9", "guess"));
    assert!(
        matches!(&never, Err(why) if why.contains("refused")),
        "{never:?}"
    );

    // Provisioned again (a new password), the kiosk delivers what it kept.
    let bundle2 = dir.path().join("bundle2");
    let (ok, out) = provision(&jconf, "demo", "kiosk-1", &bundle2);
    assert!(ok && out.contains("re-issued"), "{out}");
    let password2 = std::fs::read_to_string(bundle2.join("mqtt-password")).unwrap();
    assert_ne!(password.trim(), password2.trim());
    let old = rt.block_on(try_login(&broker, "demo/kiosk/kiosk-1", password.trim()));
    assert!(old.is_err(), "the old password stays refused: {old:?}");
    enroll_here(&bundle2, &kdir);
    k.kill();
    k.spawn().unwrap();
    wait_for("the 2 units kept while refused, in the journal", 60, || {
        (journal.units().ok()?.len() == 5).then_some(())
    });
    wait_for("an empty outbox", 30, || {
        (status(&k).outbox_depth == 0).then_some(())
    });
    journal.kill();
}
