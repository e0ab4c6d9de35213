//! The keystore password: from `SOIL_KEYSTORE_PASSWORD` or a terminal prompt, wiped from memory on drop.

use alloy::signers::k256::elliptic_curve::zeroize::Zeroizing;

use crate::error::{ClientError, Result};

/// Environment variable that supplies the keystore password non-interactively.
pub const PASSWORD_ENV: &str = "SOIL_KEYSTORE_PASSWORD";

/// A keystore password. Its `Debug` output is redacted.
pub struct Password(Zeroizing<String>);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl Password {
    /// Wraps a password.
    pub fn new(password: String) -> Self {
        Self(Zeroizing::new(password))
    }

    /// The password's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// `SOIL_KEYSTORE_PASSWORD` if set, else asks on the terminal (without echo).
    pub fn from_env_or_prompt(prompt: &str) -> Result<Self> {
        if let Ok(password) = std::env::var(PASSWORD_ENV) {
            return Ok(Self::new(password));
        }
        rpassword::prompt_password(prompt)
            .map(Self::new)
            .map_err(ClientError::PasswordPrompt)
    }

    /// For a new keystore: `SOIL_KEYSTORE_PASSWORD` if set, else asks twice and checks both agree.
    pub fn new_from_env_or_prompt() -> Result<Self> {
        if let Ok(password) = std::env::var(PASSWORD_ENV) {
            return Ok(Self::new(password));
        }
        let first = Self::from_env_or_prompt("New keystore password: ")?;
        let second = Self::from_env_or_prompt("Repeat the password: ")?;
        if first.0 != second.0 {
            return Err(ClientError::PasswordMismatch);
        }
        Ok(first)
    }
}
