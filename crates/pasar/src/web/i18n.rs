//! The pages' words in Indonesian, English and Japanese. Templates ask for them with
//! `t("key")`; a test checks that every key a template uses is here.

use crate::locale::Locale;

/// (key, [Indonesian, English, Japanese]): one table per area of the pages.
pub type Messages = &'static [(&'static str, [&'static str; 3])];

const TABLES: &[Messages] =
    &[STOREFRONT, super::buy::MESSAGES, super::me::MESSAGES, super::admin::MESSAGES, super::seller::MESSAGES];

/// The storefront's own words: browsing, the cart, signing in.
const STOREFRONT: Messages = &[
    ("account", ["Akun", "Account", "アカウント"]),
    ("add_to_cart", ["Tambah ke keranjang", "Add to cart", "カートに入れる"]),
    ("admin_dashboard", ["Admin", "Admin", "管理"]),
    ("all_products", ["Semua produk", "All products", "すべての商品"]),
    ("apply", ["Terapkan", "Apply", "適用"]),
    ("back_home", ["Kembali ke beranda", "Back to the shop", "ショップに戻る"]),
    ("browse", ["Lihat produk", "Browse products", "商品を見る"]),
    ("cart", ["Keranjang", "Cart", "カート"]),
    ("cart_empty", ["Keranjang Anda kosong.", "Your cart is empty.", "カートは空です。"]),
    ("categories", ["Kategori", "Categories", "カテゴリー"]),
    ("chart_peak", ["tertinggi", "peak", "最大"]),
    ("choose_variant", ["Pilih varian", "Choose a variant", "種類を選ぶ"]),
    ("clear_filters", ["Hapus filter", "Clear filters", "絞り込みを解除"]),
    ("email", ["Email", "Email", "メールアドレス"]),
    (
        "error_cart_limit",
        [
            "Keranjang sudah penuh: paling banyak 100 per barang dan 50 barang berbeda.",
            "The cart is full: at most 100 of one item and 50 different items.",
            "カートがいっぱいです（1品100個、50品まで）。",
        ],
    ),
    (
        "error_credentials",
        [
            "Email atau kata sandi salah.",
            "Email or password is wrong.",
            "メールアドレスまたはパスワードが違います。",
        ],
    ),
    (
        "error_csrf",
        [
            "Formulir ini sudah kedaluwarsa. Muat ulang halaman dan coba lagi.",
            "This form has expired. Reload the page and try again.",
            "フォームの有効期限が切れました。ページを再読み込みしてやり直してください。",
        ],
    ),
    (
        "error_email",
        [
            "Alamat email tidak valid.",
            "That email address is not valid.",
            "メールアドレスが正しくありません。",
        ],
    ),
    (
        "error_email_taken",
        [
            "Sudah ada akun dengan email ini.",
            "An account with this email already exists.",
            "このメールアドレスのアカウントは既にあります。",
        ],
    ),
    (
        "error_inactive",
        [
            "Akun ini telah dinonaktifkan.",
            "This account has been deactivated.",
            "このアカウントは無効になっています。",
        ],
    ),
    (
        "error_internal",
        [
            "Terjadi kesalahan di pihak kami. Coba lagi sebentar lagi.",
            "Something went wrong on our side. Try again in a moment.",
            "エラーが発生しました。しばらくしてからお試しください。",
        ],
    ),
    (
        "error_language",
        ["Bahasa itu tidak tersedia.", "That language is not available.", "その言語には対応していません。"],
    ),
    (
        "error_name",
        [
            "Isi nama Anda (paling banyak 100 karakter).",
            "Enter your name (at most 100 characters).",
            "お名前を入力してください（100文字まで）。",
        ],
    ),
    (
        "error_not_for_sale",
        [
            "Barang ini sedang tidak dijual.",
            "This item is not for sale now.",
            "この商品は現在販売していません。",
        ],
    ),
    ("error_not_found", ["Halaman tidak ditemukan.", "Page not found.", "ページが見つかりません。"]),
    (
        "error_password",
        [
            "Kata sandi harus 8 sampai 128 karakter.",
            "The password must be 8 to 128 characters.",
            "パスワードは8〜128文字にしてください。",
        ],
    ),
    (
        "error_quantity",
        ["Jumlah harus 1 sampai 100.", "The quantity must be 1 to 100.", "数量は1〜100にしてください。"],
    ),
    (
        "error_store_suspended",
        [
            "Toko penjual barang ini sedang ditangguhkan.",
            "The store selling this item is suspended for now.",
            "この商品の販売店は現在停止中です。",
        ],
    ),
    (
        "error_too_large",
        ["Permintaan terlalu besar.", "The request is too large.", "リクエストが大きすぎます。"],
    ),
    (
        "error_too_many_attempts",
        [
            "Terlalu banyak percobaan. Tunggu sebentar lalu coba lagi.",
            "Too many attempts. Wait a little and try again.",
            "試行回数が多すぎます。少し待ってからお試しください。",
        ],
    ),
    ("facet_brand", ["Merek", "Brand", "ブランド"]),
    ("facet_category", ["Kategori", "Category", "カテゴリー"]),
    ("facet_price", ["Harga", "Price", "価格"]),
    ("facet_rating", ["Penilaian", "Rating", "評価"]),
    ("facet_stock", ["Ketersediaan", "Availability", "在庫"]),
    ("facet_store", ["Toko", "Store", "ストア"]),
    ("filters", ["Filter", "Filters", "絞り込み"]),
    ("for_developers", ["Untuk pengembang", "For developers", "開発者向け"]),
    ("have_account", ["Sudah punya akun?", "Already have an account?", "アカウントをお持ちの方"]),
    ("home_title", ["Selamat berbelanja", "Welcome to the shop", "ようこそ"]),
    ("in_stock", ["Tersedia", "In stock", "在庫あり"]),
    ("language", ["Bahasa", "Language", "言語"]),
    ("login", ["Masuk", "Log in", "ログイン"]),
    ("logout", ["Keluar", "Log out", "ログアウト"]),
    ("low_stock", ["Stok terbatas", "Few left", "残りわずか"]),
    ("name", ["Nama", "Name", "お名前"]),
    ("newest", ["Produk terbaru", "Newest products", "新着商品"]),
    ("next", ["Berikutnya", "Next", "次へ"]),
    ("no_account", ["Belum punya akun?", "No account yet?", "アカウントをお持ちでない方"]),
    ("no_longer_for_sale", ["Tidak dijual lagi", "No longer for sale", "販売終了"]),
    ("no_products", ["Belum ada produk.", "No products yet.", "まだ商品がありません。"]),
    ("no_reviews", ["Belum ada ulasan", "No reviews yet", "レビューはまだありません"]),
    ("nothing_found", ["Tidak ada produk yang cocok.", "No products match.", "該当する商品はありません。"]),
    ("out_of_stock", ["Habis", "Out of stock", "在庫切れ"]),
    ("pages", ["Halaman", "Pages", "ページ"]),
    ("password", ["Kata sandi", "Password", "パスワード"]),
    ("previous", ["Sebelumnya", "Previous", "前へ"]),
    ("price", ["Harga", "Price", "価格"]),
    ("price_from", ["Mulai", "From", "最安"]),
    ("product", ["Produk", "Product", "商品"]),
    ("products_found", ["produk", "products", "件"]),
    ("quantity", ["Jumlah", "Quantity", "数量"]),
    ("register", ["Daftar", "Register", "新規登録"]),
    ("remove", ["Hapus", "Remove", "削除"]),
    ("results_for", ["Hasil untuk", "Results for", "検索結果："]),
    ("reviews", ["ulasan", "reviews", "件のレビュー"]),
    ("search", ["Cari", "Search", "検索"]),
    ("search_placeholder", ["Cari produk", "Search products", "商品を検索"]),
    ("seller_dashboard", ["Toko saya", "My store", "マイストア"]),
    ("skip_to_content", ["Langsung ke isi", "Skip to content", "本文へ移動"]),
    ("sold_by", ["Dijual oleh", "Sold by", "販売："]),
    ("sort_by", ["Urutkan", "Sort by", "並び替え"]),
    ("sort_newest", ["Terbaru", "Newest", "新着順"]),
    ("sort_price_asc", ["Harga terendah", "Price, low to high", "価格の安い順"]),
    ("sort_price_desc", ["Harga tertinggi", "Price, high to low", "価格の高い順"]),
    ("sort_relevance", ["Paling sesuai", "Best match", "関連度順"]),
    ("subtotal", ["Subtotal", "Subtotal", "小計"]),
    ("total", ["Total", "Total", "合計"]),
    ("update", ["Ubah", "Update", "更新"]),
    // The home page's featured products (store helper).
    ("featured", ["Produk unggulan", "Featured", "おすすめ商品"]),
];

fn entry(key: &str) -> Option<&'static [&'static str; 3]> {
    TABLES.iter().flat_map(|table| table.iter()).find(|(k, _)| *k == key).map(|(_, texts)| texts)
}

