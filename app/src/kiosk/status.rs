//! What the kiosk says of itself: the open session, the sessions it offers to start, `ctl status`.

use super::*;

impl Kiosk {
    /// The open session as the screens and `ctl status` show it (no disk).
    pub fn session_status(&self) -> Option<SessionStatus> {
        let s = self.session.as_ref()?;
        let name = |r: &RecipientId| {
            self.roster
                .recipients
                .get(r)
                .map(|r| r.display_name.clone())
                .unwrap_or_default()
        };
        let group = s.group.and_then(|g| self.roster.groups.get(&g));
        let present: Vec<PresentLine> = s
            .present()
            .map(|c| PresentLine {
                checkin: c.id,
                recipient: c.recipient,
                name: name(&c.recipient),
                at: c.at,
                manual: match &c.method {
                    CheckInMethod::Manual { reason } => Some(reason.clone()),
                    CheckInMethod::Card => None,
                },
                overridden: !c.overridden.is_empty(),
            })
            .collect();
        let absent = group
            .map(|g| {
                g.members
                    .iter()
                    .filter(|m| !present.iter().any(|p| p.recipient == **m))
                    .map(|m| MemberLine {
                        recipient: *m,
                        name: name(m),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let svc = self.catalogue.get(&s.service);
        Some(SessionStatus {
            id: s.id,
            service: s.service.clone(),
            title: {
                let title = group
                    .map(|g| g.name.clone())
                    .or_else(|| svc.map(|x| x.title_ru.clone()))
                    .unwrap_or_else(|| s.service.0.clone());
                // An event says so: «Культурно-массовое мероприятие: Клуб «Собеседник»».
                match svc.and_then(|x| x.event.as_ref()).filter(|_| s.event) {
                    Some(e) => format!("{}: {title}", e.title_ru),
                    None => title,
                }
            },
            present,
            absent,
            group_max: svc.and_then(|x| x.group_max),
            opened_at: s.opened_at,
        })
    }

    /// What an instructor may start at `now`: today's schedule lines (for this instructor or
    /// anyone), then each group of the roster, then each service of the catalogue without a group.
    pub fn start_choices(&self, now: DateTime<Utc>) -> Vec<StartChoice> {
        let today = self.site.local_date(now);
        let choice = |service: &ServiceCode, group: Option<GroupId>| {
            // Home visits (patronage) are recorded on the journal's pages, not at a kiosk.
            let svc = self.catalogue.get(service).filter(|s| !s.home_visit)?;
            let g = group.and_then(|g| self.roster.groups.get(&g));
            Some(StartChoice {
                service: service.clone(),
                group,
                title: g
                    .map(|g| g.name.clone())
                    .unwrap_or_else(|| svc.title_ru.clone()),
                group_min: svc.group_min,
                group_max: svc.group_max,
                time_norm_minutes: svc.time_norm_minutes,
                safety_briefing: svc.needs_safety_briefing(),
                event: svc
                    .event
                    .as_ref()
                    .map(|e| (e.title_ru.clone(), e.time_norm_minutes)),
                unit_kind: match svc.unit {
                    UnitRule::SessionChooses => Some(UnitKind::PerRecipient),
                    _ => None,
                },
                start: None,
                room: String::new(),
            })
        };
        let mut out = Vec::new();
        if let Some(schedule) = &self.schedule {
            let mut today_lines: Vec<_> = schedule
                .entries
                .iter()
                .filter(|e| e.date == today)
                .filter(|e| e.instructor.is_none() || e.instructor == self.instructor)
                .collect();
            today_lines.sort_by_key(|e| e.start);
            for e in today_lines {
                if let Some(mut c) = choice(&e.service, e.group) {
                    c.start = Some(e.start);
                    c.unit_kind = e.unit_kind.or(c.unit_kind);
                    c.room = e.room.clone();
                    out.push(c);
                }
            }
        }
        let mut groups: Vec<_> = self.roster.groups.values().collect();
        groups.sort_by(|a, b| a.name.cmp(&b.name));
        out.extend(groups.iter().filter_map(|g| choice(&g.service, Some(g.id))));
        out.extend(
            self.catalogue
                .services
                .iter()
                .filter_map(|svc| choice(&svc.code, None)),
        );
        out
    }

    /// A snapshot for `ctl status` and the diagnostics screen.
    pub fn status(&self) -> Result<StatusReply, KioskError> {
        let (outbox_depth, _) = self.store.backlog()?;
        Ok(StatusReply {
            site: self.names.0.clone(),
            kiosk: self.names.1.clone(),
            instructor: self.instructor_name(),
            session: self.session_status(),
            outbox_depth,
            clock: self.verdict()?,
            roster_version: self.roster.version,
            schedule_version: self.schedule.as_ref().map_or(0, |s| s.version),
            usage_version: self.usage.version,
            reader_ok: self.reader.0,
            reader_detail: self.reader.1.clone(),
            feed_connected: self.feed.as_ref().map(|f| f.0),
            feed_detail: match &self.feed {
                Some((false, why)) => why.clone(),
                _ => String::new(),
            },
            power: self.health.power,
            space: self.health.space,
            sound: self.health.sound,
        })
    }
}
