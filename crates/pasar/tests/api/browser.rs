//! A browser without JavaScript for the web pages' tests: it keeps the cookies the shop sets
//! and sends forms with the visit's CSRF token.

use std::collections::HashMap;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Response, StatusCode};

use serde_json::{Value, json};

use pasar::identity::Role;

use crate::helpers::{PASSWORD, Session, TestApp, eventually};

/// A browser: keeps the cookies the shop sets, follows no redirects (so each answer's cookies
/// and status are seen).
pub struct Browser<'a> {
    app: &'a TestApp,
    pub client: reqwest::Client,
    pub cookies: HashMap<String, String>,
}

/// One `Set-Cookie`: its name, value and attributes as written.
pub struct SetCookie {
    pub name: String,
    pub value: String,
    pub attributes: String,
}

pub fn set_cookies(headers: &HeaderMap) -> Vec<SetCookie> {
    headers
        .get_all("set-cookie")
        .iter()
        .map(|value| {
            let text = value.to_str().unwrap();
            let (pair, attributes) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            SetCookie { name: name.into(), value: value.into(), attributes: attributes.into() }
        })
        .collect()
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { app, client, cookies: HashMap::new() }
    }

    /// A browser reading the pages in English.
    pub fn english(app: &'a TestApp) -> Self {
        let mut browser = Self::new(app);
        browser.cookies.insert("lang".into(), "en".into());
        browser
    }

    /// A browser reading English, signed in as `email` (with the tests' password).
    pub async fn signed_in_as(app: &'a TestApp, email: &str) -> Self {
        let mut browser = Self::english(app);
        assert_eq!(browser.login(email, PASSWORD).await.status(), StatusCode::SEE_OTHER, "{email} signs in");
        browser
    }

    pub fn cookie_header(&self) -> HeaderValue {
        let text: Vec<String> = self.cookies.iter().map(|(name, value)| format!("{name}={value}")).collect();
        HeaderValue::from_str(&text.join("; ")).unwrap()
    }

    fn keep(&mut self, response: &Response) {
        for cookie in set_cookies(response.headers()) {
            if cookie.attributes.contains("Max-Age=0") {
                self.cookies.remove(&cookie.name);
            } else {
                self.cookies.insert(cookie.name, cookie.value);
            }
        }
    }

    pub async fn get(&mut self, path: &str) -> Response {
        let response =
            self.client.get(self.app.url(path)).header("cookie", self.cookie_header()).send().await.unwrap();
        self.keep(&response);
        response
    }

    /// A page's text, asserting it answered 200; with `/`, which the templates escape as
    /// `&#x2f;` like every other character of markup, read back as itself.
    pub async fn page(&mut self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.text().await.unwrap().replace("&#x2f;", "/")
    }

    /// The CSRF token a page gives its forms.
    pub async fn csrf(&mut self) -> String {
        csrf_of(&self.page("/cart").await)
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Response {
        let response = self
            .client
            .post(self.app.url(path))
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep(&response);
        response
    }

    pub async fn login(&mut self, email: &str, password: &str) -> Response {
        let csrf = self.csrf().await;
        self.post("/login", &[("_csrf", &csrf), ("email", email), ("password", password)]).await
    }

    pub fn signed_in(page: &str) -> bool {
        page.contains("action=\"/logout\"")
    }
}

/// A new user of `role`, and a browser signed in as them reading English.
pub async fn signed_in_admin(app: &TestApp, role: Role) -> (Session, Browser<'_>) {
    let email = format!("admin-{}@shop.test", uuid::Uuid::now_v7().simple());
    let admin = app.user_with_role(&email, role).await;
    let browser = Browser::signed_in_as(app, &email).await;
    (admin, browser)
}

/// Where a redirect sends the browser, with `/` read back as itself; empty when it sends
/// nowhere.
pub fn location(response: &Response) -> String {
    response.headers().get("location").map(|v| v.to_str().unwrap().replace("&#x2f;", "/")).unwrap_or_default()
}

/// The actions the audit log holds for `actor` (read by the admin `reader`), once each of
/// `wanted` is there.
pub async fn audited(app: &TestApp, reader: &Session, actor: &str, wanted: &[&str]) -> Vec<String> {
    eventually(&format!("audit entries {wanted:?}"), || async {
        let page: Value = app
            .get(&format!("/v1/admin/audit?actor={actor}&limit=100"), Some(&reader.access_token))
            .await
            .json()
            .await
            .unwrap();
        let actions: Vec<String> = page["data"]
            .as_array()?
            .iter()
            .map(|e| e["action"].as_str().unwrap_or_default().to_owned())
            .collect();
        wanted.iter().all(|w| actions.iter().any(|a| a == w)).then_some(actions)
    })
    .await
}

pub fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf-token\" content=\"").expect("the page carries its CSRF token");
    page[at + 27..].split('"').next().unwrap().to_owned()
}

/// A product on sale with one stocked variant: its slug and the variant's id.
pub async fn product_named(app: &TestApp, admin: &Session, name: &str, price: i64) -> (String, String) {
    let token = Some(admin.access_token.as_str());
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    let category = app.post("/v1/admin/categories", token, &json!({"name": format!("Kopi {suffix}")})).await;
    assert_eq!(category.status(), StatusCode::CREATED);
    let category: Value = category.json().await.unwrap();
    let body = json!({
        "name": name, "description": "Roasted in Bandung", "kind": "physical", "status": "active",
        "category_id": category["id"],
        "variants": [{"sku": format!("WEB-{}", &suffix[20..]), "options": {"size": "250g"},
                      "price": {"amount": price, "currency": "IDR"}}],
    });
    let created = app.post("/v1/admin/products", token, &body).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let variant = created["variants"][0]["id"].as_str().unwrap().to_owned();
    app.stock(admin, &variant, 10).await;
    (created["slug"].as_str().unwrap().to_owned(), variant)
}
