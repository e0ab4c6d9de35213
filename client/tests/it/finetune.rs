//! `soil model finetune` on a real release on anvil: the held-out loss falls, llama.cpp loads the adapter
//! and answers differently, one seed gives one adapter (also across an interruption and a resume), the
//! training verifies and its verification fails, naming why, on a tampered manifest, adapter or document;
//! bad input is refused before any training; Ctrl-C stops after a step with a checkpoint that resumes.

use std::{num::NonZeroU32, path::Path, time::Duration};

use alloy::primitives::B256;
use llama_cpp_2::{
    context::params::LlamaContextParams,
    llama_batch::LlamaBatch,
    model::{LlamaLoraAdapter, LlamaModel, params::LlamaModelParams},
    sampling::LlamaSampler,
};
use serde_json::Value;
use soil_client::{
    attribution::{Document, DocumentFetcher},
    chain::{Chain, VerifiedRelease},
    finetune::{
        self, FinetuneError, Hyperparameters, Manifest, Prepared, Verified, VerifyInputs,
        VerifyMode, manifest::sha256,
    },
    model::llama_backend,
};

use crate::common::*;

/// Training text: four paragraphs about bees and compost; the held-out fourth shares their vocabulary.
pub(crate) const TEXTS: [&str; 4] = [
    "Honey bees live in colonies of a single queen, thousands of female workers and a few hundred male \
     drones. The workers build combs of wax, raise the brood, guard the entrance and forage for nectar \
     and pollen. A forager that finds rich flowers returns to the hive and dances: the angle of her \
     waggle run tells the direction of the flowers from the sun, and its length tells the distance. \
     Nectar is passed from bee to bee, fanned by their wings until most of its water evaporates, and \
     capped in wax cells as honey that feeds the colony through the winter. Honey bees keep the brood \
     nest at about thirty five degrees, warming it by shivering their flight muscles and cooling it by \
     fanning water through the hive.",
    "Compost is made by layering green material such as grass clippings and kitchen scraps with brown \
     material such as dry leaves, straw and shredded cardboard. Microbes break the mixture down, and a \
     well built heap warms to sixty degrees within days. Turning the heap every week brings air to the \
     microbes and keeps the decay fast and free of odour. After two or three months the compost is dark, \
     crumbly and smells of forest soil; it feeds plants slowly, holds water in sandy ground and loosens \
     heavy clay. Gardeners sieve the finished compost and spread it on beds in spring before sowing.",
    "Bees and compost meet in the garden. Flowers grown in soil rich with compost give more nectar, and \
     the bees that visit them carry pollen from flower to flower, so beans, apples and squash set more \
     fruit. A beekeeper who gardens adds spent comb and the dead bees swept from the hive floor to the \
     compost heap, and the heap returns them to the soil as food for the next year's flowers. Honey bees \
     forage up to three kilometres from the hive, but a garden full of flowers close by saves them time \
     and energy.",
    "Honey bees forage for nectar and pollen, and the workers dance to tell the colony where the flowers \
     are. Compost is made of green material and brown material that microbes break down in a warm heap. \
     A garden rich with compost grows flowers that feed the bees, and the bees carry pollen so the fruit \
     sets.",
];

const STEPS: usize = 6;
const SEQ_LEN: usize = 48;

/// Creates a datanet of [`TEXTS`] (all accepted) and publishes a release; returns its id.
pub(crate) fn text_release(env: &Env) -> u64 {
    let datanet = create_datanet(env).to_string();
    for (i, text) in TEXTS.iter().enumerate() {
        let file = env.dir.path().join(format!("finetune-{i}.txt"));
        std::fs::write(&file, text).unwrap();
        let contributed = env.json(
            ALICE,
            &[
                "datanet",
                "contribute",
                "--datanet",
                &datanet,
                "--file",
                path_str(&file),
                "--stake",
                &STAKE.to_string(),
            ],
        );
        let id = contributed["contributionId"].as_u64().unwrap().to_string();
        env.json(
            CURATOR,
            &["datanet", "review", "--contribution", &id, "--accept"],
        );
    }
    let release = env.json(CURATOR, &["datanet", "release", "--datanet", &datanet]);
    release["releaseId"].as_u64().unwrap()
}

