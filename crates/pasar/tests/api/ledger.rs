use std::sync::Arc;
use std::time::Duration;

use pasar::audit::AuditFilter;
use pasar::ids::UserId;
use pasar::ledger::{
    AccountRef, Balance, Ledger, LedgerError, Transfer, TransferOutcome, TransferRecord, TransferStatus,
};
use pasar::money::Currency;
use pasar::time::Clock;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::Row;

use crate::helpers::{TestApp, assert_error, eventually, spawn_app};

fn wallet(user: UserId) -> AccountRef {
    AccountRef::wallet(user, Currency::IDR)
}

fn clearing() -> AccountRef {
    AccountRef::gateway_clearing("sandbox", Currency::IDR)
}

fn revenue() -> AccountRef {
    AccountRef::revenue(Currency::IDR)
}

fn deposit(id: &str, user: UserId, amount: i64) -> Transfer {
    Transfer {
        id: id.to_owned(),
        debit: clearing(),
        credit: wallet(user),
        amount,
        kind: "deposit",
        reference: Some(format!("pay_{id}")),
        pending_timeout: None,
        actor: None,
    }
}

fn spend(id: &str, user: UserId, amount: i64) -> Transfer {
    Transfer { debit: wallet(user), credit: revenue(), kind: "order_payment", ..deposit(id, user, amount) }
}

fn hold(id: &str, user: UserId, amount: i64, timeout: Duration) -> Transfer {
    Transfer { pending_timeout: Some(timeout), ..spend(id, user, amount) }
}

/// Runs one transfer in a transaction of its own, committed when it succeeds.
async fn apply(ledger: &Ledger, app: &TestApp, t: &Transfer) -> Result<TransferOutcome, LedgerError> {
    let mut tx = app.state.db.begin().await.unwrap();
    let outcome = ledger.transfer(&mut tx, t).await;
    if outcome.is_ok() {
        tx.commit().await.unwrap();
    }
    outcome
}

async fn post(
    app: &TestApp,
    id: &str,
    pending: &str,
    amount: Option<i64>,
) -> Result<TransferOutcome, LedgerError> {
    let mut tx = app.state.db.begin().await.unwrap();
    let outcome = app.state.ledger.post_pending(&mut tx, id, pending, amount).await;
    if outcome.is_ok() {
        tx.commit().await.unwrap();
    }
    outcome
}

async fn void(app: &TestApp, id: &str, pending: &str) -> Result<TransferOutcome, LedgerError> {
    let mut tx = app.state.db.begin().await.unwrap();
    let outcome = app.state.ledger.void_pending(&mut tx, id, pending).await;
    if outcome.is_ok() {
        tx.commit().await.unwrap();
    }
    outcome
}

async fn balance(app: &TestApp, account: &AccountRef) -> Balance {
    app.state.ledger.balance(account).await.unwrap()
}

fn balance_of(posted: i64, pending_debits: i64) -> Balance {
    Balance { posted, pending_debits, pending_credits: 0, available: posted - pending_debits }
}

async fn assert_verified(app: &TestApp) {
    let violations = app.state.ledger.verify().await.unwrap();
    assert!(violations.is_empty(), "{violations:?}");
}

/// The payloads of the outbox events of `event_type` about `subject`.
async fn events(app: &TestApp, event_type: &str, subject: &str) -> Vec<(String, Value)> {
    sqlx::query(
        "SELECT actor, payload FROM outbox_events WHERE event_type = $1 AND subject_id = $2 ORDER BY id",
    )
    .bind(event_type)
    .bind(subject)
    .fetch_all(app.state.db.reader())
    .await
    .unwrap()
    .iter()
    .map(|row| (row.get("actor"), serde_json::from_str(&row.get::<String, _>("payload")).unwrap()))
    .collect()
}

