//! The SQLite side of [`RulesStore`]: the re-check queue, the violations and the site's usage.
//! The `given` view (migration 9) lists each unit once for each recipient it counts for.

use super::SqliteJournal;
use crate::store::StoreError;
use crate::store::rules::{DoubleTap, GivenCount, Rechecked, RulesStore, Violation};
use chrono::{DateTime, NaiveDate, Utc};
use otmetka_core::catalogue::{Catalogue, ServiceCode};
use otmetka_core::decision::Decision;
use otmetka_core::people::GroupId;
use otmetka_core::people::{Consent, Programme, Recipient, RecipientId};
use otmetka_core::period::SiteTime;
use otmetka_core::rules::{Given, group_caps, recheck};
use otmetka_core::session::SessionId;
use otmetka_core::timestamp::{from_text, to_text as ts};
use otmetka_core::unit::{Unit, UnitId};
use otmetka_core::wire::{UsageCommitted, UsageGroupSession};
use rusqlite::{OptionalExtension, Transaction, params};

/// The units `ids` were recorded, removed or restored: their recipients' units of their service
/// are queued for a re-check, and the site's usage goes out again. In the caller's transaction.
pub(super) fn units_changed(tx: &Transaction<'_>, ids: &[String]) -> Result<(), StoreError> {
    let mut queue = tx.prepare_cached(
        "INSERT OR IGNORE INTO recheck_queue (site, recipient, service)
         SELECT site, recipient, service FROM given WHERE unit = ?1",
    )?;
    let mut sites = std::collections::BTreeSet::new();
    for id in ids {
        queue.execute([id])?;
        if let Some(site) = tx
            .query_row("SELECT site FROM units WHERE id = ?1", [id], |r| {
                r.get::<_, String>(0)
            })
            .optional()?
        {
            sites.insert(site);
        }
    }
    for site in sites {
        super::people::bump(tx, &site, "usage")?;
    }
    Ok(())
}

/// One unit as the re-check reads it.
struct Held {
    unit: UnitId,
    session: SessionId,
    date: NaiveDate,
    at: DateTime<Utc>,
    overridden: Vec<otmetka_core::decision::Rule>,
    /// The session's standing group, where it had one.
    group: Option<GroupId>,
    /// Its session was opened as the service's event form.
    event: bool,
}

fn held_units(
    tx: &Transaction<'_>,
    site: &str,
    recipient: &str,
    service: &str,
) -> Result<Vec<Held>, StoreError> {
    let mut stmt = tx.prepare_cached(
        "SELECT g.body, COALESCE(s.event, 0) FROM given g LEFT JOIN sessions s ON s.id = g.session
         WHERE g.site = ?1 AND g.recipient = ?2 AND g.service = ?3 AND g.removed_at IS NULL",
    )?;
    let rows = stmt.query_map(params![site, recipient, service], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (body, event) = row?;
        let u: Unit = serde_json::from_str(&body)?;
        out.push(Held {
            unit: u.id,
            session: u.session,
            date: u.date,
            at: u.started_at,
            overridden: u.overridden,
            group: u.group,
            event,
        });
    }
    Ok(out)
}

