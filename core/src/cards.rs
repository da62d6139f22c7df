//! Cards on the kiosk: keyed hashes (HMAC-SHA256 with the per-site secret) of every form a card
//! can be read in, indexed to the recipient or instructor who holds it. The raw UID never reaches
//! the disk or the feed (152-ФЗ).

use crate::card::{CardForm, CardKey, CardRead};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashMap;

/// The site secret that keys card hashes.
#[derive(Clone)]
pub struct SiteSecret(Vec<u8>);

impl std::fmt::Debug for SiteSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SiteSecret(..)")
    }
}

/// The fewest bytes a site secret file may hold: card forms of 24–32 bits are cheap to
/// reverse from their hashes when the key is guessable, so a short key is refused, not used.
/// Provisioning writes 32 random bytes (64 hex digits).
pub const MIN_SECRET_BYTES: usize = 16;

/// Why a site secret is not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the site secret has {0} bytes; it needs at least {MIN_SECRET_BYTES} \
     (make one with: head -c 32 /dev/urandom | xxd -p -c 64)"
)]
pub struct ShortSecret(pub usize);

impl SiteSecret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        SiteSecret(bytes.into())
    }

    /// The secret a file holds (surrounding whitespace is not part of it), refused when short
    /// or empty.
    pub fn from_file_bytes(bytes: &[u8]) -> Result<Self, ShortSecret> {
        let key = bytes.trim_ascii();
        if key.len() < MIN_SECRET_BYTES {
            return Err(ShortSecret(key.len()));
        }
        Ok(SiteSecret(key.to_vec()))
    }

    /// The keyed hash of a card form, hex.
    pub fn hash_form(&self, form: &CardForm) -> String {
        self.hash_bytes(form.as_bytes())
    }

    /// The keyed hash of arbitrary bytes (a PIN), hex.
    pub fn hash_bytes(&self, bytes: &[u8]) -> String {
        // HMAC accepts a key of any length: new_from_slice cannot fail for Hmac<Sha256>.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return String::new();
        };
        mac.update(bytes);
        hex::encode(mac.finalize().into_bytes())
    }

    /// The hashes of every lookup form of a card (whole UID, 24-bit truncations).
    pub fn card_hashes(&self, key: &CardKey) -> Vec<String> {
        key.lookup_forms()
            .iter()
            .map(|f| self.hash_form(f))
            .collect()
    }

    /// The hash a read is looked up under.
    pub fn read_hash(&self, read: &CardRead) -> String {
        self.hash_form(&read.lookup_form())
    }
}

/// Two holders share a card form: a truncated read of it cannot tell them apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collision<T> {
    pub hash: String,
    pub holders: Vec<T>,
}

/// What a hash lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<T> {
    Found(T),
    Unknown,
    /// More than one holder: refused as unknown (the instructor checks in by name).
    Ambiguous(Vec<T>),
}

/// Hash → holder index with collision reporting.
#[derive(Debug, Clone)]
pub struct CardIndex<T> {
    map: HashMap<String, Vec<T>>,
}

impl<T: Clone + PartialEq> Default for CardIndex<T> {
    fn default() -> Self {
        CardIndex {
            map: HashMap::new(),
        }
    }
}

impl<T: Clone + PartialEq> CardIndex<T> {
    pub fn insert(&mut self, hash: String, holder: T) {
        let v = self.map.entry(hash).or_default();
        if !v.contains(&holder) {
            v.push(holder);
        }
    }

    pub fn lookup(&self, hash: &str) -> Lookup<T> {
        match self.map.get(hash).map(Vec::as_slice) {
            None | Some([]) => Lookup::Unknown,
            Some([one]) => Lookup::Found(one.clone()),
            Some(many) => Lookup::Ambiguous(many.to_vec()),
        }
    }

    /// Every form shared by more than one holder.
    pub fn collisions(&self) -> Vec<Collision<T>> {
        let mut out: Vec<_> = self
            .map
            .iter()
            .filter(|(_, v)| v.len() > 1)
            .map(|(h, v)| Collision {
                hash: h.clone(),
                holders: v.clone(),
            })
            .collect();
        out.sort_by(|a, b| a.hash.cmp(&b.hash));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_or_empty_secret_is_refused() {
        assert_eq!(
            SiteSecret::from_file_bytes(b"  \n").unwrap_err(),
            ShortSecret(0)
        );
        assert_eq!(
            SiteSecret::from_file_bytes(b"secret\n").unwrap_err(),
            ShortSecret(6)
        );
        assert!(SiteSecret::from_file_bytes(b"0123456789abcdef0123\n").is_ok());
    }

    #[test]
    fn a_wiegand_read_finds_the_card_and_a_shared_suffix_is_a_collision() {
        let secret = SiteSecret::new(*b"site secret");
        let a = CardKey::from_uid(&[0x04, 0xA1, 0xB2, 0xC3]).unwrap();
        let b = CardKey::from_uid(&[0x77, 0xA1, 0xB2, 0xC3]).unwrap(); // same low 24 bits
        let mut index = CardIndex::default();
        for h in secret.card_hashes(&a) {
            index.insert(h, "a");
        }
        let w26 = CardRead::parse("161,45763").unwrap();
        assert_eq!(index.lookup(&secret.read_hash(&w26)), Lookup::Found("a"));
        for h in secret.card_hashes(&b) {
            index.insert(h, "b");
        }
        assert_eq!(
            index.lookup(&secret.read_hash(&w26)),
            Lookup::Ambiguous(vec!["a", "b"])
        );
        assert_eq!(
            index.lookup(&secret.read_hash(&CardRead::Uid(a))),
            Lookup::Found("a")
        );
        assert_eq!(index.collisions().len(), 1);
        // Another site's secret gives other hashes.
        let other = SiteSecret::new(*b"another site");
        assert_ne!(
            other.read_hash(&CardRead::Uid(a)),
            secret.read_hash(&CardRead::Uid(a))
        );
    }
}
