//! The embedded backend: one SQLite file in the router's data directory.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use sqlx::error::ErrorKind;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::Row;

use crate::{
    audit_outcome, Account, ApiKey, AuditRecord, AuditTally, BallotRecord, Claim, ClaimFilter,
    ClaimRecord, ClientPrefix, CouncilTermRecord, ElectionRecord, EvidenceRecord, KnownObject,
    LedgerEntry, NewSite, PrefixUsage, QueryMode, Released, Result, Reviewed, RoundRecord,
    SignedBatch, Site, SiteHour, SlashRecord, Store, StoreError, TerminalRecord,
    TerminalRegistration, TerminalState, UsageEvidence, UsageOutcome, UsageRecord, UsageState,
    UsageStatus, UsageSum, UsageTotals, VoteRecord, WithheldRecord, WithheldSelector,
    WithheldState,
};

mod council;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// Readers run in parallel under WAL while one connection writes; a handful covers a router's concurrency
/// without holding many file handles and page caches.
const MAX_CONNECTIONS: u32 = 8;

/// How long a statement waits for another connection's write lock before failing. Commits are
/// milliseconds even with fsync, so reaching this means something is stuck.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const SITE_COLUMNS: &str = "id, account_id, host, origin, default_ttl_secs, query_mode, created_at";
const TERMINAL_COLUMNS: &str = "node_id, public_url, capacity_bytes, region, lat, lon, \
                                hardware_json, state, registered_at, updated_at";

