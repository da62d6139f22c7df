//! The PDF downloads: a recipient's monthly act (`GET /acts/{recipient}/pdf`) and a group's
//! month of the journal (`GET /journal/pdf?group=…`). Each is built by the computation its page
//! uses (the act's lines from [`acts::act_of`], the sessions from [`journal::kept_sessions`]),
//! mapped to the template's data here, and typeset by [`crate::export::pdf`] on the blocking
//! pool; `otmetka-journal act` and `journal-pdf` call the same builders. Each download is in
//! the audit log, as opening the pages is.

use super::acts::{self, Act, dates_words, plan_words, programme_words};
use super::auth::Staff;
use super::exports::content_disposition;
use super::journal::{self, Filter, Mark, MonthQuery, month_and_site, next_month};
use super::layout::{PageError, date_label, month_label, weekday_label};
use super::{AppState, SiteView};
use crate::config::JournalConfig;
use crate::export::pdf::{
    ActDocument, ActDocumentLine, ActRecipient, JournalDocument, JournalDocumentMember,
    JournalDocumentRow, PdfError, Template, Typesetter,
};
use crate::store::people::SitePeople;
use crate::store::staff::{Actor, SessionJournal};
use crate::store::{JournalStore, StoreError};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate};
use otmetka_core::catalogue::{Catalogue, ServiceCode};
use otmetka_core::people::{Group, RecipientId};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

/// The typesetter the pages share, made at the first PDF asked for (so a journal without the
/// fonts still serves its pages, and says why a PDF is missing) and kept after.
pub type SharedTypesetter = Arc<Mutex<Option<Arc<Typesetter>>>>;

/// A service's title from the catalogue (its code where the catalogue lacks it).
fn service_title(catalogue: &Catalogue, code: &str) -> String {
    catalogue
        .get(&ServiceCode(code.to_string()))
        .map_or_else(|| code.to_string(), |s| s.title_ru.clone())
}

fn month_param(month: NaiveDate) -> String {
    format!("{:04}-{:02}", month.year(), month.month())
}

/// The act's data for its template: every figure and word from `act`, as the page shows it.
pub fn act_document(
    act: &Act,
    cfg: &JournalConfig,
    catalogue: &Catalogue,
    site: &str,
    made_on: NaiveDate,
) -> ActDocument {
    let month = act.month;
    let last = next_month(month).pred_opt().unwrap_or(month);
    let p = &act.person;
    ActDocument {
        title: "Акт о предоставлении социальных услуг".into(),
        institution: cfg.documents.institution.clone(),
        unit: cfg.site_name(site),
        provider: cfg.provider(site),
        month: month_label(month),
        from: date_label(month),
        to: date_label(last),
        made_on: date_label(made_on),
        recipient: ActRecipient {
            full_name: p.full_name.clone(),
            birth_date: p.birth_date.map(date_label),
            representative: Some(p.representative.trim().to_string()).filter(|r| !r.is_empty()),
        },
        programme: programme_words(p, month),
        lines: act
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let words = plan_words(l);
                ActDocumentLine {
                    number: i + 1,
                    code: l.service.clone(),
                    title: service_title(catalogue, &l.service),
                    dates: dates_words(l),
                    given: l.count,
                    notes: words.notes(),
                    plan: words.plan,
                }
            })
            .collect(),
        total: act.total,
    }
}

/// A recipient's name in a document: the full name where it is held, as the pages name them
/// otherwise (anonymised, or not in the site's list).
fn full_name(people: &SitePeople, id: RecipientId) -> String {
    match people.recipient(id) {
        Some(p) if p.anonymised_at.is_none() && !p.full_name.trim().is_empty() => {
            p.full_name.clone()
        }
        _ => people.recipient_name(id),
    }
}

/// The units of a session that count for `who` (their own, or a per-group unit they were in).
fn units_for(j: &SessionJournal, who: RecipientId) -> usize {
    j.units
        .iter()
        .filter(|u| u.counts())
        .filter(|u| match u.unit.recipient {
            Some(r) => r == who,
            None => u.unit.participants.contains(&who),
        })
        .count()
}

