//! [`ApiStore`] on SQLite: the `api_clients` table (migration 0021).

use super::SqliteJournal;
use super::staff::audit_tx;
use crate::store::StoreError;
use crate::store::api::{ApiClient, ApiStore, Scope};
use crate::store::staff::Actor;
use chrono::{DateTime, Utc};
use otmetka_core::timestamp::{from_text, to_text as ts};
use rusqlite::{OptionalExtension, Row, params};

const COLUMNS: &str =
    "id, name, scopes, created_at, created_by, revoked_at, revoked_by, last_used_at";

fn client(r: &Row<'_>) -> rusqlite::Result<ApiClient> {
    let at = |t: Option<String>| t.and_then(|t| from_text(&t));
    Ok(ApiClient {
        id: r.get(0)?,
        name: r.get(1)?,
        scopes: r
            .get::<_, String>(2)?
            .split_whitespace()
            .filter_map(Scope::parse)
            .collect(),
        created_at: at(r.get(3)?).unwrap_or_default(),
        created_by: r.get(4)?,
        revoked_at: at(r.get(5)?),
        revoked_by: r.get(6)?,
        last_used_at: at(r.get(7)?),
    })
}

impl ApiStore for SqliteJournal {
    fn add_api_client(
        &mut self,
        actor: &Actor,
        name: &str,
        scopes: &[Scope],
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<ApiClient, StoreError> {
        let tx = self.write()?;
        let words: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
        let id: i64 = tx.query_row(
            "INSERT INTO api_clients (name, token_hash, scopes, created_at, created_by)
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
            params![name, token_hash, words.join(" "), ts(now), actor.name],
            |r| r.get(0),
        )?;
        audit_tx(
            &tx,
            actor,
            "add_api_client",
            name,
            &format!("client {id}, scopes: {}", words.join(" ")),
            now,
        )?;
        let made = tx.query_row(
            &format!("SELECT {COLUMNS} FROM api_clients WHERE id = ?1"),
            [id],
            client,
        )?;
        tx.commit()?;
        Ok(made)
    }

    fn api_clients(&self) -> Result<Vec<ApiClient>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM api_clients ORDER BY id DESC"
        ))?;
        let rows = stmt.query_map([], client)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn api_client(&self, token_hash: &str) -> Result<Option<ApiClient>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM api_clients WHERE token_hash = ?1"),
                [token_hash],
                client,
            )
            .optional()?)
    }

    fn revoke_api_client(
        &mut self,
        actor: &Actor,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.write()?;
        let name: Option<String> = tx
            .query_row(
                "UPDATE api_clients SET revoked_at = ?2, revoked_by = ?3
                 WHERE id = ?1 AND revoked_at IS NULL RETURNING name",
                params![id, ts(now), actor.name],
                |r| r.get(0),
            )
            .optional()?;
        let name = name.ok_or_else(|| StoreError::NotFound(format!("active API client {id}")))?;
        audit_tx(
            &tx,
            actor,
            "revoke_api_client",
            &name,
            &format!("client {id}"),
            now,
        )?;
        tx.commit()?;
        Ok(())
    }

    fn api_used(
        &mut self,
        client: &ApiClient,
        what: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.write()?;
        tx.execute(
            "UPDATE api_clients SET last_used_at = ?2 WHERE id = ?1",
            params![client.id, ts(now)],
        )?;
        let actor = Actor {
            user: None,
            login: format!("api:{}", client.id),
            name: client.name.clone(),
        };
        audit_tx(&tx, &actor, "api_read", &client.name, what, now)?;
        tx.commit()?;
        Ok(())
    }
}
