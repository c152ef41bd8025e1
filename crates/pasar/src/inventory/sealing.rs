//! Digital items are encrypted at rest (AES-256-GCM). The item's id is the associated data, so
//! a sealed value copied onto another row does not open.
//!
//! Each item also carries a keyed digest of its text (HMAC-SHA-256 under a key derived from the
//! sealing key), so the database can refuse the same key twice in a variant without holding
//! anything that reveals it or can be checked against a guessed key.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone)]
pub struct ItemSealer {
    cipher: Aes256Gcm,
    digest_key: [u8; 32],
}

impl ItemSealer {
    pub fn new(key: &[u8; 32]) -> Self {
        // A key of its own for digests, so the sealing key is never used for two purposes.
        let mut derive = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
        derive.update(b"pasar digital item digest v1");
        Self { cipher: Aes256Gcm::new(key.into()), digest_key: derive.finalize().into_bytes().into() }
    }

    /// The keyed digest of an item's text within its variant; surrounding whitespace does not
    /// count, so a key pasted with a trailing space is the same key.
    pub fn digest(&self, variant: &str, secret: &str) -> String {
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&self.digest_key).expect("HMAC takes keys of any length");
        mac.update(variant.as_bytes());
        mac.update(&[0]);
        mac.update(secret.trim().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    pub fn seal(&self, item_id: &str, secret: &str) -> anyhow::Result<String> {
        let nonce_bytes: [u8; 12] = rand::random();
        let ciphertext = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce_bytes),
                Payload { msg: secret.as_bytes(), aad: item_id.as_bytes() },
            )
            .map_err(|_| anyhow::anyhow!("sealing a digital item failed"))?;
        let mut sealed = nonce_bytes.to_vec();
        sealed.extend_from_slice(&ciphertext);
        Ok(STANDARD.encode(sealed))
    }

    pub fn open(&self, item_id: &str, sealed: &str) -> anyhow::Result<String> {
        let bytes = STANDARD.decode(sealed)?;
        anyhow::ensure!(bytes.len() > 12, "sealed digital item is too short");
        let (nonce, ciphertext) = bytes.split_at(12);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: item_id.as_bytes() })
            .map_err(|_| anyhow::anyhow!("digital item {item_id} does not open with the configured key"))?;
        Ok(String::from_utf8(plain)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_item_opens_only_under_its_own_id_and_key() {
        let sealer = ItemSealer::new(&[7; 32]);
        let sealed = sealer.seal("dgi_1", "KEY-AAAA-BBBB").unwrap();
        assert!(!sealed.contains("KEY-AAAA"));
        assert_eq!(sealer.open("dgi_1", &sealed).unwrap(), "KEY-AAAA-BBBB");
        assert!(sealer.open("dgi_2", &sealed).is_err(), "moved to another row");
        assert!(ItemSealer::new(&[8; 32]).open("dgi_1", &sealed).is_err(), "another key");
    }

    #[test]
    fn a_digest_names_the_same_text_in_the_same_variant_only() {
        let sealer = ItemSealer::new(&[7; 32]);
        let digest = sealer.digest("var_1", "KEY-AAAA");
        assert_eq!(sealer.digest("var_1", " KEY-AAAA\n"), digest);
        assert_ne!(sealer.digest("var_1", "KEY-AAAB"), digest);
        assert_ne!(sealer.digest("var_2", "KEY-AAAA"), digest);
        assert_ne!(ItemSealer::new(&[8; 32]).digest("var_1", "KEY-AAAA"), digest, "another key");
        assert!(!digest.contains("KEY"));
    }
}
