//! `recommendation_id`: what an answer of a placement was, signed, so an event names its
//! placement, arm(s), version(s), source and time without a lookup and nobody can make one up.
//!
//! Shape: `v1.<key id>.<claims>.<tag>`: the claims as JSON in URL-safe base64 (no padding),
//! the tag the first 16 bytes of HMAC-SHA256 over `v1.<key id>.<claims>` with the key the id
//! names (8 hex characters of SHA-256 of the key). Opaque to clients: they send it back as
//! they got it. The key comes from the deployment's secret (Secrets Manager): its current
//! value signs, and ids signed with the previous value (`AWSPREVIOUS`) are still accepted, so a
//! rotation invalidates nothing already served.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::interleaving::{credited_team, fingerprint};

/// Events may refer to an answer at most this long after it was served.
pub const MAX_RECOMMENDATION_AGE_SECONDS: i64 = 7 * 24 * 3600;

/// Clocks of the app and of recoflow may disagree by this much.
pub const CLOCK_SKEW_SECONDS: i64 = 300;

/// Longest id accepted (an interleaved answer of 500 items is about 3,500 characters).
pub const MAX_RECOMMENDATION_ID_CHARS: usize = 4096;

const PREFIX: &str = "v1";
const TAG_BYTES: usize = 16;

type HmacSha256 = Hmac<Sha256>;

/// A key to sign with, named by its fingerprint.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub id: String,
    secret: Vec<u8>,
}

impl SigningKey {
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        let secret = secret.into();
        let digest = Sha256::digest(&secret);
        let id = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        Self { id, secret }
    }

    fn tag(&self, signed: &str) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("HMAC takes a key of any length");
        mac.update(signed.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

impl std::fmt::Debug for SigningKey {
    // Never print the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("id", &self.id).finish()
    }
}

/// The keys an instance knows: the current one signs, either one verifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRing {
    pub current: SigningKey,
    pub previous: Option<SigningKey>,
}

impl KeyRing {
    fn find(&self, id: &str) -> Option<&SigningKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|key| key.id == id)
    }
}

/// One arm an answer served, and the version of its result set it served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServedArm {
    #[serde(rename = "n")]
    pub name: String,
    #[serde(rename = "v")]
    pub version: String,
}

/// What a recommendation_id says about its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecommendationClaims {
    #[serde(rename = "p")]
    pub placement: String,
    /// One arm, or an interleaving test's two (in the experiment's order).
    #[serde(rename = "a")]
    pub arms: Vec<ServedArm>,
    /// The served list's source (`personalized`, `segment`, `global`).
    #[serde(rename = "s")]
    pub source: String,
    /// Unix seconds.
    #[serde(rename = "t")]
    pub issued_at: i64,
    /// Interleaving: each team's items, as 4-byte fingerprints in base64.
    #[serde(rename = "m", default, skip_serializing_if = "Option::is_none")]
    pub teams: Option<[String; 2]>,
}

impl RecommendationClaims {
    /// The two teams' items from interleaved lists' `(item, team)`.
    pub fn encode_teams<'a>(items: impl IntoIterator<Item = (&'a str, usize)>) -> [String; 2] {
        let mut bytes = [Vec::new(), Vec::new()];
        for (item, team) in items {
            bytes[team.min(1)].extend_from_slice(&fingerprint(item).to_be_bytes());
        }
        bytes.map(|b| URL_SAFE_NO_PAD.encode(b))
    }

    /// The team (0 or 1) whose item was interleaved into this answer; `None` when the answer
    /// is not interleaved or the item was neither team's.
    pub fn team_of(&self, item_id: &str) -> Option<usize> {
        let teams = self.teams.as_ref()?;
        let decode = |text: &String| -> Vec<u32> {
            URL_SAFE_NO_PAD
                .decode(text)
                .unwrap_or_default()
                .chunks_exact(4)
                .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        };
        credited_team(&[decode(&teams[0]), decode(&teams[1])], item_id)
    }
}

