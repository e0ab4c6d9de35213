//! The CPU class a training ran on: the target architecture, the SIMD features that select candle's and
//! gemm's kernels at run time, and the cache sizes that set gemm's blocking. An adapter's bytes are
//! reproducible for the same binary on the same class; elsewhere only within floating-point tolerance.

use serde::{Deserialize, Serialize};

/// The features that can change which matrix kernels run.
#[cfg(target_arch = "x86_64")]
const FEATURES: &[&str] = &[
    "sse4.2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512dq", "avx512vl",
];

/// The CPU class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CpuClass {
    /// `std::env::consts::ARCH`.
    pub arch: String,
    /// The detected features among those that select kernels, in a fixed order.
    pub features: Vec<String>,
    /// Data cache sizes in bytes, L1d, L2, L3 (Linux sysfs of CPU 0; empty elsewhere).
    pub caches: Vec<u64>,
}

fn detected_features() -> Vec<String> {
    #[cfg(target_arch = "x86_64")]
    {
        let detected = |name: &str| match name {
            "sse4.2" => std::is_x86_feature_detected!("sse4.2"),
            "avx" => std::is_x86_feature_detected!("avx"),
            "avx2" => std::is_x86_feature_detected!("avx2"),
            "fma" => std::is_x86_feature_detected!("fma"),
            "f16c" => std::is_x86_feature_detected!("f16c"),
            "avx512f" => std::is_x86_feature_detected!("avx512f"),
            "avx512bw" => std::is_x86_feature_detected!("avx512bw"),
            "avx512dq" => std::is_x86_feature_detected!("avx512dq"),
            "avx512vl" => std::is_x86_feature_detected!("avx512vl"),
            _ => false,
        };
        FEATURES
            .iter()
            .filter(|name| detected(name))
            .map(|name| (*name).to_owned())
            .collect()
    }
    #[cfg(target_arch = "aarch64")]
    {
        let mut features = Vec::new();
        if std::arch::is_aarch64_feature_detected!("neon") {
            features.push("neon".to_owned());
        }
        if std::arch::is_aarch64_feature_detected!("fp16") {
            features.push("fp16".to_owned());
        }
        features
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        Vec::new()
    }
}

/// Parses sysfs's `32K`, `1024K`, `16M`.
fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, ""),
    };
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "K" => n << 10,
        "M" => n << 20,
        "G" => n << 30,
        _ => n,
    })
}

fn cache_sizes() -> Vec<u64> {
    let mut caches = Vec::new();
    for index in 0..8 {
        let dir = format!("/sys/devices/system/cpu/cpu0/cache/index{index}");
        let read = |name: &str| std::fs::read_to_string(format!("{dir}/{name}")).ok();
        let Some(kind) = read("type") else { break };
        if kind.trim() == "Instruction" {
            continue;
        }
        if let Some(size) = read("size").as_deref().and_then(parse_size) {
            caches.push(size);
        }
    }
    caches
}

impl CpuClass {
    /// This machine's class.
    pub fn detect() -> Self {
        Self {
            arch: std::env::consts::ARCH.to_owned(),
            features: detected_features(),
            caches: cache_sizes(),
        }
    }
}
