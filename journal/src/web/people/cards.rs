//! A recipient's cards: one given by its number (a desk USB reader types it into the focused
//! field), a card's state (lost, blocked, replaced, active again), and "give a card at a kiosk"
//! (the chosen kiosk waits for the next card on its reader).

use super::*;

#[derive(Debug, Deserialize, Default)]
pub struct CardNumberForm {
    #[serde(default)]
    card_number: String,
    #[serde(default)]
    card_until: String,
    #[serde(default)]
    card_kept: String,
    /// `{card id}:lost` or `{card id}:replaced`: the new card takes that one's place.
    #[serde(default)]
    card_replaces: String,
}

/// `POST /people/{recipient}/cards`.
pub async fn add_card(
    State(app): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Form(f): Form<CardNumberForm>,
) -> Result<Response, PageError> {
    let (site, people, person) = held(&app, &id).await?;
    let today = site.date(app.now());
    let again = |e: FormErrors| {
        let (app, staff, site, people, person) = (&app, &staff, &site, &people, &person);
        async move {
            let page = person_page(
                app,
                staff,
                site,
                people,
                person,
                None,
                &e,
                &PeopleQuery::default(),
            )
            .await?;
            Ok::<_, PageError>((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    };
    if person.anonymised_at.is_some() {
        return again(FormErrors::at(
            "card_number",
            "Данные этого получателя обезличены.",
        ))
        .await;
    }
    let secret = app.docs.site(&site.id).and_then(|d| d.secret.clone());
    let Some(secret) = secret else {
        return again(FormErrors::at(
            "card_number",
            "Нет секрета отделения (site_secret_file): выдайте карту на киоске.",
        ))
        .await;
    };
    let Some(mut card) = NewCard::from_number(
        &site.id,
        Holder::Recipient(person.id),
        &f.card_number,
        &secret,
    ) else {
        return again(FormErrors::at(
            "card_number",
            "Это не номер карты: приложите карту к считывателю или введите цифры с карты.",
        ))
        .await;
    };
    card.kept_by_staff = !f.card_kept.is_empty();
    if !f.card_until.trim().is_empty() {
        match NaiveDate::parse_from_str(f.card_until.trim(), "%Y-%m-%d") {
            Ok(d) if d >= today => card.valid_until = Some(d),
            _ => {
                return again(FormErrors::at(
                    "card_until",
                    "Временная карта: последний день — сегодня или позже.",
                ))
                .await;
            }
        }
    }
    let replaces = match f.card_replaces.trim() {
        "" => None,
        r => {
            let old = r.split_once(':').and_then(|(id, state)| {
                let id: i64 = id.parse().ok()?;
                let state = CardState::parse(state)
                    .filter(|s| matches!(s, CardState::Lost | CardState::Replaced))?;
                people
                    .cards_of(Holder::Recipient(person.id))
                    .any(|c| {
                        c.id == id && c.status_on(today) == otmetka_core::people::CardStatus::Active
                    })
                    .then_some((id, state))
            });
            match old {
                Some(o) => Some(o),
                None => {
                    return again(FormErrors::at(
                        "card_replaces",
                        "Выберите действующую карту этого получателя, которую заменяет новая.",
                    ))
                    .await;
                }
            }
        }
    };
    let (actor, now) = (Actor::of(&staff.0.user), app.now());
    match app
        .store
        .call(move |s| match replaces {
            Some((old, state)) => s.replace_card(&actor, &card, old, state, now),
            None => s.add_card(&actor, &card, now),
        })
        .await
    {
        Ok(_) => Ok(notice(
            &format!("/people/{}", person.id),
            "saved",
            if replaces.is_some() {
                "Карта заменена: старая больше не действует, новую киоски узнают в течение минуты."
            } else {
                "Карта выдана. Киоски узнают её в течение минуты."
            },
        )),
        Err(StoreError::Conflict(m)) => again(FormErrors::at("card_number", &m)).await,
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct CardStateForm {
    #[serde(default)]
    state: String,
    #[serde(default)]
    note: String,
}

/// `POST /people/{recipient}/cards/{card}`.
pub async fn card_state(
    State(app): State<AppState>,
    staff: Staff,
    Path((id, card)): Path<(String, i64)>,
    Form(f): Form<CardStateForm>,
) -> Result<Response, PageError> {
    let (site, people, person) = held(&app, &id).await?;
    if !people
        .cards_of(Holder::Recipient(person.id))
        .any(|c| c.id == card)
    {
        return Err(PageError::not_found("У этого получателя нет такой карты."));
    }
    let Some(state) = CardState::parse(&f.state) else {
        return Err(PageError::bad_request("Выберите состояние карты."));
    };
    let note: String = f.note.trim().chars().take(200).collect();
    let (actor, now, sid) = (Actor::of(&staff.0.user), app.now(), site.id.clone());
    app.store
        .call(move |s| s.set_card_state(&actor, &sid, card, state, &note, now))
        .await?;
    Ok(notice(
        &format!("/people/{}", person.id),
        "saved",
        &format!("Карта теперь: {}.", state.label()),
    ))
}

#[derive(Debug, Deserialize)]
pub struct KioskCardForm {
    #[serde(default)]
    site: String,
    #[serde(default)]
    kiosk: String,
}

/// `POST /people/{recipient}/card`: the kiosk waits for the person's new card.
pub async fn request_card(
    State(app): State<AppState>,
    staff: Staff,
    Path(recipient): Path<String>,
    Form(f): Form<KioskCardForm>,
) -> Result<Response, PageError> {
    let (site, _, person) = held(&app, &recipient).await?;
    let back = |error: &str| notice(&format!("/people/{}", person.id), "error", error);
    if f.site != site.id || person.anonymised_at.is_some() {
        return Ok(back("Такого получателя нет в списке отделения."));
    }
    if !site_kiosks(&app, &site.id).await?.contains(&f.kiosk) {
        return Ok(back("Выберите киоск этого отделения."));
    }
    let now = app.now();
    let request = EnrolmentRequest {
        schema: SCHEMA,
        request: uuid::Uuid::now_v7(),
        recipient: person.id,
        display_name: person.display_name.clone(),
        expires_at: now + chrono::Duration::minutes(ENROL_MINUTES),
    };
    let id = request.request;
    let (actor, sid, kiosk) = (Actor::of(&staff.0.user), site.id.clone(), f.kiosk.clone());
    app.store
        .call(move |s| {
            s.request_enrolment(&sid, &kiosk, &request, now)?;
            s.audit(
                &actor,
                "request_card",
                &request.recipient.to_string(),
                &format!("kiosk {kiosk}"),
                now,
            )
        })
        .await?;
    Ok(Redirect::to(&format!("/people/{}?request={id}", person.id)).into_response())
}