/// A group's month for its template: the sessions the month's page keeps for the group (the
/// same rows, marks and counts), and each member's sessions and units.
#[allow(clippy::too_many_arguments)]
pub fn journal_document(
    rows: &[(SessionJournal, Vec<Mark>)],
    group: &Group,
    people: &SitePeople,
    cfg: &JournalConfig,
    catalogue: &Catalogue,
    site: &SiteView,
    month: NaiveDate,
    made_on: NaiveDate,
) -> JournalDocument {
    let sessions: Vec<JournalDocumentRow> = rows
        .iter()
        .enumerate()
        .map(|(i, (j, marks))| {
            let s = &j.session;
            let who = journal::participants(j);
            let opened = site.date(s.opened_at);
            JournalDocumentRow {
                number: i + 1,
                date: date_label(opened),
                weekday: weekday_label(opened).to_string(),
                time: format!(
                    "{}–{}",
                    site.hm(s.opened_at),
                    s.closed_at.map_or_else(|| "…".to_string(), |c| site.hm(c))
                ),
                code: s.service.clone(),
                service: service_title(catalogue, &s.service),
                instructor: people.instructor_name(&s.instructor),
                participants: who
                    .iter()
                    .map(|r| full_name(people, *r))
                    .collect::<Vec<_>>()
                    .join(", "),
                members_present: who
                    .iter()
                    .filter(|r| {
                        people
                            .recipient(**r)
                            .is_some_and(|p| p.groups.contains(&group.id))
                            || group.members.contains(r)
                    })
                    .count(),
                head_count: s.head_count,
                units: j.units.iter().filter(|u| u.counts()).count(),
                marks: marks
                    .iter()
                    .map(|m| m.label())
                    .collect::<Vec<_>>()
                    .join("; "),
            }
        })
        .collect();
    // The members as the people's records say (the roster's `groups`), and any the group
    // itself lists.
    let mut ids: Vec<RecipientId> = people
        .current()
        .filter(|p| p.groups.contains(&group.id))
        .map(|p| p.id)
        .chain(group.members.iter().copied())
        .collect();
    ids.sort();
    ids.dedup();
    let mut members: Vec<JournalDocumentMember> = ids
        .iter()
        .map(|m| {
            let theirs: Vec<&SessionJournal> = rows
                .iter()
                .map(|(j, _)| j)
                .filter(|j| journal::participants(j).contains(m))
                .collect();
            JournalDocumentMember {
                name: full_name(people, *m),
                sessions: theirs.len(),
                units: theirs.iter().map(|j| units_for(j, *m)).sum(),
            }
        })
        .collect();
    members.sort_by(|a, b| a.name.cmp(&b.name));
    JournalDocument {
        title: "Журнал учёта социальных услуг".into(),
        institution: cfg.documents.institution.clone(),
        unit: cfg.site_name(&site.id),
        provider: cfg.provider(&site.id),
        group: group.name.clone(),
        group_service: format!(
            "{} {}",
            group.service.0,
            service_title(catalogue, &group.service.0)
        ),
        month: month_label(month),
        from: date_label(month),
        to: date_label(next_month(month).pred_opt().unwrap_or(month)),
        made_on: date_label(made_on),
        total_sessions: sessions.len(),
        total_units: sessions.iter().map(|s| s.units).sum(),
        sessions,
        members,
    }
}

/// Reads a group's month from the store and builds its document (the page and the command).
#[allow(clippy::too_many_arguments)]
pub fn group_journal(
    store: &dyn JournalStore,
    people: &SitePeople,
    group: &Group,
    cfg: &JournalConfig,
    catalogue: &Catalogue,
    site: &SiteView,
    month: NaiveDate,
    made_on: NaiveDate,
) -> Result<JournalDocument, StoreError> {
    let sessions = journal::month_sessions(store, site, month)?;
    let filter = Filter::for_group(&group.id.0.to_string());
    let rows = journal::kept_sessions(sessions, &filter, None, site);
    Ok(journal_document(
        &rows, group, people, cfg, catalogue, site, month, made_on,
    ))
}

/// Typesets `data` with `template` on the blocking pool; a missing font or a broken template
/// is a Russian page (and the English reason in the log), never a blank PDF.
async fn typeset<T: Serialize + Send + 'static>(
    app: &AppState,
    template: Template,
    data: T,
    today: NaiveDate,
) -> Result<Vec<u8>, PageError> {
    let held = Arc::clone(&app.typesetter);
    let documents = app.config.documents.clone();
    let made = tokio::task::spawn_blocking(move || {
        let typesetter = {
            let mut held = held.lock().unwrap_or_else(|p| p.into_inner());
            match held.as_ref() {
                Some(t) => Arc::clone(t),
                None => {
                    let t = Arc::new(Typesetter::new(
                        &documents.fonts_dir,
                        documents.templates_dir.as_deref(),
                    )?);
                    *held = Some(Arc::clone(&t));
                    t
                }
            }
        };
        typesetter.render(template, &data, today)
    })
    .await
    .map_err(|e| PageError::internal(&format!("pdf {}: {e}", template.file_name())))?;
    made.map_err(|e: PdfError| {
        tracing::error!("pdf {}: {e}", template.file_name());
        PageError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: e.russian().into(),
        }
    })
}

