//! The violations page (the staff journal, point 7; the rules issue, point 1): the journal's
//! re-check over every kiosk finds the units over 001's weekly cap (seed 001 l.9, «до двух раз в
//! неделю») that a kiosk sent late, and the page lists them with the recipient's name.

use super::Site;
use axum::http::{Method, StatusCode};
use chrono::{Datelike, NaiveDate};
use otmetka_core::catalogue::Catalogue;
use otmetka_core::decision::Rule;

use otmetka_journal::store::rules::Violation;

/// The text of the shipped catalogue.
fn shipped_catalogue() -> String {
    std::fs::read_to_string(otmetka_tests::site::repo_root().join("config/services.toml")).unwrap()
}

/// Drains the journal's re-check queue as the feed would (by `catalogue`, at `now`), and reads
/// the violations of units dated in `[from, to)`.
fn recheck(
    site: &Site,
    catalogue: Catalogue,
    now: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<Violation> {
    let time = otmetka_core::period::SiteTime::new(300, Default::default()).unwrap();
    let now = now.parse().unwrap();
    site.rt
        .block_on(site.store.call(move |s| {
            while s.recheck(&catalogue, &|_| time, 500, now)?.pairs > 0 {}
            s.violations(otmetka_tests::institution::SITE, from, to)
        }))
        .unwrap()
}

/// [`recheck`] by the shipped catalogue, for December's units.
fn recheck_december(site: &Site) -> Vec<Violation> {
    let catalogue = Catalogue::from_toml("services.toml", &shipped_catalogue()).unwrap();
    recheck(
        site,
        catalogue,
        "2026-12-11T14:00:00Z",
        NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(),
    )
}

/// Who the tests' own store writes are recorded as.
fn test_actor() -> otmetka_journal::store::staff::Actor {
    otmetka_journal::store::staff::Actor {
        user: None,
        login: "test".into(),
        name: "test".into(),
    }
}

/// The ids of a session's units.
fn unit_ids(
    site: &Site,
    session: otmetka_core::session::SessionId,
) -> Vec<otmetka_core::unit::UnitId> {
    site.units_of(&session.to_string())
        .into_iter()
        .map(|u| u.unit.id)
        .collect()
}

#[test]
fn units_over_a_weekly_cap_sent_late_are_found_by_the_recheck_and_listed() {
    let site = Site::new();
    let (who, name) = site.inst.recipients[3].clone();
    // Three sessions of 001 on Monday to Wednesday of one week, from a kiosk that was offline.
    let week: Vec<NaiveDate> = (7..=9)
        .map(|d| NaiveDate::from_ymd_opt(2026, 12, d).unwrap())
        .collect();
    for d in &week {
        otmetka_tests::institution::late_session(&site.inst, *d, &[who]).unwrap();
    }
    let found = recheck_december(&site);
    // Every unit of 001 this recipient has that week beyond the second is over the cap.
    let in_week = |d: NaiveDate| d.iso_week() == week[0].iso_week();
    let given = site
        .inst
        .units
        .iter()
        .filter(|(r, s, d)| *r == who && s == "001" && in_week(*d))
        .count()
        + week.len();
    let over: Vec<_> = found
        .iter()
        .filter(|v| {
            v.recipient == who
                && v.service.0 == "001"
                && v.rule == Rule::FrequencyLimit
                && in_week(v.date)
        })
        .collect();
    assert_eq!(over.len(), given - 2, "{given} given that week: {over:?}");
    assert!(over.iter().all(|v| !v.overridden));

    let (cookie, _) = site.sign_in("head");
    let page = site.send(
        Method::GET,
        "/violations?month=2026-12",
        Some(&cookie),
        None,
    );
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&name), "the recipient by name");
    assert!(
        page.body
            .contains("Не более 2 в неделю: до этой услуги уже было 2")
    );
    assert!(page.body.contains("киоск не знал"));
    let rows = page.body.matches("<td class=\"name\">").count();
    assert_eq!(rows, found.len(), "one row per violation");
}

