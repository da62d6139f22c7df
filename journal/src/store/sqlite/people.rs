//! [`PeopleStore`] on SQLite: people, cards and timetables (migration 0007).

use super::SqliteJournal;
use super::staff::audit_tx;
use crate::store::StoreError;
use crate::store::people::{
    CardRecord, CardState, DayOff, Holder, ImportReport, InstructorRecord, NewCard, PastProgramme,
    PeopleImport, PeopleStore, Person, PlannedSession, Sex, SitePeople, SitePlan, Snils,
    WeekApproval, weekday_code, weekday_of,
};
use crate::store::staff::Actor;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use otmetka_core::catalogue::ServiceCode;
use otmetka_core::people::{Consent, Group, GroupId, InstructorId, Programme, RecipientId};
use otmetka_core::timestamp::{from_text, to_text as ts};
use rusqlite::{OptionalExtension, Transaction, params};

/// Raises a site's revision of `name` (`people`, `plan`) in the change's transaction.
pub(super) fn bump(tx: &Transaction<'_>, site: &str, name: &str) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO revisions (site, name, revision) VALUES (?1, ?2, 1)
         ON CONFLICT (site, name) DO UPDATE SET revision = revision + 1",
        params![site, name],
    )?;
    Ok(())
}

/// The site of the recipient or instructor `id` of `table`, if the journal holds them.
fn held_site(tx: &Transaction<'_>, table: &str, id: &str) -> Result<Option<String>, StoreError> {
    Ok(tx
        .query_row(
            &format!("SELECT site FROM {table} WHERE id = ?1"),
            [id],
            |r| r.get(0),
        )
        .optional()?)
}

fn date_text(d: Option<NaiveDate>) -> Option<String> {
    d.map(|d| d.to_string())
}

fn date_of(t: Option<String>) -> Option<NaiveDate> {
    t.and_then(|t| t.parse().ok())
}

fn uuid_of(t: &str) -> Option<uuid::Uuid> {
    t.parse().ok()
}

fn upsert_recipient(
    tx: &Transaction<'_>,
    p: &Person,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO recipients (id, site, display_name, full_name, birth_date, care_group,
             representative, consent_participation, consent_photo_video, consent_data_on,
             programme, groups, anonymised_at, updated_at, left_on, snils, sex)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
         ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name,
             full_name = excluded.full_name, birth_date = excluded.birth_date,
             care_group = excluded.care_group, representative = excluded.representative,
             consent_participation = excluded.consent_participation,
             consent_photo_video = excluded.consent_photo_video,
             consent_data_on = excluded.consent_data_on, programme = excluded.programme,
             groups = excluded.groups, anonymised_at = excluded.anonymised_at,
             updated_at = excluded.updated_at, left_on = excluded.left_on,
             snils = excluded.snils, sex = excluded.sex
         WHERE recipients.site = excluded.site",
        params![
            p.id.to_string(),
            p.site,
            p.display_name,
            p.full_name,
            date_text(p.birth_date),
            p.care_group,
            p.representative,
            p.consent.participation,
            p.consent.photo_video,
            date_text(p.data_consent_on),
            p.programme
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?,
            serde_json::to_string(&p.groups)?,
            p.anonymised_at.map(ts),
            ts(now),
            date_text(p.left_on),
            p.snils.as_ref().map(Snils::digits),
            p.sex.map(Sex::as_str),
        ],
    )?;
    Ok(())
}

fn upsert_instructor(
    tx: &Transaction<'_>,
    i: &InstructorRecord,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO instructors (id, site, display_name, pin_hash, active, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name,
             pin_hash = excluded.pin_hash, active = excluded.active, updated_at = excluded.updated_at
         WHERE instructors.site = excluded.site",
        params![
            i.id.to_string(),
            i.site,
            i.display_name,
            i.pin_hash,
            i.active,
            ts(now)
        ],
    )?;
    Ok(())
}