/// When each other session of `group`'s of `service` at `site` began that began before the one
/// (`session`, `at`) — by time, then by id, as the recipient's re-check orders its units.
fn group_sessions_before(
    tx: &Transaction<'_>,
    site: &str,
    service: &str,
    group: GroupId,
    session: SessionId,
    at: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>, StoreError> {
    let mut stmt = tx.prepare_cached(
        "SELECT DISTINCT session, json_extract(body, '$.started_at') FROM units
         WHERE site = ?1 AND service = ?2 AND json_extract(body, '$.group') = ?3
           AND removed_at IS NULL AND session != ?4",
    )?;
    let rows = stmt.query_map(
        params![site, service, group.0.to_string(), session.to_string()],
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
    )?;
    let mut out = Vec::new();
    for row in rows {
        let (other, started) = row?;
        let Ok(started) = started.parse::<DateTime<Utc>>() else {
            continue;
        };
        if (started, other.as_str()) < (at, session.to_string().as_str()) {
            out.push(started);
        }
    }
    Ok(out)
}

/// The recipient as the rules read them: the programme the journal holds (without one, only the
/// catalogue's caps are judged), and the programmes it replaced, for the units of their days.
fn recipient_of(
    tx: &Transaction<'_>,
    id: RecipientId,
) -> Result<(Recipient, Vec<Programme>), StoreError> {
    let (programme, birth, care_group): (Option<String>, Option<String>, Option<u8>) = tx
        .query_row(
            "SELECT programme, birth_date, care_group FROM recipients WHERE id = ?1",
            [id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?
        .unwrap_or_default();
    let birth = birth.and_then(|b| chrono::NaiveDate::parse_from_str(&b, "%Y-%m-%d").ok());
    let programme: Option<Programme> = match programme {
        Some(p) => serde_json::from_str(&p).ok(),
        None => None,
    };
    // The programmes it replaced, the latest replaced first (as `Person::programme_for`).
    let mut stmt = tx.prepare_cached(
        "SELECT programme FROM programme_history WHERE recipient = ?1
         ORDER BY replaced_at DESC, id DESC",
    )?;
    let replaced = stmt
        .query_map([id.to_string()], |r| r.get::<_, String>(0))?
        .filter_map(|p| p.ok().and_then(|p| serde_json::from_str(&p).ok()))
        .collect();
    let recipient = Recipient {
        // Every unit is judged by age on its own day: the day they turn 18 is kept whole.
        adult_on: crate::store::people::adult_on(birth),
        care_group,
        id,
        display_name: String::new(),
        consent: Consent {
            participation: true,
            photo_video: false,
        },
        programme,
        groups: Vec::new(),
    };
    Ok((recipient, replaced))
}

/// Which of a rule's verdicts a violation is (the key beside unit, recipient and rule): a cap
/// by its period and whose it is, so that a unit over a day's cap and a week's is two rows.
fn limit_key(d: &Decision) -> String {
    match d {
        Decision::FrequencyLimit { limit, .. } => format!(
            "{:?}{}",
            limit.period,
            if limit.per_group { " group" } else { "" }
        ),
        _ => String::new(),
    }
}

impl RulesStore for SqliteJournal {
    fn recheck(
        &mut self,
        catalogue: &Catalogue,
        site_time: &dyn Fn(&str) -> SiteTime,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Rechecked, StoreError> {
        let tx = self.write()?;
        let queued: Vec<(String, String, String, bool)> = {
            let mut stmt = tx.prepare_cached(
                "SELECT site, recipient, service, cascade FROM recheck_queue
                 ORDER BY site, recipient LIMIT ?1",
            )?;
            stmt.query_map([limit as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<Result<_, _>>()?
        };
        let mut done = Rechecked::default();
        for (site, recipient, service, cascaded) in &queued {
            tx.execute(
                "DELETE FROM recheck_queue WHERE site = ?1 AND recipient = ?2 AND service = ?3",
                params![site, recipient, service],
            )?;
            tx.execute(
                "DELETE FROM violations WHERE site = ?1 AND recipient = ?2 AND service = ?3",
                params![site, recipient, service],
            )?;
            done.pairs += 1;
            // A service the catalogue no longer holds, or a recipient id that does not parse,
            // has nothing to be judged by.
            let (Some(svc), Ok(rid)) = (
                catalogue.get(&ServiceCode(service.clone())),
                recipient.parse().map(RecipientId),
            ) else {
                continue;
            };
            let held = held_units(&tx, site, recipient, service)?;
            let given: Vec<Given> = held
                .iter()
                .map(|h| Given {
                    session: h.session,
                    at: h.at,
                    event: h.event,
                })
                .collect();
            let (who, replaced) = recipient_of(&tx, rid)?;
            let verdicts = recheck(svc, &who, &replaced, &site_time(site), &given);
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO violations (unit, recipient, site, service, date, rule,
                     decision, overridden, found_at, limit_key)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            // A group's cap (002 l.1251 «для группы получателей»): each unit of a session of
            // the recipient's group, against the group's sessions of the service before it.
            let per_group = svc.limits.iter().any(|l| l.per_group);
            if per_group && !cascaded {
                // The group's other recipients of the service: their sessions' verdicts count
                // this one's sessions (one step: a pair queued so queues none).
                let mut mates = tx.prepare_cached(
                    "INSERT OR IGNORE INTO recheck_queue (site, recipient, service, cascade)
                     SELECT DISTINCT site, recipient, service, 1 FROM given
                     WHERE site = ?1 AND service = ?2 AND recipient != ?3
                       AND json_extract(body, '$.group') = ?4 AND removed_at IS NULL",
                )?;
                let groups: std::collections::BTreeSet<GroupId> =
                    held.iter().filter_map(|h| h.group).collect();
                for group in groups {
                    mates.execute(params![site, service, recipient, group.0.to_string()])?;
                }
            }
            let mut verdicts = verdicts;
            for (h, broken) in held.iter().zip(verdicts.iter_mut()) {
                let Some(group) = h.group.filter(|_| per_group) else {
                    continue;
                };
                let earlier = group_sessions_before(&tx, site, service, group, h.session, h.at)?;
                for (limit, used) in group_caps(svc, &site_time(site), &earlier, h.at) {
                    broken.push(Decision::FrequencyLimit {
                        recipient: rid,
                        service: svc.code.clone(),
                        limit,
                        used,
                    });
                }
            }
            for (h, broken) in held.iter().zip(verdicts) {
                for d in broken {
                    let Some(rule) = d.rule() else { continue };
                    insert.execute(params![
                        h.unit.0.to_string(),
                        recipient,
                        site,
                        service,
                        h.date.to_string(),
                        serde_json::to_value(rule)?.as_str().unwrap_or_default(),
                        serde_json::to_string(&d)?,
                        h.overridden.contains(&rule),
                        ts(now),
                        limit_key(&d),
                    ])?;
                    done.violations += 1;
                }
            }
        }
        tx.commit()?;
        Ok(done)
    }

    fn given_counts(
        &self,
        site: &str,
        from: Option<NaiveDate>,
    ) -> Result<(Vec<UsageCommitted>, Vec<GivenCount>), StoreError> {
        // One read transaction: the counts and the seqs are of the same moment.
        let tx = self.conn.unchecked_transaction()?;
        let mut stmt = tx.prepare_cached(
            "SELECT kiosk, installation, committed_seq FROM progress WHERE site = ?1
             ORDER BY kiosk, installation",
        )?;
        let progress = stmt
            .query_map([site], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        drop(stmt);
        // The messages held past a hole (applied, so their units are in the counts): as ranges,
        // which a kiosk must not count again from its own store.
        let mut above = tx.prepare_cached(
            "SELECT seq FROM messages WHERE site = ?1 AND kiosk = ?2 AND installation = ?3
             AND seq > ?4 ORDER BY seq",
        )?;
        let mut committed = Vec::with_capacity(progress.len());
        for (kiosk, installation, seq) in progress {
            let mut held: Vec<[u64; 2]> = Vec::new();
            let seqs = above.query_map(params![site, kiosk, installation, seq], |r| {
                r.get::<_, i64>(0)
            })?;
            for s in seqs {
                let s = u64::try_from(s?).unwrap_or(0);
                match held.last_mut() {
                    Some(range) if range[1] + 1 == s => range[1] = s,
                    _ => held.push([s, s]),
                }
            }
            committed.push(UsageCommitted {
                kiosk,
                installation: installation.parse().ok(),
                seq: u64::try_from(seq).unwrap_or(0),
                held,
            });
        }
        drop(above);
        let Some(from) = from else {
            tx.finish()?;
            return Ok((committed, Vec::new()));
        };
        let mut stmt = tx.prepare_cached(
            "SELECT g.recipient, g.service, g.date, CASE WHEN g.added_by IS NULL THEN g.kiosk END,
                 COUNT(*), COALESCE(s.event, 0)
             FROM given g LEFT JOIN sessions s ON s.id = g.session
             WHERE g.site = ?1 AND g.date >= ?2 AND g.removed_at IS NULL
             GROUP BY g.recipient, g.service, g.date, 4, 6
             ORDER BY g.recipient, g.service, g.date",
        )?;
        let rows = stmt.query_map(params![site, from.to_string()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, u32>(4)?,
                r.get::<_, bool>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (recipient, service, date, kiosk, count, event) = row?;
            if let (Ok(id), Ok(date)) = (recipient.parse(), date.parse()) {
                out.push(GivenCount {
                    recipient: RecipientId(id),
                    service: ServiceCode(service),
                    date,
                    kiosk,
                    event,
                    count,
                });
            }
        }
        drop(stmt);
        tx.finish()?;
        Ok((committed, out))
    }

    fn group_sessions(
        &self,
        site: &str,
        services: &[(ServiceCode, NaiveDate)],
    ) -> Result<Vec<UsageGroupSession>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT session, json_extract(body, '$.group'),
                 json_extract(body, '$.started_at')
             FROM units
             WHERE site = ?1 AND service = ?2 AND date >= ?3 AND removed_at IS NULL
               AND json_extract(body, '$.group') IS NOT NULL",
        )?;
        let mut out = Vec::new();
        for (service, from) in services {
            let rows = stmt.query_map(params![site, service.0, from.to_string()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?;
            for row in rows {
                let (session, group, at) = row?;
                if let (Ok(session), Ok(group), Ok(at)) = (
                    session.parse::<uuid::Uuid>(),
                    group.parse::<uuid::Uuid>(),
                    at.parse::<DateTime<Utc>>(),
                ) {
                    out.push(UsageGroupSession {
                        group: GroupId(group),
                        service: service.clone(),
                        session: SessionId(session),
                        at,
                    });
                }
            }
        }
        out.sort_by_key(|g| (g.at, g.session.0));
        Ok(out)
    }

    fn double_taps(
        &self,
        site: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DoubleTap>, StoreError> {
        // b is the later card check-in (or, at the same instant, the one of the later kiosk);
        // a's session was open then (closed after it, or not closed and a at most 6 hours
        // before), and a had not been checked out before b. A minute of the kiosks' clocks
        // disagreeing is allowed: a check-out at most a minute after b clears the pair.
        let mut stmt = self.conn.prepare_cached(
            "SELECT b.recipient, a.kiosk, a.session, a.at, b.kiosk, b.session, b.at
             FROM checkins b
             JOIN checkins a ON a.site = b.site AND a.recipient = b.recipient
                 AND a.kiosk <> b.kiosk
                 AND (a.at < b.at OR (a.at = b.at AND a.kiosk < b.kiosk))
             JOIN sessions sa ON sa.id = a.session
             WHERE b.site = ?1 AND b.at >= ?2 AND b.at < ?3
               AND a.undone_at IS NULL AND b.undone_at IS NULL
               AND json_extract(a.body, '$.method') = 'card'
               AND json_extract(b.body, '$.method') = 'card'
               AND CASE WHEN sa.closed_at IS NULL
                        THEN julianday(a.at) >= julianday(b.at) - 0.25
                        ELSE b.at < sa.closed_at END
               AND (a.checked_out_at IS NULL
                    OR julianday(a.checked_out_at) > julianday(b.at) + 1.0 / 1440)
             ORDER BY b.at, b.kiosk",
        )?;
        let rows = stmt.query_map(params![site, ts(from), ts(to)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (recipient, ka, sa, ta, kb, sb, tb) = row?;
            let (Ok(recipient), Ok(sa), Ok(sb), Some(ta), Some(tb)) = (
                recipient.parse(),
                sa.parse(),
                sb.parse(),
                from_text(&ta),
                from_text(&tb),
            ) else {
                continue;
            };
            out.push(DoubleTap {
                recipient: RecipientId(recipient),
                first: (ka, SessionId(sa), ta),
                second: (kb, SessionId(sb), tb),
            });
        }
        Ok(out)
    }

    fn violations(
        &self,
        site: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Violation>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT v.unit, u.session, u.kiosk, v.recipient, v.service, v.date, v.decision,
                 v.overridden, v.found_at
             FROM violations v JOIN units u ON u.id = v.unit
             WHERE v.site = ?1 AND v.date >= ?2 AND v.date < ?3
             ORDER BY v.date, v.recipient, v.service",
        )?;
        let rows = stmt.query_map(params![site, from.to_string(), to.to_string()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, bool>(7)?,
                r.get::<_, String>(8)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (unit, session, kiosk, recipient, service, date, decision, overridden, found) =
                row?;
            let decision: Decision = serde_json::from_str(&decision)?;
            let (Ok(unit), Ok(session), Ok(recipient), Ok(date), Some(rule), Some(found_at)) = (
                unit.parse(),
                session.parse(),
                recipient.parse(),
                date.parse(),
                decision.rule(),
                from_text(&found),
            ) else {
                continue;
            };
            out.push(Violation {
                unit: UnitId(unit),
                session: SessionId(session),
                site: site.to_string(),
                kiosk,
                recipient: RecipientId(recipient),
                service: ServiceCode(service),
                date,
                rule,
                decision,
                overridden,
                found_at,
            });
        }
        Ok(out)
    }
}
