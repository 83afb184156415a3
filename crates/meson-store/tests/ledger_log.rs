//! The ledger's audit log in SQLite: a gapless hash chain, durable, and impossible to edit.

use std::sync::Arc;

use meson_store::{LedgerEntry, SqliteStore, Store, StoreError, UsageRecord};

fn entry(seq: u64, prev: [u8; 32]) -> LedgerEntry {
    LedgerEntry {
        seq,
        prev_hash: prev,
        hash: [seq as u8; 32],
        body: format!("{{\"batch\":{seq}}}"),
        created_at: 1_000 + seq,
    }
}

#[tokio::test]
async fn the_log_is_a_gapless_chain_that_survives_reopening_and_refuses_edits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("router.db");
    {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.unwrap());
        store.append_ledger_entry(&entry(1, [0; 32])).await.unwrap();
        store.append_ledger_entry(&entry(2, [1; 32])).await.unwrap();
        for bad in [
            entry(2, [1; 32]),
            entry(4, [2; 32]),
            entry(3, [9; 32]),
            entry(1, [0; 32]),
        ] {
            let e = store.append_ledger_entry(&bad).await.unwrap_err();
            assert!(matches!(e, StoreError::Conflict(_)), "{bad:?}: {e}");
        }
        store.append_ledger_entry(&entry(3, [2; 32])).await.unwrap();
        store.close().await;
    }
    let store = SqliteStore::open(&path).await.unwrap();
    let all = store.ledger_entries(0, 100).await.unwrap();
    assert_eq!(
        all,
        vec![entry(1, [0; 32]), entry(2, [1; 32]), entry(3, [2; 32])]
    );
    assert_eq!(
        store.ledger_entries(1, 1).await.unwrap(),
        vec![entry(2, [1; 32])]
    );
    store.close().await;

    // Not even a direct SQL edit gets through.
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    for sql in [
        "UPDATE ledger_log SET body = '{}' WHERE seq = 2",
        "DELETE FROM ledger_log WHERE seq = 3",
    ] {
        let e = sqlx::query(sql).execute(&pool).await.unwrap_err();
        assert!(e.to_string().contains("append-only"), "{sql}: {e}");
    }
}

#[tokio::test]
async fn usage_is_summed_by_when_it_was_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("router.db"))
        .await
        .unwrap();
    let site = store.create_account("a").await.unwrap();
    let site = store
        .add_site(meson_store::NewSite {
            account_id: site.id,
            host: "s.example".into(),
            origin: "http://o.example".into(),
            default_ttl_secs: None,
            query_mode: Default::default(),
        })
        .await
        .unwrap();
    let rec = |serial: u64, terminal: u8, bytes: u64| UsageRecord {
        serial,
        terminal: [terminal; 32],
        site_id: site.id,
        object_key: [0; 16],
        bytes,
        requests: 1,
        hits: 0,
        served_at: 5,
        client_prefix: None,
        version: None,
    };
    store
        .accept_usage(&[rec(1, 1, 100), rec(2, 1, 50), rec(3, 2, 7)])
        .await
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sums = store.usage_accepted_between(0, now + 10).await.unwrap();
    assert_eq!(sums.len(), 2);
    assert_eq!(
        (sums[0].terminal, sums[0].records, sums[0].bytes),
        ([1; 32], 2, 150)
    );
    assert_eq!(
        (sums[1].terminal, sums[1].records, sums[1].bytes),
        ([2; 32], 1, 7)
    );
    assert!(store
        .usage_accepted_between(now + 10, now + 20)
        .await
        .unwrap()
        .is_empty());
}
