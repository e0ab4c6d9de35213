//! The user's wallet: an alloy [`PrivateKeySigner`] opened from an encrypted keystore file (password from
//! a prompt or `SOIL_KEYSTORE_PASSWORD`) or, for local chains, a raw key in `SOIL_PRIVATE_KEY`.
//!
//! The key never leaves the signer: nothing here prints, logs or `Debug`-formats it, and the password and
//! raw key strings are held in [`Zeroizing`] buffers that are wiped when dropped.

mod keystore;
mod password;

use std::path::PathBuf;

use alloy::signers::{k256::elliptic_curve::zeroize::Zeroizing, local::PrivateKeySigner};

pub use keystore::{create_keystore, open_keystore};
pub use password::{PASSWORD_ENV, Password};

use crate::error::{ClientError, Result};

/// Environment variable holding a raw hex private key (local chains only).
pub const PRIVATE_KEY_ENV: &str = "SOIL_PRIVATE_KEY";

/// Where the wallet comes from.
#[derive(Debug, Clone, Default)]
pub struct WalletSource {
    /// An encrypted JSON keystore (takes precedence over the raw key).
    pub keystore: Option<PathBuf>,
}

impl WalletSource {
    /// Opens the wallet: the keystore if one was given (asking for its password), else the raw key in
    /// `SOIL_PRIVATE_KEY`.
    pub fn open(&self) -> Result<PrivateKeySigner> {
        if let Some(path) = &self.keystore {
            keystore::check_keystore_file(path)?;
            let password =
                Password::from_env_or_prompt(&format!("Password for {}: ", path.display()))?;
            return open_keystore(path, &password);
        }
        match std::env::var(PRIVATE_KEY_ENV) {
            Ok(raw) => signer_from_hex(&Zeroizing::new(raw)),
            Err(_) => Err(ClientError::NoWallet),
        }
    }
}

/// Parses a hex private key (with or without `0x`).
pub fn signer_from_hex(raw: &Zeroizing<String>) -> Result<PrivateKeySigner> {
    raw.trim()
        .parse::<PrivateKeySigner>()
        .map_err(|_| ClientError::InvalidPrivateKey)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_key_parses_and_bad_key_is_named() {
        let key = Zeroizing::new(
            "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80".to_owned(),
        );
        let signer = signer_from_hex(&key).unwrap();
        assert_eq!(
            signer.address().to_string(),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        );
        let err = signer_from_hex(&Zeroizing::new("0x1234".to_owned())).unwrap_err();
        assert!(err.to_string().contains("SOIL_PRIVATE_KEY"), "{err}");
        assert!(
            !err.to_string().contains("1234"),
            "the error must not echo the key: {err}"
        );
    }
}
