//! Claims, votes and elections on SQLite ([`crate::council`]).

use sqlx::sqlite::{SqlitePool, SqliteRow};

use super::{backend, blob, constraint, get, get_u64, limit_sql, to_sql};
use crate::{
    BallotRecord, ClaimFilter, ClaimRecord, CouncilTermRecord, ElectionRecord, Result, RoundRecord,
    StoreError, VoteRecord,
};

const CLAIM_COLUMNS: &str = "id, kind, accused, hunter, evidence, bond_tx, bond, filed_at, \
                             first_epoch, last_epoch, phase, executed";

fn units(text: &str, what: &str) -> Result<u128> {
    text.parse()
        .map_err(|_| StoreError::Backend(format!("stored {what} {text:?} is not a number")))
}

fn claim_from_row(row: &SqliteRow) -> Result<ClaimRecord> {
    let kind: String = get(row, "kind")?;
    let bond: String = get(row, "bond")?;
    Ok(ClaimRecord {
        id: blob(row, "id")?,
        kind: kind.parse()?,
        accused: blob(row, "accused")?,
        hunter: blob(row, "hunter")?,
        evidence: get(row, "evidence")?,
        bond_tx: get(row, "bond_tx")?,
        bond: units(&bond, "bond")?,
        filed_at: get_u64(row, "filed_at")?,
        first_epoch: get_u64(row, "first_epoch")?,
        last_epoch: get_u64(row, "last_epoch")?,
        phase: get(row, "phase")?,
        executed: get(row, "executed")?,
    })
}

pub(super) async fn file_claim(pool: &SqlitePool, c: &ClaimRecord) -> Result<Option<ClaimRecord>> {
    let done = sqlx::query(
        "INSERT INTO claims (id, kind, accused, hunter, evidence, bond_tx, bond, filed_at, \
         first_epoch, last_epoch, phase, executed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT DO NOTHING",
    )
    .bind(&c.id[..])
    .bind(c.kind.as_str())
    .bind(&c.accused[..])
    .bind(&c.hunter[..])
    .bind(&c.evidence)
    .bind(&c.bond_tx)
    .bind(c.bond.to_string())
    .bind(to_sql(c.filed_at, "time")?)
    .bind(to_sql(c.first_epoch, "epoch")?)
    .bind(to_sql(c.last_epoch, "epoch")?)
    .bind(&c.phase)
    .bind(&c.executed)
    .execute(pool)
    .await
    .map_err(|e| constraint(e, None, None))?;
    if done.rows_affected() == 1 {
        return Ok(None);
    }
    claim_record(pool, c.id).await
}

pub(super) async fn claim_record(pool: &SqlitePool, id: [u8; 32]) -> Result<Option<ClaimRecord>> {
    let row = sqlx::query(&format!("SELECT {CLAIM_COLUMNS} FROM claims WHERE id = ?"))
        .bind(&id[..])
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
    row.as_ref().map(claim_from_row).transpose()
}

pub(super) async fn list_claims(
    pool: &SqlitePool,
    filter: ClaimFilter,
    limit: usize,
) -> Result<Vec<ClaimRecord>> {
    let (clause, key) = match filter {
        ClaimFilter::All => ("1 = 1", None),
        ClaimFilter::Open => ("executed IS NULL", None),
        ClaimFilter::Against(k) => ("accused = ?", Some(k)),
        ClaimFilter::By(k) => ("hunter = ?", Some(k)),
    };
    let sql =
        format!("SELECT {CLAIM_COLUMNS} FROM claims WHERE {clause} ORDER BY filed_at, id LIMIT ?");
    let mut q = sqlx::query(&sql);
    if let Some(k) = key {
        q = q.bind(k.to_vec());
    }
    q.bind(limit_sql(limit))
        .fetch_all(pool)
        .await
        .map_err(backend)?
        .iter()
        .map(claim_from_row)
        .collect()
}

