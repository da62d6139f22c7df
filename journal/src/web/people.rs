//! `GET /people`: the recipients of a site with their consents, programme and cards. Read from
//! the roster the journal publishes (the roster file, with the cards enrolled at kiosks); editing
//! people in the journal is the next step of the staff-journal issue.

use super::AppState;
use super::auth::Staff;
use super::journal::MonthQuery;
use super::layout::{PageError, Section, date_label, page};
use axum::extract::{Query, State};
use maud::{Markup, html};

pub async fn list(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<MonthQuery>,
) -> Result<Markup, PageError> {
    let site = app
        .site(q.site.as_deref())
        .cloned()
        .ok_or_else(|| PageError::not_found("Такого отделения нет."))?;
    let id = site.id.clone();
    let enrolled = app.store.call(move |s| s.enrolled_cards(&id)).await?;
    let today = site.date(app.now());
    let people = app.recipients(&site.id);
    let body = html! {
        h1 { "Получатели услуг — отделение " (site.id) }
        p { "Всего: " strong { (people.len()) } ". Список ведётся в файле списка отделения; карты, выданные на киоске, добавляются к нему." }
        table {
            thead { tr {
                th { "Получатель" } th { "Согласие на участие" } th { "Фото и видео" }
                th { "Индивидуальная программа" } th.num { "Карт" }
            } }
            tbody {
                @for r in people {
                    @let cards = r.cards.len() + enrolled.iter().filter(|(who, _)| *who == r.id).count();
                    @let valid = r.programme.as_ref().is_some_and(|p| p.valid_from <= today && today <= p.valid_to);
                    tr class=[(!r.consent.participation || !valid || cards == 0).then_some("problem")] {
                        td { (r.display_name) }
                        td { @if r.consent.participation { "есть" } @else { span.mark { "нет согласия" } } }
                        td { @if r.consent.photo_video { "есть" } @else { "нет" } }
                        td {
                            @match &r.programme {
                                Some(p) => {
                                    "с " (date_label(p.valid_from)) " по " (date_label(p.valid_to))
                                    ", услуг: " (p.items.len())
                                    @if !valid { " " span.mark { "не действует сегодня" } }
                                }
                                None => { span.mark { "нет программы" } }
                            }
                        }
                        td.num { @if cards == 0 { span.mark { "нет карты" } } @else { (cards) } }
                    }
                }
            }
        }
    };
    Ok(page("Получатели", Section::People, Some(&staff.0), body))
}
