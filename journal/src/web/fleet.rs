//! `GET /fleet`: every kiosk the journal knows — provisioned, revoked, and what its last status
//! said (online, backlog and its age, reader, clock, version) — with the alerts first: kiosks
//! silent for longer than `[web] silent_minutes`, backlogs older than `[web]
//! stuck_backlog_minutes`, readers that do not answer, clocks not synchronised, and events a
//! kiosk says it can no longer send (asked for again after a restore, already pruned).
//!
//! `POST /fleet/{site}/{kiosk}/revoke` (administrators): the `revoke-kiosk` command from a
//! button — the journal refuses the kiosk's messages from now on, its broker credential and ACL
//! block go, the broker is told to reload.
//!
//! `POST /fleet/provision` (administrators): the `provision-kiosk` command from a form — a new
//! kiosk (or a new password for one) with its broker credential and ACL block. Its bundle holds
//! the site secret and a password, which a page should not hand to a browser: it is written on
//! the journal's machine (`[provisioning] bundle_dir`), and the page says where and what to run
//! on the kiosk.

use super::AppState;
use super::auth::Staff;
use super::layout::{PageError, Section, csrf_field, date_label, notice, page};
use crate::store::RejectionCount;
use crate::store::staff::Actor;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::{Markup, html};
use otmetka_core::wire::{Presence, Status};
use serde::Deserialize;

