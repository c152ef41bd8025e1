//! Buyer–seller chat: conversations between a buyer and a store, messages over REST and a
//! WebSocket, read markers and unread counts, reports that let admins read a conversation
//! (audited), a per-user rate limit and a cap on a message's length. Messages live in the
//! database, so a client reconnecting after a restart is given what it missed.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::{Session, TestApp, assert_error, eventually, spawn_app, spawn_app_with};

/// A 1×1 PNG, complete with its checksums.
const TINY_PNG: [u8; 70] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00,
    0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05,
    0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42,
    0x60, 0x82,
];

/// A buyer, an approved store (its owner's session, its `sel_…` id and its slug) and an admin.
struct Shop {
    admin: Session,
    buyer: Session,
    seller: Session,
    store: String,
    slug: String,
}

async fn shop(app: &TestApp) -> Shop {
    let admin = app.admin().await;
    let slug = format!("toko-{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
    let (seller, store) = crate::sellers::seller(app, &admin, &slug).await;
    let buyer = app.register(&format!("buyer-{}@people.test", uuid::Uuid::now_v7().simple())).await;
    Shop { admin, buyer, seller, store, slug }
}

async fn json_of(response: reqwest::Response, status: StatusCode) -> Value {
    let url = response.url().to_string();
    assert_eq!(response.status(), status, "status of {url}");
    response.json().await.unwrap()
}

/// The buyer writes to the store; returns the conversation's id and the first message.
async fn start(app: &TestApp, shop: &Shop, text: &str) -> (String, Value) {
    let body = json!({"store": shop.store, "text": text});
    let started = json_of(
        app.post("/v1/chat/conversations", Some(&shop.buyer.access_token), &body).await,
        StatusCode::CREATED,
    )
    .await;
    (started["conversation"]["id"].as_str().unwrap().to_owned(), started["message"].clone())
}

async fn send(app: &TestApp, who: &Session, conversation: &str, text: &str) -> reqwest::Response {
    let path = format!("/v1/chat/conversations/{conversation}/messages");
    app.post(&path, Some(&who.access_token), &json!({"text": text})).await
}

async fn history(app: &TestApp, who: &Session, conversation: &str, query: &str) -> Value {
    let path = format!("/v1/chat/conversations/{conversation}/messages?{query}");
    json_of(app.get(&path, Some(&who.access_token)).await, StatusCode::OK).await
}

fn texts(page: &Value) -> Vec<&str> {
    page["data"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap()).collect()
}

/// A client's chat socket.
struct Socket(WebSocketStream<MaybeTlsStream<TcpStream>>);

impl Socket {
    /// Connects with the token in the query, as a browser must, and returns the socket with
    /// the messages it was sent before `ready` (those after `after`).
    async fn connect(app: &TestApp, who: &Session, after: Option<&str>) -> (Socket, Vec<Value>) {
        let mut url =
            format!("{}/v1/chat/ws?access_token={}", app.address.replacen("http", "ws", 1), who.access_token);
        if let Some(after) = after {
            url.push_str(&format!("&after={after}"));
        }
        let (stream, _) = tokio_tungstenite::connect_async(url).await.expect("the socket opens");
        let mut socket = Socket(stream);
        let mut missed = Vec::new();
        loop {
            let frame = socket.next().await;
            match frame["type"].as_str() {
                Some("ready") => return (socket, missed),
                Some("message") => missed.push(frame["message"].clone()),
                _ => panic!("unexpected frame before ready: {frame}"),
            }
        }
    }

    /// The next JSON frame, within ten seconds.
    async fn next(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), self.0.next())
                .await
                .expect("a frame within ten seconds")
                .expect("the socket is open")
                .expect("a readable frame");
            if let Message::Text(text) = frame {
                return serde_json::from_str(text.as_str()).unwrap();
            }
        }
    }

    /// The next message pushed, passing over the answers to this client's own frames.
    async fn next_message(&mut self) -> Value {
        loop {
            let frame = self.next().await;
            if frame["type"] == "message" {
                return frame["message"].clone();
            }
            assert_eq!(frame["type"], "sent", "{frame}");
        }
    }

    async fn send(&mut self, frame: Value) {
        self.0.send(Message::Text(frame.to_string().into())).await.expect("the frame is sent");
    }

    async fn say(&mut self, conversation: &str, text: &str) {
        self.send(json!({"type": "send", "conversation_id": conversation, "text": text, "ref": text})).await;
    }

    async fn close(mut self) {
        self.0.close(None).await.expect("the socket closes");
    }
}

