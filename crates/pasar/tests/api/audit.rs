use std::sync::Arc;
use std::time::Duration;

use pasar::audit::{Appended, AuditFilter, AuditStore};
use pasar::db::Db;
use pasar::events::{self, NewEvent, Relay, Subscriber};
use pasar::identity::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{AUDIT_KEY, TestApp, assert_error, eventually, spawn_app, stores};

/// The audit entries the API lists for `query`, waiting until at least `count` are there.
async fn entries(app: &TestApp, token: &str, query: &str, count: usize) -> Vec<Value> {
    eventually(&format!("{count} audit entries for {query:?}"), || async {
        let page: Value =
            app.get(&format!("/v1/admin/audit?{query}"), Some(token)).await.json().await.unwrap();
        let data = page["data"].as_array().cloned().unwrap_or_default();
        (data.len() >= count).then_some(data)
    })
    .await
}

#[tokio::test]
async fn registering_a_user_records_an_audit_entry_with_the_user_as_actor() {
    let app = spawn_app().await;
    let buyer = app.register("buyer@example.com").await;
    let admin = app.user_with_role("admin@example.com", Role::Admin).await;

    // Registering also asks for the address to be verified: a second event about the buyer.
    let query = format!("entity={}&action=user.registered", buyer.id);
    let found = entries(&app, &admin.access_token, &query, 1).await;
    assert_eq!(found.len(), 1, "exactly one entry for one event");
    let entry = &found[0];
    assert_eq!(entry["action"], "user.registered");
    assert_eq!(entry["actor"], buyer.id.as_str());
    assert_eq!(entry["before"], Value::Null);
    assert_eq!(entry["after"]["email"], "buyer@example.com");
    assert_eq!(entry["after"]["role"], "customer");
    assert!(entry["event_id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(entry["hash"].as_str().unwrap().len(), 64);
    assert_eq!(entry["seq"], 1, "the buyer registered first");
    assert_eq!(entry["prev_hash"], "0".repeat(64), "the first entry starts the chain");
}

#[tokio::test]
async fn a_role_change_by_an_admin_is_audited_with_its_actor_before_and_after() {
    let app = spawn_app().await;
    let admin = app.user_with_role("admin@example.com", Role::Admin).await;
    let seller = app.register("seller@example.com").await;
    let response = app
        .put(
            &format!("/v1/admin/users/{}/role", seller.id),
            Some(&admin.access_token),
            &json!({"role": "seller"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let query = format!("entity={}&action=user.role_changed", seller.id);
    let entry = &entries(&app, &admin.access_token, &query, 1).await[0];
    assert_eq!(entry["actor"], admin.id.as_str(), "the admin made the change");
    assert_eq!(entry["entity"], seller.id.as_str());
    assert_eq!(entry["before"], json!({"role": "customer"}));
    assert_eq!(entry["after"], json!({"role": "seller"}));
}

#[tokio::test]
async fn the_audit_log_is_listed_newest_first_with_filters_and_a_cursor() {
    let app = spawn_app().await;
    let admin = app.user_with_role("admin@example.com", Role::Admin).await;
    // Created as an operator would, so each adds one entry (a registration adds two).
    for i in 0..4 {
        app.user_with_role(&format!("buyer{i}@example.com"), Role::Customer).await;
    }
    let token = admin.access_token.as_str();
    entries(&app, token, "", 5).await;

    let mut seqs = Vec::new();
    let mut path = "/v1/admin/audit?limit=2&action=user.registered".to_owned();
    loop {
        let page: Value = app.get(&path, Some(token)).await.json().await.unwrap();
        seqs.extend(page["data"].as_array().unwrap().iter().map(|e| e["seq"].as_i64().unwrap()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/admin/audit?limit=2&action=user.registered&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seqs, vec![5, 4, 3, 2, 1], "every entry once, newest first");

    let by_admin = entries(&app, token, &format!("actor={}", admin.id), 1).await;
    assert_eq!(by_admin.len(), 1);
    let none: Value =
        app.get("/v1/admin/audit?action=order.created", Some(token)).await.json().await.unwrap();
    assert_eq!(none["data"], json!([]));
    for bad in ["limit=0", "cursor=bogus", "sort=seq", &format!("entity={}", "x".repeat(201))] {
        let response = app.get(&format!("/v1/admin/audit?{bad}"), Some(token)).await;
        assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
}

#[tokio::test]
async fn the_audit_log_refuses_anonymous_callers_with_401_and_customers_with_403() {
    let app = spawn_app().await;
    let customer = app.register("customer@example.com").await;
    assert_error(app.get("/v1/admin/audit", None).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let response = app.get("/v1/admin/audit", Some(&customer.access_token)).await;
    assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
}

/// Writes an event into the outbox, as a module's state change would.
async fn record_event(db: &Db, at: pasar::time::Timestamp, subject: &str) -> pasar::ids::EventId {
    let mut tx = db.begin().await.unwrap();
    let id = events::record(
        &mut tx,
        at,
        NewEvent {
            event_type: "user.role_changed",
            version: 1,
            subject_id: subject.to_owned(),
            actor: "usr_admin".into(),
            payload: json!({"before": {"role": "customer"}, "after": {"role": "seller"}}),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

async fn entries_for(audit: &AuditStore, entity: &str) -> usize {
    let filter = AuditFilter { entity: Some(entity.to_owned()), ..AuditFilter::default() };
    audit.search(&filter, 100).await.unwrap().0.len()
}

#[tokio::test]
async fn an_event_delivered_many_times_to_the_audit_store_writes_one_entry() {
    let stores = stores().await;
    let id = record_event(&stores.db, stores.clock.now(), "usr_many").await;
    let (event, _) = events::find(stores.db.reader(), id).await.unwrap().unwrap();

    assert_eq!(stores.audit.append(&event).await.unwrap(), Appended::Recorded { seq: 1 });
    for _ in 0..3 {
        stores.audit.deliver(&event).await.unwrap();
    }
    let concurrent: Vec<_> = (0..10)
        .map(|_| {
            let (audit, event) = (stores.audit.clone(), event.clone());
            tokio::spawn(async move { audit.append(&event).await.unwrap() })
        })
        .collect();
    for handle in concurrent {
        assert_eq!(handle.await.unwrap(), Appended::AlreadyRecorded { seq: 1 });
    }
    assert_eq!(entries_for(&stores.audit, "usr_many").await, 1);
    assert_eq!(stores.audit.verify().await.unwrap(), Ok(1));
}

#[tokio::test]
async fn a_round_of_events_is_chained_in_one_transaction_in_order_and_a_repeated_round_adds_nothing() {
    let stores = stores().await;
    let mut events = Vec::new();
    for i in 0..40 {
        let id = record_event(&stores.db, stores.clock.now(), &format!("usr_round_{i:02}")).await;
        events.push(events::find(stores.db.reader(), id).await.unwrap().unwrap().0);
    }
    let round: Vec<&events::Event> = events.iter().collect();
    // An earlier round recorded the first half and died before marking it published.
    stores.audit.append_all(&round[..20]).await.unwrap();
    stores.audit.append_all(&round).await.unwrap();
    stores.audit.append_all(&round).await.unwrap();

    assert_eq!(stores.audit.verify().await.unwrap(), Ok(40), "one entry per event, the chain intact");
    let mut seqs = Vec::new();
    for i in 0..40 {
        let filter = AuditFilter { entity: Some(format!("usr_round_{i:02}")), ..AuditFilter::default() };
        let (found, _) = stores.audit.search(&filter, 10).await.unwrap();
        assert_eq!(found.len(), 1);
        seqs.push(found[0].seq);
    }
    assert_eq!(seqs, (1..=40).collect::<Vec<i64>>(), "chained in the order the events came");
}

#[tokio::test]
async fn a_crash_between_the_audit_write_and_the_published_mark_still_gives_one_entry() {
    let stores = stores().await;
    let id = record_event(&stores.db, stores.clock.now(), "usr_crash").await;
    let (event, published) = events::find(stores.db.reader(), id).await.unwrap().unwrap();
    assert!(!published);
    // The relay's first round wrote the entry, then died before marking the event published.
    stores.audit.deliver(&event).await.unwrap();

    // The next round delivers the still unpublished event again.
    let relay = Relay::new(stores.db.clone(), stores.clock.clone(), Duration::from_millis(10))
        .subscribe(Arc::new(stores.audit.clone()));
    assert_eq!(relay.run_once().await.unwrap(), 1);
    assert!(events::find(stores.db.reader(), id).await.unwrap().unwrap().1, "now published");
    assert_eq!(relay.run_once().await.unwrap(), 0, "nothing left to relay");
    assert_eq!(entries_for(&stores.audit, "usr_crash").await, 1);
    assert_eq!(stores.audit.verify().await.unwrap(), Ok(1));
}

#[tokio::test]
async fn audit_stores_of_several_instances_append_one_at_a_time_to_one_chain() {
    let stores = stores().await;
    let other_dir = tempfile::tempdir().unwrap();
    let other_db = Db::connect(&stores.config.audit_database_url(), 2).await.unwrap();
    let other = AuditStore::new(
        other_db,
        AUDIT_KEY.as_bytes().to_vec(),
        other_dir.path().join("audit_head"),
        stores.clock.clone(),
    )
    .unwrap();
    let mut appends = Vec::new();
    for i in 0..20 {
        let id = record_event(&stores.db, stores.clock.now(), &format!("usr_{i}")).await;
        let (event, _) = events::find(stores.db.reader(), id).await.unwrap().unwrap();
        let audit = if i % 2 == 0 { stores.audit.clone() } else { other.clone() };
        appends.push(tokio::spawn(async move { audit.append(&event).await.unwrap() }));
    }
    let mut seqs = Vec::new();
    for append in appends {
        match append.await.unwrap() {
            Appended::Recorded { seq } => seqs.push(seq),
            Appended::AlreadyRecorded { .. } => panic!("every event is new"),
        }
    }
    seqs.sort();
    assert_eq!(seqs, (1..=20).collect::<Vec<_>>(), "one unbroken run of seqs");
    assert_eq!(stores.audit.verify().await.unwrap(), Ok(20));
    assert_eq!(other.verify().await.unwrap(), Ok(20));
}

#[tokio::test]
async fn appends_stop_when_the_chain_no_longer_reaches_the_head() {
    let stores = stores().await;
    let relay = Relay::new(stores.db.clone(), stores.clock.clone(), Duration::from_millis(10))
        .subscribe(Arc::new(stores.audit.clone()));
    record_event(&stores.db, stores.clock.now(), "usr_a").await;
    record_event(&stores.db, stores.clock.now(), "usr_b").await;
    relay.run_once().await.unwrap();
    tamper(stores.audit.db(), "DELETE FROM audit_entries WHERE seq = 2").await;

    // Chaining onto the cut tail would hide the cut: the event waits in the outbox instead.
    let id = record_event(&stores.db, stores.clock.now(), "usr_c").await;
    relay.run_once().await.unwrap();
    assert!(!events::find(stores.db.reader(), id).await.unwrap().unwrap().1, "left unpublished");
    assert_eq!(entries_for(&stores.audit, "usr_c").await, 0);
}

/// Runs a statement against the audit database behind the application's back.
async fn tamper(audit: &Db, sql: &str) {
    let mut tx = audit.begin().await.unwrap();
    sqlx::query(sql).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
}

/// Runs the real `pasar audit verify` with the test's configuration: its exit code and output.
async fn pasar_audit_verify(app: &TestApp) -> (i32, String) {
    let config = app.state.config.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_pasar"))
            .args(["audit", "verify"])
            .current_dir(&config.data_dir)
            .env_remove("PASAR_CONFIG")
            .env("DATABASE_URL", config.database_url())
            .env("AUDIT_DATABASE_URL", config.audit_database_url())
            .env("PASAR_DATA_DIR", &config.data_dir)
            .env("PASAR_AUDIT_KEY", AUDIT_KEY)
            .env("PASAR_LOG_LEVEL", "warn")
            .output()
            .expect("running pasar audit verify")
    })
    .await
    .unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.code().expect("an exit code"), text)
}

/// An application whose audit chain holds `count` entries (one new user each, created as an
/// operator would: a registration adds two), and the event id of each entry by seq (index 0 is
/// seq 1).
async fn app_with_audited_users(count: usize) -> (TestApp, Vec<String>) {
    let app = spawn_app().await;
    for i in 0..count {
        app.user_with_role(&format!("user{i}@example.com"), Role::Customer).await;
    }
    let event_ids = eventually("every registration audited", || async {
        let (entries, _) = app.state.audit.search(&AuditFilter::default(), 100).await.unwrap();
        (entries.len() == count).then(|| entries.into_iter().rev().map(|e| e.event_id).collect::<Vec<_>>())
    })
    .await;
    (app, event_ids)
}

#[tokio::test]
async fn pasar_audit_verify_passes_an_intact_chain_and_names_an_edited_entry() {
    let (app, event_ids) = app_with_audited_users(3).await;
    let (code, output) = pasar_audit_verify(&app).await;
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("audit chain OK: 3 entries"), "{output}");

    let audit = app.state.audit.db();
    tamper(
        audit,
        r#"UPDATE audit_entries SET after_state = '{"email":"someone-else@example.com"}' WHERE seq = 2"#,
    )
    .await;
    let (code, output) = pasar_audit_verify(&app).await;
    assert_eq!(code, 1, "{output}");
    assert!(output.contains(&format!("seq 2 (event {})", event_ids[1])), "{output}");
    assert!(output.contains("edited"), "{output}");
}

#[tokio::test]
async fn pasar_audit_verify_names_the_entry_after_a_deleted_one_and_notices_a_cut_tail() {
    let (app, event_ids) = app_with_audited_users(4).await;
    let audit = app.state.audit.db();

    tamper(audit, "DELETE FROM audit_entries WHERE seq = 4").await;
    let (code, output) = pasar_audit_verify(&app).await;
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("seq 4") && output.contains("truncated"), "{output}");

    tamper(audit, "DELETE FROM audit_entries WHERE seq = 2").await;
    let (code, output) = pasar_audit_verify(&app).await;
    assert_eq!(code, 1, "{output}");
    assert!(output.contains(&format!("seq 3 (event {})", event_ids[2])), "{output}");
    assert!(output.contains("deleted or the entries were reordered"), "{output}");
}

#[tokio::test]
async fn pasar_audit_verify_catches_two_entries_that_swapped_places() {
    let (app, event_ids) = app_with_audited_users(3).await;
    let audit = app.state.audit.db();
    // Everything but seq changes places between entries 1 and 2 (event ids pass through
    // placeholders, since they are unique).
    let columns = "event_id, recorded_at, occurred_at, actor, action, entity, before_state, after_state, \
                   prev_hash, hash";
    let copy = |to: i64, from: i64| {
        let assignments = columns
            .split(", ")
            .map(|c| format!("{c} = (SELECT {c} FROM swap_aside WHERE seq = {from})"))
            .collect::<Vec<_>>()
            .join(", ");
        format!("UPDATE audit_entries SET {assignments} WHERE seq = {to}")
    };
    let mut tx = audit.begin().await.unwrap();
    for sql in [
        "CREATE TABLE swap_aside AS SELECT * FROM audit_entries WHERE seq IN (1, 2)".to_owned(),
        "UPDATE audit_entries SET event_id = 'swapping-1' WHERE seq = 1".to_owned(),
        "UPDATE audit_entries SET event_id = 'swapping-2' WHERE seq = 2".to_owned(),
        copy(1, 2),
        copy(2, 1),
        "DROP TABLE swap_aside".to_owned(),
    ] {
        sqlx::query(&sql).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();

    let (code, output) = pasar_audit_verify(&app).await;
    assert_eq!(code, 1, "{output}");
    assert!(output.contains(&format!("seq 1 (event {})", event_ids[1])), "{output}");
    assert!(output.contains("prev_hash mismatch"), "{output}");
}
