//! A member of staff changes their own password: the current one first; their other sessions
//! end, this one stays; the old password no longer signs in.

use super::{PASSWORD, Site, enc};
use axum::http::{Method, StatusCode};

#[test]
fn a_changed_password_ends_the_other_sessions_and_the_old_one_no_longer_signs_in() {
    let site = Site::new();
    let (cookie, csrf) = site.sign_in("specialist");
    let (other, _) = site.sign_in("specialist");
    let new = "новый-пароль-специалиста";
    let change = |current: &str, new: &str, again: &str| {
        site.send(
            Method::POST,
            "/account/password",
            Some(&cookie),
            Some(&format!(
                "csrf={csrf}&current={}&new={}&again={}",
                enc(current),
                enc(new),
                enc(again)
            )),
        )
    };
    for (current, n, again, message) in [
        ("не тот", new, new, "Нынешний пароль введён неверно."),
        (PASSWORD, "короткий", "короткий", "не короче 10 символов"),
        (PASSWORD, new, "другой-пароль-совсем", "введён по-разному"),
    ] {
        let a = change(current, n, again);
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{message}");
        assert!(a.body.contains(message), "{message}");
    }
    let done = change(PASSWORD, new, new);
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(
        site.send(Method::GET, "/journal", Some(&cookie), None)
            .status,
        StatusCode::OK,
        "this session stays"
    );
    let gone = site.send(Method::GET, "/journal", Some(&other), None);
    assert_eq!(
        gone.status,
        StatusCode::SEE_OTHER,
        "the other session ended"
    );
    let old = site.send(
        Method::POST,
        "/signin",
        None,
        Some(&format!("login=specialist&password={}", enc(PASSWORD))),
    );
    assert_ne!(
        old.status,
        StatusCode::SEE_OTHER,
        "the old password is refused"
    );
    let fresh = site.send(
        Method::POST,
        "/signin",
        None,
        Some(&format!("login=specialist&password={}", enc(new))),
    );
    assert_eq!(fresh.status, StatusCode::SEE_OTHER);
}