pub(crate) async fn started() -> Env {
    let env = Env::start().await;
    env.chain
        .fund(
            env.address(ALICE),
            alloy::primitives::U256::from(10u64).pow(alloy::primitives::U256::from(21u64)),
        )
        .await
        .unwrap();
    env
}

/// `soil model finetune` with the test's small settings plus `extra`, writing to `out`.
fn finetune(env: &Env, release: u64, out: &Path, extra: &[&str]) -> Value {
    let model = model_path();
    let (release, steps, seq_len) = (release.to_string(), STEPS.to_string(), SEQ_LEN.to_string());
    let mut args = vec![
        "model",
        "finetune",
        "--base",
        path_str(&model),
        "--release",
        &release,
        "--steps",
        &steps,
        "--seq-len",
        &seq_len,
        "--seed",
        "7",
        "--lr",
        "4e-3",
        "--out",
        path_str(out),
    ];
    args.extend_from_slice(extra);
    env.json(ALICE, &args)
}

/// Greedy continuation token ids of `prompt`, with `adapter` applied when given.
fn greedy(model: &LlamaModel, adapter: Option<&mut LlamaLoraAdapter>, prompt: &str) -> Vec<i32> {
    let backend = llama_backend(false).unwrap();
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(256))
        .with_n_threads(2)
        .with_n_threads_batch(2);
    let mut context = model.new_context(backend, params).unwrap();
    if let Some(adapter) = adapter {
        context.lora_adapter_set(adapter, 1.0).unwrap();
    }
    let tokens = model.vocab().tokenize(prompt.as_bytes(), true, false);
    let mut batch = LlamaBatch::new(256, 1);
    for (i, &token) in tokens.iter().enumerate() {
        batch
            .add(token, i as i32, &[0], i + 1 == tokens.len())
            .unwrap();
    }
    context.decode(&mut batch).unwrap();
    let mut sampler = LlamaSampler::greedy();
    let mut output = Vec::new();
    for position in tokens.len()..tokens.len() + 24 {
        let token = sampler.sample(&context, batch.n_tokens() - 1);
        output.push(token.0);
        batch.clear();
        batch.add(token, position as i32, &[0], true).unwrap();
        context.decode(&mut batch).unwrap();
    }
    output
}

/// llama.cpp's mean negative log-likelihood per predicted token of the held-out document, packed into
/// sequences of `SEQ_LEN + 1` tokens as the trainer packs it, with `adapter` applied when given.
fn llama_cpp_held_out_loss(model: &LlamaModel, adapter: Option<&mut LlamaLoraAdapter>) -> f64 {
    let backend = llama_backend(false).unwrap();
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(256))
        .with_n_threads(2)
        .with_n_threads_batch(2);
    let mut context = model.new_context(backend, params).unwrap();
    if let Some(adapter) = adapter {
        context.lora_adapter_set(adapter, 1.0).unwrap();
    }
    let vocab = model.vocab();
    let mut tokens = vocab.tokenize(TEXTS[3].as_bytes(), true, false);
    if tokens.last() != Some(&vocab.eos()) {
        tokens.push(vocab.eos());
    }
    let (mut sum, mut count) = (0f64, 0usize);
    for chunk in tokens.chunks(SEQ_LEN + 1).filter(|c| c.len() >= 2) {
        context.clear_kv_cache();
        let mut batch = LlamaBatch::new(256, 1);
        for (i, &token) in chunk[..chunk.len() - 1].iter().enumerate() {
            batch.add(token, i as i32, &[0], true).unwrap();
        }
        context.decode(&mut batch).unwrap();
        for (i, next) in chunk[1..].iter().enumerate() {
            let logits = context.get_logits_ith(i as i32);
            let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let log_sum = logits
                .iter()
                .map(|&l| f64::from(l - max).exp())
                .sum::<f64>()
                .ln();
            sum += log_sum - f64::from(logits[next.0 as usize] - max);
            count += 1;
        }
    }
    sum / count as f64
}