#[tokio::test]
async fn a_retried_transfer_applies_once_and_one_with_other_fields_is_refused() {
    let app = spawn_app().await;
    let ledger = &app.state.ledger;
    let user = UserId::new();
    let t = deposit("deposit:1", user, 1000);
    assert_eq!(apply(ledger, &app, &t).await.unwrap(), TransferOutcome::Created);
    assert_eq!(apply(ledger, &app, &t).await.unwrap(), TransferOutcome::AlreadyExists);
    let changed = Transfer { amount: 900, ..t.clone() };
    let refused = apply(ledger, &app, &changed).await;
    assert!(matches!(refused, Err(LedgerError::ExistsWithDifferentFields { ref id }) if id == "deposit:1"));
    let elsewhere = Transfer { reference: None, ..t.clone() };
    assert!(matches!(
        apply(ledger, &app, &elsewhere).await,
        Err(LedgerError::ExistsWithDifferentFields { .. })
    ));

    assert_eq!(balance(&app, &wallet(user)).await, balance_of(1000, 0));
    assert_eq!(balance(&app, &clearing()).await, balance_of(-1000, 0));
    assert_eq!(balance(&app, &wallet(UserId::new())).await, Balance::default(), "an unused account is zero");
    assert_verified(&app).await;

    let posted = events(&app, "ledger.transfer_posted", "deposit:1").await;
    assert_eq!(posted.len(), 1, "one event for one transfer");
    let (actor, payload) = &posted[0];
    assert_eq!(actor, "system");
    let code = wallet(user).code;
    assert_eq!(payload["transfer"]["amount"], 1000);
    assert_eq!(payload["before"][&code]["posted"], 0);
    assert_eq!(payload["after"][&code]["posted"], 1000);
    assert_eq!(payload["after"]["clearing:sandbox:IDR"]["posted"], -1000);
}

#[tokio::test]
async fn a_refused_transfer_changes_nothing_and_leaves_the_callers_transaction_usable() {
    let app = spawn_app().await;
    let ledger = &app.state.ledger;
    let user = UserId::new();
    let mut tx = app.state.db.begin().await.unwrap();
    ledger.transfer(&mut tx, &deposit("deposit:1", user, 500)).await.unwrap();
    let overdraw = ledger.transfer(&mut tx, &spend("spend:1", user, 501)).await;
    assert!(
        matches!(overdraw, Err(LedgerError::InsufficientFunds { ref account }) if *account == wallet(user).code),
        "{overdraw:?}"
    );
    let same = Transfer { credit: wallet(user), ..spend("spend:2", user, 10) };
    assert!(matches!(ledger.transfer(&mut tx, &same).await, Err(LedgerError::SameAccount)));
    let points = Transfer { credit: AccountRef::points(user), ..spend("spend:3", user, 10) };
    assert!(matches!(ledger.transfer(&mut tx, &points).await, Err(LedgerError::UnitMismatch)));
    let disguised = Transfer {
        credit: AccountRef { kind: pasar::ledger::AccountKind::Revenue, ..wallet(user) },
        ..deposit("deposit:2", user, 10)
    };
    assert!(matches!(ledger.transfer(&mut tx, &disguised).await, Err(LedgerError::UnitMismatch)));
    assert!(matches!(
        ledger.transfer(&mut tx, &spend("spend:4", user, 0)).await,
        Err(LedgerError::InvalidAmount)
    ));
    assert!(matches!(
        ledger.transfer(&mut tx, &spend("spend:5", user, -5)).await,
        Err(LedgerError::InvalidAmount)
    ));
    assert_eq!(ledger.balance_in(&mut tx, &wallet(user)).await.unwrap(), balance_of(500, 0));
    tx.commit().await.unwrap();

    assert_eq!(balance(&app, &wallet(user)).await, balance_of(500, 0));
    assert_eq!(balance(&app, &revenue()).await, Balance::default());
    let (history, more) = ledger.history(&wallet(user), None, 10).await.unwrap();
    assert_eq!(history.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["deposit:1"]);
    assert!(!more);
    assert_verified(&app).await;
}

