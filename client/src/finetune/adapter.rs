//! The GGUF LoRA adapter llama.cpp loads: metadata `general.architecture` (the base's), `general.type =
//! "adapter"`, `adapter.type = "lora"`, `adapter.lora.alpha` (f32); for each adapted base tensor
//! `<name>.lora_a` (ggml shape `(n_in, r)`, candle `[r, n_in]`) and `<name>.lora_b` (ggml `(r, n_out)`,
//! candle `[n_out, r]`), F16 or F32. Metadata keys and tensors are written sorted by name, so the bytes
//! depend on the values only.

use std::io::Cursor;

use candle_core::{
    DType, Device, Tensor,
    quantized::{
        GgmlDType, QTensor,
        gguf_file::{self, Content, Value},
    },
};

use super::{FinetuneError, config::AdapterDType, lora::Lora};

/// The adapter file of `lora` in `dtype`, for a base of `architecture`.
pub fn write_adapter(
    lora: &Lora,
    alpha: f32,
    architecture: &str,
    dtype: AdapterDType,
) -> Result<Vec<u8>, FinetuneError> {
    let ggml = match dtype {
        AdapterDType::F16 => GgmlDType::F16,
        AdapterDType::F32 => GgmlDType::F32,
    };
    let mut tensors: Vec<(String, QTensor)> = lora
        .named_vars()
        .into_iter()
        .map(|(name, var)| Ok((name, QTensor::quantize(var.as_tensor(), ggml)?)))
        .collect::<Result<_, FinetuneError>>()?;
    tensors.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let alpha = Value::F32(alpha);
    let lora_type = Value::String("lora".into());
    let arch = Value::String(architecture.into());
    let general_type = Value::String("adapter".into());
    let metadata: [(&str, &Value); 4] = [
        ("adapter.lora.alpha", &alpha),
        ("adapter.type", &lora_type),
        ("general.architecture", &arch),
        ("general.type", &general_type),
    ];
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let mut out = Cursor::new(Vec::new());
    gguf_file::write(&mut out, &metadata, &tensor_refs)?;
    Ok(out.into_inner())
}

/// An adapter read back: alpha and each tensor (f32), keyed by name.
#[derive(Debug)]
pub struct ReadAdapter {
    /// `adapter.lora.alpha`.
    pub alpha: f32,
    /// `general.architecture`.
    pub architecture: String,
    /// The tensors, dequantized, sorted by name.
    pub tensors: Vec<(String, Tensor)>,
}

/// Parses adapter bytes, refusing anything that is not a LoRA adapter of `.lora_a` / `.lora_b` tensors.
pub fn read_adapter(bytes: &[u8]) -> Result<ReadAdapter, FinetuneError> {
    let bad = |reason: String| FinetuneError::BadAdapter(reason);
    let mut reader = Cursor::new(bytes);
    let content = Content::read(&mut reader).map_err(|e| bad(format!("not GGUF: {e}")))?;
    let text = |key: &str| match content.metadata.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(bad(format!("metadata {key} is missing"))),
    };
    if text("general.type")? != "adapter" || text("adapter.type")? != "lora" {
        return Err(bad(
            "not a LoRA adapter (general.type / adapter.type)".into()
        ));
    }
    let architecture = text("general.architecture")?;
    let alpha = match content.metadata.get("adapter.lora.alpha") {
        Some(Value::F32(alpha)) => *alpha,
        _ => return Err(bad("metadata adapter.lora.alpha (f32) is missing".into())),
    };
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort_unstable();
    let mut tensors = Vec::with_capacity(names.len());
    for name in names {
        if !(name.ends_with(".lora_a") || name.ends_with(".lora_b")) {
            return Err(bad(format!("tensor {name} is neither .lora_a nor .lora_b")));
        }
        let tensor = content
            .tensor(&mut reader, name, &Device::Cpu)
            .and_then(|q| q.dequantize(&Device::Cpu))
            .and_then(|t| t.to_dtype(DType::F32))
            .map_err(|e| bad(format!("tensor {name}: {e}")))?;
        tensors.push((name.clone(), tensor));
    }
    Ok(ReadAdapter {
        alpha,
        architecture,
        tensors,
    })
}