/// Registers the base model on `release` (as the model owner) and the trained adapter on it (as Alice);
/// returns the adapter's model id.
async fn register_adapter(
    env: &Env,
    release: u64,
    manifest: &Manifest,
    manifest_hash: B256,
) -> u64 {
    use alloy::primitives::aliases::U96;
    use soil_bindings::contracts::IModelRegistry::{self, AdapterRegistration, Split};

    let split = SPLIT.map(|p| p.to_string()).join(",");
    let base = env.json(
        MODEL_OWNER,
        &[
            "model",
            "register",
            "--file",
            path_str(&model_path()),
            "--release",
            &release.to_string(),
            "--price",
            &PRICE.to_string(),
            "--split",
            &split,
        ],
    );
    let provider = env.wallet_provider(ALICE);
    let registry = IModelRegistry::new(env.chain.deployment.model_registry, &provider);
    registry
        .registerAdapter(AdapterRegistration {
            baseModelId: base["modelId"].as_u64().unwrap(),
            adapterHash: manifest.adapter.sha256,
            uri: String::new(),
            manifestHash: manifest_hash,
            manifestUri: String::new(),
            releaseIds: vec![release],
            trainedOnReleaseIds: vec![release],
            pricePerKiloToken: U96::from(PRICE),
            split: Split {
                ownerBps: 3000,
                dataBps: 5000,
                nodeBps: 1500,
                treasuryBps: 500,
            },
            maxBaseShareBps: 0,
        })
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    registry.modelCount().call().await.unwrap()
}

