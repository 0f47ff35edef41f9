//! Credentials other than signing keys at rest, on both backends: custom header values
//! that are credentials, ingest receive tokens (current and previous) and a stored
//! idempotent response holding a receive URL appear nowhere in
//! the database as stored (every byte of the SQLite files, a `pg_dump` of the schema and
//! every row as text), reads and token lookups still work, a main key rotation re-seals and
//! re-hashes them, and rows written before they were sealed are converted at open.
//!
//! A shown header value is written as a marker too and must be found: it proves the scan
//! reads what is stored.

use crate::fixtures::*;
use crate::secrets_at_rest::{reopen, ring, Db};
use hookd_core::model::{Endpoint, IngestSource, PreviousToken};
use hookd_store::{IdempotencyClaim, IdempotencyReservation, Store, StoreError};

/// The markers of one test run: credentials that must not be found, and a shown value
/// that must.
struct Markers {
    auth: String,
    api_key: String,
    token: String,
    previous: String,
    shown: String,
}

impl Markers {
    fn new() -> Self {
        let run = format!("{:016x}", rand::random::<u64>());
        Self {
            auth: format!("Bearer mk-auth-{run}"),
            api_key: format!("mk-apikey-{run}"),
            token: format!("mk-token-{run}"),
            previous: format!("mk-prevtoken-{run}"),
            shown: format!("mk-shown-{run}"),
        }
    }

    fn secrets(&self) -> [&str; 4] {
        [&self.auth, &self.api_key, &self.token, &self.previous]
    }
}

/// An endpoint carrying two credential headers and a shown one.
fn endpoint_with_headers(app: &hookd_core::ids::AppId, m: &Markers) -> Endpoint {
    let mut ep = endpoint(app, None);
    ep.headers = [
        ("Authorization".to_owned(), m.auth.clone()),
        ("X-Api-Key".to_owned(), m.api_key.clone()),
        ("X-Team".to_owned(), m.shown.clone()),
    ]
    .into();
    ep
}

/// A source on the marker token, its previous token accepted until `t(10_000)`.
fn source_with_tokens(m: &Markers) -> IngestSource {
    let mut src = crate::sources::source(Some("marked"), t(0));
    src.token = m.token.clone();
    src.previous_token = Some(PreviousToken {
        token: m.previous.clone(),
        expires_at: t(10_000),
    });
    src
}

impl Db {
    /// Everything the database holds as stored: every file of the SQLite directory (the
    /// database, its WAL and shared memory) after a truncating checkpoint; or a `pg_dump`
    /// of the schema plus every row of its tables as text.
    async fn stored_bytes(&self) -> Vec<u8> {
        match self {
            Db::Sqlite(_, path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                    .unwrap();
                drop(conn);
                let mut bytes = Vec::new();
                for entry in std::fs::read_dir(path.parent().unwrap()).unwrap() {
                    bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
                }
                bytes
            }
            Db::Postgres(schema) => {
                let dump = std::process::Command::new("pg_dump")
                    .args(["--schema", schema.name(), "--dbname", schema.base_url()])
                    .output()
                    .expect("pg_dump runs (it comes with PostgreSQL)");
                assert!(dump.status.success(), "pg_dump failed: {dump:?}");
                let mut bytes = dump.stdout;
                let admin = schema.admin().await;
                let tables = admin
                    .query(
                        "SELECT table_name::text FROM information_schema.tables
                         WHERE table_schema = $1",
                        &[&schema.name()],
                    )
                    .await
                    .unwrap();
                for table in tables {
                    let table: String = table.get(0);
                    let sql = format!("SELECT t::text FROM {}.{table} t", schema.name());
                    for row in admin.query(&sql, &[]).await.unwrap() {
                        bytes.extend(row.get::<_, String>(0).into_bytes());
                        bytes.push(b'\n');
                    }
                }
                bytes
            }
        }
    }