/// Whether a card with `hashes` is one the site holds, and whose: the same card (its whole
/// number, `hashes[0]`, is among a held card's forms, or a held card's whole number among its
/// forms). Two cards whose 24-bit truncations agree are different cards (a truncated read of
/// either is ambiguous at the kiosk, which says so), not the same one.
const SAME_CARD: &str = "c.site = ?1 AND (c.first_hash IN (SELECT value FROM json_each(?2))
     OR EXISTS (SELECT 1 FROM json_each(c.hashes) WHERE value = ?3))";

/// Who holds the card `hashes` names at `site`: their id (a recipient's, or "instructor ID")
/// for the log, and their name ("Мария Ивановна") for the pages.
pub(super) struct CardHolder {
    pub id: String,
    pub name: String,
}

/// Who holds the card `hashes` names at `site`, if anyone.
pub(super) fn card_holder(
    tx: &Transaction<'_>,
    site: &str,
    hashes: &[String],
) -> Result<Option<CardHolder>, StoreError> {
    let Some(first) = hashes.first() else {
        return Ok(None);
    };
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT COALESCE(c.recipient, 'instructor ' || c.instructor),
             COALESCE(NULLIF(r.display_name, ''), i.display_name, c.recipient, c.instructor)
         FROM cards c LEFT JOIN recipients r ON r.id = c.recipient
         LEFT JOIN instructors i ON i.id = c.instructor WHERE {SAME_CARD} LIMIT 1"
    ))?;
    Ok(stmt
        .query_row(params![site, serde_json::to_string(hashes)?, first], |r| {
            Ok(CardHolder {
                id: r.get(0)?,
                name: r.get(1)?,
            })
        })
        .optional()?)
}

/// Inserts a card the site does not hold; `Conflict` naming the holder when it does.
pub(super) fn insert_card(
    tx: &Transaction<'_>,
    card: &NewCard,
    issued_by: &str,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let Some(first) = card.hashes.first() else {
        return Err(StoreError::Conflict("a card without a number".into()));
    };
    if let Some(who) = card_holder(tx, &card.site, &card.hashes)? {
        return Err(StoreError::Conflict(format!(
            "Эта карта уже выдана: {}.",
            who.name
        )));
    }
    let (recipient, instructor) = match card.holder {
        Holder::Recipient(r) => (Some(r.to_string()), None),
        Holder::Instructor(i) => (None, Some(i.to_string())),
    };
    tx.execute(
        "INSERT INTO cards (site, recipient, instructor, hashes, first_hash, tail, state,
             valid_until, kept_by_staff, issued_at, issued_by, note, changed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?10)",
        params![
            card.site,
            recipient,
            instructor,
            serde_json::to_string(&card.hashes)?,
            first,
            card.tail,
            card.state.as_str(),
            date_text(card.valid_until),
            card.kept_by_staff,
            ts(now),
            issued_by,
            card.note,
        ],
    )?;
    bump(tx, &card.site, "people")?;
    Ok(tx.last_insert_rowid())
}

fn holder_label(h: Holder) -> String {
    match h {
        Holder::Recipient(r) => r.to_string(),
        Holder::Instructor(i) => format!("instructor {i}"),
    }
}

