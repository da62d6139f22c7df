//! The clients of the read-only JSON API (`/api/v1`, [`crate::web::api`]): each a name, a token
//! (kept as its SHA-256) and scopes, made and revoked by an administrator; every use is recorded
//! in the audit log. Each engine implements [`ApiStore`].

use super::StoreError;
use super::staff::Actor;
use chrono::{DateTime, Utc};

/// What a client may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// The units of a period.
    Units,
    /// The sessions of a period with their units: the journal.
    Sessions,
    /// The recipients, by id (their groups, programme dates, the day they left).
    Recipients,
    /// Names, birth dates, СНИЛС and sex where the answers have a person (with `Recipients`).
    Personal,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::Units,
        Scope::Sessions,
        Scope::Recipients,
        Scope::Personal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Units => "units",
            Scope::Sessions => "sessions",
            Scope::Recipients => "recipients",
            Scope::Personal => "personal",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// As the administrator's page names it.
    pub fn label(self) -> &'static str {
        match self {
            Scope::Units => "услуги (единицы) за период",
            Scope::Sessions => "занятия за период с их участниками (журнал)",
            Scope::Recipients => "получатели по кодам: группы, сроки ИППСУ, выбытие",
            Scope::Personal => "персональные данные: ФИО, дата рождения, СНИЛС, пол",
        }
    }
}

/// A client of the API as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiClient {
    pub id: i64,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl ApiClient {
    pub fn may(&self, scope: Scope) -> bool {
        self.revoked_at.is_none() && self.scopes.contains(&scope)
    }
}

/// The API's clients in the store.
pub trait ApiStore {
    /// A new client with the token whose SHA-256 is `token_hash`. Audited.
    fn add_api_client(
        &mut self,
        actor: &Actor,
        name: &str,
        scopes: &[Scope],
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<ApiClient, StoreError>;
    /// Every client, revoked ones included, newest first.
    fn api_clients(&self) -> Result<Vec<ApiClient>, StoreError>;
    /// The client whose token hashes to `token_hash` (revoked or not).
    fn api_client(&self, token_hash: &str) -> Result<Option<ApiClient>, StoreError>;
    /// Takes a client's token away; its requests are refused from now on. Audited.
    fn revoke_api_client(
        &mut self,
        actor: &Actor,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Records one use of the API by `client` (`what`: the request) in the audit log.
    fn api_used(
        &mut self,
        client: &ApiClient,
        what: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}
