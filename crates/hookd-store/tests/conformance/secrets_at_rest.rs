//! Endpoint secrets at rest, on both backends: the raw columns hold no plaintext key, a
//! main key rotation re-encrypts every secret, a store with the wrong key (or none)
//! refuses to open, and plaintext rows from before encryption get sealed.
//!
//! These checks reopen a database with different keys and read its columns directly, so
//! each backend gets a [`Db`] (a SQLite file, or a PostgreSQL schema) rather than a store.

use crate::fixtures::*;
use crate::pg_schema::{PgSchema, SchemaStore};
use hookd_core::ids::AppId;
use hookd_core::model::{Endpoint, PreviousSecret};
use hookd_core::signing::EndpointSecret;
use hookd_store::postgres::{PostgresOptions, PostgresStore};
use hookd_store::secrets::Keyring;
use hookd_store::sqlite::SqliteStore;
use hookd_store::Store;
use std::path::PathBuf;
use std::sync::Arc;
use tempfile::TempDir;

/// A database that stores can be opened on, one at a time, with any keyring.
pub(crate) enum Db {
    /// The directory (kept until the test ends) and the database file in it.
    Sqlite(#[allow(dead_code)] TempDir, PathBuf),
    Postgres(PgSchema),
}

impl Db {
    fn sqlite() -> Option<Db> {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("hookd.db");
        Some(Db::Sqlite(dir, path))
    }

    async fn postgres() -> Option<Db> {
        Some(Db::Postgres(PgSchema::create().await?))
    }

    pub(crate) async fn open(&self, keyring: Option<Keyring>) -> anyhow::Result<Arc<dyn Store>> {
        match self {
            Db::Sqlite(_, path) => {
                let (path, keys) = (path.clone(), keyring);
                let store = tokio::task::spawn_blocking(move || match keys {
                    Some(keys) => SqliteStore::open_encrypted(&path, keys),
                    None => SqliteStore::open(&path),
                })
                .await??;
                Ok(Arc::new(store))
            }
            Db::Postgres(schema) => {
                let opts = PostgresOptions {
                    keyring,
                    ..schema.options()
                };
                Ok(Arc::new(PostgresStore::connect(&opts).await?))
            }
        }
    }

    /// `(id, secret, previous_secrets)` of every endpoint, as stored.
    async fn raw(&self) -> Vec<(String, String, String)> {
        let sql = "SELECT id, secret, previous_secrets FROM endpoints ORDER BY id";
        match self {
            Db::Sqlite(_, path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                let mut stmt = conn.prepare(sql).unwrap();
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap()
            }
            Db::Postgres(schema) => {
                let admin = schema.admin().await;
                let sql = sql.replace("endpoints", &format!("{}.endpoints", schema.name()));
                admin
                    .query(&sql, &[])
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| (r.get(0), r.get(1), r.get(2)))
                    .collect()
            }
        }
    }
}