pub(super) async fn update_claim(
    pool: &SqlitePool,
    id: [u8; 32],
    phase: &str,
    executed: Option<&str>,
) -> Result<()> {
    let done = sqlx::query("UPDATE claims SET phase = ?, executed = ? WHERE id = ?")
        .bind(phase)
        .bind(executed)
        .bind(&id[..])
        .execute(pool)
        .await
        .map_err(backend)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("claim {}", hex::encode(id))));
    }
    Ok(())
}

pub(super) async fn hunter_claims(
    pool: &SqlitePool,
    hunter: [u8; 32],
    since: u64,
) -> Result<(u64, u64)> {
    let row = sqlx::query(
        "SELECT COALESCE(SUM(executed IS NULL), 0) AS open, COALESCE(SUM(filed_at >= ?), 0) AS recent \
         FROM claims WHERE hunter = ?",
    )
    .bind(to_sql(since, "time")?)
    .bind(&hunter[..])
    .fetch_one(pool)
    .await
    .map_err(backend)?;
    Ok((get_u64(&row, "open")?, get_u64(&row, "recent")?))
}

fn keys_text(keys: &[[u8; 32]]) -> String {
    serde_json::to_string(&keys.iter().map(hex::encode).collect::<Vec<_>>())
        .expect("strings always serialise")
}

fn keys_from_text(text: &str) -> Result<Vec<[u8; 32]>> {
    let bad = || StoreError::Backend("stored member list is malformed".into());
    let keys: Vec<String> = serde_json::from_str(text).map_err(|_| bad())?;
    keys.iter()
        .map(|k| {
            let mut key = [0u8; 32];
            hex::decode_to_slice(k, &mut key).map_err(|_| bad())?;
            Ok(key)
        })
        .collect()
}

fn round_number(row: &SqliteRow) -> Result<u8> {
    let round: i64 = get(row, "round")?;
    u8::try_from(round).map_err(|_| StoreError::Backend(format!("stored round {round}")))
}

fn round_from_row(row: &SqliteRow) -> Result<RoundRecord> {
    let eligible: String = get(row, "eligible")?;
    Ok(RoundRecord {
        claim: blob(row, "claim")?,
        round: round_number(row)?,
        opened_at: get_u64(row, "opened_at")?,
        term: get_u64(row, "term")?,
        eligible: keys_from_text(&eligible)?,
    })
}

pub(super) async fn open_round(pool: &SqlitePool, r: &RoundRecord) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO claim_rounds (claim, round, opened_at, term, eligible) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT DO NOTHING",
    )
    .bind(&r.claim[..])
    .bind(i64::from(r.round))
    .bind(to_sql(r.opened_at, "time")?)
    .bind(to_sql(r.term, "term")?)
    .bind(keys_text(&r.eligible))
    .execute(pool)
    .await
    .map_err(|e| constraint(e, None, Some(format!("claim {}", hex::encode(r.claim)))))?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn rounds(pool: &SqlitePool, claim: [u8; 32]) -> Result<Vec<RoundRecord>> {
    sqlx::query(
        "SELECT claim, round, opened_at, term, eligible FROM claim_rounds WHERE claim = ? \
         ORDER BY round",
    )
    .bind(&claim[..])
    .fetch_all(pool)
    .await
    .map_err(backend)?
    .iter()
    .map(round_from_row)
    .collect()
}

pub(super) async fn rounds_in_term(
    pool: &SqlitePool,
    term: u64,
) -> Result<Vec<(RoundRecord, Vec<VoteRecord>)>> {
    let rounds: Vec<RoundRecord> = sqlx::query(
        "SELECT claim, round, opened_at, term, eligible FROM claim_rounds WHERE term = ? \
         ORDER BY opened_at, claim, round",
    )
    .bind(to_sql(term, "term")?)
    .fetch_all(pool)
    .await
    .map_err(backend)?
    .iter()
    .map(round_from_row)
    .collect::<Result<_>>()?;
    let mut out = Vec::with_capacity(rounds.len());
    for r in rounds {
        let votes = votes(pool, r.claim)
            .await?
            .into_iter()
            .filter(|v| v.round == r.round)
            .collect();
        out.push((r, votes));
    }
    Ok(out)
}