#[tokio::test]
async fn a_hold_posted_in_part_moves_that_part_and_releases_the_rest_once() {
    let app = spawn_app().await;
    let ledger = &app.state.ledger;
    let user = UserId::new();
    apply(ledger, &app, &deposit("deposit:1", user, 1000)).await.unwrap();
    let held = hold("hold:1", user, 600, Duration::from_secs(60));
    assert_eq!(apply(ledger, &app, &held).await.unwrap(), TransferOutcome::Created);
    assert_eq!(balance(&app, &wallet(user)).await, balance_of(1000, 600));
    assert_eq!(
        balance(&app, &revenue()).await,
        Balance { posted: 0, pending_debits: 0, pending_credits: 600, available: 0 }
    );
    assert!(
        matches!(
            apply(ledger, &app, &spend("spend:1", user, 401)).await,
            Err(LedgerError::InsufficientFunds { .. })
        ),
        "held money cannot be spent"
    );
    assert_eq!(events(&app, "ledger.transfer_pending", "hold:1").await.len(), 1);

    assert!(matches!(post(&app, "post:1", "hold:1", Some(601)).await, Err(LedgerError::InvalidAmount)));
    assert!(matches!(post(&app, "post:1", "hold:1", Some(0)).await, Err(LedgerError::InvalidAmount)));
    assert_eq!(post(&app, "post:1", "hold:1", Some(450)).await.unwrap(), TransferOutcome::Created);
    assert_eq!(post(&app, "post:1", "hold:1", Some(450)).await.unwrap(), TransferOutcome::AlreadyExists);
    assert!(matches!(
        post(&app, "post:1", "hold:1", None).await,
        Err(LedgerError::ExistsWithDifferentFields { .. })
    ));
    assert!(matches!(
        post(&app, "post:2", "hold:1", None).await,
        Err(LedgerError::PendingAlreadyResolved { .. })
    ));
    assert!(matches!(void(&app, "void:1", "hold:1").await, Err(LedgerError::PendingAlreadyResolved { .. })));
    assert!(matches!(
        post(&app, "post:3", "deposit:1", None).await,
        Err(LedgerError::PendingNotFound { .. })
    ));
    assert!(matches!(
        post(&app, "post:4", "hold:none", None).await,
        Err(LedgerError::PendingNotFound { .. })
    ));
    assert!(
        matches!(apply(ledger, &app, &held).await, Ok(TransferOutcome::AlreadyExists)),
        "the hold's own retry"
    );

    assert_eq!(balance(&app, &wallet(user)).await, balance_of(550, 0));
    assert_eq!(balance(&app, &revenue()).await, balance_of(450, 0));
    let (after, _) = &events(&app, "ledger.transfer_posted", "post:1").await[0];
    assert_eq!(after, "system");

    let (page, more) = ledger.history(&wallet(user), None, 2).await.unwrap();
    let shown: Vec<(&str, TransferStatus, i64)> =
        page.iter().map(|t| (t.id.as_str(), t.status, t.amount)).collect();
    assert_eq!(shown, [("post:1", TransferStatus::Posted, 450), ("hold:1", TransferStatus::Posted, 600)]);
    assert_eq!(page[0].pending_id.as_deref(), Some("hold:1"));
    assert!(more);
    let (rest, more) = ledger.history(&wallet(user), Some("hold:1"), 2).await.unwrap();
    assert_eq!(rest.iter().map(|t: &TransferRecord| t.id.as_str()).collect::<Vec<_>>(), ["deposit:1"]);
    assert!(!more);
    assert_verified(&app).await;
}

