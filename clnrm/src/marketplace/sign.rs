//! Minisign (Ed25519, prehashed) keys and signatures. Trusted comments bind a signature to what
//! it signs, so a valid signature cannot be replayed onto another file.

use std::io::Cursor;
use std::path::Path;

use minisign::{KeyPair, PublicKey, PublicKeyBox, SecretKey, SecretKeyBox, SignatureBox};

use super::MarketError;

/// A secret key with its public half.
pub struct SigningKey {
    sk: SecretKey,
    pk: PublicKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", key_id(&self.pk))
    }
}

/// A new key pair: (public key file text, secret key file text), both in minisign's format. The
/// secret key is not password-protected: keep its file private (mode 0600).
pub fn generate_keypair(comment: &str) -> Result<(String, String), MarketError> {
    let KeyPair { pk, sk } = KeyPair::generate_unencrypted_keypair().map_err(invalid)?;
    let pk_text = pk.to_box().map_err(invalid)?.to_string();
    let sk_text = sk.to_box(Some(comment)).map_err(invalid)?.to_string();
    Ok((pk_text, sk_text))
}

fn invalid(e: minisign::PError) -> MarketError {
    MarketError::Invalid(e.to_string())
}

impl SigningKey {
    /// Reads a secret key file written by `clnrm marketplace keys generate` (or `minisign -G -W`).
    pub fn load(path: &Path) -> Result<SigningKey, crate::Error> {
        let text = std::fs::read_to_string(path).map_err(|source| crate::Error::Io {
            action: "failed to read secret key",
            path: path.to_owned(),
            source,
        })?;
        let bad = |e: minisign::PError| {
            MarketError::Invalid(format!(
                "{}: not an unencrypted minisign secret key: {e}",
                path.display()
            ))
        };
        let sk = SecretKeyBox::from_string(&text)
            .and_then(SecretKeyBox::into_unencrypted_secret_key)
            .map_err(bad)?;
        let pk = PublicKey::from_secret_key(&sk).map_err(bad)?;
        Ok(SigningKey { sk, pk })
    }

    /// The public key, base64 (the second line of a `.pub` file).
    pub fn public_base64(&self) -> String {
        self.pk.to_base64()
    }

    /// Signs `bytes` with `trusted_comment`; returns the `.minisig` text.
    pub fn sign(&self, bytes: &[u8], trusted_comment: &str) -> String {
        minisign::sign(
            Some(&self.pk),
            &self.sk,
            Cursor::new(bytes),
            Some(trusted_comment),
            Some("signature from clnrm"),
        )
        .expect("signing in memory with a checked key does not fail")
        .to_string()
    }
}

/// Parses a public key: the base64 line, or a whole `.pub` file.
pub fn parse_public_key(text: &str) -> Result<PublicKey, MarketError> {
    let text = text.trim();
    let parsed = if text.starts_with("untrusted comment:") {
        PublicKeyBox::from_string(text).and_then(PublicKeyBox::into_public_key)
    } else {
        PublicKey::from_base64(text)
    };
    parsed.map_err(|e| MarketError::Invalid(format!("not a minisign public key: {e}")))
}

/// A key's id, as minisign prints it (16 hex digits).
pub fn key_id(pk: &PublicKey) -> String {
    keynum_hex(pk.keynum())
}

fn keynum_hex(keynum: &[u8]) -> String {
    keynum.iter().rev().map(|b| format!("{b:02X}")).collect()
}

/// A parsed `.minisig` file.
pub struct Signature {
    sig: SignatureBox,
}

impl Signature {
    /// Parses `.minisig` text; `what` names the file in errors.
    pub fn parse(what: &str, text: &[u8]) -> Result<Signature, MarketError> {
        let text = std::str::from_utf8(text).map_err(|_| MarketError::Signature {
            what: what.to_owned(),
            reason: "the .minisig file is not text".to_owned(),
        })?;
        let sig = SignatureBox::from_string(text).map_err(|e| MarketError::Signature {
            what: what.to_owned(),
            reason: format!("malformed .minisig: {e}"),
        })?;
        Ok(Signature { sig })
    }

    /// The id of the key that made it.
    pub fn key_id(&self) -> String {
        keynum_hex(self.sig.keynum())
    }

    /// Checks the signature over `bytes` with `pk`, and that its trusted comment is exactly
    /// `expected_comment` when one is given. Legacy (non-prehashed) signatures are refused.
    pub fn verify(
        &self,
        what: &str,
        pk: &PublicKey,
        bytes: &[u8],
        expected_comment: Option<&str>,
    ) -> Result<(), MarketError> {
        minisign::verify(pk, &self.sig, Cursor::new(bytes), true, false, false).map_err(|e| {
            MarketError::Signature {
                what: what.to_owned(),
                reason: format!(
                    "the signature does not verify with key {} ({e}); the file was altered or signed by someone else",
                    key_id(pk)
                ),
            }
        })?;
        if let Some(expected) = expected_comment {
            let got = self.sig.trusted_comment().unwrap_or_default();
            if got != expected {
                return Err(MarketError::Signature {
                    what: what.to_owned(),
                    reason: format!(
                        "the signed comment is `{got}`, expected `{expected}`: a signature of another file replayed onto this one"
                    ),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_for_its_bytes_key_and_comment() {
        let dir = tempfile::tempdir().unwrap();
        let (pk_text, sk_text) = generate_keypair("test").unwrap();
        std::fs::write(dir.path().join("k.key"), sk_text).unwrap();
        let key = SigningKey::load(&dir.path().join("k.key")).unwrap();
        let pk = parse_public_key(&pk_text).unwrap();
        assert_eq!(key.public_base64(), pk.to_base64());
        let sig = key.sign(b"hello", "clnrm-plugin a 1.0.0");
        let parsed = Signature::parse("x", sig.as_bytes()).unwrap();
        assert_eq!(parsed.key_id(), key_id(&pk));
        parsed
            .verify("x", &pk, b"hello", Some("clnrm-plugin a 1.0.0"))
            .unwrap();
        assert!(parsed.verify("x", &pk, b"hellO", None).is_err());
        let err = parsed
            .verify("x", &pk, b"hello", Some("clnrm-plugin b 1.0.0"))
            .unwrap_err();
        assert!(err.to_string().contains("replayed"), "{err}");
        let (other, _) = generate_keypair("other").unwrap();
        let other = parse_public_key(&other).unwrap();
        assert!(parsed.verify("x", &other, b"hello", None).is_err());
    }
}
