//! The words of the account and store pages, in Indonesian, English and Japanese.

use crate::web::i18n::Messages;

pub const MESSAGES: Messages = &[
    // The account page and its menu.
    ("me_account_pages", ["Halaman akun", "Account pages", "アカウントのページ"]),
    ("me_profile", ["Profil", "Profile", "プロフィール"]),
    ("me_orders", ["Pesanan saya", "My orders", "注文履歴"]),
    ("me_addresses", ["Alamat", "Addresses", "住所"]),
    ("me_wallet", ["Dompet", "Wallet", "ウォレット"]),
    ("me_points", ["Poin", "Points", "ポイント"]),
    ("me_notifications", ["Notifikasi", "Notifications", "通知"]),
    ("me_sessions", ["Sesi login", "Sessions", "ログイン中の端末"]),
    ("me_role", ["Peran", "Role", "権限"]),
    ("me_role_customer", ["Pembeli", "Customer", "購入者"]),
    ("me_role_reseller", ["Reseller", "Reseller", "リセラー"]),
    ("me_role_seller", ["Penjual", "Seller", "出品者"]),
    ("me_role_admin", ["Admin", "Admin", "管理者"]),
    ("me_role_super_admin", ["Super admin", "Super admin", "スーパー管理者"]),
    ("me_unverified", ["belum diverifikasi", "not verified", "未確認"]),
    ("me_edit_name", ["Ubah nama", "Change your name", "お名前の変更"]),
    ("me_save", ["Simpan", "Save", "保存"]),
    ("me_change_password", ["Ganti kata sandi", "Change password", "パスワードの変更"]),
    (
        "me_password_ends_others",
        [
            "Setelah kata sandi diganti, semua sesi lain akan keluar.",
            "Changing the password logs out every other session.",
            "パスワードを変更すると、他の端末はすべてログアウトされます。",
        ],
    ),
    ("me_current_password", ["Kata sandi saat ini", "Current password", "現在のパスワード"]),
    ("me_new_password", ["Kata sandi baru", "New password", "新しいパスワード"]),
    ("me_new_password_again", ["Ulangi kata sandi baru", "New password again", "新しいパスワード（確認）"]),
    ("me_notice_name_saved", ["Nama disimpan.", "Your name is saved.", "お名前を保存しました。"]),
    (
        "me_notice_password_changed",
        ["Kata sandi telah diganti.", "Your password is changed.", "パスワードを変更しました。"],
    ),
    (
        "error_me_passwords_differ",
        [
            "Kedua kata sandi baru tidak sama.",
            "The two new passwords differ.",
            "新しいパスワードが一致しません。",
        ],
    ),
    (
        "error_me_wrong_password",
        ["Kata sandi saat ini salah.", "The current password is wrong.", "現在のパスワードが違います。"],
    ),
    // Addresses.
    ("me_add_address", ["Tambah alamat", "Add an address", "住所を追加"]),
    ("me_edit_address", ["Ubah alamat", "Edit address", "住所を編集"]),
    ("me_edit", ["Ubah", "Edit", "編集"]),
    ("me_default", ["Utama", "Default", "既定"]),
    ("me_make_default", ["Jadikan alamat utama", "Make default", "既定の住所にする"]),
    ("me_no_addresses", ["Belum ada alamat.", "No addresses yet.", "住所はまだ登録されていません。"]),
    ("me_address_label", ["Nama alamat (mis. Rumah)", "Label (such as Home)", "ラベル（例：自宅）"]),
    ("me_optional", ["opsional", "optional", "任意"]),
    ("me_recipient", ["Nama penerima", "Recipient", "受取人"]),
    ("me_phone", ["Telepon", "Phone", "電話番号"]),
    ("me_line1", ["Alamat", "Address", "住所"]),
    ("me_line2", ["Detail alamat", "Address line 2", "建物名・部屋番号"]),
    ("me_city", ["Kota", "City", "市区町村"]),
    ("me_region", ["Provinsi", "Region", "都道府県"]),
    ("me_postal_code", ["Kode pos", "Postal code", "郵便番号"]),
    ("me_country", ["Negara (kode 2 huruf)", "Country (2-letter code)", "国（2文字のコード）"]),
    ("me_back_to_addresses", ["Kembali ke daftar alamat", "Back to addresses", "住所一覧に戻る"]),
    ("me_notice_address_saved", ["Alamat disimpan.", "The address is saved.", "住所を保存しました。"]),
    ("me_notice_address_removed", ["Alamat dihapus.", "The address is removed.", "住所を削除しました。"]),
    (
        "me_notice_default_set",
        ["Alamat utama diubah.", "The default address is changed.", "既定の住所を変更しました。"],
    ),
    (
        "error_me_address",
        [
            "Periksa alamat: isi semua kolom wajib, telepon 6 sampai 20 angka, negara 2 huruf.",
            "Check the address: fill every required field, the phone as 6 to 20 digits, the country as two letters.",
            "住所をご確認ください：必須項目をすべて入力し、電話番号は6〜20桁、国は2文字で入力してください。",
        ],
    ),
    (
        "error_me_too_many_addresses",
        [
            "Paling banyak 50 alamat. Hapus satu dulu.",
            "At most 50 addresses. Remove one first.",
            "住所は50件までです。先に1件削除してください。",
        ],
    ),
    // Wallet and points.
    ("me_balance", ["Saldo", "Balance", "残高"]),
    ("me_held_for_withdrawals", ["Ditahan untuk penarikan", "Held for withdrawals", "出金処理中"]),
    ("me_deposit", ["Isi saldo", "Top up", "チャージ"]),
    ("me_deposit_pay", ["Lanjut ke pembayaran", "Continue to payment", "支払いへ進む"]),
    ("me_show_fees", ["Lihat biaya", "Show fees", "手数料を表示"]),
    ("me_amount", ["Jumlah", "Amount", "金額"]),
    ("me_payment_method", ["Metode pembayaran", "Payment method", "支払い方法"]),
    ("me_fee", ["Biaya", "Fee", "手数料"]),
    (
        "me_no_deposit_methods",
        [
            "Belum ada metode pembayaran untuk isi saldo.",
            "No payment method takes top-ups yet.",
            "チャージに使える支払い方法はまだありません。",
        ],
    ),
    ("me_withdraw", ["Tarik saldo", "Withdraw", "出金"]),
    ("me_bank_code", ["Kode bank", "Bank code", "銀行コード"]),
    ("me_account_number", ["Nomor rekening", "Account number", "口座番号"]),
    ("me_account_name", ["Nama pemilik rekening", "Account holder", "口座名義"]),
    ("me_bank_account", ["Rekening", "Bank account", "振込先"]),
    (
        "me_no_payouts",
        [
            "Penarikan belum tersedia di toko ini.",
            "Withdrawals are not available in this shop yet.",
            "このショップではまだ出金できません。",
        ],
    ),
    ("me_withdrawals", ["Penarikan", "Withdrawals", "出金履歴"]),
    ("me_no_withdrawals", ["Belum ada penarikan.", "No withdrawals yet.", "出金はまだありません。"]),
    ("me_payout_pending", ["Diproses", "In progress", "処理中"]),
    ("me_payout_succeeded", ["Berhasil", "Paid out", "完了"]),
    ("me_payout_failed", ["Gagal, dana kembali", "Failed, funds returned", "失敗（返金済み）"]),
    ("me_history", ["Riwayat", "History", "履歴"]),
    ("me_no_history", ["Belum ada riwayat.", "Nothing here yet.", "履歴はまだありません。"]),
    ("me_when", ["Waktu", "When", "日時"]),
    ("me_what", ["Keterangan", "What", "内容"]),
    ("me_status", ["Status", "Status", "状態"]),
    ("me_newest_first", ["Terbaru", "Newest", "最新"]),
    ("me_older", ["Lebih lama", "Older", "さらに前"]),
    ("me_state_pending", ["Tertunda", "Pending", "保留中"]),
    ("me_state_completed", ["Selesai", "Completed", "完了"]),
    ("me_state_returned", ["Dikembalikan", "Returned", "返却済み"]),
    ("me_kind_deposit", ["Isi saldo", "Top-up", "チャージ"]),
    ("me_kind_order_payment", ["Pembayaran pesanan", "Order payment", "注文の支払い"]),
    ("me_kind_withdrawal", ["Penarikan", "Withdrawal", "出金"]),
    ("me_kind_refund", ["Pengembalian dana", "Refund", "返金"]),
    ("me_kind_adjustment", ["Penyesuaian", "Adjustment", "調整"]),
    ("me_kind_points_earned", ["Poin diperoleh", "Points earned", "ポイント獲得"]),
    ("me_kind_points_redeemed", ["Poin dipakai", "Points used", "ポイント利用"]),
    ("me_points_balance", ["Poin tersedia", "Points available", "利用可能なポイント"]),
    (
        "me_points_held",
        ["Ditahan untuk pesanan yang belum dibayar", "Held for unpaid orders", "未払いの注文で保留中"],
    ),
    (
        "me_notice_withdrawal_started",
        [
            "Penarikan dimulai; dana ditahan sampai bank mengonfirmasi.",
            "The withdrawal has started; the funds are held until the bank confirms.",
            "出金を開始しました。銀行の確認まで資金は保留されます。",
        ],
    ),
    (
        "error_me_amount",
        [
            "Masukkan jumlah yang valid (lebih dari nol).",
            "Enter a valid amount (more than zero).",
            "正しい金額（0より大きい）を入力してください。",
        ],
    ),
    (
        "error_me_deposit",
        [
            "Isi saldo ini tidak dapat dibuat: periksa jumlah dan metode pembayaran.",
            "This top-up cannot be made: check the amount and the payment method.",
            "このチャージはできません。金額と支払い方法をご確認ください。",
        ],
    ),
    (
        "error_me_gateway_down",
        [
            "Layanan pembayaran sedang tidak tersedia. Coba lagi nanti atau pilih metode lain.",
            "The payment service is unavailable. Try again later or choose another method.",
            "決済サービスが利用できません。後でお試しいただくか、別の方法をお選びください。",
        ],
    ),
    (
        "error_me_bank_account",
        [
            "Periksa rekening: kode bank, nomor rekening (angka saja) dan nama pemilik.",
            "Check the bank account: bank code, account number (digits only) and holder's name.",
            "振込先（銀行コード、口座番号（数字のみ）、口座名義）をご確認ください。",
        ],
    ),
    (
        "error_me_no_payouts",
        [
            "Penarikan belum tersedia di toko ini.",
            "Withdrawals are not available in this shop yet.",
            "このショップではまだ出金できません。",
        ],
    ),
    (
        "error_me_insufficient_balance",
        ["Saldo tidak mencukupi.", "The balance does not cover this.", "残高が足りません。"],
    ),
    // Notifications and sessions.
    (
        "me_notifications_intro",
        [
            "Pilih notifikasi yang ingin Anda terima. Notifikasi tentang pesanan, uang dan akun selalu dikirim.",
            "Choose which notifications you receive. Those about orders, money and your account are always sent.",
            "受け取る通知を選んでください。注文・お金・アカウントに関する通知は常に送られます。",
        ],
    ),
    ("me_notification_categories", ["Jenis notifikasi", "Kinds of notification", "通知の種類"]),
    ("me_always_sent", ["selalu dikirim", "always sent", "常に送信"]),
    ("me_category_account", ["Akun", "Account", "アカウント"]),
    ("me_category_orders", ["Pesanan", "Orders", "注文"]),
    ("me_category_wallet", ["Dompet", "Wallet", "ウォレット"]),
    ("me_category_selling", ["Penjualan", "Selling", "販売"]),
    ("me_category_operations", ["Operasional toko", "Shop operations", "ショップ運営"]),
    ("me_category_reviews", ["Balasan ulasan", "Review replies", "レビューへの返信"]),
    ("me_category_marketing", ["Promo dan penawaran", "Offers and news", "キャンペーン・お知らせ"]),
    ("me_category_messages", ["Pesan obrolan", "Chat messages", "チャットメッセージ"]),
    (
        "me_notice_preferences_saved",
        ["Pilihan notifikasi disimpan.", "Your choices are saved.", "通知の設定を保存しました。"],
    ),
    ("me_device", ["Perangkat", "Device", "端末"]),
    ("me_ip", ["Alamat IP", "IP address", "IPアドレス"]),
    ("me_last_seen", ["Terakhir aktif", "Last seen", "最終利用"]),
    ("me_started", ["Masuk sejak", "Signed in", "ログイン日時"]),
    ("me_actions", ["Tindakan", "Actions", "操作"]),
    ("me_this_session", ["Perangkat ini", "This device", "この端末"]),
    ("me_end_session", ["Akhiri sesi", "End session", "ログアウトさせる"]),
    (
        "me_log_out_others",
        ["Keluar dari perangkat lain", "Log out everywhere else", "他の端末からログアウト"],
    ),
    (
        "me_log_out_everywhere",
        ["Keluar dari semua perangkat", "Log out everywhere", "すべての端末からログアウト"],
    ),
    ("me_notice_session_ended", ["Sesi diakhiri.", "The session is ended.", "セッションを終了しました。"]),
    (
        "me_notice_sessions_ended",
        [
            "Semua perangkat lain telah keluar.",
            "Every other device is logged out.",
            "他のすべての端末をログアウトしました。",
        ],
    ),
    // Password reset.
    ("me_forgot_title", ["Lupa kata sandi", "Forgot your password?", "パスワードをお忘れの方"]),
    (
        "me_forgot_intro",
        [
            "Masukkan email akun Anda; kami kirim tautan untuk membuat kata sandi baru.",
            "Enter your account's email; we send a link to choose a new password.",
            "アカウントのメールアドレスを入力してください。新しいパスワードを設定するリンクをお送りします。",
        ],
    ),
    ("me_send_reset", ["Kirim tautan", "Send the link", "リンクを送信"]),
    (
        "me_reset_sent",
        [
            "Jika ada akun dengan email itu, tautan sudah dikirim. Tautan berlaku 30 menit.",
            "If an account has that email, the link is on its way. It works for 30 minutes.",
            "そのメールアドレスのアカウントがあれば、リンクを送信しました。有効期限は30分です。",
        ],
    ),
    ("me_reset_title", ["Buat kata sandi baru", "Choose a new password", "新しいパスワードの設定"]),
    (
        "me_reset_done",
        [
            "Kata sandi diganti. Semua sesi telah keluar; silakan masuk lagi.",
            "Your password is changed and every session is logged out. Log in again.",
            "パスワードを変更し、すべての端末をログアウトしました。もう一度ログインしてください。",
        ],
    ),
    (
        "error_me_reset_link",
        [
            "Tautan ini tidak valid. Minta tautan baru.",
            "This link is not valid. Ask for a new one.",
            "このリンクは無効です。新しいリンクをお求めください。",
        ],
    ),
    (
        "error_me_reset_link_used",
        [
            "Tautan ini sudah dipakai atau kedaluwarsa. Minta tautan baru.",
            "This link was already used or has expired. Ask for a new one.",
            "このリンクは使用済みか期限切れです。新しいリンクをお求めください。",
        ],
    ),
    // Store pages.
    ("me_store_since", ["Bergabung", "Since", "開店"]),
    ("me_store_products", ["Produk toko ini", "This store's products", "このストアの商品"]),
    ("me_first_page", ["Halaman pertama", "First page", "最初のページ"]),
    // The storefront's additions: reviews, bought together, suggestions.
    ("me_reviews", ["Ulasan", "Reviews", "レビュー"]),
    ("me_review_photo", ["Foto dari pembeli", "Photo from a buyer", "購入者の写真"]),
    ("me_seller_reply", ["Balasan penjual", "The seller's reply", "出品者からの返信"]),
    ("me_more_reviews", ["Ulasan lainnya", "More reviews", "さらにレビューを見る"]),
    ("me_bought_together", ["Sering dibeli bersama", "Bought together", "よく一緒に購入されている商品"]),
    ("me_recommended", ["Rekomendasi untuk Anda", "Recommended for you", "あなたへのおすすめ"]),
    // Wallet forms sent twice (store helper).
    (
        "error_me_form_in_progress",
        [
            "Formulir ini sedang diproses. Tunggu sebentar lalu lihat riwayat di bawah.",
            "This form is still being processed. Wait a moment, then check the history below.",
            "このフォームは処理中です。少し待ってから下の履歴をご確認ください。",
        ],
    ),
    (
        "error_me_form_reused",
        [
            "Formulir ini sudah dikirim dengan isi lain. Periksa isinya lalu kirim lagi.",
            "This form was already sent with other details. Check them and send it again.",
            "このフォームは別の内容で送信済みです。内容を確認して、もう一度送信してください。",
        ],
    ),
];