#[tokio::test]
async fn a_voided_hold_gives_everything_back_once() {
    let app = spawn_app().await;
    let ledger = &app.state.ledger;
    let user = UserId::new();
    apply(ledger, &app, &deposit("deposit:1", user, 1000)).await.unwrap();
    apply(ledger, &app, &hold("hold:1", user, 1000, Duration::from_secs(60))).await.unwrap();
    assert_eq!(balance(&app, &wallet(user)).await.available, 0);

    assert_eq!(void(&app, "void:1", "hold:1").await.unwrap(), TransferOutcome::Created);
    assert_eq!(void(&app, "void:1", "hold:1").await.unwrap(), TransferOutcome::AlreadyExists);
    assert!(matches!(
        post(&app, "post:1", "hold:1", None).await,
        Err(LedgerError::PendingAlreadyResolved { .. })
    ));
    assert!(matches!(void(&app, "void:2", "hold:1").await, Err(LedgerError::PendingAlreadyResolved { .. })));
    assert_eq!(balance(&app, &wallet(user)).await, balance_of(1000, 0));
    assert_eq!(balance(&app, &revenue()).await, Balance::default());
    assert_eq!(events(&app, "ledger.transfer_voided", "void:1").await.len(), 1);
    assert_verified(&app).await;
}

#[tokio::test]
async fn a_hold_past_its_timeout_is_voided_by_the_sweep_and_can_no_longer_be_posted() {
    let app = spawn_app().await;
    let ledger = &app.state.ledger;
    let user = UserId::new();
    apply(ledger, &app, &deposit("deposit:1", user, 1000)).await.unwrap();
    apply(ledger, &app, &hold("hold:1", user, 300, Duration::from_secs(30))).await.unwrap();
    apply(ledger, &app, &hold("hold:2", user, 200, Duration::from_secs(90))).await.unwrap();

    // A ledger whose clock is ahead of the server's, so that only this test's call expires.
    let later = Clock::system();
    later.advance(Duration::from_secs(31));
    let ahead = Ledger::new(app.state.db.clone(), later);
    assert_eq!(ahead.expire_pending().await.unwrap(), 1, "only the hold past its timeout");
    assert_eq!(ahead.expire_pending().await.unwrap(), 0, "once");
    assert_eq!(balance(&app, &wallet(user)).await, balance_of(1000, 200));
    assert_eq!(events(&app, "ledger.transfer_voided", "hold:1").await[0].1["transfer"]["status"], "expired");
    assert!(matches!(
        post(&app, "post:1", "hold:1", None).await,
        Err(LedgerError::PendingAlreadyResolved { .. })
    ));

    // The server's own sweep, once its clock passes the second hold's timeout.
    app.clock.advance(Duration::from_secs(91));
    assert!(
        matches!(post(&app, "post:2", "hold:2", None).await, Err(LedgerError::PendingAlreadyResolved { .. })),
        "a hold past its timeout counts as expired before the sweep reaches it"
    );
    eventually("the sweep expires the second hold", || async {
        (balance(&app, &wallet(user)).await == balance_of(1000, 0)).then_some(())
    })
    .await;
    let (history, _) = ledger.history(&wallet(user), None, 10).await.unwrap();
    assert!(
        history.iter().filter(|t| t.id.starts_with("hold:")).all(|t| t.status == TransferStatus::Expired)
    );
    assert_verified(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_spends_and_holds_never_overdraw_a_wallet() {
    const TASKS: usize = 50;
    const COVERED: usize = 10;
    let app = Arc::new(spawn_app().await);
    let user = UserId::new();
    apply(&app.state.ledger, &app, &deposit("deposit:1", user, 100 * COVERED as i64)).await.unwrap();

    let tasks: Vec<_> = (0..TASKS)
        .map(|n| {
            let app = Arc::clone(&app);
            tokio::spawn(async move {
                let t = if n % 2 == 0 {
                    spend(&format!("spend:{n}"), user, 100)
                } else {
                    hold(&format!("hold:{n}"), user, 100, Duration::from_secs(600))
                };
                apply(&app.state.ledger, &app, &t).await
            })
        })
        .collect();
    let mut succeeded = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(TransferOutcome::Created) => succeeded += 1,
            Err(LedgerError::InsufficientFunds { account }) => assert_eq!(account, wallet(user).code),
            other => panic!("unexpected outcome {other:?}"),
        }
        assert!(balance(&app, &wallet(user)).await.available >= 0, "never below zero");
    }
    assert_eq!(succeeded, COVERED, "exactly the spends the wallet covers");
    assert_eq!(balance(&app, &wallet(user)).await.available, 0);
    assert_verified(&app).await;
}