impl PeopleStore for SqliteJournal {
    fn revision(&self, site: &str, name: &str) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT revision FROM revisions WHERE site = ?1 AND name = ?2",
                params![site, name],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0))
    }

    fn people(&self, site: &str) -> Result<SitePeople, StoreError> {
        let mut out = SitePeople {
            site: site.to_string(),
            revision: self.revision(site, "people")?,
            ..SitePeople::default()
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, display_name, full_name, birth_date, care_group, representative,
                 consent_participation, consent_photo_video, consent_data_on, programme, groups,
                 anonymised_at, left_on, snils, sex
             FROM recipients WHERE site = ?1 ORDER BY display_name COLLATE NOCASE, id",
        )?;
        let rows = stmt.query_map([site], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<u8>>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, bool>(6)?,
                r.get::<_, bool>(7)?,
                r.get::<_, Option<String>>(8)?,
                r.get::<_, Option<String>>(9)?,
                r.get::<_, String>(10)?,
                r.get::<_, Option<String>>(11)?,
                r.get::<_, Option<String>>(12)?,
                r.get::<_, Option<String>>(13)?,
                r.get::<_, Option<String>>(14)?,
            ))
        })?;
        for row in rows {
            let (
                id,
                display,
                full,
                birth,
                care,
                rep,
                part,
                photo,
                data_on,
                prog,
                groups,
                anon,
                left,
                snils,
                sex,
            ) = row?;
            let Some(id) = uuid_of(&id) else { continue };
            out.recipients.push(Person {
                id: RecipientId(id),
                site: site.to_string(),
                display_name: display,
                full_name: full,
                birth_date: date_of(birth),
                snils: snils.and_then(|s| Snils::parse(&s).ok()),
                sex: sex.as_deref().and_then(Sex::parse),
                care_group: care,
                representative: rep,
                consent: Consent {
                    participation: part,
                    photo_video: photo,
                },
                data_consent_on: date_of(data_on),
                programme: prog.map(|p| serde_json::from_str(&p)).transpose()?,
                groups: serde_json::from_str(&groups)?,
                past_programmes: Vec::new(),
                left_on: date_of(left),
                anonymised_at: anon.and_then(|t| from_text(&t)),
            });
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT recipient, programme, replaced_at, replaced_by FROM programme_history
             WHERE site = ?1 ORDER BY id DESC",
        )?;
        let rows = stmt.query_map([site], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        for row in rows {
            let (recipient, programme, at, by) = row?;
            let (Some(id), Some(at)) = (uuid_of(&recipient), from_text(&at)) else {
                continue;
            };
            if let Some(p) = out.recipients.iter_mut().find(|p| p.id.0 == id) {
                p.past_programmes.push(PastProgramme {
                    programme: serde_json::from_str(&programme)?,
                    replaced_at: at,
                    replaced_by: by,
                });
            }
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, display_name, pin_hash, active FROM instructors WHERE site = ?1
             ORDER BY display_name COLLATE NOCASE, id",
        )?;
        let rows = stmt.query_map([site], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, bool>(3)?,
            ))
        })?;
        for row in rows {
            let (id, display_name, pin_hash, active) = row?;
            let Some(id) = uuid_of(&id) else { continue };
            out.instructors.push(InstructorRecord {
                id: InstructorId(id),
                site: site.to_string(),
                display_name,
                pin_hash,
                active,
            });
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, name, service FROM study_groups WHERE site = ?1 ORDER BY name, id",
        )?;
        let rows = stmt.query_map([site], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for row in rows {
            let (id, name, service) = row?;
            let Some(id) = uuid_of(&id) else { continue };
            out.groups.push(Group {
                id: GroupId(id),
                name,
                service: ServiceCode(service),
                members: Vec::new(),
            });
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, recipient, instructor, hashes, tail, state, valid_until, kept_by_staff,
                 issued_at, issued_by, note
             FROM cards WHERE site = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([site], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, Option<String>>(6)?,
                r.get::<_, bool>(7)?,
                r.get::<_, String>(8)?,
                r.get::<_, String>(9)?,
                r.get::<_, String>(10)?,
            ))
        })?;
        for row in rows {
            let (id, recipient, instructor, hashes, tail, state, until, kept, at, by, note) = row?;
            let holder = match (
                recipient.as_deref().and_then(uuid_of),
                instructor.as_deref().and_then(uuid_of),
            ) {
                (Some(r), _) => Holder::Recipient(RecipientId(r)),
                (None, Some(i)) => Holder::Instructor(InstructorId(i)),
                (None, None) => continue,
            };
            out.cards.push(CardRecord {
                id,
                site: site.to_string(),
                holder,
                hashes: serde_json::from_str(&hashes)?,
                tail,
                state: CardState::parse(&state).unwrap_or(CardState::Blocked),
                valid_until: date_of(until),
                kept_by_staff: kept,
                issued_at: from_text(&at).unwrap_or(DateTime::UNIX_EPOCH),
                issued_by: by,
                note,
            });
        }
        Ok(out)
    }

    fn save_recipient(
        &mut self,
        actor: &Actor,
        person: &Person,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.write()?;
        let held = held_site(&tx, "recipients", &person.id.to_string())?;
        if held.as_deref().is_some_and(|s| s != person.site) {
            return Err(StoreError::Conflict(format!(
                "recipient {} belongs to another site",
                person.id
            )));
        }
        // The programme this save replaces is kept (the acts of its months are judged by it).
        let before: Option<String> = tx
            .query_row(
                "SELECT programme FROM recipients WHERE id = ?1 AND site = ?2",
                params![person.id.to_string(), person.site],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        // Compared as programmes with their items in one order: an import and the form may
        // write the same programme differently.
        let normal = |p: &Programme| {
            let mut p = p.clone();
            p.items.sort_by(|a, b| a.service.0.cmp(&b.service.0));
            p
        };
        let same = |old: &str| {
            serde_json::from_str::<Programme>(old)
                .ok()
                .zip(person.programme.as_ref())
                .is_some_and(|(o, n)| normal(&o) == normal(n))
        };
        if let Some(old) = before.filter(|b| !same(b)) {
            tx.execute(
                "INSERT INTO programme_history (site, recipient, programme, replaced_at, replaced_by)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![person.site, person.id.to_string(), old, ts(now), actor.name],
            )?;
        }
        upsert_recipient(&tx, person, now)?;
        bump(&tx, &person.site, "people")?;
        let action = if held.is_some() {
            "edit_recipient"
        } else {
            "add_recipient"
        };
        audit_tx(
            &tx,
            actor,
            action,
            &person.id.to_string(),
            &format!("site {}", person.site),
            now,
        )?;
        tx.commit()?;
        Ok(())
    }

    fn save_instructor(
        &mut self,
        actor: &Actor,
        instructor: &InstructorRecord,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.write()?;
        let held = held_site(&tx, "instructors", &instructor.id.to_string())?;
        if held.as_deref().is_some_and(|s| s != instructor.site) {
            return Err(StoreError::Conflict(format!(
                "instructor {} belongs to another site",
                instructor.id
            )));
        }
        upsert_instructor(&tx, instructor, now)?;
        bump(&tx, &instructor.site, "people")?;
        audit_tx(
            &tx,
            actor,
            if held.is_some() {
                "edit_instructor"
            } else {
                "add_instructor"
            },
            &format!("instructor {}", instructor.id),
            &format!(
                "site {}; PIN {}; {}",
                instructor.site,
                if instructor.pin_hash.is_some() {
                    "set"
                } else {
                    "none"
                },
                if instructor.active { "active" } else { "left" }
            ),
            now,
        )?;
        tx.commit()?;
        Ok(())
    }

    fn add_card(
        &mut self,
        actor: &Actor,
        card: &NewCard,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let tx = self.write()?;
        let id = insert_card(&tx, card, &actor.name, now)?;
        audit_tx(
            &tx,
            actor,
            "add_card",
            &holder_label(card.holder),
            &format!(
                "card {} {}{}{}",
                id,
                card.tail
                    .as_deref()
                    .map(|t| format!("…{t}"))
                    .unwrap_or_default(),
                card.valid_until
                    .map(|d| format!(", temporary until {d}"))
                    .unwrap_or_default(),
                if card.kept_by_staff {
                    ", kept by staff"
                } else {
                    ""
                }
            ),
            now,
        )?;
        tx.commit()?;
        Ok(id)
    }

    fn replace_card(
        &mut self,
        actor: &Actor,
        card: &NewCard,
        old: i64,
        old_state: CardState,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let tx = self.write()?;
        let held: Option<(Option<String>, Option<String>, String)> = tx
            .query_row(
                "SELECT recipient, instructor, state FROM cards WHERE id = ?1 AND site = ?2",
                params![old, card.site],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((recipient, instructor, was)) = held else {
            return Err(StoreError::NotFound(format!(
                "card {old} of site {}",
                card.site
            )));
        };
        let same = match card.holder {
            Holder::Recipient(r) => recipient == Some(r.to_string()),
            Holder::Instructor(i) => instructor == Some(i.to_string()),
        };
        if !same {
            return Err(StoreError::Conflict(
                "Заменяемая карта выдана другому человеку.".into(),
            ));
        }
        let id = insert_card(&tx, card, &actor.name, now)?;
        let tail = card
            .tail
            .as_deref()
            .map(|t| format!(" …{t}"))
            .unwrap_or_default();
        tx.execute(
            "UPDATE cards SET state = ?2, note = ?3, changed_at = ?4 WHERE id = ?1",
            params![
                old,
                old_state.as_str(),
                format!("заменена картой{tail}"),
                ts(now)
            ],
        )?;
        audit_tx(
            &tx,
            actor,
            "replace_card",
            &holder_label(card.holder),
            &format!(
                "card {old}: {was} → {}; new card {id}{tail}",
                old_state.as_str()
            ),
            now,
        )?;
        tx.commit()?;
        Ok(id)
    }

    fn set_card_state(
        &mut self,
        actor: &Actor,
        site: &str,
        card: i64,
        state: CardState,
        note: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.write()?;
        let held: Option<(Option<String>, Option<String>, String)> = tx
            .query_row(
                "SELECT recipient, instructor, state FROM cards WHERE id = ?1 AND site = ?2",
                params![card, site],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((recipient, instructor, was)) = held else {
            return Err(StoreError::NotFound(format!("card {card} of site {site}")));
        };
        tx.execute(
            "UPDATE cards SET state = ?2, note = ?3, changed_at = ?4 WHERE id = ?1",
            params![card, state.as_str(), note, ts(now)],
        )?;
        bump(&tx, site, "people")?;
        audit_tx(
            &tx,
            actor,
            "card_state",
            &recipient
                .or(instructor.map(|i| format!("instructor {i}")))
                .unwrap_or_default(),
            &format!("card {card}: {was} → {}; {note}", state.as_str()),
            now,
        )?;
        tx.commit()?;
        Ok(())
    }

    fn anonymise(
        &mut self,
        actor: &Actor,
        site: &str,
        id: RecipientId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.write()?;
        let changed = tx.execute(
            "UPDATE recipients SET display_name = '', full_name = '', birth_date = NULL,
                 snils = NULL, sex = NULL, representative = '', consent_data_on = NULL, anonymised_at = ?3, updated_at = ?3
             WHERE id = ?1 AND site = ?2 AND anonymised_at IS NULL",
            params![id.to_string(), site, ts(now)],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!(
                "recipient {id} of site {site} (or anonymised already)"
            )));
        }
        tx.execute(
            "UPDATE cards SET state = CASE state WHEN 'active' THEN 'blocked' ELSE state END,
                 tail = NULL, note = 'anonymised', changed_at = ?2
             WHERE recipient = ?1",
            params![id.to_string(), ts(now)],
        )?;
        bump(&tx, site, "people")?;
        audit_tx(
            &tx,
            actor,
            "anonymise",
            &id.to_string(),
            &format!("site {site}"),
            now,
        )?;
        tx.commit()?;
        Ok(())
    }

    fn last_unit_date(&self, id: RecipientId) -> Result<Option<NaiveDate>, StoreError> {
        let last: Option<String> = self.conn.query_row(
            "SELECT MAX(date) FROM units WHERE recipient = ?1",
            [id.to_string()],
            |r| r.get(0),
        )?;
        Ok(date_of(last))
    }

    fn import_people(
        &mut self,
        actor: &Actor,
        import: &PeopleImport,
        now: DateTime<Utc>,
    ) -> Result<ImportReport, StoreError> {
        let tx = self.write()?;
        let mut report = ImportReport::default();
        for g in &import.groups {
            tx.execute(
                "INSERT OR IGNORE INTO study_groups (id, site, name, service) VALUES (?1, ?2, ?3, ?4)",
                params![g.id.to_string(), import.site, g.name, g.service.0],
            )?;
        }
        // The journal's database is the source of truth: someone it holds (edited on the
        // pages, or anonymised) is not changed by the file.
        for p in &import.recipients {
            if held_site(&tx, "recipients", &p.id.to_string())?.is_none() {
                upsert_recipient(&tx, p, now)?;
                report.recipients += 1;
            }
        }
        for i in &import.instructors {
            if held_site(&tx, "instructors", &i.id.to_string())?.is_none() {
                upsert_instructor(&tx, i, now)?;
                report.instructors += 1;
            }
        }
        for c in &import.cards {
            if card_holder(&tx, &import.site, &c.hashes)?.is_none() {
                insert_card(&tx, c, &actor.name, now)?;
                report.cards_added += 1;
            }
        }
        bump(&tx, &import.site, "people")?;
        audit_tx(
            &tx,
            actor,
            "import_people",
            &format!("site {}", import.site),
            &format!(
                "{} recipients, {} instructors, {} new cards",
                report.recipients, report.instructors, report.cards_added
            ),
            now,
        )?;
        tx.commit()?;
        Ok(report)
    }

    fn plan(&self, site: &str) -> Result<SitePlan, StoreError> {
        let mut plan = SitePlan {
            site: site.to_string(),
            revision: self.revision(site, "plan")?,
            ..SitePlan::default()
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, service, study_group, instructor, days, on_date, start, room, unit_kind,
                 valid_from, valid_to
             FROM planned_sessions WHERE site = ?1 ORDER BY start, id",
        )?;
        let rows = stmt.query_map([site], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, Option<String>>(8)?,
                r.get::<_, Option<String>>(9)?,
                r.get::<_, Option<String>>(10)?,
            ))
        })?;
        for row in rows {
            let (id, service, group, instructor, days, date, start, room, kind, from, to) = row?;
            let Ok(start) = NaiveTime::parse_from_str(&start, "%H:%M") else {
                continue;
            };
            plan.sessions.push(PlannedSession {
                id,
                site: site.to_string(),
                service: ServiceCode(service),
                group: group.as_deref().and_then(uuid_of).map(GroupId),
                instructor: instructor.as_deref().and_then(uuid_of).map(InstructorId),
                days: days.split(',').filter_map(weekday_of).collect(),
                date: date_of(date),
                start,
                room,
                unit_kind: kind
                    .map(|k| serde_json::from_value(serde_json::Value::String(k)))
                    .transpose()?,
                from: date_of(from),
                to: date_of(to),
            });
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT day, reason FROM days_off WHERE site = ?1 ORDER BY day")?;
        let rows = stmt.query_map([site], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        for row in rows {
            let (day, reason) = row?;
            if let Ok(date) = day.parse() {
                plan.days_off.push(DayOff { date, reason });
            }
        }
        Ok(plan)
    }

    fn plan_session(
        &mut self,
        actor: &Actor,
        session: &PlannedSession,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let tx = self.write()?;
        let id = insert_planned(&tx, session, now)?;
        bump(&tx, &session.site, "plan")?;
        audit_tx(
            &tx,
            actor,
            "plan_session",
            &format!("site {}", session.site),
            &describe(session),
            now,
        )?;
        tx.commit()?;
        Ok(id)
    }

    fn replan_session(
        &mut self,
        actor: &Actor,
        session: &PlannedSession,
        from: Option<NaiveDate>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.write()?;
        if let Some(day) = from {
            let ended = tx.execute(
                "UPDATE planned_sessions SET valid_to = ?3 WHERE id = ?1 AND site = ?2",
                params![
                    session.id,
                    session.site,
                    day.pred_opt().map(|d| d.to_string())
                ],
            )?;
            if ended == 0 {
                return Err(StoreError::NotFound(format!(
                    "planned session {} of site {}",
                    session.id, session.site
                )));
            }
            let mut next = session.clone();
            next.from = Some(next.from.map_or(day, |f| f.max(day)));
            let id = insert_planned(&tx, &next, now)?;
            bump(&tx, &session.site, "plan")?;
            audit_tx(
                &tx,
                actor,
                "replan_session",
                &format!("site {}", session.site),
                &format!(
                    "planned session {} ends {}; from {day} planned session {id}: {}",
                    session.id,
                    day.pred_opt().unwrap_or(day),
                    describe(&next)
                ),
                now,
            )?;
            tx.commit()?;
            return Ok(());
        }
        // `?1` is the site (the first column), the id comes last.
        let set: Vec<String> = PLANNED_COLUMNS
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, c)| format!("{c} = ?{}", i + 1))
            .collect();
        let mut values = planned_values(session)?;
        values.push(session.id.into());
        let changed = tx.execute(
            &format!(
                "UPDATE planned_sessions SET {} WHERE site = ?1 AND id = ?{}",
                set.join(", "),
                values.len()
            ),
            rusqlite::params_from_iter(values),
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!(
                "planned session {} of site {}",
                session.id, session.site
            )));
        }
        bump(&tx, &session.site, "plan")?;
        audit_tx(
            &tx,
            actor,
            "replan_session",
            &format!("site {}", session.site),
            &format!("planned session {}: {}", session.id, describe(session)),
            now,
        )?;
        tx.commit()?;
        Ok(())
    }

    fn approve_week(
        &mut self,
        actor: &Actor,
        site: &str,
        week: NaiveDate,
        digest: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.write()?;
        tx.execute(
            "INSERT INTO timetable_approvals (site, week, digest, approved_by, approved_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (site, week) DO UPDATE SET digest = excluded.digest,
                 approved_by = excluded.approved_by, approved_at = excluded.approved_at",
            params![site, week.to_string(), digest, actor.name, ts(now)],
        )?;
        audit_tx(
            &tx,
            actor,
            "approve_timetable",
            &format!("site {site}"),
            &format!("week of {week}"),
            now,
        )?;
        tx.commit()?;
        Ok(())
    }

    fn week_approval(
        &self,
        site: &str,
        week: NaiveDate,
    ) -> Result<Option<WeekApproval>, StoreError> {
        let row: Option<(String, String, String)> = self
            .conn
            .query_row(
                "SELECT digest, approved_by, approved_at FROM timetable_approvals
                 WHERE site = ?1 AND week = ?2",
                params![site, week.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        Ok(row.and_then(|(digest, by, at)| {
            Some(WeekApproval {
                digest,
                by,
                at: from_text(&at)?,
            })
        }))
    }

    fn unplan_session(
        &mut self,
        actor: &Actor,
        site: &str,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.write()?;
        let plan_row = tx.execute(
            "DELETE FROM planned_sessions WHERE id = ?1 AND site = ?2",
            params![id, site],
        )?;
        if plan_row == 0 {
            return Err(StoreError::NotFound(format!(
                "planned session {id} of site {site}"
            )));
        }
        bump(&tx, site, "plan")?;
        audit_tx(
            &tx,
            actor,
            "unplan_session",
            &format!("site {site}"),
            &format!("planned session {id}"),
            now,
        )?;
        tx.commit()?;
        Ok(())
    }

    fn add_day_off(
        &mut self,
        actor: &Actor,
        site: &str,
        day: &DayOff,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.write()?;
        tx.execute(
            "INSERT INTO days_off (site, day, reason) VALUES (?1, ?2, ?3)
             ON CONFLICT (site, day) DO UPDATE SET reason = excluded.reason",
            params![site, day.date.to_string(), day.reason],
        )?;
        bump(&tx, site, "plan")?;
        audit_tx(
            &tx,
            actor,
            "day_off",
            &format!("site {site}"),
            &format!("{} {}", day.date, day.reason),
            now,
        )?;
        tx.commit()?;
        Ok(())
    }

    fn import_plan(
        &mut self,
        actor: &Actor,
        plan: &SitePlan,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.write()?;
        tx.execute("DELETE FROM planned_sessions WHERE site = ?1", [&plan.site])?;
        tx.execute("DELETE FROM days_off WHERE site = ?1", [&plan.site])?;
        for s in &plan.sessions {
            insert_planned(&tx, s, now)?;
        }
        for d in &plan.days_off {
            tx.execute(
                "INSERT OR REPLACE INTO days_off (site, day, reason) VALUES (?1, ?2, ?3)",
                params![plan.site, d.date.to_string(), d.reason],
            )?;
        }
        bump(&tx, &plan.site, "plan")?;
        audit_tx(
            &tx,
            actor,
            "import_plan",
            &format!("site {}", plan.site),
            &format!(
                "{} planned sessions, {} days off",
                plan.sessions.len(),
                plan.days_off.len()
            ),
            now,
        )?;
        tx.commit()?;
        Ok(())
    }

    fn imported(&self, site: &str, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT sha256 FROM imports WHERE site = ?1 AND name = ?2",
                params![site, name],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn record_import(
        &mut self,
        site: &str,
        name: &str,
        sha256: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO imports (site, name, sha256, at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (site, name) DO UPDATE SET sha256 = excluded.sha256, at = excluded.at",
            params![site, name, sha256, ts(now)],
        )?;
        Ok(())
    }
}

/// A planned session's unit kind as the table keeps it.
fn unit_kind_text(s: &PlannedSession) -> Result<Option<String>, StoreError> {
    Ok(s.unit_kind
        .map(|k| serde_json::to_value(k).map(|v| v.as_str().unwrap_or_default().to_string()))
        .transpose()?)
}

/// A weekly session's days as the table keeps them: "mon,wed".
fn days_text(s: &PlannedSession) -> String {
    s.days
        .iter()
        .map(|d| weekday_code(*d))
        .collect::<Vec<_>>()
        .join(",")
}

/// The columns of a planned session that the pages write, in [`planned_values`]' order.
const PLANNED_COLUMNS: [&str; 11] = [
    "site",
    "service",
    "study_group",
    "instructor",
    "days",
    "on_date",
    "start",
    "room",
    "unit_kind",
    "valid_from",
    "valid_to",
];

/// A planned session's values for [`PLANNED_COLUMNS`]: what the insert and the update write.
fn planned_values(s: &PlannedSession) -> Result<Vec<rusqlite::types::Value>, StoreError> {
    let text = |t: Option<String>| t.map_or(rusqlite::types::Value::Null, Into::into);
    Ok(vec![
        s.site.clone().into(),
        s.service.0.clone().into(),
        text(s.group.map(|g| g.to_string())),
        text(s.instructor.map(|i| i.to_string())),
        days_text(s).into(),
        text(date_text(s.date)),
        s.start.format("%H:%M").to_string().into(),
        s.room.clone().into(),
        text(unit_kind_text(s)?),
        text(date_text(s.from)),
        text(date_text(s.to)),
    ])
}

fn insert_planned(
    tx: &Transaction<'_>,
    s: &PlannedSession,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let mut values = planned_values(s)?;
    values.push(ts(now).into());
    let marks: Vec<String> = (1..=values.len()).map(|i| format!("?{i}")).collect();
    tx.execute(
        &format!(
            "INSERT INTO planned_sessions ({}, created_at) VALUES ({})",
            PLANNED_COLUMNS.join(", "),
            marks.join(", ")
        ),
        rusqlite::params_from_iter(values),
    )?;
    Ok(tx.last_insert_rowid())
}

fn describe(s: &PlannedSession) -> String {
    let when = match s.date {
        Some(d) => d.to_string(),
        None => s
            .days
            .iter()
            .map(|d| weekday_code(*d))
            .collect::<Vec<_>>()
            .join(","),
    };
    format!(
        "{} {when} {} {}",
        s.service.0,
        s.start.format("%H:%M"),
        s.room
    )
}
