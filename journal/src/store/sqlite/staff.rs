//! The SQLite engine's part for the staff pages ([`StaffStore`]).

use super::SqliteJournal;
use crate::store::StoreError;
use crate::store::staff::{
    Actor, AddedCheckIn, AuditEntry, Change, Feedback, FeedbackKind, NewFeedback, NewUser, Role,
    SessionJournal, SessionRecord, SignOff, StaffStore, TapRecord, UnitRecord, User, VISIT_KIOSK,
    Visit, VisitDocument, VisitKind, VisitRecord, WebSession, month_of,
};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use otmetka_core::people::RecipientId;
use otmetka_core::session::SessionId;
use otmetka_core::timestamp::{from_text, to_text as ts};
use otmetka_core::unit::{Unit, UnitId};
use rusqlite::{OptionalExtension, Transaction, params};

const USER_COLUMNS: &str =
    "id, login, name, role, password_hash, created_at, disabled_at, instructor";

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    user_at(r, 0)
}

/// A user read from [`USER_COLUMNS`] starting at column `at`.
fn user_at(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<User> {
    let role: String = r.get(at + 3)?;
    Ok(User {
        id: r.get(at)?,
        login: r.get(at + 1)?,
        name: r.get(at + 2)?,
        // A role this build does not know reads as the least one: it can read, not change.
        role: Role::parse(&role).unwrap_or(Role::Auditor),
        password_hash: r.get(at + 4)?,
        created_at: from_text(&r.get::<_, String>(at + 5)?).unwrap_or_default(),
        disabled_at: r
            .get::<_, Option<String>>(at + 6)?
            .and_then(|t| from_text(&t)),
        instructor: r
            .get::<_, Option<String>>(at + 7)?
            .and_then(|i| i.parse().ok())
            .map(otmetka_core::people::InstructorId),
    })
}

fn time(t: Option<String>) -> Option<DateTime<Utc>> {
    t.and_then(|t| from_text(&t))
}

fn change(by: Option<String>, at: Option<String>, reason: Option<String>) -> Option<Change> {
    Some(Change {
        by: by?,
        at: time(at)?,
        reason: reason.unwrap_or_default(),
    })
}

const UNIT_COLUMNS: &str = "site, kiosk, body, added_by, added_at, added_reason, removed_by, \
                            removed_at, removed_reason, after_signoff";

fn unit_row(
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<(String, String, String, [Option<String>; 7])> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        [
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
            r.get(8)?,
            r.get(9)?,
        ],
    ))
}

fn unit_record(
    (site, kiosk, body, [ab, aa, ar, rb, ra, rr, late]): (
        String,
        String,
        String,
        [Option<String>; 7],
    ),
) -> Result<UnitRecord, StoreError> {
    Ok(UnitRecord {
        site,
        kiosk,
        unit: serde_json::from_str(&body)?,
        added: change(ab, aa, ar),
        removed: change(rb, ra, rr),
        after_signoff: time(late),
    })
}

const SESSION_COLUMNS: &str = "id, site, kiosk, service, instructor, opened_at, closed_at, how, head_count, close_reason, event, study_group";

fn session_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SessionRecord> {
    let id: String = r.get(0)?;
    Ok(SessionRecord {
        id: SessionId(id.parse().unwrap_or_default()),
        site: r.get(1)?,
        kiosk: r.get(2)?,
        service: r.get(3)?,
        instructor: r.get(4)?,
        opened_at: from_text(&r.get::<_, String>(5)?).unwrap_or_default(),
        closed_at: time(r.get(6)?),
        how: r.get(7)?,
        head_count: r.get(8)?,
        close_reason: r
            .get::<_, Option<String>>(9)?
            .as_deref()
            .and_then(otmetka_core::event::CloseReason::from_code),
        event: r.get(10)?,
        group: r
            .get::<_, Option<String>>(11)?
            .and_then(|g| g.parse().ok())
            .map(otmetka_core::people::GroupId),
    })
}