/// The download of a PDF: its bytes with a UTF-8 file name (and an ASCII one for old clients).
fn download(bytes: Vec<u8>, name: &str, ascii: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                content_disposition(name, ascii),
            ),
            (header::CONTENT_LENGTH, bytes.len().to_string()),
        ],
        bytes,
    )
        .into_response()
}

/// `GET /acts/{recipient}/pdf`: the act as PDF, audited.
pub async fn act(
    State(app): State<AppState>,
    staff: Staff,
    Path(recipient): Path<String>,
    Query(q): Query<MonthQuery>,
) -> Result<Response, PageError> {
    let (month, site) = month_and_site(&app, &q)?;
    let person = acts::act_person(&app, &site, &recipient).await?;
    let id = person.id;
    let today = site.date(app.now());
    let (docs, config, sid) = (app.docs.clone(), app.config.clone(), site.id.clone());
    let document = app
        .store
        .call(move |s| {
            let act = acts::act_of(s, &person, &docs.catalogue, &sid, month, today)?;
            Ok(act_document(&act, &config, &docs.catalogue, &sid, today))
        })
        .await?;
    let name = format!(
        "Акт {} {}.pdf",
        document.recipient.full_name,
        month_label(month)
    );
    let ascii = format!(
        "otmetka-act-{}-{}.pdf",
        month_param(month),
        id.0.simple().to_string().get(..8).unwrap_or_default()
    );
    let detail = format!(
        "act for {}, PDF, {} services, {} units",
        month_label(month),
        document.lines.len(),
        document.total
    );
    let bytes = typeset(&app, Template::Act, document, today).await?;
    let (actor, now) = (Actor::of(&staff.0.user), app.now());
    app.store
        .call(move |s| s.audit(&actor, "download_act_pdf", &id.to_string(), &detail, now))
        .await?;
    Ok(download(bytes, &name, &ascii))
}

/// `?group=…` of the group journal's download.
#[derive(Debug, Deserialize, Default)]
pub struct GroupQuery {
    #[serde(default)]
    pub group: String,
}

/// `GET /journal/pdf?month=…&site=…&group=…`: a group's month of the journal as PDF, audited.
pub async fn group_month(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<MonthQuery>,
    Query(g): Query<GroupQuery>,
) -> Result<Response, PageError> {
    let (month, site) = month_and_site(&app, &q)?;
    let people = app.people(&site.id).await?;
    let group = people
        .groups
        .iter()
        .find(|x| x.id.0.to_string() == g.group.trim())
        .cloned()
        .ok_or_else(|| PageError::not_found("Такой группы нет."))?;
    let today = site.date(app.now());
    let (docs, config, view, gr) = (
        app.docs.clone(),
        app.config.clone(),
        site.clone(),
        group.clone(),
    );
    let document = app
        .store
        .call(move |s| {
            group_journal(
                s,
                &people,
                &gr,
                &config,
                &docs.catalogue,
                &view,
                month,
                today,
            )
        })
        .await?;
    let name = format!("Журнал {} {}.pdf", group.name, month_label(month));
    let ascii = format!(
        "otmetka-journal-{}-{}.pdf",
        month_param(month),
        group.id.0.simple().to_string().get(..8).unwrap_or_default()
    );
    let detail = format!(
        "journal of group {} for {}, site {}, PDF, {} sessions, {} units",
        group.name,
        month_label(month),
        site.id,
        document.total_sessions,
        document.total_units
    );
    let bytes = typeset(&app, Template::GroupJournal, document, today).await?;
    let (actor, now) = (Actor::of(&staff.0.user), app.now());
    let subject = format!("group {}", group.id.0);
    app.store
        .call(move |s| s.audit(&actor, "download_journal_pdf", &subject, &detail, now))
        .await?;
    Ok(download(bytes, &name, &ascii))
}
