//! The messages of the feed (topics under `otmetka/v1/{site}/`). JSON with a `schema` version.
//! The journal accepts the current and the previous schema version and rejects, with a reason,
//! what it cannot parse.

use crate::catalogue::{Catalogue, ServiceCode, UnitKind};
use crate::event::Event;
use crate::people::{
    CardStatus, Consent, Group, GroupId, Instructor, InstructorId, Programme, RecipientId,
};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The schema version this build writes.
///
/// - 2: the envelope carries `recorded_at` and `clock_synced`.
/// - 1: the first field format: the envelope's time was `at`, and it had no `clock_synced`
///   (such events are taken as recorded on an unsynchronised clock).
pub const SCHEMA: u32 = 2;
/// The oldest schema version this build still reads.
pub const SCHEMA_MIN: u32 = 1;

/// Why a payload is not an envelope this build reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("no schema version")]
    NoSchema,
    #[error("schema {0} is not read by this build (reads {SCHEMA_MIN} to {SCHEMA})")]
    UnsupportedSchema(u32),
    #[error("not an envelope of schema {schema}: {detail}")]
    Shape { schema: u32, detail: String },
}

impl Envelope {
    /// Decodes an envelope of any schema this build reads, upgrading older ones.
    pub fn decode(payload: &[u8]) -> Result<Envelope, DecodeError> {
        let mut v: serde_json::Value =
            serde_json::from_slice(payload).map_err(|e| DecodeError::NotJson(e.to_string()))?;
        let schema = v
            .get("schema")
            .and_then(serde_json::Value::as_u64)
            .ok_or(DecodeError::NoSchema)?;
        let schema = u32::try_from(schema).map_err(|_| DecodeError::UnsupportedSchema(u32::MAX))?;
        if !(SCHEMA_MIN..=SCHEMA).contains(&schema) {
            return Err(DecodeError::UnsupportedSchema(schema));
        }
        if schema == 1 {
            if let Some(obj) = v.as_object_mut() {
                if let Some(at) = obj.remove("at") {
                    obj.insert("recorded_at".into(), at);
                }
                obj.entry("clock_synced")
                    .or_insert(serde_json::Value::Bool(false));
                obj.insert("schema".into(), serde_json::Value::from(SCHEMA));
            }
        }
        serde_json::from_value(v).map_err(|e| DecodeError::Shape {
            schema,
            detail: e.to_string(),
        })
    }

    /// The `installation` of a payload that may not decode as a whole.
    pub fn peek_installation(payload: &[u8]) -> Option<Uuid> {
        serde_json::from_slice::<serde_json::Value>(payload)
            .ok()?
            .get("installation")?
            .as_str()?
            .parse()
            .ok()
    }

    /// The `seq` of a payload that may not decode as a whole (to reject it by number).
    pub fn peek_seq(payload: &[u8]) -> Option<u64> {
        serde_json::from_slice::<serde_json::Value>(payload)
            .ok()?
            .get("seq")?
            .as_u64()
    }
}

/// A kiosk's event on the wire (`kiosk/{kiosk}/events`, QoS 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub schema: u32,
    pub site: String,
    pub kiosk: String,
    /// The kiosk's installation (its database): a kiosk whose database is replaced (a new SD
    /// card, a re-imaged Pi) is a new installation and numbers from 1 again, so the journal
    /// keeps `seq` per installation and never takes its new messages for resends of the old.
    /// Absent in messages of kiosks before session 6 (read as `None`, one legacy installation);
    /// journals before session 6 ignore it, so no schema bump: every journal reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installation: Option<Uuid>,
    /// The kiosk's message number: strictly increasing, no gaps, from 1, per installation.
    pub seq: u64,
    /// The event's own id (idempotency key for events without a natural one).
    pub event_id: Uuid,
    /// When the kiosk recorded it (UTC).
    pub recorded_at: DateTime<Utc>,
    /// Whether the kiosk's clock was synchronised when it recorded it.
    pub clock_synced: bool,
    pub event: Event,
}

