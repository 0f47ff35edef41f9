//! HMAC helpers and constant-time comparison shared by the providers. HMAC-SHA256 is
//! hookd-core's; SHA-1 and SHA-512 are only the providers' (Twilio, generic HMAC).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// HMAC-SHA256 of the concatenated `parts` (hookd's one MAC helper).
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    hookd_core::crypto::hmac_sha256(key, parts).to_vec()
}

/// HMAC-SHA1 of the concatenated `parts`.
pub(crate) fn hmac_sha1(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key).expect("HMAC takes any key length");
    parts.iter().for_each(|p| mac.update(p));
    mac.finalize().into_bytes().to_vec()
}

/// HMAC-SHA512 of the concatenated `parts`.
pub(crate) fn hmac_sha512(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<sha2::Sha512>::new_from_slice(key).expect("HMAC takes any key length");
    parts.iter().for_each(|p| mac.update(p));
    mac.finalize().into_bytes().to_vec()
}

/// Hex SHA-256 of `data` (Twilio `bodySHA256`).
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    to_hex(&Sha256::digest(data))
}

/// Constant-time equality. Lengths are not secret (they are fixed by the algorithm).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Constant-time equality that also hides the lengths, for plain tokens (GitLab).
pub(crate) fn ct_eq_token(a: &[u8], b: &[u8]) -> bool {
    ct_eq(&Sha256::digest(a), &Sha256::digest(b))
}

pub(crate) fn from_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.chunks(2)
        .map(|pair| {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn from_base64(s: &str) -> Option<Vec<u8>> {
    B64.decode(s).ok()
}

/// True when any secret's MAC (computed by `mac`) equals one of `candidates`. Every
/// secret and candidate is compared, so timing does not reveal which one matched.
pub(crate) fn any_matches<'s>(
    secrets: &'s [crate::Secret],
    candidates: &[Vec<u8>],
    mac: impl Fn(&[u8]) -> Vec<u8>,
) -> Option<&'s crate::Secret> {
    let mut found = None;
    for secret in secrets {
        let expected = mac(secret.expose().as_bytes());
        for candidate in candidates {
            if ct_eq(&expected, candidate) && found.is_none() {
                found = Some(secret);
            }
        }
    }
    found
}
