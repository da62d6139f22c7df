//! Instructor PINs at rest: argon2id with a salt of each instructor's own, so that a kiosk's disk
//! (the roster document) or the journal's database does not give the PINs away to a search of
//! the 10⁴ (or 10⁶) possible PINs at the speed of one HMAC each. The salt is derived from the
//! site secret and the instructor's id: unique per instructor and site, and the same each time a
//! roster is built (a roster's body does not change when nothing in it did). Hashes made before
//! (an HMAC with the site secret, 64 hex digits) are still read until the PIN is set again.
//!
//! The cost is paid per sign-in by PIN: the kiosk tries each instructor's hash in turn (a PIN
//! does not say whose it is), so one hash is kept small: 8 MiB, 1 pass, 9 ms on the build
//! machine (`./run bench pin`, `docs/performance.md`; a Pi 4 is some times slower), and a sign-in
//! among a site's 20 instructors takes 0.13 s there at worst. An offline search of 10⁶ six-digit
//! PINs costs 10⁶ such hashes for each instructor (`docs/security.md`). The parameters travel in
//! each PHC string, so they can be raised later without breaking the hashes made before.

use crate::cards::SiteSecret;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The fewest digits of a PIN set from now on (older PINs of 4 digits still work until reset).
pub const NEW_PIN_DIGITS: usize = 6;
/// The most digits a PIN may have.
pub const MAX_PIN_DIGITS: usize = 8;

/// Memory (KiB) and passes of the PIN hash; see the module's notes for why these.
const MEMORY_KIB: u32 = 8 * 1024;
const PASSES: u32 = 1;

fn argon2() -> Argon2<'static> {
    // The parameters are constants within argon2's bounds: `new` cannot fail for them.
    let params = Params::new(MEMORY_KIB, PASSES, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The salt of `instructor`'s PIN at the site of `secret`.
fn salt(secret: &SiteSecret, instructor: &str) -> Option<SaltString> {
    let key = secret.hash_bytes(format!("pin-salt:{instructor}").as_bytes());
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).ok()?;
    mac.update(b"otmetka pin salt");
    let bytes = mac.finalize().into_bytes();
    SaltString::encode_b64(&bytes[..16]).ok()
}

/// The stored form of `instructor`'s PIN: an argon2id PHC string (`$argon2id$v=19$…`).
/// The hash can always be made for the constants above; were it not, the empty string it
/// returns then matches no PIN (a PIN that does not work, never one that anyone's works for).
pub fn hash(secret: &SiteSecret, instructor: &str, pin: &str) -> String {
    salt(secret, instructor)
        .and_then(|salt| {
            argon2()
                .hash_password(pin.as_bytes(), &salt)
                .ok()
                .map(|h| h.to_string())
        })
        .unwrap_or_default()
}

/// Whether `pin` is the PIN `stored` was made of (a PHC string, or an HMAC of before).
pub fn matches(secret: &SiteSecret, stored: &str, pin: &str) -> bool {
    if stored.starts_with('$') {
        return PasswordHash::new(stored)
            .is_ok_and(|h| argon2().verify_password(pin.as_bytes(), &h).is_ok());
    }
    // The HMAC of before: compared without an early exit.
    let made = secret.hash_bytes(pin.as_bytes());
    made.len() == stored.len()
        && made
            .bytes()
            .zip(stored.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Whether a stored PIN hash is of the old kind (an HMAC: falls to a search of all PINs at
/// HMAC speed), so that the journal's pages can ask for the PIN to be set again.
pub fn is_legacy(stored: &str) -> bool {
    !stored.starts_with('$')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> SiteSecret {
        SiteSecret::from_file_bytes(b"demo-secret-for-this-test-only").unwrap()
    }

    #[test]
    fn a_pin_hash_is_salted_per_instructor_and_verifies_only_its_pin() {
        let s = secret();
        let a = hash(&s, "instructor-a", "246810");
        let b = hash(&s, "instructor-b", "246810");
        assert!(a.starts_with("$argon2id$v=19$m=8192,t=1,p=1$"), "{a}");
        assert_ne!(a, b, "the same PIN of two instructors hashes differently");
        assert_eq!(a, hash(&s, "instructor-a", "246810"), "stable");
        assert!(!matches(&s, "", "246810"), "an empty hash matches nothing");
        assert!(matches(&s, &a, "246810"));
        assert!(!matches(&s, &a, "246811"));
        assert!(!matches(&s, "$argon2id$garbage", "246810"));
    }

    #[test]
    fn an_old_hmac_still_verifies_and_says_it_is_old() {
        let s = secret();
        let old = s.hash_bytes(b"1234");
        assert!(is_legacy(&old));
        assert!(matches(&s, &old, "1234"));
        assert!(!matches(&s, &old, "1235"));
        assert!(!is_legacy(&hash(&s, "i", "123456")));
    }
}