/// Why the journal refused a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum RejectReason {
    /// Not JSON, or not an envelope.
    Malformed { detail: String },
    /// A schema version this journal does not read.
    UnsupportedSchema { schema: u32 },
    /// The envelope's site/kiosk does not match the topic it came on.
    WrongTopic { topic: String },
    /// Well-formed but not acceptable (an unknown service, a unit of an unknown session…).
    Invalid { detail: String },
    /// Larger than the journal accepts.
    TooLarge { bytes: usize, max: usize },
    /// From a kiosk whose credentials were revoked: nothing it sends is taken.
    Revoked { site: String, kiosk: String },
    /// It would change a record of another kiosk (a session, a check-in, a unit): that part
    /// is not applied; the rest of the message is.
    Foreign { detail: String },
    /// A reason a newer journal gives that this version does not know (read, never written):
    /// a kiosk must still take the ack around it.
    #[serde(other)]
    Other,
}

impl RejectReason {
    /// The reason's kind, as its wire tag spells it (`malformed`, `too_large`…): what the journal
    /// counts refusals by.
    pub fn kind(&self) -> &'static str {
        match self {
            RejectReason::Malformed { .. } => "malformed",
            RejectReason::UnsupportedSchema { .. } => "unsupported_schema",
            RejectReason::WrongTopic { .. } => "wrong_topic",
            RejectReason::Invalid { .. } => "invalid",
            RejectReason::TooLarge { .. } => "too_large",
            RejectReason::Revoked { .. } => "revoked",
            RejectReason::Foreign { .. } => "foreign",
            RejectReason::Other => "other",
        }
    }
}

/// One rejected message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// The seq, where the envelope could be read that far.
    pub seq: Option<u64>,
    pub reason: RejectReason,
}

/// The journal's answer on `kiosk/{kiosk}/acks`: everything up to `committed_seq` is committed
/// in the journal (or recorded as rejected); the kiosk may mark those rows delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub schema: u32,
    /// The installation this ack is for ([`Envelope::installation`]); a kiosk ignores an ack
    /// for another installation of itself (the retained ack of the database it replaced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installation: Option<Uuid>,
    pub committed_seq: u64,
    #[serde(default)]
    pub rejected: Vec<Rejection>,
}

/// Connection state in a status message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Online,
    Offline,
}

/// The kiosk's status (`kiosk/{kiosk}/status`, retained; the last will says offline).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub schema: u32,
    pub kiosk: String,
    pub presence: Presence,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub outbox_depth: u64,
    /// Age in seconds of the oldest undelivered outbox row.
    #[serde(default)]
    pub oldest_undelivered_s: Option<u64>,
    #[serde(default)]
    pub reader_ok: bool,
    #[serde(default)]
    pub clock_synced: bool,
    /// Wrong PINs in a row at the kiosk (someone may be trying PINs).
    #[serde(default)]
    pub pin_failures: u32,
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
    /// Events the journal asked for again (it was restored from an older backup) that the
    /// kiosk no longer has: pruned after the audit period, when the journal had acknowledged
    /// them. They will never come; staff must enter them from the paper records. Empty from
    /// kiosks that lost none, and from kiosks older than this field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lost: Vec<SeqRange>,
}

/// Seqs `from..=to` of one kiosk installation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SeqRange {
    pub from: u64,
    pub to: u64,
}

/// A recipient as a roster carries it: the least the kiosk needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterRecipient {
    pub id: RecipientId,
    pub display_name: String,
    #[serde(default)]
    pub consent: Consent,
    #[serde(default)]
    pub programme: Option<Programme>,
    #[serde(default)]
    pub groups: Vec<GroupId>,
    /// The care group (группа ухода, 0–5), where assessed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub care_group: Option<u8>,
    /// For a minor, the day they turn 18; nothing for adults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adult_on: Option<chrono::NaiveDate>,
    /// Keyed hashes (HMAC-SHA256 with the site secret, hex) of the card's lookup forms.
    #[serde(default)]
    pub cards: Vec<RosterCard>,
}

/// A card on the roster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterCard {
    pub hash: String,
    #[serde(default)]
    pub status: CardStatus,
}

/// An instructor on the roster: a staff card hash and/or a PIN hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterInstructor {
    #[serde(flatten)]
    pub instructor: Instructor,
    #[serde(default)]
    pub card_hashes: Vec<String>,
    /// Keyed hash of the PIN, where the instructor signs in by PIN.
    #[serde(default)]
    pub pin_hash: Option<String>,
}

/// The site's roster (`roster`, retained, versioned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roster {
    pub schema: u32,
    pub site: String,
    pub version: u64,
    pub recipients: Vec<RosterRecipient>,
    pub instructors: Vec<RosterInstructor>,
    pub groups: Vec<Group>,
}

