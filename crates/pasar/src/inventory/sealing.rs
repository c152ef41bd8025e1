//! Digital items are encrypted at rest (AES-256-GCM). The item's id is the associated data, so
//! a sealed value copied onto another row does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

#[derive(Clone)]
pub struct ItemSealer {
    cipher: Aes256Gcm,
}

impl ItemSealer {
    pub fn new(key: &[u8; 32]) -> Self {
        Self { cipher: Aes256Gcm::new(key.into()) }
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
}