#[derive(Debug, Deserialize, Default)]
pub struct FleetQuery {
    #[serde(default)]
    done: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

pub async fn show(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<FleetQuery>,
) -> Result<Markup, PageError> {
    let (kiosks, statuses, refusals) = app
        .store
        .call(|s| Ok((s.kiosks()?, s.statuses()?, s.rejection_counts()?)))
        .await?;
    let now = app.now();
    let silent_minutes = i64::from(app.config.web.silent_minutes);
    let stuck_s = u64::from(app.config.web.stuck_backlog_minutes) * 60;
    let admin = staff.0.user.role == crate::store::staff::Role::Admin;
    let mut names: Vec<(String, String)> = kiosks
        .iter()
        .map(|k| (k.site.clone(), k.kiosk.clone()))
        .chain(
            statuses
                .iter()
                .map(|(r, _)| (r.site.clone(), r.kiosk.clone())),
        )
        .chain(
            refusals
                .iter()
                .filter(|c| !c.kiosk.is_empty())
                .map(|c| (c.site.clone(), c.kiosk.clone())),
        )
        .collect();
    names.sort();
    names.dedup();
    // Each kiosk's facts once, for the alerts and for its row.
    let rows: Vec<KioskRow<'_>> = names
        .iter()
        .map(|(site, kiosk)| {
            let record = kiosks.iter().find(|k| &k.site == site && &k.kiosk == kiosk);
            let status = statuses
                .iter()
                .find(|(r, _)| &r.site == site && &r.kiosk == kiosk);
            let parsed: Option<Status> =
                status.and_then(|(r, _)| serde_json::from_str(&r.body).ok());
            let seen = status.map(|(_, at)| *at);
            let refused: Vec<&RejectionCount> = refusals
                .iter()
                .filter(|c| &c.site == site && &c.kiosk == kiosk)
                .collect();
            KioskRow {
                refused,
                site,
                kiosk,
                record,
                silent: seen.is_none_or(|t| (now - t).num_minutes() > silent_minutes),
                online: parsed
                    .as_ref()
                    .is_some_and(|s| s.presence == Presence::Online),
                stuck: parsed
                    .as_ref()
                    .and_then(|s| s.oldest_undelivered_s)
                    .is_some_and(|a| a > stuck_s),
                seen,
                parsed,
            }
        })
        .collect();
    // The alerts, for the kiosks not revoked.
    let mut alerts: Vec<String> = Vec::new();
    for r in rows
        .iter()
        .filter(|r| r.record.is_none_or(|k| k.revoked_at.is_none()))
    {
        let (site, kiosk) = (r.site, r.kiosk);
        match r.seen.map(|at| (now - at).num_minutes()) {
            None => alerts.push(format!("{site}/{kiosk}: ни разу не выходил на связь")),
            Some(m) if r.silent => {
                alerts.push(format!("{site}/{kiosk}: молчит {}", minutes_label(m)));
            }
            Some(_) => {}
        }
        if let Some(s) = &r.parsed {
            if let Some(a) = s.oldest_undelivered_s.filter(|_| r.stuck) {
                alerts.push(format!(
                    "{site}/{kiosk}: {} отметок не переданы, старейшая — {} назад",
                    s.outbox_depth,
                    minutes_label(i64::try_from(a / 60).unwrap_or(i64::MAX))
                ));
            }
            if !s.reader_ok {
                alerts.push(format!("{site}/{kiosk}: считыватель не отвечает"));
            }
            if !s.clock_synced {
                alerts.push(format!("{site}/{kiosk}: часы не сверены"));
            }
            if !s.lost.is_empty() {
                let n: u64 = s.lost.iter().map(|r| r.to - r.from + 1).sum();
                let ranges: Vec<String> = s
                    .lost
                    .iter()
                    .map(|r| match r.from == r.to {
                        true => r.from.to_string(),
                        false => format!("{}–{}", r.from, r.to),
                    })
                    .collect();
                alerts.push(format!(
                    "{site}/{kiosk}: {n} сообщ. киоска не придут никогда (№ {}): журнал восстановлен \
                     из копии старше срока хранения на киоске, и киоск их уже удалил. \
                     Внесите занятия тех дней по бумажному журналу",
                    ranges.join(", ")
                ));
            }
        }
        // Refusals in the last day: a kiosk out of date, a broken one, or someone else's.
        let (deferred, recent): (Vec<&&RejectionCount>, Vec<&&RejectionCount>) = r
            .refused
            .iter()
            .filter(|c| (now - c.last).num_hours() < 24)
            .partition(|c| c.kind.starts_with("deferred_"));
        if !deferred.is_empty() {
            // Past its allowance (`[ingest]`): read later, when the kiosk sends them again.
            let n: u64 = deferred.iter().map(|c| c.count).sum();
            let daily = deferred.iter().any(|c| c.kind == "deferred_daily");
            alerts.push(format!(
                "{site}/{kiosk}: шлёт больше, чем журнал принимает от одного киоска — {n} сообщ. \
                 отложено{}. Киоск пришлёт их снова, но столько не бывает даже после недель без \
                 связи: проверьте киоск; если он в порядке, его учётные данные могли украсть — \
                 отзовите их",
                if daily {
                    " (исчерпан дневной предел)"
                } else {
                    ""
                }
            ));
        }
        if !recent.is_empty() {
            let n: u64 = recent.iter().map(|c| c.count).sum();
            let kinds: Vec<&str> = recent.iter().map(|c| refusal_kind(&c.kind)).collect();
            alerts.push(format!(
                "{site}/{kiosk}: журнал отклоняет его сообщения — {n} ({})",
                kinds.join(", ")
            ));
        }
    }
    let body = html! {
        h1 { "Киоски" }
        @if let Some(d) = &q.done { div.allgood role="status" { (d) } }
        @if let Some(e) = &q.error { p.error role="alert" { (e) } }
        @if !alerts.is_empty() {
            div.problems role="alert" {
                h2 { "Требуют внимания: " (alerts.len()) }
                ul { @for a in &alerts { li { (a) } } }
                p.muted { "Молчит — нет сообщений дольше " (minutes_label(silent_minutes)) "; отметки не переданы дольше "
                    (app.config.web.stuck_backlog_minutes) " мин ([web] silent_minutes, stuck_backlog_minutes)." }
            }
        } @else if !names.is_empty() {
            div.allgood { strong { "Все киоски на связи, всё передано." } }
        }
        table {
            thead { tr {
                th { "Отделение" } th { "Киоск" } th { "Связь" } th { "Последнее сообщение" }
                th.num { "Не передано" } th { "Считыватель" } th { "Часы" } th { "Версия" } th { "Отклонено журналом" } th { "Учётная запись" }
            } }
            tbody {
                @for KioskRow { site, kiosk, record, parsed, seen, silent, online, stuck, refused } in &rows {
                    @let (silent, online, stuck) = (*silent, *online, *stuck);
                    @let view = app.site(Some(site));
                    tr class=[(record.is_none_or(|r| r.revoked_at.is_none()) && (!online || stuck || silent)).then_some("problem")] {
                        td { (site) } td { (kiosk) }
                        td { @if online { "на связи" } @else { span.mark { "нет связи" } } }
                        td {
                            @match (*seen, view) {
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
                            @if refused.is_empty() { "нет" } @else {
                                @for c in refused {
                                    span.mark { (c.count) } " — " (refusal_kind(&c.kind))
                                    @if let Some(v) = view { ", последнее " (date_label(v.date(c.last))) " " (v.hm(c.last)) }
                                    br;
                                }
                            }
                        }
                        td {
                            @match record {
                                Some(r) if r.revoked_at.is_some() => { span.mark { "отозвана" } }
                                Some(_) => {
                                    "выдана"
                                    @if admin {
                                        details.noprint {
                                            summary { "Отозвать…" }
                                            form method="post" action={ "/fleet/" (site) "/" (kiosk) "/revoke" } {
                                                (csrf_field(&staff.0))
                                                p { "Киоск больше не сможет передавать отметки (украден, списан)." }
                                                label { input type="checkbox" name="confirm" value="1"; " Да, отозвать" }
                                                button.danger type="submit" { "Отозвать" }
                                            }
                                        }
                                    }
                                }
                                None => { "не выдавалась" }
                            }
                        }
                    }
                }
            }
        }
        @if names.is_empty() { p { "Ни один киоск ещё не выходил на связь." } }
        @if admin {
            details.noprint open[names.is_empty()] {
                summary { "Выдать новый киоск…" }
                form method="post" action="/fleet/provision" {
                    (csrf_field(&staff.0))
                    div.filters {
                        @if app.sites.len() > 1 {
                            div { label for="p-site" { "Отделение" }
                                select #p-site name="site" { @for s in app.sites.iter() { option value=(s.id) { (s.id) } } }
                            }
                        } @else if let Some(s) = app.sites.first() {
                            input type="hidden" name="site" value=(s.id);
                        }
                        div { label for="p-kiosk" { "Имя киоска (латиница, цифры, дефис)" }
                            input #p-kiosk name="kiosk" size="16" required placeholder="k3" autocomplete="off"; }
                        div { label { input type="checkbox" name="reissue" value="1"; " Выдать заново (киоск уже выдавался: новый пароль)" } }
                        div { button type="submit" { "Выдать" } }
                    }
                    p.muted { "Пакет киоска (пароль и секрет отделения) запишется на компьютер журнала; "
                        "страница скажет, где он, и что выполнить на киоске. Выдача существующему киоску меняет его пароль." }
                }
            }
        }
    };
    Ok(page("Киоски", Section::Fleet, Some(&staff.0), body))
}

/// What the page knows of one kiosk.
struct KioskRow<'a> {
    site: &'a str,
    kiosk: &'a str,
    record: Option<&'a crate::store::KioskRecord>,
    parsed: Option<Status>,
    /// When its last status came.
    seen: Option<chrono::DateTime<chrono::Utc>>,
    silent: bool,
    online: bool,
    stuck: bool,
    /// The journal's refusals of its messages, by kind.
    refused: Vec<&'a RejectionCount>,
}

/// A refusal's kind as the page says it.
fn refusal_kind(kind: &str) -> &'static str {
    match kind {
        "malformed" => "повреждённые",
        "unsupported_schema" => "неизвестной версии",
        "wrong_topic" => "не своего киоска",
        "invalid" => "недопустимые",
        "too_large" => "слишком большие",
        "revoked" => "после отзыва",
        "foreign" => "о чужих записях",
        "deferred_rate" => "отложены: слишком часто",
        "deferred_daily" => "отложены: дневной предел",
        _ => "иные",
    }
}

/// "2 ч 5 мин", "40 мин".
fn minutes_label(m: i64) -> String {
    match (m / 60, m % 60) {
        (0, m) => format!("{m} мин"),
        (h, 0) => format!("{h} ч"),
        (h, m) => format!("{h} ч {m} мин"),
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct RevokeForm {
    #[serde(default)]
    confirm: String,
}

/// `POST /fleet/{site}/{kiosk}/revoke`.
pub async fn revoke(
    State(app): State<AppState>,
    staff: Staff,
    Path((site, kiosk)): Path<(String, String)>,
    Form(f): Form<RevokeForm>,
) -> Result<Response, PageError> {
    let back = |key: &str, msg: &str| notice("/fleet", key, msg);
    if f.confirm.is_empty() {
        return Ok(back("error", "Отметьте «Да, отозвать», чтобы подтвердить."));
    }
    if app.site(Some(&site)).is_none() {
        return Ok(back("error", "Такого отделения нет."));
    }
    let (cfg, now) = (app.config.clone(), app.now());
    let (s, k) = (site.clone(), kiosk.clone());
    let done = tokio::task::spawn_blocking(move || {
        let _held = BROKER_FILES.lock().unwrap_or_else(|p| p.into_inner());
        crate::provision::revoke(&cfg, &s, &k, now)
    })
    .await
    .map_err(|e| PageError::internal(&e.to_string()))?;
    match done {
        Ok(r) => {
            let (actor, subject, detail) = (
                Actor::of(&staff.0.user),
                format!("kiosk {site}/{kiosk}"),
                r.reload.describe(),
            );
            app.store
                .call(move |st| st.audit(&actor, "revoke_kiosk", &subject, &detail, now))
                .await?;
            let reload = match r.reload {
                crate::provision::Reload::Signalled(_) => "брокер перечитал учётные записи",
                _ => {
                    "пусть брокер перечитает настройки (systemctl reload mosquitto), чтобы учётная запись перестала действовать"
                }
            };
            Ok(back(
                "done",
                &format!(
                    "Киоск {site}/{kiosk} отозван: журнал больше не принимает его отметки; {reload}."
                ),
            ))
        }
        Err(e) => {
            tracing::warn!("revoking {site}/{kiosk} from the fleet page failed: {e:#}");
            // The journal's own refusal is taken first: if it holds, say so and audit it.
            let (s2, k2) = (site.clone(), kiosk.clone());
            let revoked = app
                .store
                .call(move |st| {
                    Ok(st
                        .kiosks()?
                        .iter()
                        .any(|r| r.site == s2 && r.kiosk == k2 && r.revoked_at.is_some()))
                })
                .await?;
            if !revoked {
                return Ok(back("error", &format!("Не удалось отозвать киоск ({e}).")));
            }
            let (actor, subject, detail) = (
                Actor::of(&staff.0.user),
                format!("kiosk {site}/{kiosk}"),
                format!("the journal refuses it; the broker step failed: {e}"),
            );
            app.store
                .call(move |st| st.audit(&actor, "revoke_kiosk", &subject, &detail, now))
                .await?;
            Ok(back(
                "error",
                &format!(
                    "Журнал больше не принимает отметки киоска {site}/{kiosk}, но убрать его учётную \
                     запись у брокера не удалось ({e}): сделайте это командой revoke-kiosk."
                ),
            ))
        }
    }
}

/// The broker's password file and ACL are read, changed and written whole: one page action at a
/// time in this process (the command-line tools are other processes: see docs/provisioning.md).
static BROKER_FILES: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[derive(Debug, Deserialize, Default)]
pub struct ProvisionForm {
    #[serde(default)]
    site: String,
    #[serde(default)]
    kiosk: String,
    /// A kiosk issued before gets a new password only with this ticked.
    #[serde(default)]
    reissue: String,
}

/// `POST /fleet/provision`: a kiosk's credential, ACL block and bundle, as `provision-kiosk`.
pub async fn provision(
    State(app): State<AppState>,
    staff: Staff,
    Form(f): Form<ProvisionForm>,
) -> Result<Response, PageError> {
    let back = |key: &str, msg: &str| notice("/fleet", key, msg);
    let (site, kiosk) = (f.site.trim().to_string(), f.kiosk.trim().to_string());
    if app.site(Some(&site)).is_none() {
        return Ok(back("error", "Выберите отделение."));
    }
    if crate::provision::parse_ids(&site, &kiosk).is_err() {
        return Ok(back(
            "error",
            "Имя киоска: от 1 до 32 знаков — строчные латинские буквы, цифры и дефис (например, k3).",
        ));
    }
    let Some(dir) = app.config.bundle_dir() else {
        return Ok(back(
            "error",
            "Выдавать киоски может только журнал с разделом [provisioning] в journal.toml (файлы брокера): см. docs/provisioning.md.",
        ));
    };
    let (s, k) = (site.clone(), kiosk.clone());
    let issued = app
        .store
        .call(move |st| Ok(st.kiosks()?.iter().any(|r| r.site == s && r.kiosk == k)))
        .await?;
    if issued && f.reissue.is_empty() {
        return Ok(back(
            "error",
            &format!(
                "Киоск {site}/{kiosk} уже выдавался. Чтобы сменить его пароль (старый перестанет действовать), отметьте «Выдать заново»."
            ),
        ));
    }
    let (cfg, now) = (app.config.clone(), app.now());
    let out = dir.join(format!("{site}-{kiosk}-{}", now.format("%Y%m%d-%H%M%S")));
    let (s, k, o) = (site.clone(), kiosk.clone(), out.clone());
    let done = tokio::task::spawn_blocking(move || {
        let _held = BROKER_FILES.lock().unwrap_or_else(|p| p.into_inner());
        crate::provision::provision(&cfg, &s, &k, &o, now)
    })
    .await
    .map_err(|e| PageError::internal(&e.to_string()))?;
    match done {
        Ok(p) => {
            let (actor, subject, detail) = (
                Actor::of(&staff.0.user),
                format!("kiosk {site}/{kiosk}"),
                format!(
                    "{}bundle {}; {}",
                    if p.reissued { "new password; " } else { "" },
                    p.bundle.display(),
                    p.reload.describe()
                ),
            );
            app.store
                .call(move |st| st.audit(&actor, "provision_kiosk", &subject, &detail, now))
                .await?;
            let reload = match p.reload {
                crate::provision::Reload::Signalled(_) => "брокер перечитал учётные записи".to_string(),
                _ => "пусть брокер перечитает настройки (systemctl reload mosquitto), чтобы учётная запись заработала".to_string(),
            };
            Ok(back(
                "done",
                &format!(
                    "Киоск {site}/{kiosk} {}: пакет записан в {}. Перенесите его на киоск и выполните там «otmetka-kiosk enroll ПАПКА»; после установки удалите пакет. {reload}.",
                    if p.reissued {
                        "получил новый пароль"
                    } else {
                        "выдан"
                    },
                    p.bundle.display()
                ),
            ))
        }
        Err(e) => {
            tracing::warn!("provisioning {site}/{kiosk} from the fleet page failed: {e:#}");
            Ok(back("error", &format!("Не удалось выдать киоск ({e}).")))
        }
    }
}
