//! Topic names of the Otmetka feed (see `docs/architecture.md`, "Topics").
//!
//! Every topic lives under `otmetka/v1/{site}/`. Site and kiosk ids are `[a-z0-9-]{1,32}`: short,
//! lower case, and free of the MQTT wildcards `+ #` and the level separator `/`, so that an id can
//! never widen a subscription or an ACL pattern.

use std::fmt;

/// The fixed first two levels of every topic; `v1` is the wire-protocol major version.
pub const PREFIX: &str = "otmetka/v1";

/// Longest site or kiosk id, in bytes.
pub const MAX_ID_LEN: usize = 32;

/// A validated site or kiosk id (`[a-z0-9-]{1,32}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(String);

impl Id {
    /// Validates `s` as an id; `None` when it is empty, too long or has a character outside
    /// `[a-z0-9-]`.
    pub fn new(s: &str) -> Option<Self> {
        is_valid_id(s).then(|| Id(s.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// True when `s` is a valid site or kiosk id.
pub fn is_valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// One topic of the feed, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topic {
    /// `kiosk/{kiosk}/events`: kiosk → journal, QoS 1 (sessions, check-ins, units).
    Events { site: Id, kiosk: Id },
    /// `kiosk/{kiosk}/acks`: journal → kiosk, "committed up to seq N" and rejections.
    Acks { site: Id, kiosk: Id },
    /// `kiosk/{kiosk}/status`: retained kiosk status; also the kiosk's last will.
    Status { site: Id, kiosk: Id },
    /// `kiosk/{kiosk}/enrol`: journal → kiosk, card enrolment requests.
    Enrol { site: Id, kiosk: Id },
    /// `roster`: retained, versioned, from the journal.
    Roster { site: Id },
    /// `schedule`: retained, versioned, from the journal.
    Schedule { site: Id },
    /// `catalogue`: retained, versioned, from the journal.
    Catalogue { site: Id },
    /// `usage`: retained, versioned, from the journal: each recipient's units at the site, so
    /// that limits hold across its kiosks.
    Usage { site: Id },
}

impl Topic {
    /// The site this topic belongs to.
    pub fn site(&self) -> &Id {
        match self {
            Topic::Events { site, .. }
            | Topic::Acks { site, .. }
            | Topic::Status { site, .. }
            | Topic::Enrol { site, .. }
            | Topic::Roster { site }
            | Topic::Schedule { site }
            | Topic::Catalogue { site }
            | Topic::Usage { site } => site,
        }
    }

    /// The kiosk this topic belongs to, for the per-kiosk topics.
    pub fn kiosk(&self) -> Option<&Id> {
        match self {
            Topic::Events { kiosk, .. }
            | Topic::Acks { kiosk, .. }
            | Topic::Status { kiosk, .. }
            | Topic::Enrol { kiosk, .. } => Some(kiosk),
            Topic::Roster { .. }
            | Topic::Schedule { .. }
            | Topic::Catalogue { .. }
            | Topic::Usage { .. } => None,
        }
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Topic::Events { site, kiosk } => write!(f, "{PREFIX}/{site}/kiosk/{kiosk}/events"),
            Topic::Acks { site, kiosk } => write!(f, "{PREFIX}/{site}/kiosk/{kiosk}/acks"),
            Topic::Status { site, kiosk } => write!(f, "{PREFIX}/{site}/kiosk/{kiosk}/status"),
            Topic::Enrol { site, kiosk } => write!(f, "{PREFIX}/{site}/kiosk/{kiosk}/enrol"),
            Topic::Roster { site } => write!(f, "{PREFIX}/{site}/roster"),
            Topic::Schedule { site } => write!(f, "{PREFIX}/{site}/schedule"),
            Topic::Catalogue { site } => write!(f, "{PREFIX}/{site}/catalogue"),
            Topic::Usage { site } => write!(f, "{PREFIX}/{site}/usage"),
        }
    }
}

/// `otmetka/v1/{site}/kiosk/{kiosk}/events`.
pub fn events(site: &Id, kiosk: &Id) -> String {
    Topic::Events {
        site: site.clone(),
        kiosk: kiosk.clone(),
    }
    .to_string()
}

/// `otmetka/v1/{site}/kiosk/{kiosk}/acks`.
pub fn acks(site: &Id, kiosk: &Id) -> String {
    Topic::Acks {
        site: site.clone(),
        kiosk: kiosk.clone(),
    }
    .to_string()
}

/// `otmetka/v1/{site}/kiosk/{kiosk}/status`.
pub fn status(site: &Id, kiosk: &Id) -> String {
    Topic::Status {
        site: site.clone(),
        kiosk: kiosk.clone(),
    }
    .to_string()
}

/// `otmetka/v1/{site}/kiosk/{kiosk}/enrol`.
pub fn enrol(site: &Id, kiosk: &Id) -> String {
    Topic::Enrol {
        site: site.clone(),
        kiosk: kiosk.clone(),
    }
    .to_string()
}

/// `otmetka/v1/{site}/roster`.
pub fn roster(site: &Id) -> String {
    Topic::Roster { site: site.clone() }.to_string()
}

/// `otmetka/v1/{site}/schedule`.
pub fn schedule(site: &Id) -> String {
    Topic::Schedule { site: site.clone() }.to_string()
}

/// `otmetka/v1/{site}/catalogue`.
pub fn catalogue(site: &Id) -> String {
    Topic::Catalogue { site: site.clone() }.to_string()
}

/// `otmetka/v1/{site}/usage`.
pub fn usage(site: &Id) -> String {
    Topic::Usage { site: site.clone() }.to_string()
}

/// Subscription filter the journal uses for every kiosk's events: `otmetka/v1/+/kiosk/+/events`.
pub const ALL_EVENTS_FILTER: &str = "otmetka/v1/+/kiosk/+/events";

/// Subscription filter the journal uses for every kiosk's status: `otmetka/v1/+/kiosk/+/status`.
pub const ALL_STATUS_FILTER: &str = "otmetka/v1/+/kiosk/+/status";

/// Parses a topic name of the feed; `None` for anything else: another prefix or version, an
/// invalid id (empty, too long, upper case, a wildcard `+ #`, an extra `/`), an unknown leaf.
pub fn parse_topic(topic: &str) -> Option<Topic> {
    let mut levels = topic.split('/');
    if levels.next()? != "otmetka" || levels.next()? != "v1" {
        return None;
    }
    let site = Id::new(levels.next()?)?;
    let parsed = match levels.next()? {
        "roster" => Topic::Roster { site },
        "schedule" => Topic::Schedule { site },
        "catalogue" => Topic::Catalogue { site },
        "usage" => Topic::Usage { site },
        "kiosk" => {
            let kiosk = Id::new(levels.next()?)?;
            match levels.next()? {
                "events" => Topic::Events { site, kiosk },
                "acks" => Topic::Acks { site, kiosk },
                "status" => Topic::Status { site, kiosk },
                "enrol" => Topic::Enrol { site, kiosk },
                _ => return None,
            }
        }
        _ => return None,
    };
    // Trailing levels (`.../events/x`, or a trailing `/`) are not ours.
    levels.next().is_none().then_some(parsed)
}

/// The MQTT username of a kiosk: its topic path `{site}/kiosk/{kiosk}`.
///
/// The shipped ACL (`config/mosquitto/acl`) substitutes `%u` with it, so a kiosk's rights are
/// bound to its own site *and* id by the password file alone (see `config/mosquitto/README.md`).
pub fn kiosk_username(site: &Id, kiosk: &Id) -> String {
    format!("{site}/kiosk/{kiosk}")
}

/// The per-kiosk block provisioning appends to the Mosquitto ACL file: read access to the kiosk's
/// own site's retained roster, schedule, catalogue and usage. (The kiosk's own topics come from the
/// shipped `pattern` rules; patterns cannot name a site on their own.)
pub fn mosquitto_kiosk_acl_block(site: &Id, kiosk: &Id) -> String {
    format!(
        "user {user}\ntopic read {roster}\ntopic read {schedule}\ntopic read {catalogue}\ntopic read {usage}\n",
        user = kiosk_username(site, kiosk),
        roster = roster(site),
        schedule = schedule(site),
        catalogue = catalogue(site),
        usage = usage(site),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> Id {
        Id::new(s).unwrap()
    }

    #[test]
    fn builders_and_parser_round_trip() {
        let (s, k) = (id("club-7"), id("k1"));
        let all = [
            (events(&s, &k), "otmetka/v1/club-7/kiosk/k1/events"),
            (acks(&s, &k), "otmetka/v1/club-7/kiosk/k1/acks"),
            (status(&s, &k), "otmetka/v1/club-7/kiosk/k1/status"),
            (enrol(&s, &k), "otmetka/v1/club-7/kiosk/k1/enrol"),
            (roster(&s), "otmetka/v1/club-7/roster"),
            (schedule(&s), "otmetka/v1/club-7/schedule"),
            (catalogue(&s), "otmetka/v1/club-7/catalogue"),
        ];
        for (built, expected) in all {
            assert_eq!(built, expected);
            let parsed = parse_topic(&built).unwrap();
            assert_eq!(parsed.to_string(), built);
            assert_eq!(parsed.site(), &s);
        }
        assert_eq!(parse_topic(&events(&s, &k)).unwrap().kiosk(), Some(&k));
        assert_eq!(parse_topic(&roster(&s)).unwrap().kiosk(), None);
    }

    #[test]
    fn parser_rejects_foreign_and_malformed_topics() {
        for bad in [
            "",
            "otmetka",
            "otmetka/v1",
            "otmetka/v1/",
            "otmetka/v2/s/roster",
            "Otmetka/v1/s/roster",
            "x/otmetka/v1/s/roster",
            "/otmetka/v1/s/roster",
            "otmetka/v1/s/roster/",
            "otmetka/v1/s/roster/extra",
            "otmetka/v1//roster",
            "otmetka/v1/+/roster",
            "otmetka/v1/#",
            "otmetka/v1/S/roster",
            "otmetka/v1/s_1/roster",
            "otmetka/v1/s/rosters",
            "otmetka/v1/s/kiosk",
            "otmetka/v1/s/kiosk/k1",
            "otmetka/v1/s/kiosk/k1/",
            "otmetka/v1/s/kiosk//events",
            "otmetka/v1/s/kiosk/+/events",
            "otmetka/v1/s/kiosk/#",
            "otmetka/v1/s/kiosk/k1/other",
            "otmetka/v1/s/kiosk/k1/events/more",
            "otmetka/v1/s/kiosk/k 1/events",
            "otmetka/v1/s/kiosk/кафе/events",
        ] {
            assert_eq!(parse_topic(bad), None, "{bad:?} must be rejected");
        }
        let long = "a".repeat(MAX_ID_LEN + 1);
        assert_eq!(parse_topic(&format!("otmetka/v1/{long}/roster")), None);
        let longest = "a".repeat(MAX_ID_LEN);
        assert!(parse_topic(&format!("otmetka/v1/{longest}/roster")).is_some());
    }

    #[test]
    fn ids_are_lowercase_digits_and_dashes() {
        assert!(is_valid_id("a"));
        assert!(is_valid_id("site-01"));
        assert!(is_valid_id("-"));
        for bad in ["", "A", "a/b", "a+b", "a#", "a b", "a.b", "a_b", "ё"] {
            assert!(!is_valid_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn kiosk_acl_block_names_its_own_site_only() {
        let block = mosquitto_kiosk_acl_block(&id("s1"), &id("k1"));
        assert_eq!(
            block,
            "user s1/kiosk/k1\ntopic read otmetka/v1/s1/roster\n\
             topic read otmetka/v1/s1/schedule\ntopic read otmetka/v1/s1/catalogue\n\
             topic read otmetka/v1/s1/usage\n"
        );
    }
}
