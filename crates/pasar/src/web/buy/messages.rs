//! The words of checkout, the pay step and the order pages, in Indonesian, English and
//! Japanese. Keys start with `buy_` (or `error_checkout_`) so they cannot meet another area's.

use super::super::i18n::Messages;

pub(super) const MESSAGES: Messages = &[
    (
        "buy_address_label",
        ["Nama alamat (mis. Rumah)", "Address name (such as Home)", "住所の名前（例：自宅）"],
    ),
    ("buy_address_line1", ["Alamat", "Address", "住所"]),
    (
        "buy_address_line2",
        ["Detail alamat (opsional)", "Address line 2 (optional)", "建物名・部屋番号（任意）"],
    ),
    ("buy_amount", ["Jumlah", "Amount", "金額"]),
    ("buy_carrier", ["Kurir", "Carrier", "配送業者"]),
    ("buy_check_status", ["Periksa status", "Check status", "状況を確認"]),
    ("buy_checkout", ["Checkout", "Checkout", "ご注文手続き"]),
    ("buy_city", ["Kota", "City", "市区町村"]),
    ("buy_continue", ["Lanjutkan", "Continue", "続ける"]),
    ("buy_copy", ["Salin", "Copy", "コピー"]),
    ("buy_copied", ["Disalin", "Copied", "コピーしました"]),
    ("buy_country", ["Negara (kode 2 huruf)", "Country (2-letter code)", "国（2文字のコード）"]),
    ("buy_delivery_slot", ["Waktu pengantaran", "Delivery slot", "配達時間帯"]),
    ("buy_delivery_slot_pick", ["Pilih waktu pengantaran", "Choose a delivery slot", "配達時間帯を選ぶ"]),
    ("buy_digital_keys", ["Kode digital", "Digital keys", "デジタルキー"]),
    ("buy_discount", ["Diskon", "Discount", "割引"]),
    ("buy_discounts", ["Voucher dan poin", "Vouchers and points", "クーポンとポイント"]),
    ("buy_edit_cart", ["Ubah keranjang", "Change the cart", "カートを変更"]),
    ("buy_fee", ["Biaya", "Fee", "手数料"]),
    ("buy_files_delivered", ["Berkas", "Files", "ファイル"]),
    ("buy_konbini_confirmation", ["Nomor konfirmasi", "Confirmation number", "確認番号"]),
    ("buy_konbini_deadline", ["Batas pembayaran", "Pay by", "お支払期限"]),
    (
        "buy_konbini_instructions",
        ["Cara membayar di toko", "How to pay at the store", "店頭でのお支払い方法"],
    ),
    ("buy_konbini_receipt", ["Kode pembayaran", "Payment code", "お支払番号"]),
    ("buy_konbini_store", ["Toko", "Store", "コンビニ"]),
    ("buy_method_bni_va", ["Virtual account BNI", "BNI virtual account", "BNIバーチャル口座"]),
    ("buy_method_card", ["Kartu kredit/debit", "Credit or debit card", "クレジット・デビットカード"]),
    (
        "buy_method_hosted",
        ["Halaman pembayaran penyedia", "The provider's payment page", "決済事業者のページ"],
    ),
    ("buy_method_konbini", ["Bayar di minimarket (konbini)", "Pay at a convenience store", "コンビニ払い"]),
    ("buy_method_qris", ["QRIS", "QRIS", "QRIS"]),
    ("buy_method_sandbox", ["Sandbox (uji coba)", "Sandbox (test payments)", "サンドボックス（テスト決済）"]),
    ("buy_method_wallet", ["Saldo dompet", "Wallet balance", "ウォレット残高"]),
    ("buy_my_orders", ["Pesanan saya", "My orders", "注文履歴"]),
    ("buy_new_address", ["Alamat baru", "A new address", "新しい住所"]),
    (
        "buy_new_address_saved",
        [
            "Alamat baru disimpan ke buku alamat Anda saat pesanan dibuat.",
            "A new address is saved to your address book when the order is placed.",
            "新しい住所はご注文時に住所録に保存されます。",
        ],
    ),
    ("buy_newest_orders", ["Pesanan terbaru", "Newest orders", "最新の注文"]),
    ("buy_no_orders", ["Anda belum punya pesanan.", "You have no orders yet.", "まだ注文はありません。"]),
    ("buy_older_orders", ["Pesanan lebih lama", "Older orders", "以前の注文"]),
    ("buy_order", ["Pesanan", "Order", "注文"]),
    ("buy_order_cancelled", ["Dibatalkan", "Cancelled", "キャンセル済み"]),
    ("buy_order_completed", ["Selesai", "Completed", "完了"]),
    ("buy_order_delivered", ["Terkirim", "Delivered", "配達済み"]),
    ("buy_order_expired", ["Kedaluwarsa", "Expired", "期限切れ"]),
    ("buy_order_paid", ["Dibayar", "Paid", "支払済み"]),
    ("buy_order_partially_refunded", ["Dikembalikan sebagian", "Partly refunded", "一部返金済み"]),
    ("buy_order_pending_payment", ["Menunggu pembayaran", "Awaiting payment", "お支払い待ち"]),
    ("buy_order_processing", ["Diproses", "Processing", "処理中"]),
    ("buy_order_refunded", ["Dikembalikan", "Refunded", "返金済み"]),
    ("buy_order_shipped", ["Dikirim", "Shipped", "発送済み"]),
    ("buy_order_status", ["Status", "Status", "状況"]),
    ("buy_ordered_at", ["Dipesan", "Ordered", "注文日時"]),
    ("buy_part", ["Bagian", "Part", "配送"]),
    ("buy_part_awaiting_payment", ["Menunggu pembayaran", "Awaiting payment", "お支払い待ち"]),
    ("buy_part_cancelled", ["Dibatalkan", "Cancelled", "キャンセル済み"]),
    ("buy_part_delivered", ["Terkirim", "Delivered", "配達済み"]),
    ("buy_part_packed", ["Dikemas", "Packed", "梱包済み"]),
    ("buy_part_paid", ["Sedang disiapkan", "Being prepared", "準備中"]),
    ("buy_part_shipped", ["Dikirim", "Shipped", "発送済み"]),
    ("buy_parts", ["Pengiriman", "Shipments", "配送"]),
    ("buy_pay", ["Pembayaran", "Payment", "お支払い"]),
    ("buy_pay_before", ["Bayar sebelum", "Pay before", "お支払期限"]),
    ("buy_pay_now", ["Bayar sekarang", "Pay now", "今すぐ支払う"]),
    ("buy_payment", ["Pembayaran", "Payment", "お支払い"]),
    ("buy_payment_cancelled", ["Dibatalkan", "Cancelled", "キャンセル済み"]),
    ("buy_payment_expired", ["Kedaluwarsa", "Expired", "期限切れ"]),
    ("buy_payment_failed", ["Gagal", "Failed", "失敗"]),
    ("buy_payment_fee", ["Biaya pembayaran", "Payment fee", "決済手数料"]),
    ("buy_payment_method", ["Metode pembayaran", "Payment method", "お支払い方法"]),
    ("buy_payment_number", ["Nomor pembayaran", "Number to pay to", "お支払先番号"]),
    ("buy_payment_pending", ["Menunggu pembayaran", "Waiting for payment", "お支払い待ち"]),
    ("buy_payment_refunded", ["Dikembalikan", "Refunded", "返金済み"]),
    ("buy_payment_status", ["Status pembayaran", "Payment status", "お支払い状況"]),
    ("buy_payment_succeeded", ["Berhasil", "Paid", "支払済み"]),
    ("buy_phone", ["Telepon", "Phone", "電話番号"]),
    ("buy_place_order", ["Buat pesanan", "Place the order", "注文を確定する"]),
    ("buy_points_available", ["tersedia", "available", "利用可能"]),
    ("buy_points_to_use", ["Poin yang dipakai", "Points to use", "使うポイント"]),
    ("buy_postal_code", ["Kode pos", "Postal code", "郵便番号"]),
    ("buy_recipient_name", ["Nama penerima", "Recipient's name", "お届け先のお名前"]),
    ("buy_region", ["Provinsi (opsional)", "Region (optional)", "都道府県（任意）"]),
    (
        "buy_sandbox_note",
        [
            "Toko demo: pembayaran ini uji coba, tidak ada uang yang berpindah.",
            "A demo shop: this payment is a test and moves no money.",
            "デモショップです。この支払いはテストで、実際のお金は動きません。",
        ],
    ),
    ("buy_sandbox_fail", ["Gagalkan", "Fail", "失敗させる"]),
    ("buy_sandbox_pay", ["Bayar", "Pay", "支払う"]),
    (
        "buy_scan_qris",
        [
            "Pindai kode ini dengan aplikasi bank atau dompet digital Anda.",
            "Scan this code with your bank or e-wallet app.",
            "銀行または電子マネーのアプリでこのコードを読み取ってください。",
        ],
    ),
    ("buy_shipping", ["Pengiriman", "Shipping", "配送"]),
    ("buy_shipping_address", ["Alamat pengiriman", "Shipping address", "お届け先"]),
    (
        "buy_shipping_free_or_none",
        [
            "Tidak ada metode pengiriman yang perlu dipilih untuk alamat ini.",
            "No shipping method needs choosing for this address.",
            "この住所では配送方法を選ぶ必要はありません。",
        ],
    ),
    ("buy_shipping_method", ["Metode pengiriman", "Shipping method", "配送方法"]),
    ("buy_slot_full", ["penuh", "full", "満員"]),
    ("buy_timeline", ["Riwayat", "History", "履歴"]),
    ("buy_time_left", ["Sisa waktu", "Time left", "残り時間"]),
    ("buy_to_pay", ["Total bayar", "To pay", "お支払い合計"]),
    ("buy_totals", ["Ringkasan", "Summary", "合計"]),
    ("buy_tracking", ["Nomor resi", "Tracking number", "追跡番号"]),
    ("buy_update_totals", ["Perbarui total", "Update totals", "合計を更新"]),
    ("buy_voucher_code", ["Kode voucher", "Voucher code", "クーポンコード"]),
    ("buy_your_items", ["Barang", "Items", "商品"]),
    (
        "error_checkout_address",
        [
            "Periksa alamatnya: nama, telepon, alamat, kota dan kode pos wajib diisi.",
            "Check the address: name, phone, address, city and postal code are required.",
            "住所をご確認ください。お名前・電話番号・住所・市区町村・郵便番号は必須です。",
        ],
    ),
    (
        "error_checkout_address_needed",
        [
            "Pilih atau isi alamat pengiriman, lalu perbarui total.",
            "Choose or enter a shipping address, then update the totals.",
            "お届け先を選ぶか入力して、合計を更新してください。",
        ],
    ),
    (
        "error_checkout_balance",
        [
            "Saldo dompet tidak cukup untuk pesanan ini.",
            "Your wallet balance does not cover this order.",
            "ウォレット残高が足りません。",
        ],
    ),
    (
        "error_checkout_gateway",
        [
            "Layanan pembayaran ini sedang tidak tersedia. Pilih metode lain atau coba lagi nanti.",
            "This payment service is unavailable now. Choose another method or try again later.",
            "この決済サービスは現在ご利用いただけません。別の方法を選ぶか、後でお試しください。",
        ],
    ),
    (
        "error_checkout_invalid",
        [
            "Pesanan ini tidak dapat dibuat seperti ini. Periksa isian Anda.",
            "This order cannot be placed as it is. Check what you entered.",
            "この内容では注文できません。入力内容をご確認ください。",
        ],
    ),
    (
        "error_checkout_payment_method",
        [
            "Metode pembayaran itu tidak tersedia.",
            "That payment method is not available.",
            "そのお支払い方法はご利用いただけません。",
        ],
    ),
    (
        "error_checkout_points",
        [
            "Jumlah poin itu tidak dapat dipakai untuk pesanan ini.",
            "That many points cannot be used on this order.",
            "そのポイント数はこの注文には使えません。",
        ],
    ),
    (
        "error_checkout_shipping",
        [
            "Tidak ada pengiriman ke alamat ini untuk barang-barang ini.",
            "These items cannot be shipped to this address.",
            "この住所へはこれらの商品を配送できません。",
        ],
    ),
    (
        "error_checkout_slot_full",
        [
            "Waktu pengantaran itu sudah penuh atau ditutup. Pilih yang lain.",
            "That delivery slot is full or closed. Choose another.",
            "その配達時間帯は満員か締め切られました。別の時間帯を選んでください。",
        ],
    ),
    (
        "error_checkout_slot_required",
        [
            "Pilih waktu pengantaran untuk alamat ini.",
            "Choose a delivery slot for this address.",
            "この住所には配達時間帯を選んでください。",
        ],
    ),
    (
        "error_checkout_stock",
        [
            "Stok salah satu barang tidak cukup lagi. Ubah keranjang lalu coba lagi.",
            "One of the items is no longer in stock in that quantity. Change the cart and try again.",
            "在庫が足りない商品があります。カートを変更してやり直してください。",
        ],
    ),
    (
        "error_checkout_voucher",
        [
            "Voucher itu tidak dapat dipakai untuk pesanan ini.",
            "That voucher cannot be used on this order.",
            "そのクーポンはこの注文には使えません。",
        ],
    ),
    // The sandbox's Expire button on the pay step (store helper).
    ("buy_sandbox_expire", ["Habiskan waktu", "Expire", "期限切れにする"]),
];

#[cfg(test)]
mod tests {
    use super::super::super::i18n::assert_messages_exist;
    use super::MESSAGES;

    #[test]
    fn every_message_the_buy_pages_name_exists_in_each_language() {
        for source in [include_str!("checkout.rs"), include_str!("pay.rs"), include_str!("orders.rs")] {
            assert_messages_exist(source);
        }
        for (key, texts) in MESSAGES {
            assert!(texts.iter().all(|t| !t.is_empty()), "{key} has an empty translation");
        }
        // The keys the pages build from a status or a method.
        let keys: Vec<&str> = MESSAGES.iter().map(|(k, _)| *k).collect();
        for status in crate::orders::OrderStatus::ALL {
            assert!(keys.contains(&format!("buy_order_{}", status.as_str()).as_str()), "{status}");
        }
        for status in crate::payments::PaymentStatus::ALL {
            assert!(keys.contains(&format!("buy_payment_{}", status.as_str()).as_str()));
        }
        for status in crate::orders::FulfilmentStatus::ALL {
            assert!(keys.contains(&format!("buy_part_{}", status.as_str()).as_str()));
        }
    }
}
