//! The frozen base model: a GGUF `llama` file read with candle, its configuration from the metadata, its
//! weights dequantized to f32 (QLoRA style: the base stays frozen, so its precision is only the file's),
//! its weights hash (SHA-256 of the file, the registered `weightsHash`) and its tokenizer fingerprint.
//!
//! The tokenizer fingerprint is the SHA-256 of every `tokenizer.ggml.*` metadata entry, keys sorted
//! by their UTF-8 bytes, each encoded as GGUF v3 encodes a key/value pair: the key (u64 little-endian
//! length, bytes), the value type (u32 LE), the value (integers and floats little-endian, booleans one
//! byte, strings u64 length + bytes, arrays element type u32 + u64 count + elements).

use std::{
    fs::File,
    io::{BufReader, Seek},
    path::{Path, PathBuf},
};

use alloy::primitives::B256;
use candle_core::{
    DType, Device, Tensor,
    quantized::gguf_file::{Content, Value},
};
use sha2::{Digest, Sha256};

use super::FinetuneError;
use crate::model::ModelFile;

/// The architecture fine-tuning supports.
pub const LLAMA: &str = "llama";

/// The shape of a llama model, from its GGUF metadata.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LlamaConfig {
    /// Vocabulary size (rows of `token_embd.weight`).
    pub vocab_size: usize,
    /// Hidden size (`llama.embedding_length`).
    pub hidden_size: usize,
    /// Number of transformer blocks (`llama.block_count`).
    pub n_layers: usize,
    /// Attention heads (`llama.attention.head_count`).
    pub n_heads: usize,
    /// Key/value heads (`llama.attention.head_count_kv`, grouped-query attention).
    pub n_kv_heads: usize,
    /// Feed-forward size (`llama.feed_forward_length`).
    pub ffn_size: usize,
    /// RMS norm epsilon (`llama.attention.layer_norm_rms_epsilon`).
    pub rms_eps: f64,
    /// RoPE frequency base (`llama.rope.freq_base`, default 10000).
    pub rope_base: f64,
}

impl LlamaConfig {
    /// The dimension of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.n_heads
    }
}

/// A base GGUF file whose header was read and checked: architecture, configuration, hash, tokenizer
/// fingerprint. Its weights are read by [`BaseModel::load_weights`].
#[derive(Debug)]
pub struct BaseModel {
    file: ModelFile,
    content: Content,
    /// The model's configuration.
    pub config: LlamaConfig,
    /// SHA-256 over the `tokenizer.ggml.*` metadata (see the module documentation).
    pub tokenizer_fingerprint: B256,
}

/// One transformer block's frozen weights, f32, in candle's `[out, in]` layout.
#[derive(Debug, Clone)]
pub struct BlockWeights {
    /// `attn_norm.weight`.
    pub attn_norm: Tensor,
    /// `attn_q.weight`.
    pub q: Tensor,
    /// `attn_k.weight`.
    pub k: Tensor,
    /// `attn_v.weight`.
    pub v: Tensor,
    /// `attn_output.weight`.
    pub o: Tensor,
    /// `ffn_norm.weight`.
    pub ffn_norm: Tensor,
    /// `ffn_gate.weight`.
    pub gate: Tensor,
    /// `ffn_up.weight`.
    pub up: Tensor,
    /// `ffn_down.weight`.
    pub down: Tensor,
}

/// Every frozen weight of the base, dequantized to f32.
#[derive(Debug, Clone)]
pub struct BaseWeights {
    /// `token_embd.weight`, `[vocab, hidden]`.
    pub token_embd: Tensor,
    /// The blocks in order.
    pub blocks: Vec<BlockWeights>,
    /// `output_norm.weight`.
    pub output_norm: Tensor,
    /// `output.weight`, or the token embeddings when the model ties them.
    pub output: Tensor,
}

fn metadata_usize(
    path: &Path,
    content: &Content,
    key: &str,
    default: Option<usize>,
) -> Result<usize, FinetuneError> {
    let bad = |reason: String| FinetuneError::Metadata {
        path: path.to_path_buf(),
        key: key.to_owned(),
        reason,
    };
    match content.metadata.get(key) {
        None => default.ok_or_else(|| bad("missing".into())),
        Some(value) => {
            let n = value.to_u64().map_err(|e| bad(e.to_string()))?;
            usize::try_from(n)
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| bad(format!("{n} is not a positive size")))
        }
    }
}

