//! The journal's record of provisioned kiosks and the versions of what it publishes, on a real
//! SQLite file.

#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Utc};
use otmetka_journal::store::{JournalStore, SqliteJournal};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[test]
fn kiosks_are_issued_revoked_and_issued_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = SqliteJournal::open(&dir.path().join("j.db")).unwrap();
    assert_eq!(
        j.revoke_kiosk("s", "k", at("2026-11-01T00:00:00Z"))
            .unwrap(),
        None,
        "a kiosk never provisioned"
    );
    j.issue_kiosk("s", "k", at("2026-11-01T00:00:00Z")).unwrap();
    j.issue_kiosk("s", "k2", at("2026-11-01T00:00:00Z"))
        .unwrap();
    let r = j
        .revoke_kiosk("s", "k", at("2026-11-02T00:00:00Z"))
        .unwrap()
        .unwrap();
    assert_eq!(r.revoked_at, Some(at("2026-11-02T00:00:00Z")));
    let again = j
        .revoke_kiosk("s", "k", at("2026-11-03T00:00:00Z"))
        .unwrap()
        .unwrap();
    assert_eq!(
        again.revoked_at,
        Some(at("2026-11-02T00:00:00Z")),
        "the first revocation date stays"
    );
    let all = j.kiosks().unwrap();
    assert_eq!(all.len(), 2);
    assert!(
        all.iter()
            .any(|k| k.kiosk == "k2" && k.revoked_at.is_none())
    );
    j.issue_kiosk("s", "k", at("2026-11-04T00:00:00Z")).unwrap();
    let k = j
        .kiosks()
        .unwrap()
        .into_iter()
        .find(|k| k.kiosk == "k")
        .unwrap();
    assert_eq!(
        (k.issued_at, k.revoked_at),
        (at("2026-11-04T00:00:00Z"), None)
    );
}

#[test]
fn a_document_keeps_its_version_until_it_changes_and_versions_only_grow() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = SqliteJournal::open(&dir.path().join("j.db")).unwrap();
    let t0 = at("2026-11-23T10:00:00Z");
    let v1 = j.publish_version("s", "schedule", "[a]", t0).unwrap();
    assert_eq!(v1, t0.timestamp() as u64);
    let t1 = at("2026-11-23T11:00:00Z");
    assert_eq!(j.publish_version("s", "schedule", "[a]", t1).unwrap(), v1);
    let v2 = j.publish_version("s", "schedule", "[b]", t1).unwrap();
    assert_eq!(v2, t1.timestamp() as u64);
    // A clock set back still gives a larger version.
    let v3 = j
        .publish_version("s", "schedule", "[c]", at("2020-01-01T00:00:00Z"))
        .unwrap();
    assert_eq!(v3, v2 + 1);
    // Another site, another document: its own numbering.
    assert_eq!(j.publish_version("s2", "schedule", "[c]", t0).unwrap(), v1);
}

#[test]
fn the_journal_database_is_the_service_users_alone() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let _j = SqliteJournal::open(&dir.path().join("j.db")).unwrap();
    let mode = std::fs::metadata(dir.path().join("j.db"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}
