//! Encrypted JSON keystores (the Web3 Secret Storage format geth and Foundry use).

use std::path::Path;

use alloy::signers::{
    k256::elliptic_curve::rand_core::OsRng,
    local::{LocalSignerError, PrivateKeySigner},
};

use super::Password;
use crate::error::{ClientError, Result};

/// Fails, naming `path`, unless it is a file that can be read: checked before a password is asked for.
pub(crate) fn check_keystore_file(path: &Path) -> Result<()> {
    let reason = match std::fs::File::open(path).and_then(|file| file.metadata()) {
        Ok(metadata) if metadata.is_file() => return Ok(()),
        Ok(_) => "not a file".to_owned(),
        Err(err) => format!("cannot read it: {err}"),
    };
    Err(ClientError::Keystore {
        path: path.to_owned(),
        reason,
    })
}

/// Decrypts the keystore at `path`. A wrong password gives [`ClientError::KeystorePassword`].
pub fn open_keystore(path: &Path, password: &Password) -> Result<PrivateKeySigner> {
    check_keystore_file(path)?;
    PrivateKeySigner::decrypt_keystore(path, password.as_bytes()).map_err(|err| match err {
        // eth-keystore reports a wrong password as a MAC mismatch (the crate is not re-exported).
        LocalSignerError::EthKeystoreError(inner) if inner.to_string() == "Mac Mismatch" => {
            ClientError::KeystorePassword {
                path: path.to_owned(),
            }
        }
        other => ClientError::Keystore {
            path: path.to_owned(),
            reason: other.to_string(),
        },
    })
}

/// Creates a new random key and writes it, encrypted with `password`, to `path` (which must not exist).
/// Returns the signer.
pub fn create_keystore(path: &Path, password: &Password) -> Result<PrivateKeySigner> {
    if path.exists() {
        return Err(ClientError::KeystoreExists(path.to_owned()));
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|source| ClientError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| ClientError::Keystore {
            path: path.to_owned(),
            reason: "the file name is not valid UTF-8".to_owned(),
        })?;
    let (signer, _uuid) =
        PrivateKeySigner::new_keystore(dir, &mut OsRng, password.as_bytes(), Some(name)).map_err(
            |err| ClientError::Keystore {
                path: path.to_owned(),
                reason: err.to_string(),
            },
        )?;
    Ok(signer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wrong_password() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wallet.json");
        let password = Password::new("correct horse".to_owned());
        let created = create_keystore(&path, &password).unwrap();
        let opened = open_keystore(&path, &password).unwrap();
        assert_eq!(created.address(), opened.address());

        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains(&hex::encode(created.to_bytes())),
            "the key must be stored encrypted"
        );

        let err = open_keystore(&path, &Password::new("wrong".to_owned())).unwrap_err();
        assert!(matches!(err, ClientError::KeystorePassword { .. }), "{err}");
        assert!(err.to_string().contains("wrong password"), "{err}");

        let err = create_keystore(&path, &password).unwrap_err();
        assert!(matches!(err, ClientError::KeystoreExists(_)), "{err}");
    }
}