impl Db {
    /// The first column of every row of `sql` (a query on one unqualified table name).
    pub(crate) async fn raw_text(&self, sql: &str) -> Vec<String> {
        match self {
            Db::Sqlite(_, path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                let mut stmt = conn.prepare(sql).unwrap();
                stmt.query_map([], |r| r.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap()
            }
            Db::Postgres(schema) => {
                let admin = schema.admin().await;
                admin
                    .execute(&format!("SET search_path TO {}", schema.name()), &[])
                    .await
                    .unwrap();
                let rows = admin.query(sql, &[]).await.unwrap();
                rows.iter().map(|r| r.get(0)).collect()
            }
        }
    }
}

/// A store must be dropped before the next opens (SQLite's lock; PostgreSQL's pool).
pub(crate) async fn reopen(db: &Db, keyring: Option<Keyring>) -> Arc<dyn Store> {
    db.open(keyring).await.expect("the store opens")
}

pub(crate) fn ring(main: u8, previous: &[u8]) -> Keyring {
    Keyring::new(
        main_key(main),
        previous.iter().map(|n| main_key(*n)).collect(),
    )
}

/// An endpoint with an ed25519 key and a previous HMAC key (both kinds sealed).
fn mixed_endpoint(app: &AppId) -> Endpoint {
    let mut ep = endpoint(app, None);
    ep.secret = EndpointSecret::generate_ed25519();
    ep.previous_secrets = vec![PreviousSecret {
        secret: EndpointSecret::generate(),
        expires_at: t(86_400_000),
    }];
    ep
}

/// Every key text of `ep` and its base64 body.
fn plaintexts(ep: &Endpoint) -> Vec<String> {
    std::iter::once(&ep.secret)
        .chain(ep.previous_secrets.iter().map(|p| &p.secret))
        .flat_map(|s| {
            let text = s.expose().to_owned();
            let body = text.split_once('_').unwrap().1.to_owned();
            [text, body]
        })
        .collect()
}

fn assert_sealed_under(raw: &[(String, String, String)], key: u8, eps: &[Endpoint]) {
    let prefix = format!("enc1:{}:", main_key(key).id());
    for (id, secret, previous) in raw {
        assert!(
            secret.starts_with(&prefix),
            "{id}: secret not under key {key}"
        );
        assert!(
            previous.starts_with(&prefix),
            "{id}: previous not under key {key}"
        );
    }
    for ep in eps {
        let (_, secret, previous) = raw.iter().find(|r| r.0 == ep.id.as_str()).unwrap();
        for text in plaintexts(ep) {
            assert!(
                !secret.contains(&text) && !previous.contains(&text),
                "plaintext at rest"
            );
        }
    }
}

async fn check_raw_columns_hold_no_plaintext_secret(db: Db) {
    let store = reopen(&db, Some(ring(1, &[]))).await;
    let app = app(None);
    store.create_app(&app).await.unwrap();
    let (hmac, ed) = (endpoint(&app.id, None), mixed_endpoint(&app.id));
    store.create_endpoint(&hmac).await.unwrap();
    store.create_endpoint(&ed).await.unwrap();
    let mut rotated = hmac.clone();
    rotated.rotate_secret(EndpointSecret::generate_ed25519(), t(1), t(1000));
    store.update_endpoint(&rotated).await.unwrap();
    assert_sealed_under(&db.raw().await, 1, &[rotated.clone(), ed.clone()]);
    assert_eq!(
        store.get_endpoint(&app.id, ed.id.as_str()).await.unwrap(),
        ed
    );
    let mut both = vec![rotated, ed];
    both.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(store.all_endpoints(&app.id).await.unwrap(), both);
}

async fn check_main_key_rotation_reencrypts_every_secret(db: Db) {
    let store = reopen(&db, Some(ring(1, &[]))).await;
    let app = app(None);
    store.create_app(&app).await.unwrap();
    // More than one re-encryption batch.
    let mut eps = Vec::new();
    for i in 0..300 {
        let ep = if i % 2 == 0 {
            endpoint_at(&app.id, t(i), None)
        } else {
            mixed_endpoint(&app.id)
        };
        store.create_endpoint(&ep).await.unwrap();
        eps.push(ep);
    }
    eps.sort_by(|a, b| a.id.cmp(&b.id));
    drop(store);

    // Key 2 is the main key now, key 1 still opens: every row is sealed again under 2.
    let store = reopen(&db, Some(ring(2, &[1]))).await;
    assert_sealed_under(&db.raw().await, 2, &eps);
    assert_eq!(store.all_endpoints(&app.id).await.unwrap(), eps);
    drop(store);

    // Key 1 can go; a node still holding only key 1 is refused.
    let store = reopen(&db, Some(ring(2, &[]))).await;
    assert_eq!(store.all_endpoints(&app.id).await.unwrap(), eps);
    drop(store);
    let err = db
        .open(Some(ring(1, &[])))
        .await
        .err()
        .expect("old key refused");
    let text = format!("{err:#}");
    assert!(text.contains(main_key(2).id()), "{text}");
    assert!(text.contains("main key"), "{text}");
}

async fn check_a_store_with_the_wrong_key_or_none_refuses_to_open(db: Db) {
    let store = reopen(&db, Some(ring(1, &[]))).await;
    drop(store);
    for keys in [Some(ring(3, &[])), Some(ring(3, &[4])), None] {
        let err = db.open(keys).await.err().expect("wrong key refused");
        assert!(format!("{err:#}").contains(main_key(1).id()), "{err:#}");
    }
    reopen(&db, Some(ring(1, &[])))
        .await
        .health()
        .await
        .unwrap();
}

async fn check_plaintext_rows_from_before_encryption_get_sealed(db: Db) {
    let store = reopen(&db, None).await;
    let app = app(None);
    store.create_app(&app).await.unwrap();
    let ep = mixed_endpoint(&app.id);
    store.create_endpoint(&ep).await.unwrap();
    drop(store);
    let raw = db.raw().await;
    assert_eq!(raw[0].1, ep.secret.expose(), "written in plaintext");

    let store = reopen(&db, Some(ring(1, &[]))).await;
    assert_sealed_under(&db.raw().await, 1, std::slice::from_ref(&ep));
    assert_eq!(
        store.get_endpoint(&app.id, ep.id.as_str()).await.unwrap(),
        ep
    );
}

async fn check_source_config_is_sealed_in_its_raw_column(db: Db) {
    let store = reopen(&db, Some(ring(1, &[]))).await;
    let src = crate::sources::source(Some("gh"), t(0));
    store.create_source(&src).await.unwrap();
    let raw = db.raw_text("SELECT config FROM ingest_sources").await;
    assert_eq!(raw.len(), 1);
    assert!(raw[0].starts_with("enc1:"), "the config is sealed");
    assert!(
        !raw[0].contains("gh-very-secret-value"),
        "no plaintext secret"
    );
    assert_eq!(store.get_source("gh").await.unwrap(), src);
    drop(store);
    // A main key rotation re-encrypts the config too: the old key can then be dropped.
    let rotated = reopen(&db, Some(ring(2, &[1]))).await;
    assert_eq!(rotated.get_source("gh").await.unwrap(), src);
    drop(rotated);
    let resealed = db.raw_text("SELECT config FROM ingest_sources").await;
    assert_ne!(resealed, raw, "sealed again under the new main key");
    let only_new = reopen(&db, Some(ring(2, &[]))).await;
    assert_eq!(only_new.get_source("gh").await.unwrap(), src);
}

macro_rules! both_backends {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    super::$check(super::Db::sqlite().unwrap()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let Some(db) = super::Db::postgres().await else { return };
                    super::$check(db).await;
                }
            )*
        }
    };
}

use crate::credentials_at_rest::{
    check_credential_headers_and_receive_tokens_are_sealed_and_follow_rotation,
    check_credentials_written_before_sealing_are_sealed_at_open,
};

both_backends!(
    check_credential_headers_and_receive_tokens_are_sealed_and_follow_rotation,
    check_credentials_written_before_sealing_are_sealed_at_open,
    check_raw_columns_hold_no_plaintext_secret,
    check_main_key_rotation_reencrypts_every_secret,
    check_a_store_with_the_wrong_key_or_none_refuses_to_open,
    check_plaintext_rows_from_before_encryption_get_sealed,
    check_source_config_is_sealed_in_its_raw_column,
);

/// Two nodes starting at once on an empty database with different main keys: exactly
/// one of them may start, so no secret is ever written under two keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_nodes_racing_with_different_keys_on_an_empty_database_one_refuses() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let opts = |n| PostgresOptions {
        keyring: Some(ring(n, &[])),
        ..schema.options()
    };
    let (five, six) = (opts(5), opts(6));
    let (a, b) = tokio::join!(PostgresStore::connect(&five), PostgresStore::connect(&six));
    assert!(a.is_ok() != b.is_ok(), "exactly one node starts");
}