/// [`Store`] on a SQLite database file; see the crate documentation for the schema and settings.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens the database at `path`, creating the file (not its directory) if missing, and brings its schema
    /// up to date.
    pub async fn open(path: &Path) -> Result<Self> {
        let open_error = |reason: String| StoreError::Open {
            path: path.to_owned(),
            reason,
        };
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        // Connecting applies the pragmas, so a file that is not a database fails here rather than later.
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(|e| open_error(e.to_string()))?;
        if let Err(e) = MIGRATOR.run(&pool).await {
            pool.close().await;
            return Err(open_error(format!("migrating: {e}")));
        }
        Ok(Self { pool })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_account(&self, name: &str) -> Result<Account> {
        let created_at = now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO accounts (name, created_at) VALUES (?, ?) RETURNING id",
        )
        .bind(name)
        .bind(to_sql(created_at, "time")?)
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        Ok(Account {
            id,
            name: name.to_owned(),
            created_at,
        })
    }

    async fn add_api_key(
        &self,
        account_id: i64,
        key_hash: [u8; 32],
        label: &str,
    ) -> Result<ApiKey> {
        let created_at = now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO api_keys (key_hash, account_id, label, created_at) VALUES (?, ?, ?, ?) RETURNING id",
        )
        .bind(&key_hash[..])
        .bind(account_id)
        .bind(label)
        .bind(to_sql(created_at, "time")?)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| {
            constraint(
                e,
                Some("this API key is already registered".to_owned()),
                Some(format!("account {account_id}")),
            )
        })?;
        Ok(ApiKey {
            id,
            account_id,
            label: label.to_owned(),
            created_at,
        })
    }

    async fn list_api_keys(&self, account_id: i64) -> Result<Vec<ApiKey>> {
        let rows =
            sqlx::query("SELECT id, account_id, label, created_at FROM api_keys WHERE account_id = ? ORDER BY id")
                .bind(account_id)
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
        rows.iter()
            .map(|row| {
                Ok(ApiKey {
                    id: get(row, "id")?,
                    account_id: get(row, "account_id")?,
                    label: get(row, "label")?,
                    created_at: get_u64(row, "created_at")?,
                })
            })
            .collect()
    }

    async fn revoke_api_key(&self, account_id: i64, key_id: i64) -> Result<()> {
        let done = sqlx::query("DELETE FROM api_keys WHERE id = ? AND account_id = ?")
            .bind(key_id)
            .bind(account_id)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "API key {key_id} of account {account_id}"
            )));
        }
        Ok(())
    }

    async fn account_by_key_hash(&self, key_hash: [u8; 32]) -> Result<Option<Account>> {
        let row = sqlx::query(
            "SELECT a.id, a.name, a.created_at FROM api_keys k JOIN accounts a ON a.id = k.account_id \
             WHERE k.key_hash = ?",
        )
        .bind(&key_hash[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.map(|row| {
            Ok(Account {
                id: get(&row, "id")?,
                name: get(&row, "name")?,
                created_at: get_u64(&row, "created_at")?,
            })
        })
        .transpose()
    }

    async fn add_site(&self, site: NewSite) -> Result<Site> {
        let host = site.host.to_ascii_lowercase();
        let created_at = now();
        let ttl = site
            .default_ttl_secs
            .map(|t| to_sql(t, "default TTL"))
            .transpose()?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO sites (account_id, host, origin, default_ttl_secs, query_mode, created_at) \
             VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(site.account_id)
        .bind(&host)
        .bind(&site.origin)
        .bind(ttl)
        .bind(QueryMode::as_str(site.query_mode))
        .bind(to_sql(created_at, "time")?)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| {
            constraint(
                e,
                Some(format!("host {host} is already registered")),
                Some(format!("account {}", site.account_id)),
            )
        })?;
        Ok(Site {
            id,
            account_id: site.account_id,
            host,
            origin: site.origin,
            default_ttl_secs: site.default_ttl_secs,
            query_mode: site.query_mode,
            created_at,
        })
    }

    async fn site_by_host(&self, host: &str) -> Result<Option<Site>> {
        let row = sqlx::query(&format!("SELECT {SITE_COLUMNS} FROM sites WHERE host = ?"))
            .bind(host.to_ascii_lowercase())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(site_from_row).transpose()
    }

    async fn list_sites(&self, account_id: i64) -> Result<Vec<Site>> {
        let rows = sqlx::query(&format!(
            "SELECT {SITE_COLUMNS} FROM sites WHERE account_id = ? ORDER BY id"
        ))
        .bind(account_id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(site_from_row).collect()
    }

    async fn list_all_sites(&self) -> Result<Vec<Site>> {
        let rows = sqlx::query(&format!("SELECT {SITE_COLUMNS} FROM sites ORDER BY id"))
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(site_from_row).collect()
    }

    async fn remove_site(&self, account_id: i64, host: &str) -> Result<()> {
        let host = host.to_ascii_lowercase();
        let done = sqlx::query("DELETE FROM sites WHERE account_id = ? AND host = ?")
            .bind(account_id)
            .bind(&host)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "site {host} of account {account_id}"
            )));
        }
        Ok(())
    }

    async fn upsert_terminal(&self, registration: TerminalRegistration) -> Result<TerminalRecord> {
        let t = registration;
        let now = to_sql(now(), "time")?;
        let row = sqlx::query(&format!(
            "INSERT INTO terminals (node_id, short_id, public_url, capacity_bytes, region, lat, lon, \
             hardware_json, state, registered_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (node_id) DO UPDATE SET public_url = excluded.public_url, \
             capacity_bytes = excluded.capacity_bytes, region = excluded.region, lat = excluded.lat, \
             lon = excluded.lon, hardware_json = excluded.hardware_json, updated_at = excluded.updated_at \
             RETURNING {TERMINAL_COLUMNS}"
        ))
        .bind(&t.node_id[..])
        .bind(&t.node_id[..8])
        .bind(&t.public_url)
        .bind(to_sql(t.capacity_bytes, "capacity")?)
        .bind(&t.region)
        .bind(t.lat)
        .bind(t.lon)
        .bind(&t.hardware_json)
        .bind(terminal_state_name(TerminalState::Admitted))
        .bind(now)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| {
            constraint(
                e,
                Some("another terminal has the same short id (first 8 bytes of its node id)".to_owned()),
                None,
            )
        })?;
        terminal_from_row(&row)
    }

    async fn terminal(&self, node_id: [u8; 32]) -> Result<Option<TerminalRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {TERMINAL_COLUMNS} FROM terminals WHERE node_id = ?"
        ))
        .bind(&node_id[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(terminal_from_row).transpose()
    }

    async fn list_terminals(&self) -> Result<Vec<TerminalRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {TERMINAL_COLUMNS} FROM terminals ORDER BY registered_at, node_id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(terminal_from_row).collect()
    }

    async fn set_terminal_state(&self, node_id: [u8; 32], state: TerminalState) -> Result<()> {
        let done = sqlx::query("UPDATE terminals SET state = ?, updated_at = ? WHERE node_id = ?")
            .bind(terminal_state_name(state))
            .bind(to_sql(now(), "time")?)
            .bind(&node_id[..])
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("terminal {}", hex(&node_id))));
        }
        Ok(())
    }

    async fn record_usage(
        &self,
        records: &[(UsageRecord, UsageState)],
        batch: Option<&SignedBatch>,
    ) -> Result<UsageOutcome> {
        if records.is_empty() {
            return Ok(UsageOutcome::default());
        }
        // Refuse the whole batch before writing anything rather than half of it.
        let values = records
            .iter()
            .map(|(r, state)| {
                if r.hits > r.requests {
                    return Err(StoreError::Invalid(format!(
                        "usage serial {}: {} hits out of {} requests",
                        r.serial, r.hits, r.requests
                    )));
                }
                if *state != UsageState::Accepted && batch.is_none() {
                    return Err(StoreError::Invalid(format!(
                        "usage serial {}: a {} record needs its signed batch",
                        r.serial,
                        state.as_str()
                    )));
                }
                let judged = match state {
                    UsageState::Inflated { size } => Some(to_sql(*size, "size")?),
                    _ => None,
                };
                Ok((
                    to_sql(r.bytes, "bytes")?,
                    to_sql(r.served_at, "served_at")?,
                    to_sql(r.requests, "requests")?,
                    to_sql(r.hits, "hits")?,
                    judged,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let accepted_at = to_sql(now(), "time")?;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(backend)?;
        let batch_hash = match batch {
            Some(b) => {
                sqlx::query(
                    "INSERT INTO usage_batches (hash, terminal, signed, received_at) VALUES (?, ?, ?, ?) \
                     ON CONFLICT (hash) DO NOTHING",
                )
                .bind(&b.hash[..])
                .bind(&b.terminal[..])
                .bind(&b.signed)
                .bind(accepted_at)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                Some(b.hash.to_vec())
            }
            None => None,
        };
        let mut statuses = Vec::with_capacity(records.len());
        for ((record, state), (bytes, served_at, requests, hits, judged)) in
            records.iter().zip(values)
        {
            let done = sqlx::query(
                "INSERT INTO usage_records (serial, terminal, site_id, object_key, bytes, served_at, accepted_at, requests, hits, state, batch, judged_size, client_prefix, version) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (serial) DO NOTHING",
            )
            .bind(serial_to_sql(record.serial))
            .bind(&record.terminal[..])
            .bind(record.site_id)
            .bind(&record.object_key[..])
            .bind(bytes)
            .bind(served_at)
            .bind(accepted_at)
            .bind(requests)
            .bind(hits)
            .bind(state.as_str())
            .bind(&batch_hash)
            .bind(judged)
            .bind(record.client_prefix.map(|p| p.to_string()))
            .bind(&record.version)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            statuses.push(match (done.rows_affected(), state) {
                (0, _) => {
                    // The same numbers again are a resent record; others are a second claim.
                    let same: Option<i64> = sqlx::query_scalar(
                        "SELECT 1 FROM usage_records WHERE serial = ? AND terminal = ? AND bytes = ? \
                         AND requests = ? AND hits = ? AND served_at = ? AND version IS ?",
                    )
                    .bind(serial_to_sql(record.serial))
                    .bind(&record.terminal[..])
                    .bind(bytes)
                    .bind(requests)
                    .bind(hits)
                    .bind(served_at)
                    .bind(&record.version)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend)?;
                    match same {
                        Some(_) => UsageStatus::Duplicate,
                        None => UsageStatus::Conflict,
                    }
                }
                (_, UsageState::Accepted) => UsageStatus::Accepted,
                (_, UsageState::Held) => UsageStatus::Held,
                (_, UsageState::Inflated { .. }) => UsageStatus::Inflated,
            });
        }
        tx.commit().await.map_err(backend)?;
        Ok(UsageOutcome { statuses })
    }

    async fn usage_evidence(&self, terminal: [u8; 32], limit: usize) -> Result<Vec<UsageEvidence>> {
        let rows = sqlx::query(
            "SELECT u.serial, u.site_id, u.object_key, u.bytes, u.judged_size, b.signed, b.received_at \
             FROM usage_records u JOIN usage_batches b ON b.hash = u.batch \
             WHERE u.terminal = ? AND u.state = 'inflated' ORDER BY b.received_at DESC, u.serial LIMIT ?",
        )
        .bind(&terminal[..])
        .bind(limit_sql(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|row| {
                let serial: i64 = get(row, "serial")?;
                Ok(UsageEvidence {
                    serial: serial as u64,
                    site_id: get(row, "site_id")?,
                    object_key: blob(row, "object_key")?,
                    claimed: get_u64(row, "bytes")?,
                    size: get_u64(row, "judged_size")?,
                    signed_batch: get(row, "signed")?,
                    received_at: get_u64(row, "received_at")?,
                })
            })
            .collect()
    }

    async fn claim(&self, serial: u64) -> Result<Option<Claim>> {
        let row = sqlx::query(
            "SELECT u.serial, u.terminal, u.site_id, u.object_key, u.bytes, u.requests, u.hits, u.served_at, \
             u.version, u.client_prefix, u.state, b.signed FROM usage_records u LEFT JOIN usage_batches b ON b.hash = u.batch \
             WHERE u.serial = ?",
        )
        .bind(serial_to_sql(serial))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.map(|row| {
            let serial: i64 = get(&row, "serial")?;
            Ok(Claim {
                record: UsageRecord {
                    serial: serial as u64,
                    terminal: blob(&row, "terminal")?,
                    site_id: get(&row, "site_id")?,
                    object_key: blob(&row, "object_key")?,
                    bytes: get_u64(&row, "bytes")?,
                    requests: get_u64(&row, "requests")?,
                    hits: get_u64(&row, "hits")?,
                    served_at: get_u64(&row, "served_at")?,
                    version: get(&row, "version")?,
                    client_prefix: prefix(&row)?,
                },
                state: get(&row, "state")?,
                signed_batch: get(&row, "signed")?,
            })
        })
        .transpose()
    }

    async fn held_objects(&self, limit: usize) -> Result<Vec<(i64, [u8; 16])>> {
        let rows = sqlx::query(
            "SELECT DISTINCT site_id, object_key FROM usage_records WHERE state = 'held' LIMIT ?",
        )
        .bind(limit_sql(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|row| Ok((get(row, "site_id")?, blob(row, "object_key")?)))
            .collect()
    }

    async fn record_rejections(&self, terminal: [u8; 32], reason: &str, count: u64) -> Result<()> {
        sqlx::query(
            "INSERT INTO usage_rejections (terminal, reason, count) VALUES (?, ?, ?) \
             ON CONFLICT (terminal, reason) DO UPDATE SET count = usage_rejections.count + excluded.count",
        )
        .bind(&terminal[..])
        .bind(reason)
        .bind(to_sql(count, "count")?)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn rejections(&self, terminal: [u8; 32]) -> Result<Vec<(String, u64)>> {
        let rows = sqlx::query(
            "SELECT reason, count FROM usage_rejections WHERE terminal = ? ORDER BY reason",
        )
        .bind(&terminal[..])
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|row| Ok((get(row, "reason")?, get_u64(row, "count")?)))
            .collect()
    }

    async fn usage_by_site_hour(&self, site_id: i64, from: u64, to: u64) -> Result<Vec<SiteHour>> {
        // served_at is never negative, so integer division floors.
        let rows = sqlx::query(
            "SELECT served_at / 3600 * 3600 AS hour_start, COUNT(*) AS tickets, SUM(requests) AS requests, \
             SUM(hits) AS hits, SUM(bytes) AS bytes \
             FROM usage_records WHERE site_id = ? AND served_at >= ? AND served_at < ? AND state = 'accepted' \
             GROUP BY hour_start ORDER BY hour_start",
        )
        .bind(site_id)
        .bind(bound(from))
        .bind(bound(to))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|row| {
                Ok(SiteHour {
                    hour_start: get_u64(row, "hour_start")?,
                    tickets: get_u64(row, "tickets")?,
                    requests: get_u64(row, "requests")?,
                    hits: get_u64(row, "hits")?,
                    bytes: get_u64(row, "bytes")?,
                })
            })
            .collect()
    }

    async fn usage_by_terminal(
        &self,
        terminal: [u8; 32],
        from: u64,
        to: u64,
    ) -> Result<UsageTotals> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS tickets, COALESCE(SUM(bytes), 0) AS bytes FROM usage_records \
             WHERE terminal = ? AND served_at >= ? AND served_at < ? AND state = 'accepted'",
        )
        .bind(&terminal[..])
        .bind(bound(from))
        .bind(bound(to))
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        Ok(UsageTotals {
            tickets: get_u64(&row, "tickets")?,
            bytes: get_u64(&row, "bytes")?,
        })
    }

    async fn record_object(&self, object: &KnownObject) -> Result<Released> {
        let size = to_sql(object.size, "size")?;
        let learned_at = to_sql(object.learned_at, "time")?;
        let slice_roots: Vec<u8> = object.slice_roots.concat();
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(backend)?;
        sqlx::query(
            "INSERT INTO object_roots (site_id, object_key, version, path, size, root, slice_roots, source, learned_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (site_id, object_key, version) DO UPDATE SET \
             path = excluded.path, size = excluded.size, root = excluded.root, slice_roots = excluded.slice_roots, \
             source = excluded.source, learned_at = excluded.learned_at \
             WHERE object_roots.source <> 'origin' OR excluded.source = 'origin'",
        )
        .bind(object.site_id)
        .bind(&object.object_key[..])
        .bind(&object.version)
        .bind(&object.path)
        .bind(size)
        .bind(&object.root[..])
        .bind(slice_roots)
        .bind(object.source.as_str())
        .bind(learned_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| constraint(e, None, Some(format!("site {}", object.site_id))))?;
        let max: i64 = sqlx::query_scalar(
            "SELECT MAX(size) FROM object_roots WHERE site_id = ? AND object_key = ?",
        )
        .bind(object.site_id)
        .bind(&object.object_key[..])
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        // A record naming this version is judged against its size, any other against the largest.
        const LIMIT: &str = "CASE WHEN version = ?1 THEN ?2 ELSE ?3 END";
        let over_version: Vec<i64> = sqlx::query_scalar(
            "SELECT serial FROM usage_records WHERE site_id = ?4 AND object_key = ?5 AND state = 'held' \
             AND version = ?1 AND bytes > ?2 ORDER BY serial",
        )
        .bind(&object.version)
        .bind(size)
        .bind(max)
        .bind(object.site_id)
        .bind(&object.object_key[..])
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let accepted = sqlx::query(&format!(
            "UPDATE usage_records SET state = 'accepted', accepted_at = ?6 \
             WHERE site_id = ?4 AND object_key = ?5 AND state = 'held' AND bytes <= {LIMIT}"
        ))
        .bind(&object.version)
        .bind(size)
        .bind(max)
        .bind(object.site_id)
        .bind(&object.object_key[..])
        .bind(to_sql(now(), "time")?)
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected();
        let inflated = sqlx::query(&format!(
            "UPDATE usage_records SET state = 'inflated', judged_size = {LIMIT} \
             WHERE site_id = ?4 AND object_key = ?5 AND state = 'held' AND bytes > {LIMIT}"
        ))
        .bind(&object.version)
        .bind(size)
        .bind(max)
        .bind(object.site_id)
        .bind(&object.object_key[..])
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected();
        tx.commit().await.map_err(backend)?;
        Ok(Released {
            accepted,
            inflated,
            over_version: over_version.into_iter().map(|s| s as u64).collect(),
        })
    }

    async fn object_size(&self, site_id: i64, object_key: [u8; 16]) -> Result<Option<u64>> {
        let size: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(size) FROM object_roots WHERE site_id = ? AND object_key = ?",
        )
        .bind(site_id)
        .bind(&object_key[..])
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        size.map(|s| from_sql(s, "size")).transpose()
    }

    async fn object_version(
        &self,
        site_id: i64,
        object_key: [u8; 16],
        version: &str,
    ) -> Result<Option<KnownObject>> {
        let row = sqlx::query(&format!(
            "SELECT {OBJECT_COLUMNS} FROM object_roots WHERE site_id = ? AND object_key = ? AND version = ?"
        ))
        .bind(site_id)
        .bind(&object_key[..])
        .bind(version)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(known_object_from_row).transpose()
    }

    async fn known_objects(&self, object_key: [u8; 16]) -> Result<Vec<KnownObject>> {
        let rows = sqlx::query(&format!(
            "SELECT {OBJECT_COLUMNS} FROM object_roots WHERE object_key = ? ORDER BY learned_at DESC"
        ))
        .bind(&object_key[..])
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(known_object_from_row).collect()
    }

    async fn list_known_objects(&self, site_id: i64, limit: usize) -> Result<Vec<KnownObject>> {
        let rows = sqlx::query(&format!(
            "SELECT {OBJECT_COLUMNS} FROM object_roots WHERE site_id = ? ORDER BY learned_at DESC, path LIMIT ?"
        ))
        .bind(site_id)
        .bind(limit_sql(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(known_object_from_row).collect()
    }

    async fn record_audit(&self, audit: &AuditRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO audits (terminal, epoch, at, root, chunk_group, outcome, detail, evidence) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&audit.terminal[..])
        .bind(to_sql(audit.epoch, "epoch")?)
        .bind(to_sql(audit.at, "time")?)
        .bind(&audit.root[..])
        .bind(to_sql(audit.group, "chunk group")?)
        .bind(audit.outcome.as_str())
        .bind(&audit.detail)
        .bind(&audit.evidence)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn audit_tallies(
        &self,
        terminal: Option<[u8; 32]>,
        from_epoch: u64,
    ) -> Result<Vec<([u8; 32], AuditTally)>> {
        let rows = sqlx::query(
            "SELECT terminal, epoch, outcome, COUNT(*) AS n FROM audits \
             WHERE (?1 IS NULL OR terminal = ?1) AND epoch >= ?2 \
             GROUP BY terminal, epoch, outcome ORDER BY terminal, epoch",
        )
        .bind(terminal.map(|t| t.to_vec()))
        .bind(bound(from_epoch))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let mut out: Vec<([u8; 32], AuditTally)> = Vec::new();
        for row in &rows {
            let terminal: [u8; 32] = blob(row, "terminal")?;
            let epoch = get_u64(row, "epoch")?;
            let outcome: String = get(row, "outcome")?;
            if out
                .last()
                .is_none_or(|(t, tally)| *t != terminal || tally.epoch != epoch)
            {
                out.push((
                    terminal,
                    AuditTally {
                        epoch,
                        ..AuditTally::default()
                    },
                ));
            }
            if let Some((_, tally)) = out.last_mut() {
                tally.add(audit_outcome(&outcome)?, get_u64(row, "n")?);
            }
        }
        Ok(out)
    }

    async fn audits(
        &self,
        terminal: [u8; 32],
        limit: usize,
        with_evidence: bool,
    ) -> Result<Vec<AuditRecord>> {
        let filter = if with_evidence {
            "AND evidence IS NOT NULL"
        } else {
            ""
        };
        let rows = sqlx::query(&format!(
            "SELECT terminal, epoch, at, root, chunk_group, outcome, detail, evidence FROM audits \
             WHERE terminal = ? {filter} ORDER BY id DESC LIMIT ?"
        ))
        .bind(&terminal[..])
        .bind(limit_sql(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|row| {
                let outcome: String = get(row, "outcome")?;
                Ok(AuditRecord {
                    terminal: blob(row, "terminal")?,
                    epoch: get_u64(row, "epoch")?,
                    at: get_u64(row, "at")?,
                    root: blob(row, "root")?,
                    group: get_u64(row, "chunk_group")?,
                    outcome: audit_outcome(&outcome)?,
                    detail: get(row, "detail")?,
                    evidence: get(row, "evidence")?,
                })
            })
            .collect()
    }

    async fn record_evidence(&self, e: &EvidenceRecord) -> Result<Option<EvidenceRecord>> {
        let done = sqlx::query(
            "INSERT INTO evidence (id, accused, kind, first_epoch, epoch, json, recorded_at, offence) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(&e.id[..])
        .bind(&e.accused[..])
        .bind(&e.kind)
        .bind(to_sql(e.first_epoch, "epoch")?)
        .bind(to_sql(e.epoch, "epoch")?)
        .bind(&e.json)
        .bind(to_sql(e.recorded_at, "time")?)
        .bind(&e.offence[..])
        .execute(&self.pool)
        .await
        .map_err(|err| constraint(err, None, None))?;
        if done.rows_affected() == 1 {
            return Ok(None);
        }
        let row = sqlx::query(&format!(
            "SELECT {EVIDENCE_COLUMNS} FROM evidence WHERE id = ? OR offence = ? ORDER BY rowid LIMIT 1"
        ))
        .bind(&e.id[..])
        .bind(&e.offence[..])
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        evidence_from_row(&row).map(Some)
    }

    async fn evidence(&self, id: [u8; 32]) -> Result<Option<EvidenceRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {EVIDENCE_COLUMNS} FROM evidence WHERE id = ?"
        ))
        .bind(&id[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(evidence_from_row).transpose()
    }

    async fn evidence_against(
        &self,
        accused: [u8; 32],
        limit: usize,
    ) -> Result<Vec<EvidenceRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {EVIDENCE_COLUMNS} FROM evidence WHERE accused = ? ORDER BY rowid DESC LIMIT ?"
        ))
        .bind(&accused[..])
        .bind(limit_sql(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(evidence_from_row).collect()
    }

    async fn unslashed_evidence(&self, limit: usize) -> Result<Vec<EvidenceRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {EVIDENCE_COLUMNS} FROM evidence WHERE outcome IS NULL ORDER BY rowid LIMIT ?"
        ))
        .bind(limit_sql(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(evidence_from_row).collect()
    }

    async fn record_slash(&self, id: [u8; 32], slash: &SlashRecord) -> Result<()> {
        let done =
            sqlx::query("UPDATE evidence SET outcome = ?, slashed = ?, refunded = ? WHERE id = ?")
                .bind(slash.outcome.as_str())
                .bind(slash.slashed.to_string())
                .bind(slash.refunded.to_string())
                .bind(&id[..])
                .execute(&self.pool)
                .await
                .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("evidence {}", hex(&id))));
        }
        Ok(())
    }

    async fn withheld(&self, epoch: u64) -> Result<Vec<[u8; 32]>> {
        let rows = sqlx::query(
            "SELECT accused FROM evidence WHERE first_epoch = ?1 OR epoch = ?1 \
             UNION SELECT accused FROM claims WHERE first_epoch <= ?1 AND ?1 <= last_epoch \
               AND json_extract(phase, '$.phase') = 'final' \
               AND json_extract(phase, '$.outcome') = 'upheld' \
             ORDER BY accused",
        )
        .bind(bound(epoch))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(|row| blob(row, "accused")).collect()
    }

    async fn append_ledger_entry(&self, entry: &LedgerEntry) -> Result<()> {
        let seq = to_sql(entry.seq, "seq")?;
        let created_at = to_sql(entry.created_at, "time")?;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(backend)?;
        let last: Option<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT seq, hash FROM ledger_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
        let (last_seq, last_hash) = last.unwrap_or((0, vec![0; 32]));
        if seq != last_seq + 1 || entry.prev_hash[..] != last_hash[..] {
            return Err(StoreError::Conflict(format!(
                "ledger entry {} does not follow entry {last_seq}",
                entry.seq
            )));
        }
        sqlx::query(
            "INSERT INTO ledger_log (seq, prev_hash, hash, body, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(seq)
        .bind(&entry.prev_hash[..])
        .bind(&entry.hash[..])
        .bind(&entry.body)
        .bind(created_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| constraint(e, Some(format!("ledger entry {}", entry.seq)), None))?;
        tx.commit().await.map_err(backend)
    }

    async fn ledger_entries(&self, after: u64, limit: usize) -> Result<Vec<LedgerEntry>> {
        let rows = sqlx::query(
            "SELECT seq, prev_hash, hash, body, created_at FROM ledger_log WHERE seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(bound(after))
        .bind(limit_sql(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|row| {
                Ok(LedgerEntry {
                    seq: get_u64(row, "seq")?,
                    prev_hash: blob(row, "prev_hash")?,
                    hash: blob(row, "hash")?,
                    body: get(row, "body")?,
                    created_at: get_u64(row, "created_at")?,
                })
            })
            .collect()
    }

    async fn usage_accepted_between(&self, from: u64, to: u64) -> Result<Vec<UsageSum>> {
        let rows = sqlx::query(
            "SELECT site_id, terminal, COUNT(*) AS records, SUM(bytes) AS bytes FROM usage_records \
             WHERE accepted_at >= ? AND accepted_at < ? AND state = 'accepted' \
             AND (withheld IS NULL OR withheld = 'released') \
             GROUP BY site_id, terminal ORDER BY site_id, terminal",
        )
        .bind(bound(from))
        .bind(bound(to))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|row| {
                let terminal: Vec<u8> = get(row, "terminal")?;
                Ok(UsageSum {
                    site_id: get(row, "site_id")?,
                    terminal: terminal.try_into().map_err(|_| {
                        StoreError::Backend("a stored node id is not 32 bytes".to_owned())
                    })?,
                    records: get_u64(row, "records")?,
                    bytes: get_u64(row, "bytes")?,
                })
            })
            .collect()
    }

    async fn prefix_usage(
        &self,
        site_id: Option<i64>,
        from: u64,
        to: u64,
    ) -> Result<Vec<PrefixUsage>> {
        let rows = sqlx::query(
            "SELECT site_id, terminal, client_prefix, COUNT(*) AS records, SUM(requests) AS requests, \
             SUM(bytes) AS bytes, \
             SUM(CASE WHEN withheld IS NULL THEN bytes ELSE 0 END) AS unjudged, \
             SUM(CASE WHEN withheld = 'withheld' THEN bytes ELSE 0 END) AS withheld, \
             SUM(CASE WHEN withheld = 'released' THEN bytes ELSE 0 END) AS released, \
             SUM(CASE WHEN withheld = 'rejected' THEN bytes ELSE 0 END) AS rejected \
             FROM usage_records \
             WHERE accepted_at >= ?1 AND accepted_at < ?2 AND state = 'accepted' \
             AND (?3 IS NULL OR site_id = ?3) \
             GROUP BY site_id, terminal, client_prefix ORDER BY site_id, terminal, client_prefix",
        )
        .bind(bound(from))
        .bind(bound(to))
        .bind(site_id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|row| {
                Ok(PrefixUsage {
                    site_id: get(row, "site_id")?,
                    terminal: blob(row, "terminal")?,
                    client_prefix: prefix(row)?,
                    records: get_u64(row, "records")?,
                    requests: get_u64(row, "requests")?,
                    bytes: get_u64(row, "bytes")?,
                    unjudged_bytes: get_u64(row, "unjudged")?,
                    withheld_bytes: get_u64(row, "withheld")?,
                    released_bytes: get_u64(row, "released")?,
                    rejected_bytes: get_u64(row, "rejected")?,
                })
            })
            .collect()
    }

    async fn prefix_records(
        &self,
        site_id: i64,
        terminal: [u8; 32],
        prefixes: &[ClientPrefix],
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, u64, u64)>> {
        let mut out = Vec::new();
        for p in prefixes {
            let rows = sqlx::query(
                "SELECT serial, served_at, bytes FROM usage_records \
                 WHERE site_id = ? AND terminal = ? AND client_prefix = ? AND accepted_at >= ? \
                 AND accepted_at < ? AND state = 'accepted' AND withheld IS NULL",
            )
            .bind(site_id)
            .bind(&terminal[..])
            .bind(p.to_string())
            .bind(bound(from))
            .bind(bound(to))
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
            for row in &rows {
                let serial: i64 = get(row, "serial")?;
                out.push((
                    serial as u64,
                    get_u64(row, "served_at")?,
                    get_u64(row, "bytes")?,
                ));
            }
        }
        Ok(out)
    }

    async fn withhold_usage(&self, serials: &[u64], epoch: u64, reason: &str) -> Result<u64> {
        let epoch = to_sql(epoch, "epoch")?;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(backend)?;
        let mut withheld = 0;
        for serial in serials {
            withheld += sqlx::query(
                "UPDATE usage_records SET withheld = 'withheld', withheld_reason = ?, withheld_epoch = ? \
                 WHERE serial = ? AND state = 'accepted' AND withheld IS NULL",
            )
            .bind(reason)
            .bind(epoch)
            .bind(serial_to_sql(*serial))
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        }
        tx.commit().await.map_err(backend)?;
        Ok(withheld)
    }

    async fn withheld_usage(
        &self,
        state: Option<WithheldState>,
        limit: usize,
    ) -> Result<Vec<WithheldRecord>> {
        let rows = sqlx::query(
            "SELECT serial, site_id, terminal, client_prefix, bytes, requests, served_at, withheld_epoch, \
             withheld_reason, withheld, reviewed_at FROM usage_records \
             WHERE withheld IS NOT NULL AND (?1 IS NULL OR withheld = ?1) \
             ORDER BY withheld_epoch DESC, site_id, terminal, serial LIMIT ?2",
        )
        .bind(state.map(WithheldState::as_str))
        .bind(limit_sql(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|row| {
                let serial: i64 = get(row, "serial")?;
                let state: String = get(row, "withheld")?;
                let reviewed: Option<i64> = get(row, "reviewed_at")?;
                Ok(WithheldRecord {
                    serial: serial as u64,
                    site_id: get(row, "site_id")?,
                    terminal: blob(row, "terminal")?,
                    client_prefix: prefix(row)?,
                    bytes: get_u64(row, "bytes")?,
                    requests: get_u64(row, "requests")?,
                    served_at: get_u64(row, "served_at")?,
                    epoch: get_u64(row, "withheld_epoch")?,
                    reason: get(row, "withheld_reason")?,
                    state: state.parse()?,
                    reviewed_at: reviewed.map(|t| from_sql(t, "reviewed_at")).transpose()?,
                })
            })
            .collect()
    }

    async fn review_withheld(
        &self,
        which: WithheldSelector,
        to: WithheldState,
    ) -> Result<Reviewed> {
        let (serial, site_id, terminal, epoch) = match which {
            WithheldSelector::Serial(serial) => (Some(serial_to_sql(serial)), None, None, None),
            WithheldSelector::Group {
                site_id,
                terminal,
                epoch,
            } => (
                None,
                Some(site_id),
                Some(terminal.to_vec()),
                Some(to_sql(epoch, "epoch")?),
            ),
        };
        const SELECTED: &str = "withheld IS NOT NULL AND (?1 IS NULL OR serial = ?1) \
             AND (?2 IS NULL OR (site_id = ?2 AND terminal = ?3 AND withheld_epoch = ?4))";
        let now = to_sql(now(), "time")?;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(backend)?;
        let counts: Vec<(String, i64)> = sqlx::query_as(&format!(
            "SELECT withheld, COUNT(*) FROM usage_records WHERE {SELECTED} GROUP BY withheld"
        ))
        .bind(serial)
        .bind(site_id)
        .bind(terminal.clone())
        .bind(epoch)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        if counts.is_empty() {
            return Err(StoreError::NotFound(match which {
                WithheldSelector::Serial(serial) => format!("withheld usage with serial {serial}"),
                WithheldSelector::Group { site_id, epoch, .. } => {
                    format!("usage of site {site_id} withheld from that terminal in epoch {epoch}")
                }
            }));
        }
        let mut reviewed = Reviewed::default();
        for (state, n) in counts {
            let n = from_sql(n, "count")?;
            match state.parse::<WithheldState>()? {
                WithheldState::Withheld => {}
                s if s == to => reviewed.already += n,
                _ => reviewed.other += n,
            }
        }
        // A release is paid in the epoch it happens in: the record is accepted again as of now.
        let accepted_at = match to {
            WithheldState::Released => "?5",
            _ => "accepted_at",
        };
        let row = sqlx::query(&format!(
            "UPDATE usage_records SET withheld = ?6, reviewed_at = ?5, accepted_at = {accepted_at} \
             WHERE {SELECTED} AND withheld = 'withheld' RETURNING bytes"
        ))
        .bind(serial)
        .bind(site_id)
        .bind(terminal.clone())
        .bind(epoch)
        .bind(now)
        .bind(to.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        for r in &row {
            reviewed.changed += 1;
            reviewed.bytes += get_u64(r, "bytes")?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(reviewed)
    }

    async fn file_claim(&self, claim: &ClaimRecord) -> Result<Option<ClaimRecord>> {
        council::file_claim(&self.pool, claim).await
    }

    async fn claim_record(&self, id: [u8; 32]) -> Result<Option<ClaimRecord>> {
        council::claim_record(&self.pool, id).await
    }

    async fn list_claims(&self, filter: ClaimFilter, limit: usize) -> Result<Vec<ClaimRecord>> {
        council::list_claims(&self.pool, filter, limit).await
    }

    async fn update_claim(&self, id: [u8; 32], phase: &str, executed: Option<&str>) -> Result<()> {
        council::update_claim(&self.pool, id, phase, executed).await
    }

    async fn hunter_claims(&self, hunter: [u8; 32], since: u64) -> Result<(u64, u64)> {
        council::hunter_claims(&self.pool, hunter, since).await
    }

    async fn open_round(&self, round: &RoundRecord) -> Result<bool> {
        council::open_round(&self.pool, round).await
    }

    async fn rounds(&self, claim: [u8; 32]) -> Result<Vec<RoundRecord>> {
        council::rounds(&self.pool, claim).await
    }

    async fn rounds_in_term(&self, term: u64) -> Result<Vec<(RoundRecord, Vec<VoteRecord>)>> {
        council::rounds_in_term(&self.pool, term).await
    }

    async fn record_vote(&self, vote: &VoteRecord) -> Result<bool> {
        council::record_vote(&self.pool, vote).await
    }

    async fn votes(&self, claim: [u8; 32]) -> Result<Vec<VoteRecord>> {
        council::votes(&self.pool, claim).await
    }

    async fn open_election(&self, election: &ElectionRecord) -> Result<Option<ElectionRecord>> {
        council::open_election(&self.pool, election).await
    }

    async fn election(&self, term: u64) -> Result<Option<ElectionRecord>> {
        council::election(&self.pool, term).await
    }

    async fn record_ballot(&self, ballot: &BallotRecord) -> Result<()> {
        council::record_ballot(&self.pool, ballot).await
    }

    async fn ballots(&self, term: u64) -> Result<Vec<BallotRecord>> {
        council::ballots(&self.pool, term).await
    }

    async fn seat_term(
        &self,
        term: u64,
        seated_at: u64,
        members: &[([u8; 32], u128)],
    ) -> Result<bool> {
        council::seat_term(&self.pool, term, seated_at, members).await
    }

    async fn council_term(&self, term: u64) -> Result<Option<CouncilTermRecord>> {
        council::council_term(&self.pool, term).await
    }

    async fn reseat(&self, term: u64, members: &[([u8; 32], u128)]) -> Result<bool> {
        council::reseat(&self.pool, term, members).await
    }

    async fn mark_rewarded(&self, term: u64) -> Result<()> {
        council::mark_rewarded(&self.pool, term).await
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

fn site_from_row(row: &SqliteRow) -> Result<Site> {
    let ttl: Option<i64> = get(row, "default_ttl_secs")?;
    let mode: String = get(row, "query_mode")?;
    Ok(Site {
        id: get(row, "id")?,
        account_id: get(row, "account_id")?,
        host: get(row, "host")?,
        origin: get(row, "origin")?,
        default_ttl_secs: ttl.map(|t| from_sql(t, "default TTL")).transpose()?,
        query_mode: mode
            .parse()
            .map_err(|e: meson_core::keying::UnknownQueryMode| {
                StoreError::Backend(format!("sites: {e}"))
            })?,
        created_at: get_u64(row, "created_at")?,
    })
}

fn terminal_from_row(row: &SqliteRow) -> Result<TerminalRecord> {
    let node_id: Vec<u8> = get(row, "node_id")?;
    let state: String = get(row, "state")?;
    Ok(TerminalRecord {
        declared: TerminalRegistration {
            node_id: node_id
                .try_into()
                .map_err(|_| StoreError::Backend("a stored node id is not 32 bytes".to_owned()))?,
            public_url: get(row, "public_url")?,
            capacity_bytes: get_u64(row, "capacity_bytes")?,
            region: get(row, "region")?,
            lat: get(row, "lat")?,
            lon: get(row, "lon")?,
            hardware_json: get(row, "hardware_json")?,
        },
        state: match state.as_str() {
            "admitted" => TerminalState::Admitted,
            "draining" => TerminalState::Draining,
            other => {
                return Err(StoreError::Backend(format!(
                    "unknown terminal state {other:?}"
                )))
            }
        },
        registered_at: get_u64(row, "registered_at")?,
        updated_at: get_u64(row, "updated_at")?,
    })
}

fn terminal_state_name(state: TerminalState) -> &'static str {
    match state {
        TerminalState::Admitted => "admitted",
        TerminalState::Draining => "draining",
    }
}

const OBJECT_COLUMNS: &str =
    "site_id, object_key, version, path, size, root, slice_roots, source, learned_at";

const EVIDENCE_COLUMNS: &str =
    "id, accused, kind, first_epoch, epoch, json, recorded_at, offence, outcome, slashed, refunded";

fn evidence_from_row(row: &SqliteRow) -> Result<EvidenceRecord> {
    let outcome: Option<String> = get(row, "outcome")?;
    let amount = |column: &str| -> Result<u128> {
        let text: Option<String> = get(row, column)?;
        text.unwrap_or_default()
            .parse()
            .map_err(|_| StoreError::Backend(format!("evidence {column} is not a number")))
    };
    let slash = match outcome {
        None => None,
        Some(o) => Some(SlashRecord {
            outcome: o.parse()?,
            slashed: amount("slashed")?,
            refunded: amount("refunded")?,
        }),
    };
    Ok(EvidenceRecord {
        id: blob(row, "id")?,
        accused: blob(row, "accused")?,
        kind: get(row, "kind")?,
        first_epoch: get_u64(row, "first_epoch")?,
        epoch: get_u64(row, "epoch")?,
        json: get(row, "json")?,
        recorded_at: get_u64(row, "recorded_at")?,
        offence: blob(row, "offence")?,
        slash,
    })
}

fn known_object_from_row(row: &SqliteRow) -> Result<KnownObject> {
    let slices: Vec<u8> = get(row, "slice_roots")?;
    let source: String = get(row, "source")?;
    Ok(KnownObject {
        site_id: get(row, "site_id")?,
        object_key: blob(row, "object_key")?,
        version: get(row, "version")?,
        path: get(row, "path")?,
        size: get_u64(row, "size")?,
        root: blob(row, "root")?,
        slice_roots: slices
            .chunks_exact(32)
            .map(|c| c.try_into().expect("32 bytes"))
            .collect(),
        source: source.parse()?,
        learned_at: get_u64(row, "learned_at")?,
    })
}

/// The `client_prefix` column.
fn prefix(row: &SqliteRow) -> Result<Option<ClientPrefix>> {
    let text: Option<String> = get(row, "client_prefix")?;
    text.map(|t| {
        t.parse()
            .map_err(|e: meson_core::ticket::BadPrefix| StoreError::Backend(e.to_string()))
    })
    .transpose()
}

/// A fixed-length blob column, such as a hash or a key.
fn blob<const N: usize>(row: &SqliteRow, column: &str) -> Result<[u8; N]> {
    let v: Vec<u8> = get(row, column)?;
    v.try_into()
        .map_err(|_| StoreError::Backend(format!("stored {column} is not {N} bytes")))
}

fn limit_sql(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn get<'r, T>(row: &'r SqliteRow, column: &str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get(column).map_err(backend)
}

fn get_u64(row: &SqliteRow, column: &str) -> Result<u64> {
    from_sql(get(row, column)?, column)
}

fn to_sql(value: u64, what: &str) -> Result<i64> {
    i64::try_from(value).map_err(|_| {
        StoreError::Invalid(format!(
            "{what} {value} is larger than the database can hold"
        ))
    })
}

fn from_sql(value: i64, what: &str) -> Result<u64> {
    u64::try_from(value)
        .map_err(|_| StoreError::Backend(format!("stored {what} is negative: {value}")))
}

/// A range bound past every storable value bounds nothing, so it saturates instead of failing.
fn bound(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Serials are identifiers from the whole `u64` range, only ever compared for equality: the same bits as
/// an `i64` keep them distinct.
fn serial_to_sql(serial: u64) -> i64 {
    serial as i64
}

fn now() -> u64 {
    // A clock before 1970 is a broken host; 0 keeps the record rather than failing the call.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn backend(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Gives a constraint violation its meaning for the caller: a unique key taken is a conflict, a missing
/// referenced row is something not found, a failed check is invalid input. `None` for a violation the
/// statement cannot cause leaves it a backend error.
fn constraint(e: sqlx::Error, conflict: Option<String>, missing: Option<String>) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        match (db.kind(), conflict, missing) {
            (ErrorKind::UniqueViolation, Some(conflict), _) => {
                return StoreError::Conflict(conflict)
            }
            (ErrorKind::ForeignKeyViolation, _, Some(missing)) => {
                return StoreError::NotFound(missing)
            }
            (ErrorKind::CheckViolation, _, _) => {
                return StoreError::Invalid(db.message().to_owned())
            }
            _ => {}
        }
    }
    backend(e)
}