pub(super) async fn record_vote(pool: &SqlitePool, v: &VoteRecord) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO claim_votes (claim, round, member, upheld, signed, at) VALUES (?, ?, ?, ?, ?, ?) \
         ON CONFLICT DO NOTHING",
    )
    .bind(&v.claim[..])
    .bind(i64::from(v.round))
    .bind(&v.member[..])
    .bind(i64::from(v.upheld))
    .bind(&v.signed)
    .bind(to_sql(v.at, "time")?)
    .execute(pool)
    .await
    .map_err(|e| constraint(e, None, Some(format!("claim {}", hex::encode(v.claim)))))?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn votes(pool: &SqlitePool, claim: [u8; 32]) -> Result<Vec<VoteRecord>> {
    sqlx::query(
        "SELECT claim, round, member, upheld, signed, at FROM claim_votes WHERE claim = ? \
         ORDER BY rowid",
    )
    .bind(&claim[..])
    .fetch_all(pool)
    .await
    .map_err(backend)?
    .iter()
    .map(|row| {
        Ok(VoteRecord {
            claim: blob(row, "claim")?,
            round: round_number(row)?,
            member: blob(row, "member")?,
            upheld: get::<i64>(row, "upheld")? != 0,
            signed: get(row, "signed")?,
            at: get_u64(row, "at")?,
        })
    })
    .collect()
}

/// JSON `[["key hex", "base units"], ...]`.
fn snapshot_text(snapshot: &[([u8; 32], u128)]) -> String {
    let entries: Vec<[String; 2]> = snapshot
        .iter()
        .map(|(k, v)| [hex::encode(k), v.to_string()])
        .collect();
    serde_json::to_string(&entries).expect("strings always serialise")
}

fn snapshot_from_text(text: &str) -> Result<Vec<([u8; 32], u128)>> {
    let bad = || StoreError::Backend("stored election snapshot is malformed".into());
    let entries: Vec<[String; 2]> = serde_json::from_str(text).map_err(|_| bad())?;
    entries
        .iter()
        .map(|[key, power]| {
            let mut k = [0u8; 32];
            hex::decode_to_slice(key, &mut k).map_err(|_| bad())?;
            Ok((k, units(power, "voting power")?))
        })
        .collect()
}

pub(super) async fn open_election(
    pool: &SqlitePool,
    e: &ElectionRecord,
) -> Result<Option<ElectionRecord>> {
    let done = sqlx::query(
        "INSERT INTO elections (term, opened_at, snapshot, digest) VALUES (?, ?, ?, ?) \
         ON CONFLICT DO NOTHING",
    )
    .bind(to_sql(e.term, "term")?)
    .bind(to_sql(e.opened_at, "time")?)
    .bind(snapshot_text(&e.snapshot))
    .bind(&e.digest[..])
    .execute(pool)
    .await
    .map_err(backend)?;
    if done.rows_affected() == 1 {
        return Ok(None);
    }
    election(pool, e.term).await
}

pub(super) async fn election(pool: &SqlitePool, term: u64) -> Result<Option<ElectionRecord>> {
    let row = sqlx::query("SELECT term, opened_at, snapshot, digest FROM elections WHERE term = ?")
        .bind(to_sql(term, "term")?)
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
    row.map(|row| {
        let text: String = get(&row, "snapshot")?;
        Ok(ElectionRecord {
            term: get_u64(&row, "term")?,
            opened_at: get_u64(&row, "opened_at")?,
            snapshot: snapshot_from_text(&text)?,
            digest: blob(&row, "digest")?,
        })
    })
    .transpose()
}

pub(super) async fn record_ballot(pool: &SqlitePool, b: &BallotRecord) -> Result<()> {
    // Deleting first (rather than an upsert) gives the new ballot a new rowid: ballots list in the
    // order last given.
    let mut tx = pool.begin().await.map_err(backend)?;
    sqlx::query("DELETE FROM ballots WHERE term = ? AND voter = ?")
        .bind(to_sql(b.term, "term")?)
        .bind(&b.voter[..])
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    sqlx::query("INSERT INTO ballots (term, voter, signed, at) VALUES (?, ?, ?, ?)")
        .bind(to_sql(b.term, "term")?)
        .bind(&b.voter[..])
        .bind(&b.signed)
        .bind(to_sql(b.at, "time")?)
        .execute(&mut *tx)
        .await
        .map_err(|e| constraint(e, None, Some(format!("election for term {}", b.term))))?;
    tx.commit().await.map_err(backend)
}