async fn connect(env: &Env) -> Chain {
    let deployment = env.dir.path().join("deployment.json");
    Chain::connect(
        &env.chain.rpc_url(),
        env.signer(ALICE).clone(),
        Some(deployment.as_path()),
        Duration::from_secs(30),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn finetune_learns_reproduces_resumes_and_verifies() {
    let env = started().await;
    let release = text_release(&env);
    let out = env.dir.path().join("run-a");
    let summary = finetune(&env, release, &out, &[]);

    // The held-out loss falls; the adapter is small; the manifest is what the summary names.
    let base_loss = summary["heldOutBase"]["loss"].as_f64().unwrap();
    let adapter_loss = summary["heldOutAdapter"]["loss"].as_f64().unwrap();
    assert!(
        adapter_loss < base_loss,
        "held-out loss {base_loss} -> {adapter_loss}"
    );
    let adapter = std::fs::read(out.join("adapter.gguf")).unwrap();
    assert!(
        adapter.len() < 2 << 20,
        "adapter of {} bytes",
        adapter.len()
    );
    let manifest_bytes = std::fs::read(out.join("manifest.json")).unwrap();
    let manifest = Manifest::from_bytes(&manifest_bytes).unwrap();
    assert_eq!(
        summary["manifestSha256"].as_str().unwrap(),
        sha256(&manifest_bytes).to_string()
    );
    assert_eq!(manifest.adapter.sha256, sha256(&adapter));
    assert_eq!(manifest.losses.len(), STEPS);
    assert_eq!(manifest.inputs.documents.len(), TEXTS.len());
    assert!(manifest.inputs.documents[3].held_out);

    // llama.cpp loads the adapter, and its greedy answer differs from the base's.
    let backend = llama_backend(false).unwrap();
    let mut model =
        LlamaModel::load_from_file(backend, model_path(), &LlamaModelParams::default()).unwrap();
    let mut lora = model.lora_adapter_init(out.join("adapter.gguf")).unwrap();
    let prompt = "Honey bees live in colonies of";
    let plain = greedy(&model, None, prompt);
    let adapted = greedy(&model, Some(&mut lora), prompt);
    assert_ne!(plain, adapted, "the adapter does not change the answer");
    // ... and its held-out loss under llama.cpp is the trainer's (the format and orientation are right).
    let llama_base = llama_cpp_held_out_loss(&model, None);
    let llama_adapter = llama_cpp_held_out_loss(&model, Some(&mut lora));
    assert!(
        (llama_base - base_loss).abs() < 0.05 && (llama_adapter - adapter_loss).abs() < 0.05,
        "llama.cpp held-out loss {llama_base} -> {llama_adapter}, the trainer's {base_loss} -> {adapter_loss}"
    );

    // The same seed gives the same adapter interrupted and resumed (and uninterrupted: verification's
    // re-run below is a second run with the same seed).
    let resumed_dir = env.dir.path().join("run-c");
    let stopped = finetune(&env, release, &resumed_dir, &["--stop-after", "3"]);
    assert_eq!(stopped["interrupted"], true, "{stopped}");
    assert_eq!(stopped["step"], 3);
    let checkpoint = resumed_dir.join("checkpoint.gguf");
    let resumed = finetune(
        &env,
        release,
        &resumed_dir,
        &["--resume", path_str(&checkpoint)],
    );
    assert_eq!(resumed["adapterSha256"], summary["adapterSha256"]);
    assert_eq!(resumed["manifestSha256"], summary["manifestSha256"]);

    // A checkpoint of another configuration is refused, naming the difference.
    let refused = env.fails(
        ALICE,
        &[
            "model",
            "finetune",
            "--base",
            path_str(&model_path()),
            "--release",
            &release.to_string(),
            "--steps",
            &STEPS.to_string(),
            "--seq-len",
            &SEQ_LEN.to_string(),
            "--seed",
            "8",
            "--lr",
            "4e-3",
            "--out",
            path_str(&env.dir.path().join("run-d")),
            "--resume",
            path_str(&checkpoint),
        ],
    );
    assert!(
        refused.contains("hyperparameters.seed: 7 != 8"),
        "{refused}"
    );

    // Verification: both checks pass on the genuine files.
    let chain = connect(&env).await;
    let fetcher = DocumentFetcher::new(Duration::from_secs(10)).unwrap();
    let releases = vec![chain.fetch_release(release, &fetcher).await.unwrap()];
    let model_file = model_path();
    let inputs = |manifest: &[u8], adapter: &[u8], releases: &[VerifiedRelease]| {
        let inputs = VerifyInputs {
            manifest,
            manifest_hash: sha256(&manifest_bytes),
            adapter,
            adapter_hash: sha256(&std::fs::read(out.join("adapter.gguf")).unwrap()),
            base: &model_file,
            base_weights_hash: None,
            releases,
        };
        finetune::verify(&inputs, VerifyMode::HeldOutOnly)
    };
    let verified = inputs(&manifest_bytes, &adapter, &releases).unwrap();
    assert!(
        matches!(verified, Verified::HeldOutLossWithinTolerance { .. }),
        "{verified:?}"
    );
    // `soil model verify-training` on the adapter registered on chain: a second run with the same seed,
    // compared by sha256 (this machine is the manifest's CPU class).
    let adapter_id = register_adapter(&env, release, &manifest, sha256(&manifest_bytes)).await;
    let verified = env.json(
        ALICE,
        &[
            "model",
            "verify-training",
            &adapter_id.to_string(),
            "--manifest",
            path_str(&out.join("manifest.json")),
            "--adapter",
            path_str(&out.join("adapter.gguf")),
            "--base-file",
            path_str(&model_file),
        ],
    );
    assert_eq!(verified["check"], "reproducedBitForBit", "{verified}");
    assert_eq!(verified["adapterSha256"], summary["adapterSha256"]);
    let tampered_file = env.dir.path().join("tampered-manifest.json");
    let tampered = String::from_utf8(manifest_bytes.clone())
        .unwrap()
        .replace("\"seed\":7", "\"seed\":9");
    std::fs::write(&tampered_file, &tampered).unwrap();
    let err = env.fails(
        ALICE,
        &[
            "model",
            "verify-training",
            &adapter_id.to_string(),
            "--manifest",
            path_str(&tampered_file),
            "--adapter",
            path_str(&out.join("adapter.gguf")),
            "--base-file",
            path_str(&model_file),
        ],
    );
    assert!(err.contains("the registered manifest hash is"), "{err}");

    // ... and fail, naming why, on a tampered manifest, adapter or document.
    let err = inputs(tampered.as_bytes(), &adapter, &releases).unwrap_err();
    assert!(
        matches!(err, FinetuneError::ManifestHashMismatch { .. }),
        "{err}"
    );
    let mut bad_adapter = adapter.clone();
    let last = bad_adapter.len() - 1;
    bad_adapter[last] ^= 1;
    let err = inputs(&manifest_bytes, &bad_adapter, &releases).unwrap_err();
    assert!(
        matches!(err, FinetuneError::AdapterHashMismatch { .. }),
        "{err}"
    );
    let mut bad_release = releases;
    let doc = &mut bad_release[0].documents[1];
    *doc = Document {
        contribution_id: doc.contribution_id,
        bytes: b"Buy cheap watches now!".to_vec(),
    };
    let err = inputs(&manifest_bytes, &adapter, &bad_release).unwrap_err();
    assert!(
        matches!(err, FinetuneError::DocumentMismatch { index: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("content hash"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn finetune_refuses_bad_input_and_stops_cleanly_on_ctrl_c() {
    let env = started().await;
    let release = text_release(&env);
    let out = env.dir.path().join("bad");
    let run = |base: &Path, release: &str, extra: &[&str]| {
        let mut args = vec![
            "model",
            "finetune",
            "--base",
            path_str(base),
            "--release",
            release,
            "--out",
            path_str(&out),
        ];
        args.extend_from_slice(extra);
        env.fails(ALICE, &args)
    };
    let release = release.to_string();

    let not_gguf = env.dir.path().join("not.gguf");
    std::fs::write(&not_gguf, b"definitely not a model").unwrap();
    let err = run(&not_gguf, &release, &[]);
    assert!(err.contains("is not a GGUF model file"), "{err}");

    let gpt2 = env.dir.path().join("gpt2.gguf");
    let arch = candle_core::quantized::gguf_file::Value::String("gpt2".into());
    let mut file = std::fs::File::create(&gpt2).unwrap();
    candle_core::quantized::gguf_file::write(&mut file, &[("general.architecture", &arch)], &[])
        .unwrap();
    drop(file);
    let err = run(&gpt2, &release, &[]);
    assert!(
        err.contains("architecture \"gpt2\"") && err.contains("`llama` architecture only"),
        "{err}"
    );

    let err = run(&model_path(), "999", &[]);
    assert!(err.contains("release 999"), "{err}");

    // The default model's k and v projections map 576 features to 192.
    let err = run(
        &model_path(),
        &release,
        &["--rank", "193", "--targets", "q,v"],
    );
    assert!(
        err.contains("rank 193 is larger than layer v allows") && err.contains("at most 192"),
        "{err}"
    );
    assert!(!out.join("adapter.gguf").exists());

    // Ctrl-C stops after the current step with a checkpoint, which a run with more steps resumes.
    let interrupted_dir = env.dir.path().join("interrupted");
    let mut child = env
        .soil(ALICE)
        .env("SOIL_LOG", "info")
        .args([
            "--json",
            "model",
            "finetune",
            "--base",
            path_str(&model_path()),
            "--release",
            &release,
            "--steps",
            "100000",
            "--seq-len",
            "8",
            "--out",
            path_str(&interrupted_dir),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let started = std::io::BufRead::lines(stderr)
        .map_while(Result::ok)
        .any(|line| line.contains("training started"));
    assert!(started, "soil model finetune never started training");
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let stopped: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(stopped["interrupted"], true, "{stopped}");
    let step = stopped["step"].as_u64().unwrap();
    let checkpoint = interrupted_dir.join("checkpoint.gguf");
    let finished = env.json(
        ALICE,
        &[
            "model",
            "finetune",
            "--base",
            path_str(&model_path()),
            "--release",
            &release,
            "--steps",
            &(step + 1).to_string(),
            "--seq-len",
            "8",
            "--out",
            path_str(&interrupted_dir),
            "--resume",
            path_str(&checkpoint),
        ],
    );
    assert_eq!(finished["steps"], step + 1, "{finished}");

    // An empty release (a release with no documents cannot be published, so it is built here).
    let empty = VerifiedRelease {
        release_id: 42,
        root: B256::ZERO,
        documents: Vec::new(),
    };
    let err = Prepared::new(&model_path(), None, &[empty], Hyperparameters::default()).unwrap_err();
    assert!(matches!(err, FinetuneError::EmptyRelease(42)), "{err}");
    assert_eq!(err.to_string(), "release 42 has no documents to train on");
}