fn user_id(who: &Session) -> pasar::ids::UserId {
    who.id.parse().unwrap()
}

#[tokio::test]
async fn two_people_chat_over_two_sockets_and_after_a_restart_the_one_who_was_away_gets_what_they_missed() {
    let app = spawn_app().await;
    let shop = shop(&app).await;
    let (conversation, first) = start(&app, &shop, "Halo, batiknya masih ada?").await;

    let (mut buyer, _) = Socket::connect(&app, &shop.buyer, None).await;
    let (mut seller, missed) = Socket::connect(&app, &shop.seller, None).await;
    assert!(missed.is_empty(), "a client that names no last message is sent none");
    assert!(app.state.chat.is_online(user_id(&shop.seller)));

    seller.say(&conversation, "Masih, kak. Ukuran apa?").await;
    let heard = buyer.next_message().await;
    assert_eq!(heard["text"], "Masih, kak. Ukuran apa?");
    assert_eq!(heard["side"], "store");
    assert_eq!(heard["conversation_id"], conversation.as_str());
    let own = seller.next_message().await;
    assert_eq!(own["id"], heard["id"], "the sender's other sockets see its message too");

    buyer.say(&conversation, "Ukuran L").await;
    let heard = seller.next_message().await;
    assert_eq!(heard["text"], "Ukuran L");
    assert_eq!(heard["side"], "buyer");
    let last_seen = heard["id"].as_str().unwrap().to_owned();
    assert_eq!(buyer.next_message().await["id"], heard["id"]);

    // The seller goes away; the buyer writes on, then the server restarts and the buyer
    // writes again.
    seller.close().await;
    let seller_id = user_id(&shop.seller);
    eventually("the seller is offline", || async { (!app.state.chat.is_online(seller_id)).then_some(()) })
        .await;
    buyer.say(&conversation, "Bisa kirim hari ini?").await;
    assert_eq!(buyer.next_message().await["text"], "Bisa kirim hari ini?");
    buyer.close().await;
    let app = app.restart_after(Duration::ZERO).await;
    assert_eq!(
        send(&app, &shop.buyer, &conversation, "Saya transfer sekarang").await.status(),
        StatusCode::CREATED
    );

    let (mut seller, missed) = Socket::connect(&app, &shop.seller, Some(&last_seen)).await;
    let missed: Vec<&str> = missed.iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(missed, ["Bisa kirim hari ini?", "Saya transfer sekarang"]);

    // Live again on the restarted server.
    let (mut buyer, _) = Socket::connect(&app, &shop.buyer, None).await;
    buyer.say(&conversation, "Sudah, kak").await;
    assert_eq!(seller.next_message().await["text"], "Sudah, kak");

    let everything = history(&app, &shop.seller, &conversation, "").await;
    assert_eq!(
        texts(&everything),
        [
            first["text"].as_str().unwrap(),
            "Masih, kak. Ukuran apa?",
            "Ukuran L",
            "Bisa kirim hari ini?",
            "Saya transfer sekarang",
            "Sudah, kak"
        ]
    );
}