/// The rules issue, point 4: 002 l.1251 «не более 1 раза в месяц для группы получателей услуг» is
/// the group's cap. Two celebrations of one group in December: the second session's units are
/// over it; a celebration of another group in the same month is not, and no recipient is
/// judged by it as by a cap of their own.
#[test]
fn a_groups_second_celebration_of_a_month_is_found_by_the_recheck() {
    use otmetka_core::people::GroupId;
    use otmetka_tests::institution::{LateSession, late_session_as};
    let site = Site::new();
    let who: Vec<_> = site.inst.recipients[..3].iter().map(|(r, _)| *r).collect();
    let (ours, theirs) = (
        GroupId(uuid::Uuid::from_u128(0x6a01)),
        GroupId(uuid::Uuid::from_u128(0x6a02)),
    );
    let celebration = |group| LateSession {
        service: "002-1.7.2".into(),
        minutes: 90,
        group: Some(group),
        ..LateSession::default()
    };
    let day = |d| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
    let first = late_session_as(&site.inst, day(3), &who, &celebration(ours)).unwrap();
    let second = late_session_as(&site.inst, day(10), &who[..2], &celebration(ours)).unwrap();
    let other = late_session_as(&site.inst, day(10), &who[2..], &celebration(theirs)).unwrap();
    let found = recheck_december(&site);
    let capped: Vec<_> = found
        .iter()
        .filter(|v| v.service.0 == "002-1.7.2" && v.rule == Rule::FrequencyLimit)
        .collect();
    let (first, second, other) = (
        unit_ids(&site, first),
        unit_ids(&site, second),
        unit_ids(&site, other),
    );
    assert_eq!(
        capped.len(),
        2,
        "the second session's two units: {capped:?}"
    );
    assert!(
        capped.iter().all(|v| second.contains(&v.unit)),
        "{capped:?}"
    );
    assert!(
        !capped
            .iter()
            .any(|v| first.contains(&v.unit) || other.contains(&v.unit))
    );

    let (cookie, _) = site.sign_in("head");
    let page = site.send(
        Method::GET,
        "/violations?month=2026-12",
        Some(&cookie),
        None,
    );
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("Не более 1 в месяц для группы: до этого занятия у группы уже было 1"),
        "{}",
        page.body
    );
}

/// The rules issue, point 5: 002 l.3169 «Услуга предоставляется 3 раза в неделю, для
/// несовершеннолетних до 7 раз в неделю». Five sessions of 002-4.5 in one week, sent late, with an
/// adult and a minor in each: the re-check finds the adult's units beyond three and none of the
/// minor's (the journal judges each unit by the recipient's age on its day). The roster tells
/// the kiosks the minor's care group and the day they turn 18, and nothing of the adult's age.
#[test]
fn a_minors_own_weekly_cap_holds_in_the_recheck_and_the_roster_carries_their_age() {
    use otmetka_tests::institution::{LateSession, late_session_as};
    let site = Site::new();
    let (adult, minor) = (site.inst.recipients[5].0, site.inst.recipients[6].0);
    let people = site.people();
    let actor = test_actor();
    for (id, birth) in [(adult, "1950-03-01"), (minor, "2012-01-01")] {
        let mut p = people.recipient(id).unwrap().clone();
        p.birth_date = Some(birth.parse().unwrap());
        p.care_group = Some(2);
        let actor = actor.clone();
        site.call(move |s| s.save_recipient(&actor, &p, "2026-12-01T08:00:00Z".parse().unwrap()));
    }
    let leisure = LateSession {
        service: "002-4.5".into(),
        minutes: 50,
        ..LateSession::default()
    };
    let week: Vec<NaiveDate> = (7..=11)
        .map(|d| NaiveDate::from_ymd_opt(2026, 12, d).unwrap())
        .collect();
    for d in &week {
        late_session_as(&site.inst, *d, &[adult, minor], &leisure).unwrap();
    }
    let found = recheck_december(&site);
    let in_week = |d: NaiveDate| d.iso_week() == week[0].iso_week();
    let given = |who| {
        site.inst
            .units
            .iter()
            .filter(|(r, s, d)| *r == who && s == "002-4.5" && in_week(*d))
            .count()
            + week.len()
    };
    let over = |who| {
        found
            .iter()
            .filter(|v| {
                v.recipient == who
                    && v.service.0 == "002-4.5"
                    && v.rule == Rule::FrequencyLimit
                    && in_week(v.date)
            })
            .count()
    };
    assert_eq!(
        over(adult),
        given(adult) - 3,
        "l.3169: the adult's cap is 3"
    );
    assert_eq!(
        over(minor),
        given(minor).saturating_sub(7),
        "l.3169: a minor's cap is 7 ({} given)",
        given(minor)
    );

    let body = site
        .call(|s| {
            otmetka_journal::documents::roster_body(
                s,
                otmetka_tests::institution::SITE,
                "2026-12-11T08:00:00Z".parse().unwrap(),
            )
        })
        .unwrap();
    let roster: otmetka_core::wire::Roster = serde_json::from_slice(&body).unwrap();
    let of = |id| roster.recipients.iter().find(|r| r.id == id).unwrap();
    assert_eq!(
        (of(minor).care_group, of(minor).adult_on),
        (Some(2), Some("2030-01-01".parse().unwrap()))
    );
    assert_eq!((of(adult).care_group, of(adult).adult_on), (Some(2), None));
}

