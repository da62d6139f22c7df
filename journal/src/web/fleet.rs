//! `GET /fleet`: every kiosk the journal knows — provisioned, revoked, and what its last status
//! said (online, backlog and its age, reader, clock, version) — with the silent or backed-up
//! ones marked. Provisioning stays a command (`otmetka-journal provision-kiosk`) for now.

use super::AppState;
use super::auth::Staff;
use super::layout::{PageError, Section, date_label, page};
use axum::extract::State;
use maud::{Markup, html};
use otmetka_core::wire::{Presence, Status};

/// A kiosk whose status is older than this is called silent.
pub const SILENT_MINUTES: i64 = 15;
/// A backlog older than this is called stuck.
pub const STUCK_BACKLOG_S: u64 = 15 * 60;

pub async fn show(State(app): State<AppState>, staff: Staff) -> Result<Markup, PageError> {
    let (kiosks, statuses) = app.store.call(|s| Ok((s.kiosks()?, s.statuses()?))).await?;
    let now = app.now();
    let mut names: Vec<(String, String)> = kiosks
        .iter()
        .map(|k| (k.site.clone(), k.kiosk.clone()))
        .chain(
            statuses
                .iter()
                .map(|(r, _)| (r.site.clone(), r.kiosk.clone())),
        )
        .collect();
    names.sort();
    names.dedup();
    let offset = |site: &str| app.site(Some(site)).cloned();
    let body = html! {
        h1 { "Киоски" }
        table {
            thead { tr {
                th { "Отделение" } th { "Киоск" } th { "Связь" } th { "Последнее сообщение" }
                th.num { "Не передано" } th { "Считыватель" } th { "Часы" } th { "Версия" } th { "Учётная запись" }
            } }
            tbody {
                @for (site, kiosk) in &names {
                    @let record = kiosks.iter().find(|k| &k.site == site && &k.kiosk == kiosk);
                    @let status = statuses.iter().find(|(r, _)| &r.site == site && &r.kiosk == kiosk);
                    @let parsed: Option<Status> = status.and_then(|(r, _)| serde_json::from_str(&r.body).ok());
                    @let seen = status.map(|(_, at)| *at);
                    @let silent = seen.is_none_or(|t| (now - t).num_minutes() > SILENT_MINUTES);
                    @let online = parsed.as_ref().is_some_and(|s| s.presence == Presence::Online);
                    @let stuck = parsed.as_ref().and_then(|s| s.oldest_undelivered_s).is_some_and(|a| a > STUCK_BACKLOG_S);
                    @let view = offset(site);
                    tr class=[(record.is_none_or(|r| r.revoked_at.is_none()) && (!online || stuck)).then_some("problem")] {
                        td { (site) } td { (kiosk) }
                        td { @if online { "на связи" } @else { span.mark { "нет связи" } } }
                        td {
                            @match (seen, &view) {
                                (Some(t), Some(v)) => { (date_label(v.date(t))) " " (v.hm(t)) @if silent { " " span.mark { "давно молчит" } } }
                                _ => { span.mark { "ни одного" } }
                            }
                        }
                        td.num {
                            @if let Some(s) = &parsed {
                                (s.outbox_depth)
                                @if let Some(a) = s.oldest_undelivered_s { br; span class={ "mark" @if !stuck { " info" } } { "старейшей " (a / 60) " мин" } }
                            }
                        }
                        td { @match &parsed { Some(s) if s.reader_ok => { "в порядке" }, Some(_) => { span.mark { "не отвечает" } }, None => { "—" } } }
                        td { @match &parsed { Some(s) if s.clock_synced => { "сверены" }, Some(_) => { span.mark { "не сверены" } }, None => { "—" } } }
                        td { @if let Some(s) = &parsed { (s.version) } }
                        td {
                            @match record {
                                Some(r) if r.revoked_at.is_some() => { span.mark { "отозвана" } }
                                Some(_) => { "выдана" }
                                None => { "не выдавалась" }
                            }
                        }
                    }
                }
            }
        }
        @if names.is_empty() { p { "Ни один киоск ещё не выходил на связь." } }
    };
    Ok(page("Киоски", Section::Fleet, Some(&staff.0), body))
}
