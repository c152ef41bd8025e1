//! The messages, as minijinja templates embedded in the binary: `templates/{locale}/{name}.txt`
//! holds the subject on its first line and the plain text after it; `templates/email.html` lays
//! any of them out as the HTML part of an email (escaped: the text may quote a buyer's words).

use minijinja::{Environment, Value};
use serde::Serialize;

use crate::locale::Locale;

macro_rules! embedded {
    ($($name:literal),* $(,)?) => {
        /// Every template's name.
        pub const NAMES: &[&str] = &[$($name),*];
        /// (`{locale}/{name}.txt`, its source) for each language of each template.
        const SOURCES: &[(&str, &str)] = &[$(
            (concat!("id/", $name, ".txt"), include_str!(concat!("templates/id/", $name, ".txt"))),
            (concat!("en/", $name, ".txt"), include_str!(concat!("templates/en/", $name, ".txt"))),
            (concat!("ja/", $name, ".txt"), include_str!(concat!("templates/ja/", $name, ".txt"))),
        )*];
    };
}

embedded!(
    "welcome",
    "email_verification",
    "password_reset",
    "order_placed",
    "payment_received",
    "order_shipped",
    "order_delivered",
    "order_cancelled",
    "order_refunded",
    "payment_expired",
    "deposit_credited",
    "withdrawal_sent",
    "withdrawal_failed",
    "seller_approved",
    "seller_rejected",
    "seller_new_order",
    "stock_low",
    "provider_down",
    "review_replied",
    "chat_message",
);

const LAYOUT: &str = "email.html";

/// A message ready for any channel: the subject, the plain text, and the HTML for email.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub struct Templates {
    env: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    pub fn new() -> Self {
        let mut env = Environment::new();
        for (path, source) in SOURCES {
            env.add_template(path, source).expect("the embedded templates parse (checked by a test)");
        }
        env.add_template(LAYOUT, include_str!("templates/email.html"))
            .expect("the embedded layout parses (checked by a test)");
        Self { env }
    }

    /// Renders `name` in `locale` with `context` (an object); `link` and `unsubscribe`, when
    /// the context has them, become the HTML's button and footer link.
    pub fn render(
        &self,
        name: &str,
        locale: Locale,
        context: &impl Serialize,
    ) -> Result<Rendered, minijinja::Error> {
        let context_source = context;
        let context = Value::from(minijinja::value::Serde(context));
        let whole = self.env.get_template(&format!("{locale}/{name}.txt"))?.render(&context)?;
        let (subject, text) = whole.split_once('\n').unwrap_or((whole.as_str(), ""));
        let (subject, mut text) = (subject.trim().to_owned(), text.trim().to_owned());
        let paragraphs: Vec<Vec<String>> = text
            .split("\n\n")
            .map(|p| p.lines().map(str::to_owned).collect::<Vec<_>>())
            .filter(|p| !p.is_empty())
            .collect();
        // Text-only readers get the unsubscribe link too (the HTML has it in its footer).
        let unsubscribe = serde_json::to_value(context_source)
            .ok()
            .and_then(|c| c.get("unsubscribe").and_then(|u| u.as_str()).map(str::to_owned));
        if let Some(unsubscribe) = unsubscribe {
            let label = match locale {
                Locale::Id => "Berhenti berlangganan",
                Locale::En => "Unsubscribe",
                Locale::Ja => "配信停止",
            };
            text.push_str(&format!("\n\n--\n{label}: {unsubscribe}"));
        }
        let html = self.env.get_template(LAYOUT)?.render(minijinja::context! {
            locale => locale.as_str(),
            subject => subject.clone(),
            paragraphs => paragraphs,
            ..context
        })?;
        Ok(Rendered { subject, text, html })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sample() -> serde_json::Value {
        json!({
            "shop": "Toko", "shop_url": "http://shop.test", "name": "Ana <b>", "order_id": "ord_1",
            "placed_at": "1 Desember 2026", "lines": [{"name": "Kopi", "sku": "K-1", "quantity": 2, "total": "Rp 20.000"}],
            "subtotal": "Rp 20.000", "discount": null, "shipping": "Rp 5.000", "fee": "Rp 310",
            "total": "Rp 25.310", "paid_total": "Rp 25.310", "tracking": "JNE123", "carrier": "JNE",
            "digital": true, "note": null, "partial": false, "amount": "Rp 1.000", "reason": "blurry",
            "sku": "K-1", "product": "Kopi", "available": 2, "provider": "pakasir", "reply": "Thanks",
            "link": "http://shop.test/verify?token=t", "expires_at": "2 Desember 2026",
            "unsubscribe": "http://shop.test/v1/notifications/unsubscribe?token=x",
        })
    }

    #[test]
    fn every_template_renders_in_every_language_with_a_subject_and_a_body() {
        let templates = Templates::new();
        for name in NAMES {
            for locale in Locale::ALL {
                let rendered = templates.render(name, locale, &sample()).unwrap();
                assert!(!rendered.subject.is_empty(), "{locale}/{name} has a subject");
                assert!(!rendered.text.is_empty(), "{locale}/{name} has a body");
                assert!(rendered.html.contains(&format!("lang=\"{locale}\"")));
            }
        }
    }

    #[test]
    fn a_receipt_lists_lines_fee_and_total_and_the_html_is_escaped() {
        let rendered = Templates::new().render("payment_received", Locale::Id, &sample()).unwrap();
        assert_eq!(rendered.subject, "Bukti pembayaran pesanan ord_1");
        assert!(rendered.text.contains("- Kopi × 2: Rp 20.000"));
        assert!(rendered.text.contains("Biaya pembayaran: Rp 310"));
        assert!(rendered.text.contains("Total: Rp 25.310"));
        assert!(rendered.html.contains("Ana &lt;b&gt;"), "{}", rendered.html);
        assert!(rendered.html.contains("Berhenti berlangganan"));
        assert!(
            rendered
                .text
                .ends_with("Berhenti berlangganan: http://shop.test/v1/notifications/unsubscribe?token=x")
        );
    }
}