    /// Asserts that no credential marker is stored and the shown one is.
    async fn assert_only_shown_stored(&self, m: &Markers) {
        let bytes = self.stored_bytes().await;
        let found = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        assert!(found(&m.shown), "the scan finds a shown header value");
        for secret in m.secrets() {
            assert!(!found(secret), "{secret:?} is stored in plain text");
        }
    }
}

/// The idempotency key whose stored response carries the marker token.
const IDEM_KEY: &str = "principal:create-source";

/// The response `POST` source would store: it shows the receive URL.
fn response(m: &Markers) -> Vec<u8> {
    format!(r#"{{"ingestUrl":"http://127.0.0.1/ingest/{}"}}"#, m.token).into_bytes()
}

/// Stores [`response`] under [`IDEM_KEY`].
async fn store_response(store: &dyn Store, m: &Markers) {
    let claim = IdempotencyClaim {
        key: IDEM_KEY.into(),
        fingerprint: "f".into(),
        token: "holder".into(),
        now: t(0),
        locked_until: t(5_000),
        expires_at: t(86_400_000),
    };
    let reserved = store.reserve_idempotency_key(&claim).await.unwrap();
    assert_eq!(reserved, IdempotencyReservation::Reserved);
    assert!(store
        .complete_idempotency_key(IDEM_KEY, "holder", 201, &response(m))
        .await
        .unwrap());
}

/// The stored response reads back as it was, from a lookup and from a reservation.
async fn assert_response_reads(store: &dyn Store, m: &Markers) {
    let record = store
        .get_idempotency_key(IDEM_KEY, t(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.response, Some((201, response(m))));
    let retry = IdempotencyClaim {
        key: IDEM_KEY.into(),
        fingerprint: "f".into(),
        token: "retry".into(),
        now: t(1),
        locked_until: t(5_000),
        expires_at: t(86_400_000),
    };
    match store.reserve_idempotency_key(&retry).await.unwrap() {
        IdempotencyReservation::Existing(r) => assert_eq!(r.response, record.response),
        other => panic!("the key is held: {other:?}"),
    }
}

/// The token lookups: current and previous find the source, an expired previous does not.
async fn assert_tokens_work(store: &dyn Store, src: &IngestSource, m: &Markers) {
    assert_eq!(
        store.get_source_by_token(&m.token, t(0)).await.unwrap(),
        *src
    );
    assert_eq!(
        store.get_source_by_token(&m.previous, t(0)).await.unwrap(),
        *src
    );
    assert!(matches!(
        store.get_source_by_token(&m.previous, t(10_000)).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.get_source_by_token("mk-unknown", t(0)).await,
        Err(StoreError::NotFound)
    ));
}

/// The sealed cells, each under main key `key`.
async fn assert_sealed_under(db: &Db, key: u8) {
    let prefix = format!("enc1:{}:", main_key(key).id());
    let cells = [
        "SELECT sealed_headers FROM endpoints",
        "SELECT token FROM ingest_sources",
        "SELECT previous_token FROM ingest_sources",
    ];
    for sql in cells {
        for cell in db.raw_text(sql).await {
            assert!(cell.starts_with(&prefix), "{sql}: not under key {key}");
        }
    }
    let response = match db {
        Db::Sqlite(..) => "SELECT CAST(response AS TEXT) FROM idempotency_keys",
        Db::Postgres(_) => "SELECT convert_from(response, 'UTF8') FROM idempotency_keys",
    };
    for cell in db.raw_text(response).await {
        assert!(
            cell.starts_with(&prefix),
            "stored response not under key {key}"
        );
    }
    let hash = format!("hmac1:{}:", main_key(key).id());
    for sql in [
        "SELECT token_hash FROM ingest_sources",
        "SELECT previous_token_hash FROM ingest_sources",
    ] {
        for cell in db.raw_text(sql).await {
            assert!(cell.starts_with(&hash), "{sql}: not hashed under key {key}");
        }
    }
}

pub async fn check_credential_headers_and_receive_tokens_are_sealed_and_follow_rotation(db: Db) {
    let m = Markers::new();
    let store = reopen(&db, Some(ring(1, &[]))).await;
    let app = app(None);
    store.create_app(&app).await.unwrap();
    let ep = endpoint_with_headers(&app.id, &m);
    store.create_endpoint(&ep).await.unwrap();
    let src = source_with_tokens(&m);
    store.create_source(&src).await.unwrap();
    // Read back exactly as written: the API and delivery see the same headers.
    assert_eq!(
        store.get_endpoint(&app.id, ep.id.as_str()).await.unwrap(),
        ep
    );
    assert_eq!(store.get_source("marked").await.unwrap(), src);
    assert_tokens_work(&*store, &src, &m).await;
    store_response(&*store, &m).await;
    assert_response_reads(&*store, &m).await;
    drop(store);
    db.assert_only_shown_stored(&m).await;
    assert_sealed_under(&db, 1).await;

    // Rotation: key 2 seals, key 1 still opens; every cell is sealed and hashed again.
    let store = reopen(&db, Some(ring(2, &[1]))).await;
    assert_tokens_work(&*store, &src, &m).await;
    drop(store);
    assert_sealed_under(&db, 2).await;
    db.assert_only_shown_stored(&m).await;

    // Key 1 gone: the hashes under key 2 alone still find the tokens.
    let store = reopen(&db, Some(ring(2, &[]))).await;
    assert_tokens_work(&*store, &src, &m).await;
    assert_response_reads(&*store, &m).await;
    assert_eq!(
        store.all_endpoints(&app.id).await.unwrap(),
        vec![ep.clone()]
    );
}

pub async fn check_credentials_written_before_sealing_are_sealed_at_open(db: Db) {
    let m = Markers::new();
    let store = reopen(&db, Some(ring(1, &[]))).await;
    let app = app(None);
    store.create_app(&app).await.unwrap();
    let ep = endpoint_with_headers(&app.id, &m);
    store.create_endpoint(&ep).await.unwrap();
    let src = source_with_tokens(&m);
    store.create_source(&src).await.unwrap();
    store_response(&*store, &m).await;
    drop(store);

    // The rows as an older hookd wrote them: every header in `headers`, tokens in plain
    // text without lookup hashes, a stored response in the clear.
    let headers = serde_json::to_string(&ep.headers).unwrap();
    db.raw_execute(&format!(
        "UPDATE endpoints SET headers = '{headers}', sealed_headers = NULL"
    ))
    .await;
    db.raw_execute(&format!(
        "UPDATE ingest_sources SET token = '{}', token_hash = NULL, previous_token = '{}',
         previous_token_hash = NULL",
        m.token, m.previous
    ))
    .await;
    let plain = String::from_utf8(response(&m)).unwrap();
    db.raw_execute(&match db {
        Db::Sqlite(..) => format!("UPDATE idempotency_keys SET response = CAST('{plain}' AS BLOB)"),
        Db::Postgres(_) => {
            format!("UPDATE idempotency_keys SET response = convert_to('{plain}', 'UTF8')")
        }
    })
    .await;

    let store = reopen(&db, Some(ring(1, &[]))).await;
    assert_eq!(
        store.get_endpoint(&app.id, ep.id.as_str()).await.unwrap(),
        ep
    );
    assert_tokens_work(&*store, &src, &m).await;
    assert_response_reads(&*store, &m).await;
    drop(store);
    assert_sealed_under(&db, 1).await;
    db.assert_only_shown_stored(&m).await;
}

impl Db {
    /// Runs one statement on the stored tables directly (no store open).
    async fn raw_execute(&self, sql: &str) {
        match self {
            Db::Sqlite(_, path) => {
                rusqlite::Connection::open(path)
                    .unwrap()
                    .execute_batch(sql)
                    .unwrap();
            }
            Db::Postgres(schema) => {
                let admin = schema.admin().await;
                admin
                    .batch_execute(&format!("SET search_path TO {}; {sql}", schema.name()))
                    .await
                    .unwrap();
            }
        }
    }
}
