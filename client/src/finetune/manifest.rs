//! The training manifest, version 1: everything that determines an adapter's bytes and what the training
//! measured, as JSON in a canonical encoding (docs/PROTOCOL.md, "Training manifest, version 1"):
//! object keys sorted by their UTF-8 bytes, no whitespace, integers as JSON integers, floats in the
//! shortest form that parses back to the same f64 (with a fraction or an exponent), hashes as
//! `0x`-prefixed lowercase hex strings, UTF-8 without escapes beyond JSON's required ones. The
//! manifest's hash is the SHA-256 of these bytes.

use alloy::primitives::B256;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{FinetuneError, config::Hyperparameters, cpu::CpuClass};

/// The manifest format version.
pub const MANIFEST_VERSION: u32 = 1;

/// The trainer's name in manifests.
pub const TRAINER_NAME: &str = "soil-finetune";

/// The trainer that wrote a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Trainer {
    /// `soil-finetune`.
    pub name: String,
    /// The soil-client crate version.
    pub version: String,
}

impl Trainer {
    /// This trainer.
    pub fn current() -> Self {
        Self {
            name: TRAINER_NAME.to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

/// The base model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BaseRecord {
    /// `general.architecture` (`llama`).
    pub architecture: String,
    /// SHA-256 of the GGUF file (its registered weights hash).
    pub weights_sha256: B256,
    /// The tokenizer fingerprint.
    pub tokenizer_fingerprint: B256,
}

/// A release trained on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReleaseRecord {
    /// The release id.
    pub release_id: u64,
    /// Its Merkle root.
    pub root: B256,
}

/// A document, in training order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DocumentRecord {
    /// The release it came from.
    pub release_id: u64,
    /// Its contribution id.
    pub contribution_id: u64,
    /// `keccak256` of its bytes.
    pub content_hash: B256,
    /// Its token count.
    pub tokens: u64,
    /// Whether it is held out (not trained on, evaluated).
    pub held_out: bool,
}

/// The identity of a training: what a checkpoint must match to be resumed, and the first part of a
/// manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrainingInputs {
    /// The base.
    pub base: BaseRecord,
    /// The releases in the order given.
    pub releases: Vec<ReleaseRecord>,
    /// The documents in training order.
    pub documents: Vec<DocumentRecord>,
    /// The hyperparameters.
    pub hyperparameters: Hyperparameters,
}

/// Held-out loss (mean nats per token) and perplexity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeldOut {
    /// Mean negative log-likelihood per token, nats.
    pub loss: f64,
    /// `exp(loss)`.
    pub perplexity: f64,
}

/// The adapter file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdapterRecord {
    /// SHA-256 of the GGUF adapter.
    pub sha256: B256,
    /// Its size in bytes.
    pub size: u64,
    /// Trainable parameters.
    pub parameters: u64,
}

/// A training manifest, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    /// [`MANIFEST_VERSION`].
    pub version: u32,
    /// The trainer.
    pub trainer: Trainer,
    /// The base, releases, documents and hyperparameters.
    #[serde(flatten)]
    pub inputs: TrainingInputs,
    /// The machine class whose kernels produced the bytes.
    pub cpu: CpuClass,
    /// The training loss of each step.
    pub losses: Vec<f64>,
    /// Held-out loss of the base.
    pub held_out_base: HeldOut,
    /// Held-out loss of the base with the adapter as written.
    pub held_out_adapter: HeldOut,
    /// The adapter.
    pub adapter: AdapterRecord,
}

/// Writes `value` in the canonical encoding.
fn write_canonical(value: &Value, out: &mut String) -> Result<(), FinetuneError> {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(key).map_err(bad)?);
                out.push(':');
                write_canonical(value, out)?;
            }
            out.push('}');
        }
        Value::Array(values) => {
            out.push('[');
            for (i, value) in values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(value, out)?;
            }
            out.push(']');
        }
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if !f.is_finite() {
                return Err(FinetuneError::BadManifest(format!(
                    "{f} is not a finite number"
                )));
            }
            out.push_str(&serde_json::to_string(&f).map_err(bad)?);
        }
        other => out.push_str(&serde_json::to_string(other).map_err(bad)?),
    }
    Ok(())
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(bad)`
fn bad(error: serde_json::Error) -> FinetuneError {
    FinetuneError::BadManifest(error.to_string())
}

/// The canonical encoding of any serializable value.
pub fn canonical_json<T: Serialize>(value: &T) -> Result<Vec<u8>, FinetuneError> {
    let value = serde_json::to_value(value).map_err(bad)?;
    let mut out = String::new();
    write_canonical(&value, &mut out)?;
    Ok(out.into_bytes())
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> B256 {
    B256::from_slice(&Sha256::digest(bytes))
}

impl Manifest {
    /// The canonical bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, FinetuneError> {
        canonical_json(self)
    }

    /// Parses canonical bytes: anything that does not re-encode to exactly `bytes` is refused.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FinetuneError> {
        let manifest: Self = serde_json::from_slice(bytes).map_err(bad)?;
        if manifest.version != MANIFEST_VERSION {
            return Err(FinetuneError::BadManifest(format!(
                "version {} is not {MANIFEST_VERSION}",
                manifest.version
            )));
        }
        if manifest.to_bytes()? != bytes {
            return Err(FinetuneError::BadManifest(
                "not in the canonical encoding (sorted keys, no whitespace, shortest floats)"
                    .into(),
            ));
        }
        Ok(manifest)
    }
}

/// The fields where two values differ, as `path: left != right` (for naming a checkpoint mismatch).
pub fn differences(path: &str, left: &Value, right: &Value, out: &mut Vec<String>) {
    match (left, right) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort_unstable();
            keys.dedup();
            for key in keys {
                let sub = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                differences(
                    &sub,
                    a.get(key).unwrap_or(&Value::Null),
                    b.get(key).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                differences(&format!("{path}[{i}]"), x, y, out);
            }
        }
        (a, b) if a != b => out.push(format!("{path}: {a} != {b}")),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_and_keeps_shortest_floats() {
        let value =
            serde_json::json!({ "b": 1, "a": [0.1, 2.5e-10, 3], "c": { "z": true, "y": "é" } });
        let bytes = canonical_json(&value).unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            r#"{"a":[0.1,2.5e-10,3],"b":1,"c":{"y":"é","z":true}}"#
        );
    }

    #[test]
    fn every_float_reads_back_as_written() {
        // A manifest is re-encoded and compared byte for byte when read: every f64 must parse back to
        // itself (serde_json's `float_roundtrip`).
        let mut rng = crate::finetune::rng::Rng::new(7);
        let mut floats: Vec<f64> = (0..20_000)
            .map(|_| f64::from_bits(rng.next_u64()))
            .filter(|x| x.is_finite())
            .collect();
        floats.extend((0..20_000).map(|_| rng.next_f64() * 10.0));
        let encoded = canonical_json(&floats).unwrap();
        let back: Vec<f64> = serde_json::from_slice(&encoded).unwrap();
        assert!(
            floats
                .iter()
                .zip(&back)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
    }

    #[test]
    fn f32_losses_round_trip_through_f64() {
        let loss = 2.345_678_9_f32;
        let encoded = canonical_json(&vec![f64::from(loss)]).unwrap();
        let back: Vec<f64> = serde_json::from_slice(&encoded).unwrap();
        assert_eq!(back[0] as f32, loss);
    }
}