/// One planned session of the schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleEntry {
    pub id: Uuid,
    pub service: ServiceCode,
    #[serde(default)]
    pub unit_kind: Option<UnitKind>,
    #[serde(default)]
    pub group: Option<GroupId>,
    #[serde(default)]
    pub instructor: Option<InstructorId>,
    pub date: NaiveDate,
    pub start: NaiveTime,
    #[serde(default)]
    pub room: String,
}

/// The site's schedule (`schedule`, retained, versioned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub schema: u32,
    pub site: String,
    pub version: u64,
    pub entries: Vec<ScheduleEntry>,
}

/// Units of one service on one local date, from one source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageEntry {
    pub service: ServiceCode,
    pub date: NaiveDate,
    /// The kiosk whose session gave them; `None` for units staff entered on the journal's pages
    /// (a forgotten check-in, a home visit), which no kiosk holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kiosk: Option<String>,
    /// Units of the service's event form (`Form::Event` caps count them); absent, from a
    /// journal before forms, for regular sessions.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub event: bool,
    pub count: u32,
}

/// What one recipient was given at the site, for the limits a kiosk checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRecipient {
    pub id: RecipientId,
    pub given: Vec<UsageEntry>,
}

/// One session of a standing group that gave units, for the caps on a group's sessions (002
/// l.1251 «не более 1 раза в месяц для группы получателей услуг»).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageGroupSession {
    pub group: GroupId,
    pub service: ServiceCode,
    pub session: crate::session::SessionId,
    /// When it began.
    pub at: DateTime<Utc>,
}

/// How far the journal had committed one installation's messages when it built the usage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageCommitted {
    pub kiosk: String,
    /// [`Envelope::installation`]; `None` for kiosks that do not say theirs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installation: Option<Uuid>,
    pub seq: u64,
    /// Messages past `seq` the journal holds all the same (applied after a hole), as ranges
    /// `[first, last]`: their units are in the counts too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<[u64; 2]>,
}

impl UsageCommitted {
    /// Whether the journal holds message `seq` of this installation.
    pub fn holds(&self, seq: u64) -> bool {
        seq <= self.seq || self.held.iter().any(|[a, b]| *a <= seq && seq <= *b)
    }
}

/// The units the journal holds for each recipient of the site (`usage`, retained, versioned),
/// over the windows the caps and programmes look at: so that a limit holds across the site's
/// kiosks. Every unit the journal counts is here, the kiosk's own included (a unit staff
/// removed is not); a kiosk adds only its own sessions the journal had not committed when it
/// built this (`committed`): open ones, and closed ones whose messages lie past its seq.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub schema: u32,
    pub site: String,
    pub version: u64,
    /// When the journal built it.
    pub built_at: DateTime<Utc>,
    pub recipients: Vec<UsageRecipient>,
    /// Each installation's committed seq at the time; `None` from a journal before it (its
    /// entries of a kiosk are then that kiosk's to count from its own store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committed: Option<Vec<UsageCommitted>>,
    /// The sessions of standing groups that gave units, of the services with a cap on a group's
    /// sessions, over those caps' windows, a kiosk's own included; a kiosk adds its own the
    /// journal had not committed, as with `recipients`. `None` from a journal before group
    /// caps: the kiosk then counts all of its own sessions, and only those.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_sessions: Option<Vec<UsageGroupSession>>,
}

impl Usage {
    /// What the journal holds of `kiosk`'s messages of `installation` (nothing where it holds
    /// none); `None` from a journal that does not say.
    pub fn committed_for(&self, kiosk: &str, installation: Uuid) -> Option<UsageCommitted> {
        let committed = self.committed.as_ref()?;
        Some(
            committed
                .iter()
                .find(|c| c.kiosk == kiosk && c.installation == Some(installation))
                .cloned()
                .unwrap_or(UsageCommitted {
                    kiosk: kiosk.to_string(),
                    installation: Some(installation),
                    seq: 0,
                    held: Vec::new(),
                }),
        )
    }