fn index(locale: Locale) -> usize {
    match locale {
        Locale::Id => 0,
        Locale::En => 1,
        Locale::Ja => 2,
    }
}

/// The message in `locale`; an unknown key shows as itself (a test keeps them all known).
pub fn message(locale: Locale, key: &str) -> &str {
    entry(key).map_or(key, |texts| texts[index(locale)])
}

#[cfg(test)]
pub fn has(locale: Locale, key: &str) -> bool {
    entry(key).is_some_and(|texts| !texts[index(locale)].is_empty())
}

/// Every message key the Rust source `source` names (a quoted `error_…`, `facet_…` or `sort_…`)
/// exists; each area's tests call it on its own files.
#[cfg(test)]
pub fn assert_messages_exist(source: &str) {
    for piece in source.split('"').skip(1).step_by(2) {
        let named = ["error_", "facet_", "sort_"].iter().any(|prefix| piece.starts_with(prefix));
        if named && piece.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            assert!(entry(piece).is_some(), "no message for {piece}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_every_key_the_code_names_exists() {
        let all: Vec<&str> = TABLES.iter().flat_map(|table| table.iter()).map(|(key, _)| *key).collect();
        for (i, key) in all.iter().enumerate() {
            assert!(!all[i + 1..].contains(key), "{key} twice");
        }
        for source in [
            include_str!("pages.rs"),
            include_str!("cart.rs"),
            include_str!("account.rs"),
            include_str!("visit.rs"),
        ] {
            assert_messages_exist(source);
        }
    }
}
