//! `soil wallet new --keystore PATH`.

use anyhow::Context as _;
use soil_client::wallet::{Password, create_keystore};

use crate::cli::{Global, output};

/// Creates a keystore; the password comes from SOIL_KEYSTORE_PASSWORD or is asked twice.
#[derive(Debug, clap::Args)]
pub(crate) struct New {}

impl New {
    pub(crate) fn run(self, global: &Global) -> anyhow::Result<()> {
        let path = global
            .keystore
            .as_deref()
            .context("soil wallet new needs --keystore PATH (the file to create)")?;
        let password = Password::new_from_env_or_prompt()?;
        let signer = create_keystore(path, &password)?;
        let address = signer.address();
        output::record(
            global.json,
            &serde_json::json!({ "address": address, "keystore": path }),
            &[
                ("address", address.to_string()),
                ("keystore", path.display().to_string()),
            ],
        )
    }
}