/// 002 §4.5 counts each form on its own: excursions and cultural events «1 раз в месяц»
/// (l.3171), circles «3 раза в неделю» (l.3169). An adult has an excursion on 3 December, and in
/// the week of 14 December three circles and a second excursion: the re-check finds the second
/// excursion over the month's cap of events, and nothing over the week's cap of circles beyond
/// what the generated circles of that week already broke (an excursion is no fourth circle).
/// The usage the journal sends kiosks says which units were events.
#[test]
fn a_second_excursion_of_a_month_is_found_and_is_no_fourth_circle_of_its_week() {
    use otmetka_core::catalogue::Form;
    use otmetka_tests::institution::{LateSession, late_session_as};
    let site = Site::new();
    let who = site.inst.recipients[5].0;
    let day = |d| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
    let circle = LateSession {
        service: "002-4.5".into(),
        minutes: 50,
        ..LateSession::default()
    };
    let excursion = LateSession {
        minutes: 200,
        event: true,
        ..circle.clone()
    };
    let first = late_session_as(&site.inst, day(3), &[who], &excursion).unwrap();
    for d in [14, 15, 16] {
        late_session_as(&site.inst, day(d), &[who], &circle).unwrap();
    }
    let second = late_session_as(&site.inst, day(17), &[who], &excursion).unwrap();
    let found = recheck_december(&site);
    let of = |session| {
        let units = unit_ids(&site, session);
        found
            .iter()
            .filter(|v| units.contains(&v.unit) && v.rule == Rule::FrequencyLimit)
            .map(|v| match &v.decision {
                otmetka_core::decision::Decision::FrequencyLimit { limit, used, .. } => {
                    (limit.max, limit.form, *used)
                }
                other => panic!("{other:?}"),
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(of(first), vec![], "the month's first event");
    assert_eq!(
        of(second),
        vec![(1, Form::Event, 1)],
        "the month's second event"
    );
    let generated = site
        .inst
        .units
        .iter()
        .filter(|(r, s, d)| *r == who && s == "002-4.5" && (day(14)..=day(20)).contains(d))
        .count();
    let circles_over = found
        .iter()
        .filter(|v| {
            v.recipient == who
                && v.service.0 == "002-4.5"
                && (day(14)..=day(20)).contains(&v.date)
                && matches!(&v.decision, otmetka_core::decision::Decision::FrequencyLimit { limit, .. } if limit.form == Form::Regular)
        })
        .count();
    assert_eq!(
        circles_over, generated,
        "three circles and {generated} generated ones"
    );
    let (_, given) =
        site.call(move |s| s.given_counts(otmetka_tests::institution::SITE, Some(day(1))));
    let events: Vec<NaiveDate> = given
        .iter()
        .filter(|g| g.recipient == who && g.service.0 == "002-4.5" && g.event)
        .map(|g| g.date)
        .collect();
    assert_eq!(events, vec![day(3), day(17)]);
}

/// The rules issue, point 1: a unit over two caps of one rule is two violations. With a day's
/// cap of 1 added to 001's week cap of 2 (a catalogue of the test's own), the third session of
/// one Monday breaks both, and the re-check keeps both (it kept one row per unit and rule).
#[test]
fn a_unit_over_a_days_cap_and_a_weeks_is_two_violations() {
    let site = Site::new();
    let who = site.inst.recipients[4].0;
    let text = shipped_catalogue();
    let week_cap = "[[services.limits]]\nmax = 2\nperiod = \"week\"\ncite = { line = 9,";
    assert!(text.contains(week_cap));
    let text = text.replacen(
        week_cap,
        &format!("[[services.limits]]\nmax = 1\nperiod = \"day\"\n\n{week_cap}"),
        1,
    );
    let catalogue = Catalogue::from_toml("services.toml", &text).unwrap();
    let monday = NaiveDate::from_ymd_opt(2026, 12, 14).unwrap();
    let mut last = None;
    // Each under a group of its own: three sessions of one day (one installation each).
    for i in 0..3u128 {
        let how = otmetka_tests::institution::LateSession {
            group: Some(otmetka_core::people::GroupId(uuid::Uuid::from_u128(
                0x7a00 + i,
            ))),
            ..Default::default()
        };
        last = Some(
            otmetka_tests::institution::late_session_as(&site.inst, monday, &[who], &how).unwrap(),
        );
    }
    let third = unit_ids(&site, last.unwrap());
    let found = recheck(
        &site,
        catalogue,
        "2026-12-15T14:00:00Z",
        monday,
        monday.succ_opt().unwrap(),
    );
    let of_third: Vec<_> = found
        .iter()
        .filter(|v| v.recipient == who && third.contains(&v.unit) && v.rule == Rule::FrequencyLimit)
        .collect();
    assert_eq!(
        of_third.len(),
        2,
        "the day's cap and the week's: {of_third:?}"
    );
}

/// The rules issue, point 3: a floor feeds plan vs fact. With the shipped catalogue, 002 l.1197
/// «от 1 раза в день, не более 2-х в неделю» is no floor a recipient is owed (a session a day
/// would break the week's cap): the act shows none. In a catalogue without that cap, the floor
/// is owed to an adult whose programme lists 002-1.7.1: the act counts the November days they
/// came (got any unit) without one. It never refuses a tap.
#[test]
fn a_floor_shows_in_the_act_as_the_days_without_a_session() {
    let shipped = Site::new();
    let act = floor_act(&shipped, false);
    assert!(!act.contains("по стандарту"), "{act}");
    let uncapped = Site::with_config(|dir| {
        let text = shipped_catalogue();
        let cap = "[[services.limits]]\nmax = 2\nperiod = \"week\"\napplies_to = \"adults\"\ncite = { line = 1197, text = \"не более 2-х в неделю\" }\n";
        assert!(text.contains(cap));
        let own = dir.join("services-uncapped.toml");
        std::fs::write(&own, text.replacen(cap, "", 1)).unwrap();
        let config = dir.join("journal.toml");
        let journal = std::fs::read_to_string(&config).unwrap();
        let line = journal
            .lines()
            .find(|l| l.starts_with("catalogue = "))
            .unwrap();
        std::fs::write(
            &config,
            journal.replacen(line, &format!("catalogue = {:?}", own.to_str().unwrap()), 1),
        )
        .unwrap();
        String::new()
    });
    floor_act(&uncapped, true);
}

/// Adds 002-1.7.1 to a recipient's programme, gives two sessions in November, and returns their
/// November act; where the catalogue's floor is owed, checks its words against the generator.
fn floor_act(site: &Site, owed: bool) -> String {
    use otmetka_core::people::ProgrammeItem;
    use otmetka_tests::institution::{LateSession, late_session_as};
    let (who, name) = site.inst.recipients[2].clone();
    let mut p = site.people().recipient(who).unwrap().clone();
    let programme = p.programme.as_mut().unwrap();
    programme.items.push(ProgrammeItem {
        courses: Vec::new(),
        service: "002-1.7.1".into(),
        count: None,
        period: otmetka_core::catalogue::Period::Month,
    });
    let actor = test_actor();
    site.call(move |s| s.save_recipient(&actor, &p, "2026-11-01T08:00:00Z".parse().unwrap()));
    let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    let club = LateSession {
        service: "002-1.7.1".into(),
        ..LateSession::default()
    };
    for d in [day(3), day(4)] {
        late_session_as(&site.inst, d, &[who], &club).unwrap();
    }
    // The days of November they came, and those with none of 002-1.7.1.
    let mut came: std::collections::BTreeSet<NaiveDate> = site
        .inst
        .units
        .iter()
        .filter(|(r, _, d)| *r == who && d.month() == 11)
        .map(|(_, _, d)| *d)
        .collect();
    came.extend([day(3), day(4)]);
    let without = came.len() - 2;
    let (cookie, _) = site.sign_in("head");
    let act = site.send(
        Method::GET,
        &format!("/acts/{who}?month=2026-11"),
        Some(&cookie),
        None,
    );
    assert_eq!(act.status, StatusCode::OK);
    let days = match (without % 10, without % 100) {
        (1, 11) => "дней",
        (1, _) => "день",
        (2..=4, 12..=14) => "дней",
        (2..=4, _) => "дня",
        _ => "дней",
    };
    let words = format!(
        "по стандарту не реже 1 раза в день: без занятия {without} {days} из {}",
        came.len()
    );
    if owed {
        assert!(act.body.contains(&words), "{name}: {words}\n{}", act.body);
    }
    act.body
}

/// The staff journal's re-check reads the programme in force on each unit's day: November's
/// units of 001 are judged by November's programme (once a month), which December's (8 a month)
/// replaced, so every November unit past the first is over the programme's count.
#[test]
fn the_recheck_judges_a_units_day_by_the_programme_then_in_force() {
    use otmetka_core::decision::Decision;
    use otmetka_core::people::{Programme, ProgrammeItem};
    let site = Site::new();
    let (who, _) = site.inst.recipients[7].clone();
    let actor = test_actor();
    let programme = |from: &str, to: &str, count| Programme {
        valid_from: from.parse().unwrap(),
        valid_to: to.parse().unwrap(),
        items: vec![ProgrammeItem {
            courses: Vec::new(),
            service: "001".into(),
            count: Some(count),
            period: otmetka_core::catalogue::Period::Month,
        }],
        course_start: None,
    };
    for (p, at) in [
        (
            programme("2026-01-01", "2026-11-30", 1),
            "2026-10-01T08:00:00Z",
        ),
        (
            programme("2026-12-01", "2027-11-30", 8),
            "2026-11-20T08:00:00Z",
        ),
    ] {
        let mut person = site.people().recipient(who).unwrap().clone();
        person.programme = Some(p);
        let actor = actor.clone();
        site.call(move |s| s.save_recipient(&actor, &person, at.parse().unwrap()));
    }
    let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    for d in [day(16), day(17)] {
        otmetka_tests::institution::late_session(&site.inst, d, &[who]).unwrap();
    }
    let catalogue = Catalogue::from_toml("services.toml", &shipped_catalogue()).unwrap();
    let found = recheck(
        &site,
        catalogue,
        "2026-12-11T14:00:00Z",
        day(1),
        day(30).succ_opt().unwrap(),
    );
    let given = site.inst.given(who, "001", day(1)) + 2;
    let over: Vec<_> = found
        .iter()
        .filter(|v| {
            v.recipient == who
                && v.rule == Rule::NotInProgramme
                && matches!(v.decision, Decision::NotInProgramme { .. })
        })
        .collect();
    assert_eq!(over.len(), given - 1, "{given} given in November: {over:?}");
}

/// The rules issue, points 1 and 4: a group's earlier session that arrives late (an offline
/// kiosk) makes the group's later session the second of the month, for recipients who were not
/// in the late one: the re-check queues them too.
#[test]
fn a_late_earlier_session_of_a_group_rejudges_the_groups_later_one() {
    use otmetka_core::people::GroupId;
    use otmetka_tests::institution::{LateSession, late_session_as};
    let site = Site::new();
    let (x, y) = (site.inst.recipients[10].0, site.inst.recipients[11].0);
    let group = GroupId(uuid::Uuid::from_u128(0x6b01));
    let celebration = LateSession {
        service: "002-1.7.2".into(),
        minutes: 90,
        group: Some(group),
        ..LateSession::default()
    };
    let day = |d| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
    let later = late_session_as(&site.inst, day(10), &[x], &celebration).unwrap();
    let capped = |found: &[otmetka_journal::store::rules::Violation]| {
        found
            .iter()
            .filter(|v| v.service.0 == "002-1.7.2" && v.rule == Rule::FrequencyLimit)
            .count()
    };
    assert_eq!(
        capped(&recheck_december(&site)),
        0,
        "the group's first so far"
    );
    late_session_as(&site.inst, day(3), &[y], &celebration).unwrap();
    let found = recheck_december(&site);
    let later = unit_ids(&site, later);
    assert_eq!(capped(&found), 1, "{found:?}");
    assert!(
        found
            .iter()
            .any(|v| v.recipient == x && later.contains(&v.unit)),
        "the 10th is the group's second of December: {found:?}"
    );
}

#[test]
fn the_same_card_at_two_kiosks_at_once_is_shown_and_a_check_out_or_a_close_between_clears_it() {
    use otmetka_tests::institution::{LateSession, late_session_as};
    let site = Site::new();
    let (cloned, left, later) = (
        site.inst.recipients[5].0,
        site.inst.recipients[6].0,
        site.inst.recipients[7].0,
    );
    let day = NaiveDate::from_ymd_opt(2026, 11, 17).unwrap();
    let at = |kiosk: &str, opened_after: i64, out: Option<i64>| LateSession {
        kiosk: Some(kiosk.into()),
        opened_after,
        checkins: true,
        checked_out_after: out,
        ..LateSession::default()
    };
    // Kiosk k1, 10:00–10:45: all three tap in at 10:01; `left` taps out at 10:15.
    late_session_as(&site.inst, day, &[cloned, later], &at("k1", 0, None)).unwrap();
    late_session_as(&site.inst, day, &[left], &at("k1", 1, Some(14))).unwrap();
    // Kiosk k2 at 10:20: `cloned` taps while still in k1's session, `left` after leaving it.
    late_session_as(&site.inst, day, &[cloned, left], &at("k2", 20, None)).unwrap();
    // Kiosk k2 at 10:50, after k1's session closed: `later` is just at their next session.
    late_session_as(&site.inst, day, &[later], &at("k2", 50, None)).unwrap();
    let (cookie, _) = site.sign_in("head");
    let page = site.send(
        Method::GET,
        "/violations?month=2026-11",
        Some(&cookie),
        None,
    );
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("Одна карта на двух киосках сразу: 1"),
        "{}",
        page.body
    );
    let row = format!("data-double=\"{cloned}\"");
    let at_row = page
        .body
        .find(&row)
        .expect("the cloned card's owner is listed");
    let tr = &page.body[at_row..at_row + page.body[at_row..].find("</tr>").unwrap()];
    assert!(
        tr.contains("17.11.2026 10:01, киоск k1") && tr.contains("17.11.2026 10:21, киоск k2"),
        "{tr}"
    );
    for fine in [left, later] {
        assert!(
            !page.body.contains(&format!("data-double=\"{fine}\"")),
            "{fine}"
        );
    }
    // December's page does not show November's.
    let december = site.send(
        Method::GET,
        "/violations?month=2026-12",
        Some(&cookie),
        None,
    );
    assert!(!december.body.contains("Одна карта на двух киосках"));
}
