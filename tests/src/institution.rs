//! A generated institution for the journal's page tests and benchmarks: a roster of `n`
//! recipients with individual programmes, and sessions with their units committed to a real
//! SQLite journal through the store's own `commit_batch` (the feed's path), with a few of the
//! marks a real month has (below the group minimum, over a limit, head count off, clock not
//! synced, closed automatically). What it generated is returned, so a test can set the pages'
//! figures against it.

use anyhow::{Context, Result};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use otmetka_core::catalogue::{Catalogue, ServiceCode, UnitKind, UnitRule};
use otmetka_core::decision::Rule;
use otmetka_core::event::{CloseKind, CloseReason, Event, Satisfaction};
use otmetka_core::people::{InstructorId, RecipientId};
use otmetka_core::session::CheckInId;
use otmetka_core::session::SessionId;
use otmetka_core::unit::{Unit, UnitId};
use otmetka_core::wire::{Envelope, SCHEMA};
use otmetka_journal::store::{Batch, JournalStore, Judged, Verdict};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The site of the generated institution.
pub const SITE: &str = "demo";
/// Its kiosk.
pub const KIOSK: &str = "k1";
/// The standing group the generator gives every third recipient (roster order 0, 3, 6, …).
pub const CLUB: &str = "00000000-0000-7000-8000-00000000c0c1";
/// Its clock (the test kiosks' zone too).
pub const ZONE: &str = "Asia/Yekaterinburg";
/// The instructors (id, name), as the roster file has them.
pub const INSTRUCTORS: [(&str, &str); 2] = [
    (
        "00000000-0000-7000-8000-00000000aa01",
        "Ольга Петровна Смирнова",
    ),
    (
        "00000000-0000-7000-8000-00000000aa02",
        "Дмитрий Сергеевич Козлов",
    ),
];

const SURNAMES: [&str; 12] = [
    "Иванова",
    "Петрова",
    "Сидорова",
    "Кузнецова",
    "Смирнова",
    "Попова",
    "Васильева",
    "Соколова",
    "Михайлова",
    "Новикова",
    "Фёдорова",
    "Морозова",
];
const NAMES: [&str; 10] = [
    "Мария",
    "Анна",
    "Елена",
    "Галина",
    "Нина",
    "Валентина",
    "Тамара",
    "Людмила",
    "Зоя",
    "Вера",
];
const PATRONYMICS: [&str; 8] = [
    "Ивановна",
    "Петровна",
    "Николаевна",
    "Алексеевна",
    "Васильевна",
    "Михайловна",
    "Сергеевна",
    "Фёдоровна",
];

/// A generated programme item: how many units, per month or per calendar week.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planned {
    pub count: u32,
    pub weekly: bool,
}

/// What was generated.
#[derive(Debug, Clone)]
pub struct Institution {
    pub config: PathBuf,
    /// (id, name), in roster order.
    pub recipients: Vec<(RecipientId, String)>,
    /// The programme: per recipient, service → units planned per month, or per calendar week
    /// (`Planned::weekly`; 002-5.1 for every other recipient).
    pub planned: BTreeMap<RecipientId, BTreeMap<String, Planned>>,
    /// Every unit generated: (recipient, service, date).
    pub units: Vec<(RecipientId, String, NaiveDate)>,
    /// The sessions generated (id, local date), oldest first.
    pub sessions: Vec<(SessionId, NaiveDate)>,
    /// The sessions opened for the club ([`CLUB`]): those of its service, 000 (present:
    /// whoever came, members or not).
    pub club_sessions: std::collections::BTreeSet<SessionId>,
    /// The satisfaction answers at check-out: (service, answer, date).
    pub answers: Vec<(String, Satisfaction, NaiveDate)>,
}

impl Institution {
    /// The generated `journal.toml`, with the broker on `port` of this machine.
    pub fn journal_toml(&self, port: u16) -> Result<String> {
        Ok(std::fs::read_to_string(&self.config)?.replace(
            "broker = \"127.0.0.1:1\"",
            &format!("broker = \"127.0.0.1:{port}\""),
        ))
    }

    /// The generated site secret (a kiosk of the site needs the same one).
    pub fn secret(&self) -> Result<Vec<u8>> {
        Ok(std::fs::read(self.config.with_file_name("site.secret"))?)
    }

    /// Units of a recipient's service in the month that starts at `month`.
    pub fn given(&self, who: RecipientId, service: &str, month: NaiveDate) -> usize {
        self.units
            .iter()
            .filter(|(r, s, d)| {
                *r == who && s == service && (d.year(), d.month()) == (month.year(), month.month())
            })
            .count()
    }