pub(super) async fn ballots(pool: &SqlitePool, term: u64) -> Result<Vec<BallotRecord>> {
    sqlx::query("SELECT term, voter, signed, at FROM ballots WHERE term = ? ORDER BY rowid")
        .bind(to_sql(term, "term")?)
        .fetch_all(pool)
        .await
        .map_err(backend)?
        .iter()
        .map(|row| {
            Ok(BallotRecord {
                term: get_u64(row, "term")?,
                voter: blob(row, "voter")?,
                signed: get(row, "signed")?,
                at: get_u64(row, "at")?,
            })
        })
        .collect()
}

pub(super) async fn seat_term(
    pool: &SqlitePool,
    term: u64,
    seated_at: u64,
    members: &[([u8; 32], u128)],
) -> Result<bool> {
    let mut tx = pool.begin().await.map_err(backend)?;
    let done = sqlx::query(
        "INSERT INTO council_terms (term, seated_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(to_sql(term, "term")?)
    .bind(to_sql(seated_at, "time")?)
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    insert_seats(&mut tx, term, members).await?;
    tx.commit().await.map_err(backend)?;
    Ok(true)
}

pub(super) async fn reseat(
    pool: &SqlitePool,
    term: u64,
    members: &[([u8; 32], u128)],
) -> Result<bool> {
    let mut tx = pool.begin().await.map_err(backend)?;
    let seated = sqlx::query("SELECT 1 FROM council_terms WHERE term = ?")
        .bind(to_sql(term, "term")?)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
    if seated.is_none() {
        return Ok(false);
    }
    sqlx::query("DELETE FROM council_seats WHERE term = ?")
        .bind(to_sql(term, "term")?)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    insert_seats(&mut tx, term, members).await?;
    tx.commit().await.map_err(backend)?;
    Ok(true)
}

async fn insert_seats(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    term: u64,
    members: &[([u8; 32], u128)],
) -> Result<()> {
    for (member, power) in members {
        sqlx::query("INSERT INTO council_seats (term, member, power) VALUES (?, ?, ?)")
            .bind(to_sql(term, "term")?)
            .bind(&member[..])
            .bind(power.to_string())
            .execute(&mut **tx)
            .await
            .map_err(|e| {
                constraint(
                    e,
                    Some(format!("a member seated twice in term {term}")),
                    None,
                )
            })?;
    }
    Ok(())
}

pub(super) async fn council_term(
    pool: &SqlitePool,
    term: u64,
) -> Result<Option<CouncilTermRecord>> {
    let Some(row) =
        sqlx::query("SELECT term, seated_at, rewarded FROM council_terms WHERE term = ?")
            .bind(to_sql(term, "term")?)
            .fetch_optional(pool)
            .await
            .map_err(backend)?
    else {
        return Ok(None);
    };
    let members =
        sqlx::query("SELECT member, power FROM council_seats WHERE term = ? ORDER BY rowid")
            .bind(to_sql(term, "term")?)
            .fetch_all(pool)
            .await
            .map_err(backend)?
            .iter()
            .map(|r| {
                let power: String = get(r, "power")?;
                Ok((blob(r, "member")?, units(&power, "power")?))
            })
            .collect::<Result<_>>()?;
    Ok(Some(CouncilTermRecord {
        term: get_u64(&row, "term")?,
        seated_at: get_u64(&row, "seated_at")?,
        members,
        rewarded: get::<i64>(&row, "rewarded")? != 0,
    }))
}

pub(super) async fn mark_rewarded(pool: &SqlitePool, term: u64) -> Result<()> {
    sqlx::query("UPDATE council_terms SET rewarded = 1 WHERE term = ?")
        .bind(to_sql(term, "term")?)
        .execute(pool)
        .await
        .map_err(backend)?;
    Ok(())
}