/// The audit log's lines where `filter` (fixed SQL, never a user's text) holds.
fn audit_where(
    conn: &rusqlite::Connection,
    filter: &str,
    limit: u32,
) -> Result<Vec<AuditEntry>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT id, at, login, action, subject, detail FROM audit WHERE {filter}
         ORDER BY id DESC LIMIT ?1"
    ))?;
    let rows = stmt.query_map([limit], |r| {
        Ok(AuditEntry {
            id: r.get(0)?,
            at: from_text(&r.get::<_, String>(1)?).unwrap_or_default(),
            login: r.get(2)?,
            action: r.get(3)?,
            subject: r.get(4)?,
            detail: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn audit_tx(
    tx: &Transaction<'_>,
    actor: &Actor,
    action: &str,
    subject: &str,
    detail: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO audit (at, user_id, login, action, subject, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![ts(now), actor.user, actor.login, action, subject, detail],
    )?;
    Ok(())
}

/// Refuses a change to a signed-off month.
fn check_open(tx: &Transaction<'_>, site: &str, date: NaiveDate) -> Result<(), StoreError> {
    let month = month_of(date);
    let signed: Option<String> = tx
        .query_row(
            "SELECT signed_by FROM month_signoffs WHERE site = ?1 AND month = ?2",
            params![site, month.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    match signed {
        Some(_) => Err(StoreError::MonthSignedOff {
            site: site.to_string(),
            month,
        }),
        None => Ok(()),
    }
}

/// Sessions by id with their units and check-ins.
fn session_units(
    conn: &rusqlite::Connection,
    ids: &[String],
) -> Result<Vec<SessionJournal>, StoreError> {
    let mut out = Vec::with_capacity(ids.len());
    let mut sessions = conn.prepare_cached(&format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"
    ))?;
    let mut units = conn.prepare_cached(&format!(
        "SELECT {UNIT_COLUMNS} FROM units WHERE session = ?1 ORDER BY recipient"
    ))?;
    for id in ids {
        let Some(session) = sessions.query_row([id], session_row).optional()? else {
            continue;
        };
        let units = units
            .query_map([id], unit_row)?
            .map(|r| unit_record(r?))
            .collect::<Result<Vec<_>, _>>()?;
        out.push(SessionJournal { session, units });
    }
    Ok(out)
}

impl StaffStore for SqliteJournal {
    fn add_user(&mut self, user: &NewUser, now: DateTime<Utc>) -> Result<User, StoreError> {
        let taken = self.user_by_login(&user.login)?.is_some();
        if taken {
            return Err(StoreError::Conflict(format!(
                "the login {:?} is taken",
                user.login
            )));
        }
        self.conn.execute(
            "INSERT INTO users (login, name, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![user.login, user.name, user.role.as_str(), user.password_hash, ts(now)],
        )?;
        self.user_by_login(&user.login)?
            .ok_or_else(|| StoreError::NotFound(format!("user {}", user.login)))
    }

    fn user_by_login(&self, login: &str) -> Result<Option<User>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE login = ?1"),
                [login],
                user_row,
            )
            .optional()?)
    }

    fn users(&self) -> Result<Vec<User>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY login"))?;
        let rows = stmt.query_map([], user_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn disable_user(
        &mut self,
        login: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.write()?;
        let user: Option<(i64, Option<String>)> = tx
            .query_row(
                "SELECT id, instructor FROM users WHERE login = ?1 AND disabled_at IS NULL",
                [login],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (id, instructor) =
            user.ok_or_else(|| StoreError::NotFound(format!("active user {login}")))?;
        tx.execute(
            "UPDATE users SET disabled_at = ?2 WHERE id = ?1",
            params![id, ts(now)],
        )?;
        tx.execute("DELETE FROM web_sessions WHERE user_id = ?1", [id])?;
        audit_tx(&tx, actor, "disable_user", login, "", now)?;
        // Their PIN and card stop opening sessions: the instructor leaves the kiosks.
        if let Some(instructor) = instructor {
            let site: Option<String> = tx
                .query_row(
                    "UPDATE instructors SET active = 0, updated_at = ?2
                     WHERE id = ?1 AND active = 1 RETURNING site",
                    params![instructor, ts(now)],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(site) = site {
                super::people::bump(&tx, &site, "people")?;
                audit_tx(
                    &tx,
                    actor,
                    "edit_instructor",
                    &format!("instructor {instructor}"),
                    &format!("site {site}; left: the account {login} was disabled"),
                    now,
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn link_instructor(
        &mut self,
        login: &str,
        instructor: Option<otmetka_core::people::InstructorId>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.write()?;
        let id: i64 = tx
            .query_row(
                "SELECT id FROM users WHERE login = ?1 AND disabled_at IS NULL",
                [login],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("active user {login}")))?;
        let instructor = instructor.map(|i| i.to_string());
        if let Some(i) = &instructor {
            let known: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM instructors WHERE id = ?1)",
                [i],
                |r| r.get(0),
            )?;
            if !known {
                return Err(StoreError::NotFound(format!("instructor {i}")));
            }
            let holder: Option<String> = tx
                .query_row(
                    "SELECT login FROM users
                     WHERE instructor = ?1 AND disabled_at IS NULL AND id != ?2",
                    params![i, id],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(holder) = holder {
                return Err(StoreError::Conflict(format!(
                    "Этот инструктор уже связан с пользователем {holder}."
                )));
            }
        }
        tx.execute(
            "UPDATE users SET instructor = ?2 WHERE id = ?1",
            params![id, instructor],
        )?;
        audit_tx(
            &tx,
            actor,
            "link_instructor",
            login,
            &instructor.map_or("none".into(), |i| format!("instructor {i}")),
            now,
        )?;
        tx.commit()?;
        Ok(())
    }

    fn set_password(
        &mut self,
        user: i64,
        password_hash: &str,
        keep: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.write()?;
        let login: Option<String> = tx
            .query_row(
                "SELECT login FROM users WHERE id = ?1 AND disabled_at IS NULL",
                [user],
                |r| r.get(0),
            )
            .optional()?;
        let login = login.ok_or_else(|| StoreError::NotFound(format!("active user {user}")))?;
        tx.execute(
            "UPDATE users SET password_hash = ?2 WHERE id = ?1",
            params![user, password_hash],
        )?;
        let ended = tx.execute(
            "DELETE FROM web_sessions WHERE user_id = ?1 AND token_hash != ?2",
            params![user, keep],
        )?;
        audit_tx(
            &tx,
            actor,
            "change_password",
            &login,
            &format!("{ended} other sessions ended"),
            now,
        )?;
        tx.commit()?;
        Ok(())
    }

    fn start_session(
        &mut self,
        token_hash: &str,
        user: i64,
        csrf: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.write()?;
        tx.execute("DELETE FROM web_sessions WHERE expires_at <= ?1", [ts(now)])?;
        tx.execute(
            "INSERT INTO web_sessions (token_hash, user_id, csrf, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![token_hash, user, csrf, ts(now), ts(expires_at)],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<WebSession>, StoreError> {
        let row = self
            .conn
            .query_row(
                &format!(
                    "SELECT s.csrf, s.expires_at, {}
                     FROM web_sessions s JOIN users u ON u.id = s.user_id
                     WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.disabled_at IS NULL",
                    USER_COLUMNS
                        .split(", ")
                        .map(|c| format!("u.{c}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                params![token_hash, ts(now)],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        user_at(r, 2)?,
                    ))
                },
            )
            .optional()?;
        Ok(row.map(|(csrf, expires, user)| WebSession {
            token_hash: token_hash.to_string(),
            user,
            csrf,
            expires_at: from_text(&expires).unwrap_or_default(),
        }))
    }

    fn end_session(&mut self, token_hash: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn.execute(
            "DELETE FROM web_sessions WHERE token_hash = ?1 OR expires_at <= ?2",
            params![token_hash, ts(now)],
        )?;
        Ok(())
    }

    fn sign_in_failed(
        &mut self,
        login: &str,
        peer: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.write()?;
        // A day of failures is all the limiter looks at; older ones are in the audit log.
        let day_ago = now - chrono::Duration::days(1);
        tx.execute("DELETE FROM sign_in_failures WHERE at < ?1", [ts(day_ago)])?;
        tx.execute(
            "INSERT INTO sign_in_failures (login, peer, at) VALUES (?1, ?2, ?3)",
            params![login, peer, ts(now)],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn sign_in_failures(
        &self,
        login: &str,
        peer: &str,
        since: DateTime<Utc>,
    ) -> Result<(u32, u32), StoreError> {
        Ok(self.conn.query_row(
            "SELECT COALESCE(SUM(login = ?1), 0), COALESCE(SUM(peer = ?2), 0)
             FROM sign_in_failures WHERE at >= ?3",
            params![login, peer, ts(since)],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    fn audit(
        &mut self,
        actor: &Actor,
        action: &str,
        subject: &str,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.write()?;
        audit_tx(&tx, actor, action, subject, detail, now)?;
        tx.commit()?;
        Ok(())
    }

    fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        audit_where(&self.conn, "1 = 1", limit)
    }

    fn audit_log_of(&self, api: bool, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        audit_where(
            &self.conn,
            if api {
                "action = 'api_read'"
            } else {
                "action <> 'api_read'"
            },
            limit,
        )
    }

    fn sessions(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<SessionJournal>, StoreError> {
        let ids: Vec<String> = {
            let mut stmt = self.conn.prepare(
                "SELECT id FROM sessions WHERE opened_at >= ?1 AND opened_at < ?2 ORDER BY opened_at",
            )?;
            stmt.query_map(params![ts(from), ts(to)], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        session_units(&self.conn, &ids)
    }

    fn session_journal(&self, id: SessionId) -> Result<Option<SessionJournal>, StoreError> {
        Ok(session_units(&self.conn, &[id.to_string()])?.pop())
    }

    fn unit_records(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<UnitRecord>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {UNIT_COLUMNS} FROM units WHERE date >= ?1 AND date <= ?2 ORDER BY date, service, id"
        ))?;
        let rows = stmt.query_map(params![from.to_string(), to.to_string()], unit_row)?;
        rows.map(|r| unit_record(r?)).collect()
    }

    fn unit_record(&self, id: UnitId) -> Result<Option<UnitRecord>, StoreError> {
        let row = self
            .conn
            .query_row(
                &format!("SELECT {UNIT_COLUMNS} FROM units WHERE id = ?1"),
                [id.0.to_string()],
                unit_row,
            )
            .optional()?;
        row.map(unit_record).transpose()
    }

    fn add_checkin(
        &mut self,
        add: &AddedCheckIn,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<UnitId, StoreError> {
        let tx = self.write()?;
        let id = add_checkin_tx(&tx, add, actor, now)?;
        tx.commit()?;
        Ok(id)
    }

    fn satisfaction(
        &self,
        site: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(String, otmetka_core::event::Satisfaction)>, StoreError> {
        // The answers live in the messages as the kiosks sent them; a check-in that answered
        // twice counts with its last answer.
        let mut stmt = self.conn.prepare(
            "SELECT s.service, json_extract(m.payload, '$.event.checkin') AS checkin,
                    json_extract(m.payload, '$.event.answer')
             FROM messages m JOIN sessions s ON s.id = json_extract(m.payload, '$.event.session')
             WHERE m.kind = 'satisfaction' AND m.site = ?1
               AND json_extract(m.payload, '$.event.at') >= ?2
               AND json_extract(m.payload, '$.event.at') < ?3
             ORDER BY checkin, json_extract(m.payload, '$.event.at')",
        )?;
        let rows = stmt.query_map(params![site, ts(from), ts(to)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut last: std::collections::BTreeMap<String, (String, String)> = Default::default();
        for row in rows {
            let (service, checkin, answer) = row?;
            last.insert(checkin, (service, answer));
        }
        Ok(last
            .into_values()
            .filter_map(|(service, answer)| {
                serde_json::from_value(serde_json::Value::String(answer))
                    .ok()
                    .map(|a| (service, a))
            })
            .collect())
    }

    fn unmatched_taps(&self, site: &str) -> Result<Vec<TapRecord>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT tap, site, kiosk, session, card_hash, at FROM unidentified_taps
             WHERE site = ?1 AND recipient IS NULL ORDER BY at",
        )?;
        let rows = stmt.query_map([site], |r| {
            let tap: String = r.get(0)?;
            let session: Option<String> = r.get(3)?;
            Ok(TapRecord {
                tap: tap.parse().unwrap_or_default(),
                site: r.get(1)?,
                kiosk: r.get(2)?,
                session: session.and_then(|s| s.parse().ok()).map(SessionId),
                card_hash: r.get(4)?,
                at: from_text(&r.get::<_, String>(5)?).unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn match_tap(
        &mut self,
        tap: uuid::Uuid,
        recipient: RecipientId,
        reason: &str,
        local_date: NaiveDate,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Option<UnitId>, StoreError> {
        let tx = self.write()?;
        let held: Option<(Option<String>, Option<String>)> = tx
            .query_row(
                "SELECT session, recipient FROM unidentified_taps WHERE tap = ?1",
                [tap.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((session, matched)) = held else {
            return Err(StoreError::NotFound(format!("tap {tap}")));
        };
        if matched.is_some() {
            return Err(StoreError::Conflict(format!(
                "tap {tap} is matched already"
            )));
        }
        tx.execute(
            "UPDATE unidentified_taps SET recipient = ?2, matched_by = ?3, matched_at = ?4 WHERE tap = ?1",
            params![tap.to_string(), recipient.to_string(), actor.name, ts(now)],
        )?;
        audit_tx(
            &tx,
            actor,
            "match_tap",
            &recipient.to_string(),
            &format!("tap {tap}: {reason}"),
            now,
        )?;
        let mut unit = None;
        if let Some(session) = session.and_then(|s| s.parse().ok()).map(SessionId) {
            let journal = session_units(&tx, &[session.to_string()])?.pop();
            let closed = journal
                .as_ref()
                .is_some_and(|j| j.session.closed_at.is_some());
            let has_unit = journal.as_ref().is_some_and(|j| {
                j.units
                    .iter()
                    .any(|u| u.counts() && u.unit.recipient == Some(recipient))
            });
            if closed && !has_unit {
                let add = AddedCheckIn {
                    session,
                    recipient,
                    reason: reason.to_string(),
                    local_date,
                };
                unit = Some(add_checkin_tx(&tx, &add, actor, now)?);
            }
        }
        tx.commit()?;
        Ok(unit)
    }

    fn remove_unit(
        &mut self,
        unit: UnitId,
        reason: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let held = self.counted_unit(unit)?;
        let (site, date) = (held.site, held.unit.date);
        let session = held.unit.session.to_string();
        let recipient = held.unit.recipient.map(|r| r.to_string());
        let tx = self.write()?;
        check_open(&tx, &site, date)?;
        remove_unit_tx(&tx, unit, reason, actor, now)?;
        audit_tx(
            &tx,
            actor,
            "remove_unit",
            recipient.as_deref().unwrap_or(&session),
            &format!("session {session}, {date}, unit {}: {reason}", unit.0),
            now,
        )?;
        tx.commit()?;
        Ok(())
    }

    fn correct_unit(
        &mut self,
        unit: UnitId,
        to: RecipientId,
        reason: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<UnitId, StoreError> {
        let held = self.counted_unit(unit)?;
        let Some(from) = held.unit.recipient else {
            return Err(StoreError::Conflict(format!(
                "unit {} is a group's: it has no one recipient to correct",
                unit.0
            )));
        };
        if from == to {
            return Err(StoreError::Conflict(format!(
                "unit {} is {to}'s already",
                unit.0
            )));
        }
        let tx = self.write()?;
        check_open(&tx, &held.site, held.unit.date)?;
        remove_unit_tx(&tx, unit, reason, actor, now)?;
        let add = AddedCheckIn {
            session: held.unit.session,
            recipient: to,
            reason: reason.to_string(),
            local_date: held.unit.date,
        };
        let id = add_checkin_tx(&tx, &add, actor, now)?;
        audit_tx(
            &tx,
            actor,
            "correct_unit",
            &to.to_string(),
            &format!(
                "session {}, {}: unit {} of {from} → unit {} of {to}: {reason}",
                held.unit.session, held.unit.date, unit.0, id.0
            ),
            now,
        )?;
        tx.commit()?;
        Ok(id)
    }

    fn sign_off(&self, site: &str, month: NaiveDate) -> Result<Option<SignOff>, StoreError> {
        let month = month_of(month);
        Ok(self
            .conn
            .query_row(
                "SELECT signed_by, signed_at FROM month_signoffs WHERE site = ?1 AND month = ?2",
                params![site, month.to_string()],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
            )
            .optional()?
            .map(|(by, at)| SignOff {
                site: site.to_string(),
                month,
                by,
                at: from_text(&at).unwrap_or_default(),
            }))
    }

    fn sign_off_month(
        &mut self,
        site: &str,
        month: NaiveDate,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let month = month_of(month);
        let tx = self.write()?;
        check_open(&tx, site, month)?;
        tx.execute(
            "INSERT INTO month_signoffs (site, month, signed_by, signed_at) VALUES (?1, ?2, ?3, ?4)",
            params![site, month.to_string(), actor.name, ts(now)],
        )?;
        let label = format!("{site} {:04}-{:02}", month.year(), month.month());
        audit_tx(&tx, actor, "sign_off_month", &label, "", now)?;
        tx.commit()?;
        Ok(())
    }

    fn reopen_month(
        &mut self,
        site: &str,
        month: NaiveDate,
        reason: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let month = month_of(month);
        let tx = self.write()?;
        let n = tx.execute(
            "DELETE FROM month_signoffs WHERE site = ?1 AND month = ?2",
            params![site, month.to_string()],
        )?;
        if n == 0 {
            return Err(StoreError::Conflict(format!(
                "the month {month} of site {site} is not signed off"
            )));
        }
        let label = format!("{site} {:04}-{:02}", month.year(), month.month());
        audit_tx(&tx, actor, "reopen_month", &label, reason, now)?;
        tx.commit()?;
        Ok(())
    }

    fn add_feedback(
        &mut self,
        actor: &Actor,
        entry: &NewFeedback,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let tx = self.write()?;
        tx.execute(
            "INSERT INTO feedback (site, received_on, kind, author, recipient, service, text,
                 entered_by, entered_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                entry.site,
                entry.received_on.to_string(),
                entry.kind.as_str(),
                entry.author,
                entry.recipient.map(|r| r.to_string()),
                entry.service,
                entry.text,
                actor.name,
                ts(now)
            ],
        )?;
        let id = tx.last_insert_rowid();
        audit_tx(
            &tx,
            actor,
            "add_feedback",
            &entry
                .recipient
                .map_or_else(|| format!("site {}", entry.site), |r| r.to_string()),
            &format!("{} {} of {}", entry.kind.as_str(), id, entry.received_on),
            now,
        )?;
        tx.commit()?;
        Ok(id)
    }

    fn feedback(
        &self,
        site: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Feedback>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, received_on, kind, author, recipient, service, text, entered_by,
                 entered_at, answer, answered_by, answered_at
             FROM feedback WHERE site = ?1 AND received_on >= ?2 AND received_on <= ?3
             ORDER BY received_on DESC, id DESC",
        )?;
        let rows = stmt.query_map(params![site, from.to_string(), to.to_string()], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, String>(8)?,
                r.get::<_, Option<String>>(9)?,
                r.get::<_, Option<String>>(10)?,
                r.get::<_, Option<String>>(11)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, on, kind, author, recipient, service, text, by, at, answer, a_by, a_at) = row?;
            let (Ok(received_on), Some(kind)) = (on.parse(), FeedbackKind::parse(&kind)) else {
                continue;
            };
            out.push(Feedback {
                id,
                entry: NewFeedback {
                    site: site.to_string(),
                    received_on,
                    kind,
                    author,
                    recipient: recipient.and_then(|r| r.parse().ok()).map(RecipientId),
                    service,
                    text,
                },
                entered_by: by,
                entered_at: from_text(&at).unwrap_or(DateTime::UNIX_EPOCH),
                answer: change(a_by, a_at, answer),
            });
        }
        Ok(out)
    }

    fn answer_feedback(
        &mut self,
        actor: &Actor,
        site: &str,
        id: i64,
        answer: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.write()?;
        let changed = tx.execute(
            "UPDATE feedback SET answer = ?3, answered_by = ?4, answered_at = ?5
             WHERE id = ?1 AND site = ?2 AND answer IS NULL",
            params![id, site, answer, actor.name, ts(now)],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!(
                "unanswered feedback {id} of site {site}"
            )));
        }
        audit_tx(
            &tx,
            actor,
            "answer_feedback",
            &format!("site {site}"),
            &format!("feedback {id}"),
            now,
        )?;
        tx.commit()?;
        Ok(())
    }

    fn record_visit(
        &mut self,
        actor: &Actor,
        visit: &Visit,
        now: DateTime<Utc>,
    ) -> Result<SessionId, StoreError> {
        let tx = self.write()?;
        check_open(&tx, &visit.site, visit.date)?;
        let session = SessionId(uuid::Uuid::now_v7());
        let ended_at = visit.started_at + chrono::Duration::minutes(i64::from(visit.minutes[1]));
        tx.execute(
            "INSERT INTO sessions (id, site, kiosk, service, instructor, opened_at, closed_at,
                 how, head_count) VALUES (?1, ?2, ?3, '003', ?4, ?5, ?6, 'Visit', 1)",
            params![
                session.to_string(),
                visit.site,
                VISIT_KIOSK,
                visit.instructor,
                ts(visit.started_at),
                ts(ended_at)
            ],
        )?;
        let id = UnitId::per_recipient(session, visit.recipient);
        let unit = Unit {
            id,
            session,
            service: otmetka_core::catalogue::ServiceCode("003".into()),
            kind: otmetka_core::catalogue::UnitKind::PerRecipient,
            recipient: Some(visit.recipient),
            participants: Vec::new(),
            group: None,
            instructor: otmetka_core::people::InstructorId(
                visit.instructor.parse().unwrap_or_default(),
            ),
            date: visit.date,
            started_at: visit.started_at,
            ended_at,
            overridden: Vec::new(),
            manual: true,
            below_group_min: false,
            over_norm_minutes: None,
            clock_synced: true,
        };
        let reason = format!("патронаж на дому ({})", visit.kind.label());
        tx.execute(
            "INSERT INTO units (id, site, kiosk, session, service, recipient, date,
                 over_limit, below_group_min, body, added_by, added_at, added_reason)
                 VALUES (?1, ?2, ?3, ?4, '003', ?5, ?6, 0, 0, ?7, ?8, ?9, ?10)",
            params![
                id.0.to_string(),
                visit.site,
                VISIT_KIOSK,
                session.to_string(),
                visit.recipient.to_string(),
                visit.date.to_string(),
                serde_json::to_string(&unit)?,
                actor.name,
                ts(now),
                reason
            ],
        )?;
        super::rules::units_changed(&tx, &[id.0.to_string()])?;
        tx.execute(
            "INSERT INTO visits (session, site, recipient, kind, prep_minutes, work_minutes,
                 completion_minutes, document, note, entered_by, entered_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                session.to_string(),
                visit.site,
                visit.recipient.to_string(),
                visit.kind.as_str(),
                visit.minutes[0],
                visit.minutes[1],
                visit.minutes[2],
                visit.document.as_str(),
                visit.note,
                actor.name,
                ts(now)
            ],
        )?;
        audit_tx(
            &tx,
            actor,
            "record_visit",
            &visit.recipient.to_string(),
            &format!("patronage {} on {}", visit.kind.as_str(), visit.date),
            now,
        )?;
        tx.commit()?;
        Ok(session)
    }

    fn visits(
        &self,
        site: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<VisitRecord>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT v.session, v.recipient, s.instructor, v.kind, u.date, s.opened_at,
                 v.prep_minutes, v.work_minutes, v.completion_minutes, v.document, v.note,
                 v.entered_by, u.removed_at IS NULL
             FROM visits v JOIN sessions s ON s.id = v.session
             JOIN units u ON u.session = v.session
             WHERE v.site = ?1 AND u.date >= ?2 AND u.date <= ?3
             ORDER BY u.date DESC, s.opened_at DESC",
        )?;
        let rows = stmt.query_map(params![site, from.to_string(), to.to_string()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                [
                    r.get::<_, u32>(6)?,
                    r.get::<_, u32>(7)?,
                    r.get::<_, u32>(8)?,
                ],
                r.get::<_, String>(9)?,
                r.get::<_, String>(10)?,
                r.get::<_, String>(11)?,
                r.get::<_, bool>(12)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (session, recipient, instructor, kind, date, at, minutes, doc, note, by, counts) =
                row?;
            let (
                Ok(session),
                Ok(recipient),
                Some(kind),
                Ok(date),
                Some(started_at),
                Some(document),
            ) = (
                session.parse(),
                recipient.parse(),
                VisitKind::parse(&kind),
                date.parse(),
                from_text(&at),
                VisitDocument::parse(&doc),
            )
            else {
                continue;
            };
            out.push(VisitRecord {
                session: SessionId(session),
                visit: Visit {
                    site: site.to_string(),
                    recipient: RecipientId(recipient),
                    instructor,
                    kind,
                    date,
                    started_at,
                    minutes,
                    document,
                    note,
                },
                entered_by: by,
                counts,
            });
        }
        Ok(out)
    }
}

/// Adds a forgotten (or matched) check-in inside `tx`: see [`StaffStore::add_checkin`].
impl SqliteJournal {
    /// A unit that still counts: [`StoreError::NotFound`] or, removed already, a conflict.
    fn counted_unit(&self, unit: UnitId) -> Result<UnitRecord, StoreError> {
        let held = self
            .unit_record(unit)?
            .ok_or_else(|| StoreError::NotFound(format!("unit {}", unit.0)))?;
        if held.removed.is_some() {
            return Err(StoreError::Conflict(format!(
                "unit {} is removed already",
                unit.0
            )));
        }
        Ok(held)
    }
}

/// Marks a unit removed, with who, when and why, and queues its re-check.
fn remove_unit_tx(
    tx: &Transaction<'_>,
    unit: UnitId,
    reason: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE units SET removed_by = ?2, removed_at = ?3, removed_reason = ?4 WHERE id = ?1",
        params![unit.0.to_string(), actor.name, ts(now), reason],
    )?;
    super::rules::units_changed(tx, &[unit.0.to_string()])?;
    Ok(())
}

fn add_checkin_tx(
    tx: &Transaction<'_>,
    add: &AddedCheckIn,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<UnitId, StoreError> {
    let journal = session_units(tx, &[add.session.to_string()])?
        .pop()
        .ok_or_else(|| StoreError::NotFound(format!("session {}", add.session)))?;
    let s = &journal.session;
    let closed_at = s.closed_at.ok_or_else(|| {
        StoreError::Conflict(format!("session {} is still open at its kiosk", s.id))
    })?;
    if s.how.as_deref().is_some_and(|h| h.starts_with("Cancelled")) {
        return Err(StoreError::Conflict(format!(
            "session {} was cancelled",
            s.id
        )));
    }
    if journal.units.iter().any(|u| u.unit.recipient.is_none()) {
        return Err(StoreError::Conflict(format!(
            "session {} counts one unit for its group, not one per recipient",
            s.id
        )));
    }
    let id = UnitId::per_recipient(add.session, add.recipient);
    let held = journal.units.iter().find(|u| u.unit.id == id);
    let like = journal.units.iter().find(|u| u.unit.id != id);
    let date = like.map_or(add.local_date, |u| u.unit.date);
    check_open(tx, &s.site, date)?;
    let subject = add.recipient.to_string();
    match held {
        Some(u) if u.counts() => {
            return Err(StoreError::Conflict(format!(
                "{} already has a unit in session {}",
                add.recipient, s.id
            )));
        }
        Some(_) => {
            // Removed before: it counts again, and the removal stays in the audit log.
            tx.execute(
                "UPDATE units SET removed_by = NULL, removed_at = NULL, removed_reason = NULL,
                     added_by = ?2, added_at = ?3, added_reason = ?4 WHERE id = ?1",
                params![id.0.to_string(), actor.name, ts(now), add.reason],
            )?;
        }
        None => {
            let unit = Unit {
                id,
                session: add.session,
                service: otmetka_core::catalogue::ServiceCode(s.service.clone()),
                kind: otmetka_core::catalogue::UnitKind::PerRecipient,
                recipient: Some(add.recipient),
                participants: Vec::new(),
                group: like.and_then(|u| u.unit.group),
                instructor: like.map_or_else(
                    || otmetka_core::people::InstructorId(s.instructor.parse().unwrap_or_default()),
                    |u| u.unit.instructor,
                ),
                date,
                started_at: like.map_or(s.opened_at, |u| u.unit.started_at),
                ended_at: like.map_or(closed_at, |u| u.unit.ended_at),
                overridden: Vec::new(),
                manual: true,
                below_group_min: false,
                over_norm_minutes: None,
                clock_synced: like.is_some_and(|u| u.unit.clock_synced),
            };
            tx.execute(
                "INSERT INTO units (id, site, kiosk, session, service, recipient, date,
                     over_limit, below_group_min, body, added_by, added_at, added_reason)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 0, ?8, ?9, ?10, ?11)",
                params![
                    id.0.to_string(),
                    s.site,
                    s.kiosk,
                    s.id.to_string(),
                    s.service,
                    subject,
                    date.to_string(),
                    serde_json::to_string(&unit)?,
                    actor.name,
                    ts(now),
                    add.reason
                ],
            )?;
        }
    }
    super::rules::units_changed(tx, &[id.0.to_string()])?;
    audit_tx(
        tx,
        actor,
        "add_checkin",
        &subject,
        &format!("session {}, {date}: {}", s.id, add.reason),
        now,
    )?;
    Ok(id)
}