    /// A recipient's name.
    pub fn name(&self, who: RecipientId) -> &str {
        self.recipients
            .iter()
            .find(|(r, _)| *r == who)
            .map_or("", |(_, n)| n.as_str())
    }
}

/// The per-recipient services of the catalogue the generator uses.
fn services(cat: &Catalogue) -> Vec<&otmetka_core::catalogue::Service> {
    ["000", "001", "002-2.4", "002-2.5", "002-5.1"]
        .iter()
        .filter_map(|c| cat.get(&ServiceCode((*c).into())))
        .filter(|s| s.unit == UnitRule::PerRecipient)
        .collect()
}

/// Writes `journal.toml`, the roster, the site secret into `dir`, and commits sessions for each
/// working day of `[from, to]`: `per_day` sessions a day, each of 4–12 recipients.
pub fn generate(
    dir: &Path,
    n: usize,
    from: NaiveDate,
    to: NaiveDate,
    per_day: usize,
    seed: u64,
) -> Result<Institution> {
    let root = crate::site::repo_root();
    let catalogue_path = root.join("config/services.toml");
    let cat = Catalogue::from_toml(
        "services.toml",
        &std::fs::read_to_string(&catalogue_path).context("reading the catalogue")?,
    )?;
    let services = services(&cat);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut roster = format!("site = \"{SITE}\"\nversion = 1\n");
    for (i, (id, name)) in INSTRUCTORS.iter().enumerate() {
        let _ = write!(
            roster,
            "\n[[instructors]]\nid = \"{id}\"\ndisplay_name = \"{name}\"\npin = \"{}\"\n",
            1234 + i
        );
    }
    let mut recipients = Vec::new();
    let mut planned = BTreeMap::new();
    for i in 0..n {
        let id = RecipientId(crate::site::load_recipient_id(i).parse()?);
        let name = format!(
            "{} {} {}",
            SURNAMES[i % SURNAMES.len()],
            NAMES[(i / SURNAMES.len()) % NAMES.len()],
            PATRONYMICS[(i / 7) % PATRONYMICS.len()]
        );
        let mut items = String::new();
        let mut plan = BTreeMap::new();
        for s in &services {
            let count = rng.gen_range(2..=8u32);
            // Every other recipient has 002-5.1 once or twice a week (plan vs fact by weeks).
            let weekly = s.code.0 == "002-5.1" && i % 2 == 1;
            let count = if weekly { 1 + count % 2 } else { count };
            plan.insert(s.code.0.clone(), Planned { count, weekly });
            let _ = write!(
                items,
                "{{ service = \"{}\", period = \"{}\", count = {count} }}, ",
                s.code.0,
                if weekly { "week" } else { "month" }
            );
        }
        let groups = if i % 3 == 0 { CLUB } else { "" };
        let _ = write!(
            roster,
            "\n[[recipients]]\nid = \"{id}\"\ndisplay_name = \"{name}\"\ncards = [\"{}\"]\n\
             groups = [{}]\n\
             consent = {{ participation = true, photo_video = {} }}\n[recipients.programme]\n\
             valid_from = \"2020-01-01\"\nvalid_to = \"2099-12-31\"\nitems = [{items}]\n",
            crate::site::load_card(i),
            if groups.is_empty() {
                String::new()
            } else {
                format!("\"{groups}\"")
            },
            i % 5 != 0
        );
        recipients.push((id, name));
        planned.insert(id, plan);
    }
    let members: Vec<String> = recipients
        .iter()
        .step_by(3)
        .map(|(id, _)| format!("\"{id}\""))
        .collect();
    let _ = write!(
        roster,
        "\n[[groups]]\nid = \"{CLUB}\"\nname = \"Клуб «Рукодельница»\"\nservice = \"000\"\n\
         members = [{}]\n",
        members.join(", ")
    );
    std::fs::write(dir.join("roster.toml"), roster)?;
    std::fs::write(
        dir.join("site.secret"),
        "generated-institution-secret-0123456789\n",
    )?;
    std::fs::write(
        dir.join("schedule.toml"),
        format!(
            "site = \"{SITE}\"\nweeks_ahead = 2\nno_sessions = [\"2026-12-31\"]\n\
             [[weekly]]\nservice = \"002-2.5\"\ninstructor = \"{}\"\ndays = [\"tue\", \"thu\"]\n\
             start = \"11:30\"\nroom = \"Зал ЛФК\"\n\
             [[weekly]]\nservice = \"001\"\ninstructor = \"{}\"\ndays = [\"fri\"]\n\
             start = \"15:00\"\nroom = \"Гостиная\"\n",
            INSTRUCTORS[1].0, INSTRUCTORS[0].0
        ),
    )?;
    let config = dir.join("journal.toml");
    std::fs::write(
        &config,
        format!(
            "database = \"journal.db\"\ncatalogue = \"{}\"\nbroker = \"127.0.0.1:1\"\n\
             [[sites]]\nid = \"{SITE}\"\nroster_file = \"roster.toml\"\n\
             site_secret_file = \"site.secret\"\nschedule_file = \"schedule.toml\"\n\
             time_zone = \"{ZONE}\"\n",
            catalogue_path.display()
        ),
    )?;
    let mut store = otmetka_journal::store::SqliteJournal::open(&dir.join("journal.db"))?;
    let offset = zone()?;
    let mut inst = Institution {
        config,
        recipients,
        planned,
        units: Vec::new(),
        sessions: Vec::new(),
        club_sessions: Default::default(),
        answers: Vec::new(),
    };
    let mut seq = 0u64;
    let mut batch = Vec::new();
    let mut day = from;
    let mut k = 0usize;
    while day <= to {
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            for slot in 0..per_day {
                k += 1;
                let service = services[(k + slot) % services.len()];
                let instructor = INSTRUCTORS[k % INSTRUCTORS.len()].0;
                let hour = 9 + (slot as u32 * 9 / per_day.max(1) as u32);
                let opened: DateTime<Utc> = day
                    .and_hms_opt(hour, (slot as u32 * 7) % 50, 0)
                    .and_then(|t| t.and_local_timezone(offset).single())
                    .context("local time")?
                    .to_utc();
                let norm = i64::from(service.time_norm_minutes.unwrap_or(60));
                let minutes = rng.gen_range((norm - 15).max(20)..=norm);
                let mut closed = opened + Duration::minutes(minutes);
                let size = rng.gen_range(4..=12usize).min(inst.recipients.len());
                let who: Vec<RecipientId> = inst
                    .recipients
                    .choose_multiple(&mut rng, size)
                    .map(|(r, _)| *r)
                    .collect();
                let session = SessionId(uuid_from(&mut rng));
                let club = (service.code.0 == "000").then(|| {
                    inst.club_sessions.insert(session);
                    otmetka_core::people::GroupId(CLUB.parse().unwrap_or_default())
                });
                // Now and then, the marks a real month has.
                let roll = rng.gen_range(0..100);
                let auto = roll < 3;
                if auto {
                    closed = opened + Duration::minutes(75);
                }
                let below_min = (3..6).contains(&roll);
                let head_off = (6..9).contains(&roll);
                let clock_off = (9..11).contains(&roll);
                let env = |seq: u64, at: DateTime<Utc>, event: Event| Envelope {
                    schema: SCHEMA,
                    site: SITE.into(),
                    kiosk: KIOSK.into(),
                    installation: None,
                    seq,
                    event_id: uuid::Uuid::from_u128(u128::from(seq) | (7u128 << 120)),
                    recorded_at: at,
                    clock_synced: !clock_off,
                    event,
                };
                let units: Vec<Unit> = who
                    .iter()
                    .enumerate()
                    .map(|(i, r)| Unit {
                        id: UnitId::per_recipient(session, *r),
                        session,
                        service: service.code.clone(),
                        kind: UnitKind::PerRecipient,
                        recipient: Some(*r),
                        participants: Vec::new(),
                        group: None,
                        instructor: InstructorId(instructor.parse().unwrap_or_default()),
                        date: day,
                        started_at: opened,
                        ended_at: closed,
                        overridden: if roll == 11 && i == 0 {
                            vec![Rule::FrequencyLimit]
                        } else {
                            Vec::new()
                        },
                        manual: false,
                        below_group_min: below_min,
                        over_norm_minutes: None,
                        clock_synced: !clock_off,
                    })
                    .collect();
                for r in &who {
                    inst.units.push((*r, service.code.0.clone(), day));
                }
                let head_count = (!auto).then(|| who.len() as u32 + u32::from(head_off));
                let events = [
                    (
                        opened,
                        Event::SessionOpened {
                            session,
                            service: service.code.clone(),
                            unit_kind: UnitKind::PerRecipient,
                            group: club,
                            instructor: InstructorId(instructor.parse().unwrap_or_default()),
                            at: opened,
                            safety_briefing: true,
                            date_confirmed: false,
                            event: false,
                            over_group_cap: false,
                        },
                    ),
                    (
                        closed,
                        Event::SessionClosed {
                            session,
                            at: closed,
                            how: if auto {
                                CloseKind::Auto
                            } else {
                                CloseKind::Instructor
                            },
                            head_count,
                            // One without a card, as the instructor explains at the close.
                            reason: (head_off && !auto).then_some(CloseReason::NoCard),
                        },
                    ),
                    (closed, Event::Units { session, units }),
                ];
                // Most answer the satisfaction question at check-out; most are satisfied.
                let mut answers = Vec::new();
                for _ in &who {
                    let answer = match rng.gen_range(0..100) {
                        0..=19 => continue,
                        20..=84 => Satisfaction::Good,
                        85..=95 => Satisfaction::Neutral,
                        _ => Satisfaction::Bad,
                    };
                    inst.answers.push((service.code.0.clone(), answer, day));
                    answers.push((
                        closed,
                        Event::SatisfactionAnswered {
                            session,
                            checkin: CheckInId(uuid_from(&mut rng)),
                            answer,
                            at: closed,
                        },
                    ));
                }
                for (at, event) in events.into_iter().chain(answers) {
                    seq += 1;
                    batch.push(judged(env(seq, at, event))?);
                }
                inst.sessions.push((session, day));
                if batch.len() >= 600 {
                    store.commit_batch(&Batch::of(std::mem::take(&mut batch)), closed)?;
                }
            }
        }
        day = day.succ_opt().context("date")?;
    }
    if !batch.is_empty() {
        let received = to.and_hms_opt(20, 0, 0).context("time")?.and_utc();
        store.commit_batch(&Batch::of(batch), received)?;
    }
    Ok(inst)
}