/// Why an id was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdRefusal {
    /// Not an id's shape at all.
    Malformed,
    /// Signed with a key this deployment does not have (another deployment's, or made up).
    UnknownKey,
    /// The tag does not match: altered or forged.
    BadSignature,
    /// Older than [`MAX_RECOMMENDATION_AGE_SECONDS`].
    Expired,
    /// Issued later than now (beyond the clock skew).
    FromTheFuture,
}

impl IdRefusal {
    /// The event problem's code and message.
    pub fn problem(self) -> (&'static str, String) {
        match self {
            Self::Malformed | Self::UnknownKey | Self::BadSignature => (
                "invalid_recommendation_id",
                "not a recommendation_id this recoflow gave out (send back the recommendation_id of the answer, unchanged)".to_owned(),
            ),
            Self::Expired => (
                "expired_recommendation_id",
                format!(
                    "the answer was served more than {} days ago; events are taken for {} days",
                    MAX_RECOMMENDATION_AGE_SECONDS / 86_400,
                    MAX_RECOMMENDATION_AGE_SECONDS / 86_400
                ),
            ),
            Self::FromTheFuture => (
                "invalid_recommendation_id",
                "the recommendation_id says it was issued in the future".to_owned(),
            ),
        }
    }
}

/// Signs the claims with the ring's current key.
pub fn sign(claims: &RecommendationClaims, ring: &KeyRing) -> String {
    let json = serde_json::to_vec(claims).expect("claims have string keys only");
    let signed = format!("{PREFIX}.{}.{}", ring.current.id, URL_SAFE_NO_PAD.encode(json));
    let tag = ring.current.tag(&signed);
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(&tag[..TAG_BYTES]))
}

/// The claims of an id signed by a key of the ring, no older than the events window.
pub fn verify(id: &str, ring: &KeyRing, now_unix: i64) -> Result<RecommendationClaims, IdRefusal> {
    if id.len() > MAX_RECOMMENDATION_ID_CHARS {
        return Err(IdRefusal::Malformed);
    }
    let (signed, tag) = id.rsplit_once('.').ok_or(IdRefusal::Malformed)?;
    let mut parts = signed.splitn(3, '.');
    let (Some(PREFIX), Some(key_id), Some(claims)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(IdRefusal::Malformed);
    };
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| IdRefusal::Malformed)?;
    let key = ring.find(key_id).ok_or(IdRefusal::UnknownKey)?;
    // Compared in constant time: the tag must not be guessable byte by byte.
    let mut mac = HmacSha256::new_from_slice(&key.secret).expect("HMAC takes a key of any length");
    mac.update(signed.as_bytes());
    if tag.len() != TAG_BYTES || mac.verify_truncated_left(&tag).is_err() {
        return Err(IdRefusal::BadSignature);
    }
    let json = URL_SAFE_NO_PAD.decode(claims).map_err(|_| IdRefusal::Malformed)?;
    let claims: RecommendationClaims = serde_json::from_slice(&json).map_err(|_| IdRefusal::Malformed)?;
    if claims.issued_at > now_unix + CLOCK_SKEW_SECONDS {
        return Err(IdRefusal::FromTheFuture);
    }
    if now_unix - claims.issued_at > MAX_RECOMMENDATION_AGE_SECONDS {
        return Err(IdRefusal::Expired);
    }
    Ok(claims)
}

