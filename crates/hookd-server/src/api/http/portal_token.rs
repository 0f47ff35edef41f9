//! App-portal tokens: the bearer tokens `POST /api/v1/auth/app-portal-access/{app_id}`
//! ([`crate::api::portal`]) issues, each limited to one application.
//!
//! Tokens are stateless, so every node accepts them with no storage: `appsk_` followed by
//! the base64url (no padding) of
//! `version (1) ‖ flags (1) ‖ expiry, unix seconds (8, big-endian) ‖ app id (UTF-8) ‖ MAC (32)`,
//! where the MAC is HMAC-SHA256 over everything before it, keyed with a key derived from the
//! admin token. A changed admin token therefore revokes every portal token. What such a
//! token may do is decided in one place, [`auth`](super::auth).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hookd_core::crypto::hmac_sha256;
use subtle::ConstantTimeEq;

/// What every portal token starts with (Svix's prefix for the same thing).
pub const PREFIX: &str = "appsk_";

const VERSION: u8 = 1;
const FLAG_READ_ONLY: u8 = 1;
const FLAG_NO_SECRETS: u8 = 2;
const MAC_LEN: usize = 32;
/// version + flags + expiry.
const HEADER_LEN: usize = 1 + 1 + 8;
/// Separates portal-token MACs from any other use of the admin token.
const KEY_CONTEXT: &[u8] = b"hookd app-portal-access token key v1";

/// What a valid portal token grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortalClaims {
    /// The one application the token may reach (its id, never its uid).
    pub app_id: String,
    /// Unix seconds after which the token is refused.
    pub expires_at: u64,
    /// Only `GET`/`HEAD` requests are allowed.
    pub read_only: bool,
    /// Endpoint secrets may not be read (or rotated).
    pub no_secrets: bool,
}

/// Why a presented portal token is refused (all answered 401 alike).
#[derive(Debug, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    BadSignature,
    Expired,
}

/// The key token MACs are made with: derived from the admin token, so rotating that token
/// revokes every portal token.
fn portal_key(admin_token: &str) -> [u8; 32] {
    hmac_sha256(admin_token.as_bytes(), &[KEY_CONTEXT])
}

/// Issues a token for `claims`, signed with a key derived from `admin_token`.
pub fn mint(admin_token: &str, claims: &PortalClaims) -> String {
    let mut raw = Vec::with_capacity(HEADER_LEN + claims.app_id.len() + MAC_LEN);
    raw.push(VERSION);
    let mut flags = 0;
    if claims.read_only {
        flags |= FLAG_READ_ONLY;
    }
    if claims.no_secrets {
        flags |= FLAG_NO_SECRETS;
    }
    raw.push(flags);
    raw.extend_from_slice(&claims.expires_at.to_be_bytes());
    raw.extend_from_slice(claims.app_id.as_bytes());
    let tag = hmac_sha256(&portal_key(admin_token), &[&raw]);
    raw.extend_from_slice(&tag);
    format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(raw))
}

/// Checks a token's MAC (in constant time) and expiry against `now` (unix seconds).
pub fn verify(admin_token: &str, token: &str, now: u64) -> Result<PortalClaims, TokenError> {
    let body = token.strip_prefix(PREFIX).ok_or(TokenError::Malformed)?;
    // A generous bound on the encoded size keeps decoding cheap for junk input.
    if body.len() > 1024 {
        return Err(TokenError::Malformed);
    }
    let raw = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| TokenError::Malformed)?;
    if raw.len() <= HEADER_LEN + MAC_LEN {
        return Err(TokenError::Malformed);
    }
    let (signed, tag) = raw.split_at(raw.len() - MAC_LEN);
    let expected = hmac_sha256(&portal_key(admin_token), &[signed]);
    if !bool::from(expected.as_slice().ct_eq(tag)) {
        return Err(TokenError::BadSignature);
    }
    if signed[0] != VERSION || signed[1] & !(FLAG_READ_ONLY | FLAG_NO_SECRETS) != 0 {
        return Err(TokenError::Malformed);
    }
    let flags = signed[1];
    let expires_at = u64::from_be_bytes(signed[2..HEADER_LEN].try_into().expect("8 bytes"));
    let app_id = std::str::from_utf8(&signed[HEADER_LEN..])
        .map_err(|_| TokenError::Malformed)?
        .to_owned();
    if now >= expires_at {
        return Err(TokenError::Expired);
    }
    Ok(PortalClaims {
        app_id,
        expires_at,
        read_only: flags & FLAG_READ_ONLY != 0,
        no_secrets: flags & FLAG_NO_SECRETS != 0,
    })
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(read_only: bool) -> PortalClaims {
        PortalClaims {
            app_id: "app_2abcdef".into(),
            expires_at: 2_000,
            read_only,
            no_secrets: read_only,
        }
    }

    #[test]
    fn a_minted_token_verifies_with_its_claims() {
        for read_only in [false, true] {
            let token = mint("admin-token-0123456789", &claims(read_only));
            assert!(token.starts_with("appsk_"));
            assert_eq!(
                verify("admin-token-0123456789", &token, 1_999),
                Ok(claims(read_only))
            );
        }
    }

    #[test]
    fn expired_tampered_foreign_and_junk_tokens_are_refused() {
        let token = mint("admin-token-0123456789", &claims(false));
        assert_eq!(
            verify("admin-token-0123456789", &token, 2_000),
            Err(TokenError::Expired)
        );
        assert_eq!(
            verify("another-admin-token-xyz", &token, 0),
            Err(TokenError::BadSignature)
        );
        // Flip one bit in every position of the decoded token: never accepted.
        let raw = URL_SAFE_NO_PAD.decode(&token[PREFIX.len()..]).unwrap();
        for i in 0..raw.len() {
            let mut bad = raw.clone();
            bad[i] ^= 1;
            let forged = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bad));
            assert!(verify("admin-token-0123456789", &forged, 0).is_err(), "{i}");
        }
        for junk in ["", "appsk_", "appsk_!!!", "sk_abc", &"appsk_A".repeat(400)] {
            assert_eq!(
                verify("admin-token-0123456789", junk, 0),
                Err(TokenError::Malformed),
                "{junk}"
            );
        }
    }
}