/// Runs the real `pasar ledger verify` against the test's database: its exit code and output.
async fn pasar_ledger_verify(app: &TestApp) -> (i32, String) {
    let config = app.config.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_pasar"))
            .args(["ledger", "verify"])
            .current_dir(&config.data_dir)
            .env_remove("PASAR_CONFIG")
            .env("DATABASE_URL", config.database_url())
            .env("PASAR_DATA_DIR", &config.data_dir)
            .env("PASAR_LOG_LEVEL", "warn")
            .output()
            .expect("running pasar ledger verify")
    })
    .await
    .unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.code().expect("an exit code"), text)
}

#[tokio::test]
async fn verify_and_pasar_ledger_verify_name_an_account_whose_stored_total_was_edited() {
    let app = spawn_app().await;
    let ledger = &app.state.ledger;
    let user = UserId::new();
    apply(ledger, &app, &deposit("deposit:1", user, 1000)).await.unwrap();
    apply(ledger, &app, &spend("spend:1", user, 400)).await.unwrap();
    apply(ledger, &app, &hold("hold:1", user, 100, Duration::from_secs(600))).await.unwrap();
    assert_verified(&app).await;
    let (code, output) = pasar_ledger_verify(&app).await;
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("ledger OK: 3 accounts and 3 transfers verified"), "{output}");

    let wallet_code = wallet(user).code;
    let mut tx = app.state.db.begin().await.unwrap();
    sqlx::query("UPDATE ledger_accounts SET credits_posted = credits_posted + 100 WHERE code = $1")
        .bind(&wallet_code)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let found: Vec<String> = ledger.verify().await.unwrap().into_iter().map(|v| v.to_string()).collect();
    let named = format!("account {wallet_code}: stored credits posted 1100 but its transfers sum to 1000");
    assert!(found.contains(&named), "{found:?}");
    assert!(found.contains(&"IDR: debits posted 1400 ≠ credits posted 1500".to_owned()), "{found:?}");
    let (code, output) = pasar_ledger_verify(&app).await;
    assert_eq!(code, 1, "{output}");
    assert!(output.contains(&named), "{output}");
}

