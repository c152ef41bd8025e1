//! The Telegram storefront's types: updates as Telegram sends them (only the fields used),
//! the buttons' callback data (at most 64 bytes, parsed once at the edge), inline keyboards
//! and the conversation state kept per user.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ids::{CategoryId, OrderId, ProductId, VariantId};

/// One update from Telegram: exactly one of its optional fields is set; the storefront reads
/// messages and button presses and ignores the rest.
#[derive(Clone, Debug, Deserialize)]
pub struct Update {
    pub update_id: i64,
    pub message: Option<Message>,
    pub callback_query: Option<CallbackQuery>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Message {
    pub message_id: i64,
    pub from: Option<TelegramUser>,
    pub chat: Chat,
    pub text: Option<String>,
    pub caption: Option<String>,
    pub document: Option<Document>,
    /// A picture, in the sizes Telegram made of it (largest last).
    pub photo: Option<Vec<PhotoSize>>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct PhotoSize {
    pub file_id: String,
    pub file_size: Option<i64>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Document {
    pub file_id: String,
    pub file_name: Option<String>,
    pub file_size: Option<i64>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct TelegramUser {
    pub id: i64,
    #[serde(default)]
    pub is_bot: bool,
    pub first_name: String,
    pub last_name: Option<String>,
    pub username: Option<String>,
}

impl TelegramUser {
    pub fn display_name(&self) -> String {
        match &self.last_name {
            Some(last) => format!("{} {last}", self.first_name),
            None => self.first_name.clone(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct Chat {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct CallbackQuery {
    pub id: String,
    pub from: TelegramUser,
    pub message: Option<Message>,
    pub data: Option<String>,
}

/// How a buyer pays at the confirm step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayWith {
    Qris,
    Balance,
}

/// What a button does, as its `callback_data` says it. Ids travel whole (a product id is 36
/// bytes), so every button fits Telegram's 64 bytes; see the test below.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Callback {
    Menu,
    Categories {
        page: u32,
    },
    Category {
        id: CategoryId,
        page: u32,
    },
    Product {
        id: ProductId,
    },
    Variant {
        id: VariantId,
    },
    Quantity {
        variant: VariantId,
        quantity: u32,
    },
    /// `nonce` tells one confirm screen from the next, so that pressing Pay twice on one
    /// screen places one order, and a new screen a new one.
    Pay {
        variant: VariantId,
        quantity: u32,
        with: PayWith,
        nonce: u32,
    },
    Orders {
        page: u32,
    },
    KeysAgain {
        order: OrderId,
    },
    Balance,
    Deposit {
        amount: i64,
    },
    DepositCustom,
    Cancel,
}

/// The admin commands, for `/help`.
pub const ADMIN_HELP: &str = "Admin: /stats, /orders all|STATUS, /order ID, /stock SKU, \
    /addproduct (step by step), /addstock SKU (keys on the next lines, or as a text file with this caption), \
    /setrole TELEGRAM_ID customer|reseller|admin, /ban TELEGRAM_ID, /unban TELEGRAM_ID, /refund ORDER, \
    /broadcast [all|customer|reseller|admin] TEXT, /price SKU AMOUNT [reseller AMOUNT], \
    /balance TELEGRAM_ID [adjust AMOUNT REASON]";

/// Most of one item a buyer can pick in the bot (the checkout's own limit is 100).
pub const MOST_QUANTITY: u32 = 100;

impl Callback {
    pub fn encode(&self) -> String {
        let data = match self {
            Callback::Menu => "menu".to_owned(),
            Callback::Categories { page } => format!("cats:{page}"),
            Callback::Category { id, page } => format!("cat:{id}:{page}"),
            Callback::Product { id } => format!("prd:{id}"),
            Callback::Variant { id } => format!("var:{id}"),
            Callback::Quantity { variant, quantity } => format!("qty:{variant}:{quantity}"),
            Callback::Pay { variant, quantity, with, nonce } => {
                let with = match with {
                    PayWith::Qris => "q",
                    PayWith::Balance => "b",
                };
                format!("pay:{variant}:{quantity}:{with}:{nonce}")
            }
            Callback::Orders { page } => format!("ords:{page}"),
            Callback::KeysAgain { order } => format!("keys:{order}"),
            Callback::Balance => "bal".to_owned(),
            Callback::Deposit { amount } => format!("dep:{amount}"),
            Callback::DepositCustom => "dep:custom".to_owned(),
            Callback::Cancel => "cancel".to_owned(),
        };
        debug_assert!(data.len() <= 64, "callback data over 64 bytes: {data}");
        data
    }

    /// The button's action, or None for data this bot never made (or made in an older shape).
    pub fn parse(data: &str) -> Option<Self> {
        let parts: Vec<&str> = data.split(':').collect();
        let page = |text: &str| text.parse::<u32>().ok().filter(|p| *p < 10_000);
        let quantity = |text: &str| text.parse::<u32>().ok().filter(|q| (1..=MOST_QUANTITY).contains(q));
        Some(match parts.as_slice() {
            ["menu"] => Callback::Menu,
            ["cats", p] => Callback::Categories { page: page(p)? },
            ["cat", id, p] => Callback::Category { id: id.parse().ok()?, page: page(p)? },
            ["prd", id] => Callback::Product { id: id.parse().ok()? },
            ["var", id] => Callback::Variant { id: id.parse().ok()? },
            ["qty", id, q] => Callback::Quantity { variant: id.parse().ok()?, quantity: quantity(q)? },
            ["pay", id, q, with, nonce] => Callback::Pay {
                variant: id.parse().ok()?,
                quantity: quantity(q)?,
                with: match *with {
                    "q" => PayWith::Qris,
                    "b" => PayWith::Balance,
                    _ => return None,
                },
                nonce: nonce.parse().ok()?,
            },
            ["ords", p] => Callback::Orders { page: page(p)? },
            ["keys", id] => Callback::KeysAgain { order: id.parse().ok()? },
            ["bal"] => Callback::Balance,
            ["dep", "custom"] => Callback::DepositCustom,
            ["dep", amount] => Callback::Deposit { amount: amount.parse().ok().filter(|a: &i64| *a > 0)? },
            ["cancel"] => Callback::Cancel,
            _ => return None,
        })
    }
}

/// An inline keyboard being built: rows of buttons.
#[derive(Default)]
pub struct Keyboard {
    rows: Vec<Vec<Value>>,
}

impl Keyboard {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn row(mut self, buttons: Vec<(String, Callback)>) -> Self {
        if !buttons.is_empty() {
            self.rows.push(
                buttons
                    .into_iter()
                    .map(|(text, action)| json!({"text": text, "callback_data": action.encode()}))
                    .collect(),
            );
        }
        self
    }

    pub fn button(self, text: impl Into<String>, action: Callback) -> Self {
        self.row(vec![(text.into(), action)])
    }

    pub fn markup(self) -> Value {
        json!({"inline_keyboard": self.rows})
    }
}

/// The page size of lists in the bot.
pub const PAGE_SIZE: usize = 6;

/// The items of page `page` of `items`, and whether pages come before and after it.
pub fn page_of<T>(items: &[T], page: u32) -> (&[T], bool, bool) {
    let start = (page as usize).saturating_mul(PAGE_SIZE).min(items.len());
    let end = (start + PAGE_SIZE).min(items.len());
    (&items[start..end], page > 0, end < items.len())
}

/// Where a user is in a flow that waits for typed text; nothing sensitive is kept (seed 000).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "flow", rename_all = "snake_case")]
pub enum Conversation {
    /// Browsing with buttons: nothing waits for text.
    #[default]
    Idle,
    /// Waiting for the amount of a deposit.
    DepositAmount,
    /// An admin's `/addstock SKU`: waiting for the keys (lines or a text file).
    AddStock {
        variant: VariantId,
        sku: String,
    },
    /// An admin's `/addproduct`, step by step: its name, then its category, its price, its
    /// description, and a photo once it is made.
    ProductName,
    ProductCategory {
        name: String,
    },
    ProductPrice {
        name: String,
        category: CategoryId,
    },
    ProductDescription {
        name: String,
        category: CategoryId,
        price: i64,
    },
    ProductPhoto {
        product: ProductId,
        sku: String,
    },
}

impl Conversation {
    /// Whether this is a step of `/addproduct`.
    pub fn is_product_step(&self) -> bool {
        matches!(
            self,
            Conversation::ProductName
                | Conversation::ProductCategory { .. }
                | Conversation::ProductPrice { .. }
                | Conversation::ProductDescription { .. }
                | Conversation::ProductPhoto { .. }
        )
    }
}

/// A command typed in a message: `/name` (with any `@botname` dropped) and its argument text.
pub fn command(text: &str) -> Option<(String, String)> {
    let text = text.trim();
    let rest = text.strip_prefix('/')?;
    let (head, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let name = head.split('@').next().unwrap_or(head).to_lowercase();
    (!name.is_empty()).then(|| (name, args.trim().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_button_fits_in_64_bytes_and_parses_back() {
        let (variant, product, category, order) =
            (VariantId::new(), ProductId::new(), CategoryId::new(), OrderId::new());
        let all = [
            Callback::Menu,
            Callback::Categories { page: 9_999 },
            Callback::Category { id: category, page: 9_999 },
            Callback::Product { id: product },
            Callback::Variant { id: variant },
            Callback::Quantity { variant, quantity: MOST_QUANTITY },
            Callback::Pay { variant, quantity: MOST_QUANTITY, with: PayWith::Qris, nonce: u32::MAX },
            Callback::Pay { variant, quantity: 1, with: PayWith::Balance, nonce: 0 },
            Callback::Orders { page: 9_999 },
            Callback::KeysAgain { order },
            Callback::Balance,
            Callback::Deposit { amount: 1_000_000_000_000 },
            Callback::DepositCustom,
            Callback::Cancel,
        ];
        for action in all {
            let data = action.encode();
            assert!(!data.is_empty() && data.len() <= 64, "{data} is {} bytes", data.len());
            assert_eq!(Callback::parse(&data), Some(action), "{data}");
        }
    }

    #[test]
    fn data_this_bot_never_made_is_not_understood() {
        for data in ["", "buy:17", "qty:var_x:1", "pay:var_0190:1:z", "cats:-1", "dep:0", "menu:1"] {
            assert_eq!(Callback::parse(data), None, "{data}");
        }
        let variant = VariantId::new();
        assert_eq!(Callback::parse(&format!("qty:{variant}:0")), None);
        assert_eq!(Callback::parse(&format!("qty:{variant}:101")), None);
    }

    #[test]
    fn commands_drop_the_bot_name_and_keep_their_arguments() {
        assert_eq!(command("/start"), Some(("start".into(), String::new())));
        assert_eq!(command("/Link@QuickCartBot  AB12 "), Some(("link".into(), "AB12".into())));
        assert_eq!(command("hello"), None);
    }

    #[test]
    fn a_conversation_survives_storage_and_an_unknown_one_is_idle() {
        let state = Conversation::ProductDescription {
            name: "Netflix 1 month".into(),
            category: CategoryId::new(),
            price: 35_000,
        };
        let text = serde_json::to_string(&state).unwrap();
        assert_eq!(serde_json::from_str::<Conversation>(&text).unwrap(), state);
        assert!(serde_json::from_str::<Conversation>(r#"{"flow":"gone"}"#).is_err());
    }

    #[test]
    fn pages_say_whether_others_come_before_and_after() {
        let items: Vec<u32> = (0..13).collect();
        assert_eq!(page_of(&items, 0), (&items[0..6], false, true));
        assert_eq!(page_of(&items, 2), (&items[12..13], true, false));
        assert_eq!(page_of(&items, 7).0.len(), 0);
    }
}