#[tokio::test]
async fn the_history_pages_back_and_forth_and_unread_counts_follow_the_read_marker() {
    let app = spawn_app().await;
    let shop = shop(&app).await;
    let (conversation, _) = start(&app, &shop, "m1").await;
    for text in ["m2", "m3", "m4", "m5", "m6"] {
        assert_eq!(send(&app, &shop.buyer, &conversation, text).await.status(), StatusCode::CREATED);
    }

    let newest = history(&app, &shop.seller, &conversation, "limit=4").await;
    assert_eq!(texts(&newest), ["m3", "m4", "m5", "m6"]);
    assert_eq!(newest["more"], true);
    let oldest_shown = newest["data"][0]["id"].as_str().unwrap();
    let earlier = history(&app, &shop.seller, &conversation, &format!("before={oldest_shown}&limit=4")).await;
    assert_eq!(texts(&earlier), ["m1", "m2"]);
    assert_eq!(earlier["more"], false);
    let first = earlier["data"][0]["id"].as_str().unwrap();
    let after = history(&app, &shop.buyer, &conversation, &format!("after={first}&limit=2")).await;
    assert_eq!(texts(&after), ["m2", "m3"]);
    assert_eq!(after["more"], true);

    let unread =
        json_of(app.get("/v1/chat/unread", Some(&shop.seller.access_token)).await, StatusCode::OK).await;
    assert_eq!(unread, json!({"conversations": 1, "messages": 6}));
    let buyer_unread =
        json_of(app.get("/v1/chat/unread", Some(&shop.buyer.access_token)).await, StatusCode::OK).await;
    assert_eq!(buyer_unread, json!({"conversations": 0, "messages": 0}), "one's own messages are read");

    let read_path = format!("/v1/chat/conversations/{conversation}/read");
    let m3 = newest["data"][0]["id"].as_str().unwrap();
    let partly = json_of(
        app.post(&read_path, Some(&shop.seller.access_token), &json!({"message_id": m3})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(partly["unread"], 3);
    assert_eq!(partly["side"], "store");
    let all =
        json_of(app.post(&read_path, Some(&shop.seller.access_token), &json!({})).await, StatusCode::OK)
            .await;
    assert_eq!(all["unread"], 0);
    let back = json_of(
        app.post(&read_path, Some(&shop.seller.access_token), &json!({"message_id": first})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(back["unread"], 0, "a read marker never moves back");

    assert_eq!(send(&app, &shop.seller, &conversation, "Siap").await.status(), StatusCode::CREATED);
    let mine =
        json_of(app.get("/v1/chat/conversations", Some(&shop.buyer.access_token)).await, StatusCode::OK)
            .await;
    assert_eq!(mine["data"].as_array().unwrap().len(), 1);
    assert_eq!(mine["data"][0]["id"], conversation.as_str());
    assert_eq!(mine["data"][0]["side"], "buyer");
    assert_eq!(mine["data"][0]["unread"], 1);
    let stores =
        json_of(app.get("/v1/chat/conversations", Some(&shop.seller.access_token)).await, StatusCode::OK)
            .await;
    assert_eq!(stores["data"][0]["side"], "store");
    assert_eq!(stores["data"][0]["store_id"], shop.store.as_str());

    // Writing about the same subject again, naming the store by its slug this time, adds to
    // the same conversation.
    let again = app
        .post(
            "/v1/chat/conversations",
            Some(&shop.buyer.access_token),
            &json!({"store": shop.slug, "text": "m8"}),
        )
        .await;
    let again = json_of(again, StatusCode::OK).await;
    assert_eq!(again["conversation"]["id"], conversation.as_str());
}

#[tokio::test]
async fn someone_elses_conversation_is_not_found_over_rest_or_the_socket() {
    let app = spawn_app().await;
    let shop = shop(&app).await;
    let (conversation, _) = start(&app, &shop, "Halo").await;
    let stranger = app.register("stranger@people.test").await;
    let token = Some(stranger.access_token.as_str());

    let base = format!("/v1/chat/conversations/{conversation}");
    assert_error(app.get(&format!("{base}/messages"), token).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_error(send(&app, &stranger, &conversation, "Hai").await, StatusCode::NOT_FOUND, "not_found").await;
    assert_error(
        app.post(&format!("{base}/read"), token, &json!({})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.post(&format!("{base}/report"), token, &json!({"reason": "spam"})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let listed = json_of(app.get("/v1/chat/conversations", token).await, StatusCode::OK).await;
    assert_eq!(listed["data"], json!([]));

    let (mut socket, _) = Socket::connect(&app, &stranger, None).await;
    socket.say(&conversation, "Hai").await;
    let refused = socket.next().await;
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["code"], "not_found");
    assert_eq!(refused["ref"], "Hai");
    assert_eq!(texts(&history(&app, &shop.buyer, &conversation, "").await), ["Halo"]);

    let no_token = app.get("/v1/chat/ws", None).await;
    assert_error(no_token, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn a_user_sending_faster_than_the_limit_is_told_when_to_try_again() {
    let app = spawn_app_with(|config| config.chat_messages_per_minute = 3).await;
    let shop = shop(&app).await;
    let (conversation, _) = start(&app, &shop, "satu").await;
    assert_eq!(send(&app, &shop.buyer, &conversation, "dua").await.status(), StatusCode::CREATED);
    assert_eq!(send(&app, &shop.buyer, &conversation, "tiga").await.status(), StatusCode::CREATED);
    let refused = send(&app, &shop.buyer, &conversation, "empat").await;
    assert!(refused.headers().contains_key("retry-after"));
    assert_error(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;

    let (mut socket, _) = Socket::connect(&app, &shop.buyer, None).await;
    socket.say(&conversation, "lima").await;
    assert_eq!(socket.next().await["code"], "rate_limited");

    // Each user has an allowance of their own.
    assert_eq!(send(&app, &shop.seller, &conversation, "Sabar, kak").await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_message_longer_than_2000_characters_is_refused() {
    let app = spawn_app().await;
    let shop = shop(&app).await;
    let (conversation, _) = start(&app, &shop, "Halo").await;
    assert_eq!(send(&app, &shop.buyer, &conversation, &"a".repeat(2000)).await.status(), StatusCode::CREATED);
    assert_error(
        send(&app, &shop.buyer, &conversation, &"a".repeat(2001)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let long_start = app
        .post(
            "/v1/chat/conversations",
            Some(&shop.buyer.access_token),
            &json!({"store": shop.store, "text": "é".repeat(2001)}),
        )
        .await;
    assert_error(long_start, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    let (mut socket, _) = Socket::connect(&app, &shop.buyer, None).await;
    socket.send(json!({"type": "send", "conversation_id": conversation, "text": "a".repeat(2001)})).await;
    assert_eq!(socket.next().await["code"], "validation_failed");
    assert_eq!(history(&app, &shop.buyer, &conversation, "").await["data"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn an_admin_reads_a_reported_conversation_and_the_audit_log_records_each_read() {
    let app = spawn_app().await;
    let shop = shop(&app).await;
    let (conversation, _) = start(&app, &shop, "Transfer ke rekening pribadi saya saja").await;
    let admin = Some(shop.admin.access_token.as_str());
    let admin_path = format!("/v1/admin/chat/conversations/{conversation}/messages");

    assert_error(app.get(&admin_path, admin).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_error(
        app.get(&admin_path, Some(&shop.buyer.access_token)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    let report_path = format!("/v1/chat/conversations/{conversation}/report");
    let reason = json!({"reason": "Meminta transfer di luar aplikasi"});
    json_of(app.post(&report_path, Some(&shop.seller.access_token), &reason).await, StatusCode::OK).await;
    assert_error(
        app.post(&report_path, Some(&shop.buyer.access_token), &reason).await,
        StatusCode::CONFLICT,
        "already_reported",
    )
    .await;

    let reported = json_of(app.get("/v1/admin/chat/conversations", admin).await, StatusCode::OK).await;
    assert_eq!(reported["data"][0]["id"], conversation.as_str());
    assert_eq!(reported["data"][0]["reason"], "Meminta transfer di luar aplikasi");
    assert_eq!(reported["data"][0]["reported_by"], shop.seller.id.as_str());

    let read = json_of(app.get(&admin_path, admin).await, StatusCode::OK).await;
    assert_eq!(texts(&read), ["Transfer ke rekening pribadi saya saja"]);

    let audit_path = format!("/v1/admin/audit?entity={conversation}&action=chat.conversation.read_by_admin");
    let entry = eventually("the admin's read in the audit log", || async {
        let page: Value = app.get(&audit_path, admin).await.json().await.unwrap();
        page["data"].as_array().and_then(|entries| entries.first().cloned())
    })
    .await;
    assert_eq!(entry["actor"], shop.admin.id.as_str());
    assert!(!entry.to_string().contains("rekening"), "the audit keeps ids, not words: {entry}");
}

#[tokio::test]
async fn an_image_sent_in_a_conversation_is_seen_by_its_participants_only() {
    let app = spawn_app().await;
    let shop = shop(&app).await;
    let (conversation, _) = start(&app, &shop, "Warnanya seperti ini?").await;
    let uploaded = app
        .request(Method::POST, "/v1/chat/images", Some(&shop.buyer.access_token))
        .header("content-type", "image/png")
        .body(TINY_PNG.to_vec())
        .send()
        .await
        .unwrap();
    let image = json_of(uploaded, StatusCode::CREATED).await;

    let path = format!("/v1/chat/conversations/{conversation}/messages");
    let body = json!({"text": "Ini fotonya", "image": image["id"]});
    let sent =
        json_of(app.post(&path, Some(&shop.buyer.access_token), &body).await, StatusCode::CREATED).await;
    let url = sent["image"]["url"].as_str().unwrap();
    assert_eq!(url, image["url"].as_str().unwrap());
    assert_error(
        app.post(&path, Some(&shop.buyer.access_token), &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    let seen = app.get(url, Some(&shop.seller.access_token)).await;
    assert_eq!(seen.status(), StatusCode::OK);
    assert_eq!(seen.headers()["content-type"], "image/png");
    assert_eq!(seen.bytes().await.unwrap().as_ref(), TINY_PNG);
    let stranger = app.register("peeker@people.test").await;
    assert_error(app.get(url, Some(&stranger.access_token)).await, StatusCode::NOT_FOUND, "not_found").await;
}