fn metadata_f64(
    path: &Path,
    content: &Content,
    key: &str,
    default: f64,
) -> Result<f64, FinetuneError> {
    match content.metadata.get(key) {
        None => Ok(default),
        Some(Value::F32(v)) => Ok(f64::from(*v)),
        Some(Value::F64(v)) => Ok(*v),
        Some(other) => Err(FinetuneError::Metadata {
            path: path.to_path_buf(),
            key: key.to_owned(),
            reason: format!("expected a float, found {:?}", other.value_type()),
        }),
    }
}

/// GGUF's numeric code of a value's type.
fn type_code(value: &Value) -> u32 {
    match value {
        Value::U8(_) => 0,
        Value::I8(_) => 1,
        Value::U16(_) => 2,
        Value::I16(_) => 3,
        Value::U32(_) => 4,
        Value::I32(_) => 5,
        Value::F32(_) => 6,
        Value::Bool(_) => 7,
        Value::String(_) => 8,
        Value::Array(_) => 9,
        Value::U64(_) => 10,
        Value::I64(_) => 11,
        Value::F64(_) => 12,
    }
}

fn encode_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::U8(v) => out.push(*v),
        Value::I8(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::U16(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::I16(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::U32(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::I32(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::U64(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::I64(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::F32(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::F64(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::Bool(v) => out.push(u8::from(*v)),
        Value::String(v) => {
            out.extend_from_slice(&(v.len() as u64).to_le_bytes());
            out.extend_from_slice(v.as_bytes());
        }
        Value::Array(values) => {
            // An empty array's element type is unknown once parsed; GGUF writers use u8's code (0).
            let element_type = values.first().map_or(0, type_code);
            out.extend_from_slice(&element_type.to_le_bytes());
            out.extend_from_slice(&(values.len() as u64).to_le_bytes());
            for value in values {
                encode_value(value, out);
            }
        }
    }
}

/// The tokenizer fingerprint of a GGUF header (see the module documentation).
pub fn tokenizer_fingerprint(content: &Content) -> B256 {
    let mut keys: Vec<&String> = content
        .metadata
        .keys()
        .filter(|key| key.starts_with("tokenizer.ggml."))
        .collect();
    keys.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let mut hasher = Sha256::new();
    let mut buffer = Vec::new();
    for key in keys {
        let value = &content.metadata[key];
        buffer.clear();
        buffer.extend_from_slice(&(key.len() as u64).to_le_bytes());
        buffer.extend_from_slice(key.as_bytes());
        buffer.extend_from_slice(&type_code(value).to_le_bytes());
        encode_value(value, &mut buffer);
        hasher.update(&buffer);
    }
    B256::from_slice(&hasher.finalize())
}

impl BaseModel {
    /// Opens `path`: checks the GGUF magic and hash (against `expected_sha256`, the registered weights
    /// hash, when given), parses the header, refuses anything but a `llama` model and reads its
    /// configuration. The weights are not read yet.
    pub fn open(
        path: impl AsRef<Path>,
        expected_sha256: Option<B256>,
    ) -> Result<Self, FinetuneError> {
        let file = ModelFile::open(path.as_ref(), expected_sha256)?;
        let path = file.path().to_path_buf();
        let mut reader = BufReader::new(File::open(&path).map_err(FinetuneError::io(&path))?);
        let content = Content::read(&mut reader).map_err(|error| FinetuneError::Gguf {
            path: path.clone(),
            reason: error.to_string(),
        })?;
        let architecture = match content.metadata.get("general.architecture") {
            Some(Value::String(arch)) => arch.clone(),
            _ => String::new(),
        };
        if architecture != LLAMA {
            return Err(FinetuneError::NotLlama {
                path,
                found: architecture,
            });
        }
        let hidden_size = metadata_usize(&path, &content, "llama.embedding_length", None)?;
        let n_heads = metadata_usize(&path, &content, "llama.attention.head_count", None)?;
        let config = LlamaConfig {
            vocab_size: content
                .tensor_infos
                .get("token_embd.weight")
                .map(|info| info.shape.dims()[0])
                .ok_or_else(|| FinetuneError::Tensor {
                    path: path.clone(),
                    name: "token_embd.weight".into(),
                    reason: "is missing".into(),
                })?,
            hidden_size,
            n_layers: metadata_usize(&path, &content, "llama.block_count", None)?,
            n_heads,
            n_kv_heads: metadata_usize(
                &path,
                &content,
                "llama.attention.head_count_kv",
                Some(n_heads),
            )?,
            ffn_size: metadata_usize(&path, &content, "llama.feed_forward_length", None)?,
            rms_eps: metadata_f64(
                &path,
                &content,
                "llama.attention.layer_norm_rms_epsilon",
                1e-5,
            )?,
            rope_base: metadata_f64(&path, &content, "llama.rope.freq_base", 10_000.0)?,
        };
        if hidden_size % n_heads != 0 || n_heads % config.n_kv_heads != 0 {
            return Err(FinetuneError::Metadata {
                path,
                key: "llama.attention.head_count".into(),
                reason: format!(
                    "{n_heads} heads and {} key/value heads do not divide the hidden size {hidden_size}",
                    config.n_kv_heads
                ),
            });
        }
        let tokenizer_fingerprint = tokenizer_fingerprint(&content);
        Ok(Self {
            file,
            content,
            config,
            tokenizer_fingerprint,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// The file's SHA-256 (the registered `weightsHash`).
    pub fn sha256(&self) -> B256 {
        self.file.sha256()
    }

    /// `[out, in]` of a tensor as candle lays it out, if the file has it.
    pub fn tensor_dims(&self, name: &str) -> Option<Vec<usize>> {
        self.content
            .tensor_infos
            .get(name)
            .map(|info| info.shape.dims().to_vec())
    }

    fn read_tensor<R: std::io::Read + Seek>(
        &self,
        reader: &mut R,
        name: &str,
        dims: &[usize],
    ) -> Result<Tensor, FinetuneError> {
        let path = self.path().to_path_buf();
        let bad = |reason: String| FinetuneError::Tensor {
            path: path.clone(),
            name: name.to_owned(),
            reason,
        };
        let found = self
            .tensor_dims(name)
            .ok_or_else(|| bad("is missing".into()))?;
        if found != dims {
            return Err(bad(format!("has shape {found:?}, expected {dims:?}")));
        }
        let tensor = self
            .content
            .tensor(reader, name, &Device::Cpu)
            .and_then(|q| q.dequantize(&Device::Cpu))
            .and_then(|t| t.to_dtype(DType::F32))
            .map_err(|error| bad(format!("cannot be read: {error}")))?;
        Ok(tensor)
    }

    /// Reads and dequantizes every weight the llama forward uses.
    pub fn load_weights(&self) -> Result<BaseWeights, FinetuneError> {
        let path: PathBuf = self.path().to_path_buf();
        let mut reader = BufReader::new(File::open(&path).map_err(FinetuneError::io(&path))?);
        let c = self.config;
        let kv = c.n_kv_heads * c.head_dim();
        let (h, f) = (c.hidden_size, c.ffn_size);
        let mut blocks = Vec::with_capacity(c.n_layers);
        for i in 0..c.n_layers {
            let mut t = |name: &str, dims: &[usize]| {
                self.read_tensor(&mut reader, &format!("blk.{i}.{name}.weight"), dims)
            };
            blocks.push(BlockWeights {
                attn_norm: t("attn_norm", &[h])?,
                q: t("attn_q", &[h, h])?,
                k: t("attn_k", &[kv, h])?,
                v: t("attn_v", &[kv, h])?,
                o: t("attn_output", &[h, h])?,
                ffn_norm: t("ffn_norm", &[h])?,
                gate: t("ffn_gate", &[f, h])?,
                up: t("ffn_up", &[f, h])?,
                down: t("ffn_down", &[h, f])?,
            });
        }
        let token_embd = self.read_tensor(&mut reader, "token_embd.weight", &[c.vocab_size, h])?;
        let output_norm = self.read_tensor(&mut reader, "output_norm.weight", &[h])?;
        let output = if self.tensor_dims("output.weight").is_some() {
            self.read_tensor(&mut reader, "output.weight", &[c.vocab_size, h])?
        } else {
            token_embd.clone()
        };
        Ok(BaseWeights {
            token_embd,
            blocks,
            output_norm,
            output,
        })
    }
}