/// The part of an id that names its answer uniquely and briefly (its tag): the key of an
/// interleaved impression's credits.
pub fn impression_key(id: &str) -> &str {
    id.rsplit_once('.').map_or(id, |(_, tag)| tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_000_000;

    fn ring(secret: &str) -> KeyRing {
        KeyRing {
            current: SigningKey::new(secret.as_bytes()),
            previous: None,
        }
    }

    fn claims() -> RecommendationClaims {
        RecommendationClaims {
            placement: "home-top".into(),
            arms: vec![ServedArm {
                name: "candidate".into(),
                version: "20261201T081416Z-c5dd147e".into(),
            }],
            source: "personalized".into(),
            issued_at: NOW,
            teams: None,
        }
    }

    #[test]
    fn an_id_carries_its_claims_and_only_its_keys_verify_it() {
        let ring = ring("k1");
        let id = sign(&claims(), &ring);
        assert!(id.starts_with(&format!("v1.{}.", ring.current.id)));
        assert!(id.len() < 250, "{} characters", id.len());
        assert_eq!(verify(&id, &ring, NOW + 60), Ok(claims()));
        assert_eq!(
            verify(&id, &self::ring("another deployment"), NOW),
            Err(IdRefusal::UnknownKey)
        );
        // The same key id with another secret: a forgery.
        let forged_ring = KeyRing {
            current: SigningKey {
                id: ring.current.id.clone(),
                secret: b"guess".to_vec(),
            },
            previous: None,
        };
        assert_eq!(verify(&id, &forged_ring, NOW), Err(IdRefusal::BadSignature));
    }

    #[test]
    fn altered_claims_or_tags_are_refused() {
        let ring = ring("k1");
        let id = sign(&claims(), &ring);
        let (signed, _) = id.rsplit_once('.').unwrap();
        let mut other = claims();
        other.arms[0].name = "control".into();
        let other_claims = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&other).unwrap());
        let (head, _) = signed.rsplit_once('.').unwrap();
        let tag = id.rsplit_once('.').unwrap().1;
        let swapped = format!("{head}.{other_claims}.{tag}");
        assert_eq!(verify(&swapped, &ring, NOW), Err(IdRefusal::BadSignature));
        for malformed in [
            "",
            "v1",
            "v1.x.y",
            "v2.a.b.c",
            &format!("{signed}.!!"),
            &"v1.".repeat(2000),
        ] {
            assert!(
                matches!(
                    verify(malformed, &ring, NOW),
                    Err(IdRefusal::Malformed | IdRefusal::UnknownKey)
                ),
                "{malformed:.40}"
            );
        }
        assert_eq!(
            verify(&format!("{signed}.AAAAAAAAAAAAAAAAAAAAAA"), &ring, NOW),
            Err(IdRefusal::BadSignature)
        );
    }

    #[test]
    fn a_rotated_key_still_verifies_and_old_ids_expire() {
        let old = ring("k1");
        let id = sign(&claims(), &old);
        let rotated = KeyRing {
            current: SigningKey::new(b"k2".to_vec()),
            previous: Some(old.current.clone()),
        };
        assert_eq!(verify(&id, &rotated, NOW), Ok(claims()));
        assert_ne!(sign(&claims(), &rotated), id, "the new key signs");
        assert_eq!(
            verify(&id, &old, NOW + MAX_RECOMMENDATION_AGE_SECONDS + 1),
            Err(IdRefusal::Expired)
        );
        assert_eq!(
            verify(&id, &old, NOW - CLOCK_SKEW_SECONDS - 1),
            Err(IdRefusal::FromTheFuture)
        );
        assert!(
            !format!("{:?}", rotated).contains("k2"),
            "the secret is never printed"
        );
    }

    #[test]
    fn interleaved_ids_remember_each_item_s_team() {
        let mut interleaved = claims();
        interleaved.teams = Some(RecommendationClaims::encode_teams([
            ("a1", 0),
            ("b1", 1),
            ("b2", 1),
            ("a2", 0),
        ]));
        let ring = ring("k1");
        let back = verify(&sign(&interleaved, &ring), &ring, NOW).unwrap();
        assert_eq!(back.team_of("a2"), Some(0));
        assert_eq!(back.team_of("b1"), Some(1));
        assert_eq!(back.team_of("zz"), None);
        assert_eq!(claims().team_of("a1"), None);
        assert_eq!(impression_key("v1.k.c.tag"), "tag");
    }
}
