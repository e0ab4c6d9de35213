//! The process-wide llama.cpp backend. llama.cpp's backend is global state that may be initialised once
//! per process (`LlamaBackend::init` refuses a second call), so every [`super::ModelWorker`] in a process
//! shares this one; each worker still owns its model and context on its own thread.

use std::sync::OnceLock;

use llama_cpp_2::{LogOptions, llama_backend::LlamaBackend, send_logs_to_tracing};

use super::ModelError;

static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();

/// The shared llama.cpp backend, initialised on first use. The first call also routes llama.cpp's own
/// log lines into `tracing` (target `llama_cpp_2`) when `llama_logs` is true, and silences them
/// otherwise; later calls keep that first choice.
pub fn llama_backend(llama_logs: bool) -> Result<&'static LlamaBackend, ModelError> {
    BACKEND
        .get_or_init(|| {
            send_logs_to_tracing(LogOptions::default().with_logs_enabled(llama_logs));
            LlamaBackend::init().map_err(|error| error.to_string())
        })
        .as_ref()
        .map_err(|reason| ModelError::Load {
            path: "<llama.cpp backend>".into(),
            reason: reason.clone(),
        })
}