/// The generated site's clock.
fn zone() -> Result<chrono::FixedOffset> {
    otmetka_core::period::zone_offset_minutes(ZONE)
        .and_then(|m| chrono::FixedOffset::east_opt(m * 60))
        .context("the generator's zone")
}

/// A message of the generated kiosk as ingest would have judged it: accepted.
fn judged(env: Envelope) -> Result<Judged> {
    Ok(Judged {
        site: SITE.into(),
        kiosk: KIOSK.into(),
        topic: format!("otmetka/v1/{SITE}/kiosk/{KIOSK}/events"),
        payload: serde_json::to_vec(&env)?,
        verdict: Verdict::Accept(Box::new(env)),
    })
}

fn uuid_from(rng: &mut StdRng) -> uuid::Uuid {
    uuid::Builder::from_random_bytes(rng.r#gen()).into_uuid()
}

/// Records an unidentified tap (a card no roster knew) in `session` at `at`, as the generated
/// kiosk's next installation would send it. Returns the tap's id.
pub fn unidentified_tap(
    inst: &Institution,
    session: Option<SessionId>,
    at: DateTime<Utc>,
) -> Result<uuid::Uuid> {
    let mut store =
        otmetka_journal::store::SqliteJournal::open(&inst.config.with_file_name("journal.db"))?;
    let tap = uuid::Uuid::from_u128(0x7a9 << 64 | u128::from(at.timestamp().unsigned_abs()));
    let env = Envelope {
        schema: SCHEMA,
        site: SITE.into(),
        kiosk: KIOSK.into(),
        installation: Some(uuid::Uuid::from_u128(0x1157)),
        seq: 1,
        event_id: tap,
        recorded_at: at,
        clock_synced: true,
        event: Event::UnidentifiedTap {
            session,
            tap,
            card_hash: "ab".repeat(32),
            at,
        },
    };
    store.commit_batch(&Batch::of(vec![judged(env)?]), at)?;
    Ok(tap)
}

/// How a late session ([`late_session_as`]) was held.
#[derive(Debug, Clone)]
pub struct LateSession {
    pub service: String,
    /// How long it ran, from 10:00.
    pub minutes: i64,
    /// Opened as the service's event form.
    pub event: bool,
    /// The reason the instructor gave at the close.
    pub reason: Option<CloseReason>,
    /// The session's standing group.
    pub group: Option<otmetka_core::people::GroupId>,
    /// The kiosk it was held at (default [`KIOSK`]).
    pub kiosk: Option<String>,
    /// Minutes after 10:00 it opened.
    pub opened_after: i64,
    /// Each recipient also checked in by card a minute after the opening (default: units only).
    pub checkins: bool,
    /// Each recipient checked out so many minutes after the opening.
    pub checked_out_after: Option<i64>,
}

impl Default for LateSession {
    fn default() -> LateSession {
        LateSession {
            service: "001".into(),
            minutes: 45,
            event: false,
            reason: None,
            group: None,
            kiosk: None,
            opened_after: 0,
            checkins: false,
            checked_out_after: None,
        }
    }
}

/// Commits one more session of service `001` on `date` at 10:00 with `who`'s units, as a kiosk
/// that was offline would send it late (another installation of the generated kiosk). Returns
/// the session.
pub fn late_session(inst: &Institution, date: NaiveDate, who: &[RecipientId]) -> Result<SessionId> {
    late_session_as(inst, date, who, &LateSession::default())
}

/// [`late_session`] of another service, length, form or close reason; its units carry the
/// over-norm flag the catalogue gives (as the kiosk's `Session::units` sets it).
pub fn late_session_as(
    inst: &Institution,
    date: NaiveDate,
    who: &[RecipientId],
    how: &LateSession,
) -> Result<SessionId> {
    let mut store =
        otmetka_journal::store::SqliteJournal::open(&inst.config.with_file_name("journal.db"))?;
    let cat = Catalogue::from_toml(
        "services.toml",
        &std::fs::read_to_string(crate::site::repo_root().join("config/services.toml"))?,
    )?;
    let service = ServiceCode(how.service.clone());
    let svc = cat.get(&service).context("no such service")?;
    let offset = zone()?;
    let opened = date
        .and_hms_opt(10, 0, 0)
        .and_then(|t| t.and_local_timezone(offset).single())
        .context("local time")?
        .to_utc()
        + Duration::minutes(how.opened_after);
    let closed = opened + Duration::minutes(how.minutes);
    let kiosk = how.kiosk.clone().unwrap_or_else(|| KIOSK.to_string());
    // One installation per (date, service, group, kiosk, start): several late sessions can be
    // sent.
    let key = uuid::Uuid::new_v5(
        &uuid::Uuid::from_u128(0x1a7e),
        format!(
            "{date}/{}/{:?}{}",
            how.service,
            how.group,
            if how.kiosk.is_some() || how.opened_after != 0 {
                format!("/{kiosk}/{}", how.opened_after)
            } else {
                String::new()
            }
        )
        .as_bytes(),
    );
    let session = SessionId(key);
    let instructor = InstructorId(INSTRUCTORS[0].0.parse()?);
    let units = who
        .iter()
        .map(|r| Unit {
            id: UnitId::per_recipient(session, *r),
            session,
            service: service.clone(),
            kind: UnitKind::PerRecipient,
            recipient: Some(*r),
            participants: Vec::new(),
            group: how.group,
            instructor,
            date,
            started_at: opened,
            ended_at: closed,
            overridden: Vec::new(),
            manual: false,
            below_group_min: svc.below_group_min(who.len()),
            over_norm_minutes: svc.minutes_over_norm(how.event, opened, closed),
            clock_synced: true,
        })
        .collect();
    let mut events = vec![Event::SessionOpened {
        session,
        service: service.clone(),
        unit_kind: UnitKind::PerRecipient,
        group: how.group,
        instructor,
        at: opened,
        safety_briefing: svc.needs_safety_briefing(),
        date_confirmed: false,
        event: how.event,
        over_group_cap: false,
    }];
    if how.checkins {
        for (i, r) in who.iter().enumerate() {
            let checkin = CheckInId(uuid::Uuid::new_v5(&key, format!("checkin/{i}").as_bytes()));
            events.push(Event::CheckedIn {
                session,
                checkin,
                recipient: *r,
                at: opened + Duration::minutes(1),
                method: otmetka_core::event::CheckInMethod::Card,
                overridden: Vec::new(),
                override_reason: None,
                norm_minutes: None,
            });
            if let Some(after) = how.checked_out_after {
                events.push(Event::CheckedOut {
                    session,
                    checkin,
                    at: opened + Duration::minutes(after),
                });
            }
        }
    }
    events.extend([
        Event::SessionClosed {
            session,
            at: closed,
            how: CloseKind::Instructor,
            head_count: Some(who.len() as u32),
            reason: how.reason,
        },
        Event::Units { session, units },
    ]);
    let installation = uuid::Uuid::new_v5(&key, b"installation");
    let batch = events
        .into_iter()
        .enumerate()
        .map(|(i, event)| {
            let env = Envelope {
                schema: SCHEMA,
                site: SITE.into(),
                kiosk: kiosk.clone(),
                installation: Some(installation),
                seq: i as u64 + 1,
                event_id: uuid::Uuid::new_v5(&key, format!("event/{i}").as_bytes()),
                recorded_at: closed,
                clock_synced: true,
                event,
            };
            judged(env)
        })
        .collect::<Result<Vec<_>>>()?;
    store.commit_batch(&Batch::of(batch), closed)?;
    Ok(session)
}