    /// A recipient's attendance as the rules count it, each unit dated at the start of its
    /// local day: every entry, or — where `skip` names a kiosk (a journal that does not say
    /// what it committed) — every entry not of that kiosk, whose store holds its own.
    pub fn attendance(
        entries: &[UsageEntry],
        skip: Option<&str>,
        site: &crate::period::SiteTime,
    ) -> Vec<crate::rules::Attendance> {
        entries
            .iter()
            .filter(|e| skip.is_none() || e.kiosk.as_deref() != skip)
            .flat_map(|e| {
                let at = site.start_of(e.date);
                (0..e.count).map(move |_| crate::rules::Attendance {
                    session: None,
                    service: e.service.clone(),
                    at,
                    event: e.event,
                })
            })
            .collect()
    }
}

/// The catalogue as published to kiosks (`catalogue`, retained, versioned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueMessage {
    pub schema: u32,
    pub version: u64,
    pub catalogue: Catalogue,
}

/// The journal asks a kiosk to read a new card for a recipient (`kiosk/{kiosk}/enrol`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolmentRequest {
    pub schema: u32,
    pub request: Uuid,
    pub recipient: RecipientId,
    pub display_name: String,
    /// Until when the kiosk waits for the card.
    pub expires_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::SessionId;

    /// `RejectReason::kind` is the wire tag of each reason (the journal counts by it).
    #[test]
    fn a_reasons_kind_is_its_wire_tag() {
        let detail = String::new;
        for r in [
            RejectReason::Malformed { detail: detail() },
            RejectReason::UnsupportedSchema { schema: 9 },
            RejectReason::WrongTopic { topic: detail() },
            RejectReason::Invalid { detail: detail() },
            RejectReason::TooLarge { bytes: 1, max: 0 },
            RejectReason::Revoked {
                site: detail(),
                kiosk: detail(),
            },
            RejectReason::Foreign { detail: detail() },
        ] {
            let v = serde_json::to_value(&r).unwrap();
            assert_eq!(v["reason"], r.kind(), "{v}");
        }
    }

    #[test]
    fn an_ack_with_a_reason_this_version_does_not_know_is_still_read() {
        let ack = r#"{"schema":2,"committed_seq":7,"rejected":[
            {"seq":5,"reason":{"reason":"revoked","site":"s","kiosk":"k"}},
            {"seq":6,"reason":{"reason":"from_the_future","detail":"x"}}]}"#;
        let ack: Ack = serde_json::from_str(ack).unwrap();
        assert_eq!(ack.committed_seq, 7);
        assert_eq!(
            ack.rejected[0].reason,
            RejectReason::Revoked {
                site: "s".into(),
                kiosk: "k".into()
            }
        );
        assert_eq!(ack.rejected[1].reason, RejectReason::Other);
    }

    #[test]
    fn schema_1_envelopes_are_upgraded_and_unknown_schemas_refused() {
        let v1 = r#"{"schema":1,"site":"s","kiosk":"k","seq":3,"event_id":"00000000-0000-0000-0000-000000000001",
            "at":"2026-11-23T10:00:00Z","event":{"type":"session_cancelled",
            "session":"00000000-0000-0000-0000-000000000002","at":"2026-11-23T10:00:00Z","reason":"x"}}"#;
        let env = Envelope::decode(v1.as_bytes()).unwrap();
        assert_eq!((env.schema, env.seq, env.clock_synced), (SCHEMA, 3, false));
        let v9 = v1.replace(r#""schema":1"#, r#""schema":9"#);
        assert_eq!(
            Envelope::decode(v9.as_bytes()),
            Err(DecodeError::UnsupportedSchema(9))
        );
        assert_eq!(Envelope::peek_seq(v9.as_bytes()), Some(3));
        assert!(matches!(
            Envelope::decode(b"{"),
            Err(DecodeError::NotJson(_))
        ));
    }

    #[test]
    fn envelope_round_trips_with_a_tagged_event() {
        let env = Envelope {
            schema: SCHEMA,
            site: "tagil-1".into(),
            kiosk: "k1".into(),
            installation: Some(Uuid::from_u128(3)),
            seq: 7,
            event_id: Uuid::from_u128(1),
            recorded_at: "2026-11-23T10:00:00Z".parse().unwrap(),
            clock_synced: true,
            event: Event::SessionCancelled {
                session: SessionId(Uuid::from_u128(2)),
                at: "2026-11-23T10:00:00Z".parse().unwrap(),
                reason: "нет группы".into(),
            },
        };
        let json = serde_json::to_string(&env).unwrap();
        assert!(json.contains(r#""type":"session_cancelled""#), "{json}");
        assert_eq!(serde_json::from_str::<Envelope>(&json).unwrap(), env);
    }
}