#[tokio::test]
async fn admins_see_every_balance_and_the_totals_per_unit_and_customers_do_not() {
    let app = spawn_app().await;
    let ledger = &app.state.ledger;
    let user = UserId::new();
    apply(ledger, &app, &deposit("deposit:1", user, 1000)).await.unwrap();
    apply(ledger, &app, &spend("spend:1", user, 250)).await.unwrap();
    apply(ledger, &app, &hold("hold:1", user, 100, Duration::from_secs(600))).await.unwrap();
    let earned = Transfer {
        id: "points:1".into(),
        debit: AccountRef::points_issued(),
        credit: AccountRef::points(user),
        amount: 40,
        kind: "points_earned",
        reference: None,
        pending_timeout: None,
        actor: None,
    };
    apply(ledger, &app, &earned).await.unwrap();

    let customer = app.register("buyer@example.com").await;
    let response = app.get("/v1/admin/ledger/balances", Some(&customer.access_token)).await;
    assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    assert_error(
        app.get("/v1/admin/ledger/balances", None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;

    let admin = app.admin().await;
    let response = app.get("/v1/admin/ledger/balances", Some(&admin.access_token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let accounts = body["accounts"].as_array().unwrap();
    let wallet_row = accounts.iter().find(|a| a["code"] == wallet(user).code.as_str()).expect("the wallet");
    assert_eq!(wallet_row["kind"], "user_wallet");
    assert_eq!(wallet_row["unit"], "IDR");
    assert_eq!(wallet_row["posted"], 750);
    assert_eq!(wallet_row["pending_debits"], 100);
    assert_eq!(wallet_row["available"], 650);
    assert_eq!(accounts.len(), 5, "clearing, revenue, wallet, points issued, points");
    let totals = body["totals"].as_array().unwrap();
    assert_eq!(totals.len(), 2);
    for total in totals {
        assert_eq!(total["posted"], 0, "{total}");
        assert_eq!(total["pending_debits"], total["pending_credits"], "{total}");
        assert_eq!(total["balanced"], true, "{total}");
    }

    let openapi: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    assert!(openapi["paths"]["/v1/admin/ledger/balances"]["get"]["tags"][0] == "ledger");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_retries_of_one_transfer_apply_it_once_and_a_hold_resolves_once() {
    let app = Arc::new(spawn_app().await);
    let user = UserId::new();
    let retries: Vec<_> = (0..20)
        .map(|_| {
            let app = Arc::clone(&app);
            tokio::spawn(
                async move { apply(&app.state.ledger, &app, &deposit("deposit:1", user, 1000)).await },
            )
        })
        .collect();
    let mut created = 0;
    for retry in retries {
        match retry.await.unwrap() {
            Ok(TransferOutcome::Created) => created += 1,
            Ok(TransferOutcome::AlreadyExists) => {}
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(balance(&app, &wallet(user)).await, balance_of(1000, 0));

    apply(&app.state.ledger, &app, &hold("hold:1", user, 600, Duration::from_secs(600))).await.unwrap();
    let resolutions: Vec<_> = (0..20)
        .map(|n| {
            let app = Arc::clone(&app);
            tokio::spawn(async move {
                if n % 2 == 0 {
                    post(&app, &format!("post:{n}"), "hold:1", None).await
                } else {
                    void(&app, &format!("void:{n}"), "hold:1").await
                }
            })
        })
        .collect();
    let mut resolved = 0;
    for resolution in resolutions {
        match resolution.await.unwrap() {
            Ok(TransferOutcome::Created) => resolved += 1,
            Err(LedgerError::PendingAlreadyResolved { id }) => assert_eq!(id, "hold:1"),
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(resolved, 1, "a hold is posted or voided once");
    let wallet_balance = balance(&app, &wallet(user)).await;
    assert!(
        wallet_balance == balance_of(400, 0) || wallet_balance == balance_of(1000, 0),
        "{wallet_balance:?}"
    );
    assert_verified(&app).await;
}

#[tokio::test]
async fn an_admins_correction_is_audited_with_the_admin_and_both_balances_before_and_after() {
    let app = spawn_app().await;
    let user = UserId::new();
    let admin = UserId::new().to_string();
    apply(&app.state.ledger, &app, &deposit("deposit:1", user, 1000)).await.unwrap();
    let correction = Transfer {
        id: "adjustment:1".into(),
        debit: wallet(user),
        credit: AccountRef::adjustments(Currency::IDR),
        amount: 300,
        kind: "adjustment",
        reference: None,
        pending_timeout: None,
        actor: Some(admin.clone()),
    };
    apply(&app.state.ledger, &app, &correction).await.unwrap();

    let filter = AuditFilter { entity: Some("adjustment:1".into()), ..AuditFilter::default() };
    let entry = eventually("the correction's audit entry", || async {
        app.state.audit.search(&filter, 10).await.unwrap().0.into_iter().next()
    })
    .await;
    assert_eq!(entry.action, "ledger.transfer_posted");
    assert_eq!(entry.actor, admin);
    let (before, after) = (entry.before.unwrap(), entry.after.unwrap());
    let code = wallet(user).code;
    assert_eq!(before[&code]["posted"], 1000);
    assert_eq!(after[&code]["posted"], 700);
    assert_eq!(before["adjustments:IDR"]["posted"], 0);
    assert_eq!(after["adjustments:IDR"]["posted"], 300);
}
