//! Checkpoints: a GGUF file holding, after `step` steps, every LoRA tensor and both AdamW moments
//! (`<name>`, `<name>.adam_m`, `<name>.adam_v`, F32: exact), the per-step losses so far, and the
//! canonical JSON of the [`TrainingInputs`] it belongs to. The random state needs no field of its own:
//! the initialisation is done and the sequence order is a function of (seed, step).
//!
//! Resuming checks the inputs: a checkpoint of another base, other documents or other hyperparameters
//! (threads and steps aside) is refused, naming each difference.

use std::{
    io::Cursor,
    path::{Path, PathBuf},
};

use candle_core::{
    DType, Device, Tensor,
    quantized::{
        GgmlDType, QTensor,
        gguf_file::{self, Content, Value},
    },
};

use super::{
    FinetuneError,
    lora::Lora,
    manifest::{TrainingInputs, canonical_json, differences},
    optim::AdamW,
};

/// The checkpoint format version.
const CHECKPOINT_VERSION: u32 = 1;

/// What a checkpoint restores.
#[derive(Debug)]
pub struct Checkpoint {
    /// Steps done.
    pub step: usize,
    /// The loss of each step done.
    pub losses: Vec<f32>,
}

/// The identity a checkpoint is checked against: the inputs with `threads` and `steps` left out.
fn identity(inputs: &TrainingInputs) -> Result<serde_json::Value, FinetuneError> {
    let mut inputs = inputs.clone();
    inputs.hyperparameters.threads = 0;
    inputs.hyperparameters.steps = 0;
    let bytes = canonical_json(&inputs)?;
    serde_json::from_slice(&bytes).map_err(|e| FinetuneError::BadManifest(e.to_string()))
}

/// Writes a checkpoint to `path` (through a temporary file and a rename, so a crash leaves the previous
/// one intact).
pub fn save(
    path: &Path,
    inputs: &TrainingInputs,
    lora: &Lora,
    optimizer: &AdamW,
    losses: &[f32],
) -> Result<(), FinetuneError> {
    let identity = String::from_utf8(canonical_json(&identity(inputs)?)?)
        .map_err(|e| FinetuneError::BadManifest(e.to_string()))?;
    let vars = lora.named_vars();
    let mut tensors: Vec<(String, QTensor)> = Vec::with_capacity(vars.len() * 3);
    for (i, (name, var)) in vars.iter().enumerate() {
        let q = |t: &Tensor| QTensor::quantize(t, GgmlDType::F32);
        tensors.push((name.clone(), q(var.as_tensor())?));
        tensors.push((format!("{name}.adam_m"), q(&optimizer.m[i])?));
        tensors.push((format!("{name}.adam_v"), q(&optimizer.v[i])?));
    }
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let version = Value::U32(CHECKPOINT_VERSION);
    let step = Value::U64(optimizer.step as u64);
    let config = Value::String(identity);
    let losses = Value::Array(losses.iter().map(|&l| Value::F32(l)).collect());
    let metadata: [(&str, &Value); 4] = [
        ("soil.checkpoint.inputs", &config),
        ("soil.checkpoint.losses", &losses),
        ("soil.checkpoint.step", &step),
        ("soil.checkpoint.version", &version),
    ];
    let refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let mut out = Cursor::new(Vec::new());
    gguf_file::write(&mut out, &metadata, &refs)?;
    let tmp = PathBuf::from(format!("{}.part", path.display()));
    std::fs::write(&tmp, out.into_inner()).map_err(FinetuneError::io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(FinetuneError::io(path))?;
    Ok(())
}

/// Restores `lora` and `optimizer` from the checkpoint at `path`, after checking it belongs to `inputs`.
pub fn load(
    path: &Path,
    inputs: &TrainingInputs,
    lora: &Lora,
    optimizer: &mut AdamW,
) -> Result<Checkpoint, FinetuneError> {
    let bad = |reason: String| FinetuneError::BadCheckpoint {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(FinetuneError::io(path))?;
    let mut reader = Cursor::new(&bytes);
    let content = Content::read(&mut reader).map_err(|e| bad(format!("not GGUF: {e}")))?;
    match content.metadata.get("soil.checkpoint.version") {
        Some(Value::U32(CHECKPOINT_VERSION)) => {}
        _ => return Err(bad("not a version 1 soil checkpoint".into())),
    }
    let Some(Value::String(stored)) = content.metadata.get("soil.checkpoint.inputs") else {
        return Err(bad("its training inputs are missing".into()));
    };
    let stored: serde_json::Value =
        serde_json::from_str(stored).map_err(|e| bad(format!("inputs: {e}")))?;
    let current = identity(inputs)?;
    if stored != current {
        let mut diffs = Vec::new();
        differences("", &stored, &current, &mut diffs);
        let shown: Vec<String> = diffs.iter().take(8).cloned().collect();
        let more = diffs.len().saturating_sub(shown.len());
        let mut differences = shown.join("; ");
        if more > 0 {
            differences.push_str(&format!("; and {more} more"));
        }
        return Err(FinetuneError::CheckpointMismatch {
            path: path.to_path_buf(),
            differences,
        });
    }
    let step = match content.metadata.get("soil.checkpoint.step") {
        Some(Value::U64(step)) => *step as usize,
        _ => return Err(bad("its step is missing".into())),
    };
    let losses = match content.metadata.get("soil.checkpoint.losses") {
        Some(Value::Array(values)) => values
            .iter()
            .map(|v| v.to_f32().map_err(|e| bad(format!("losses: {e}"))))
            .collect::<Result<Vec<f32>, _>>()?,
        _ => return Err(bad("its losses are missing".into())),
    };
    if losses.len() != step {
        return Err(bad(format!("{} losses for {step} steps", losses.len())));
    }
    let mut read = |name: &str, like: &Tensor| -> Result<Tensor, FinetuneError> {
        let t = content
            .tensor(&mut reader, name, &Device::Cpu)
            .and_then(|q| q.dequantize(&Device::Cpu))
            .and_then(|t| t.to_dtype(DType::F32))
            .map_err(|e| bad(format!("tensor {name}: {e}")))?;
        if t.dims() != like.dims() {
            return Err(bad(format!("tensor {name} has shape {:?}", t.dims())));
        }
        Ok(t)
    };
    for (i, (name, var)) in lora.named_vars().into_iter().enumerate() {
        let value = read(&name, var.as_tensor())?;
        var.set(&value)?;
        optimizer.m[i] = read(&format!("{name}.adam_m"), var.as_tensor())?;
        optimizer.v[i] = read(&format!("{name}.adam_v"), var.as_tensor())?;
    }
    optimizer.step = step;
    Ok(Checkpoint { step, losses })
}
