//! Serving benchmark (`cargo bench -p soil-client --bench serving [-- --rounds 3 --clients 1,4,8
//! --requests 3 --shared-clients 4 --max-tokens 128 --ctx-size 1024 --threads 2 --llama-server PATH]`):
//! `soil serve` against llama.cpp's own `llama-server` built from the llama.cpp soil links
//! (scripts/llama-server.sh, target/llama-server/llama-server), the same model, threads, per-sequence
//! context, batch and greedy requests, streamed chat completions over HTTP.
//!
//! Scenarios: for each `--clients N`, N concurrent clients each sending `--requests` streamed requests
//! one after another (distinct story prompts, `max_tokens` output tokens), llama-server with
//! `--parallel N` and `-c N × ctx-size` (it divides its context among its slots), soil with
//! `--parallel N --ctx-size ctx-size` (each slot has its own KV cache of --ctx-size); then the same
//! with `--shared-clients` clients whose requests share a long system prompt (the prompt cache's effect
//! on the time to first token). Each run starts both servers afresh (peak RSS is the process's `VmHWM`
//! after it, warm-up request included), soil and llama-server alternating first; the table gives the medians over `--rounds` of aggregate output tokens/s, time to
//! first token p50, request latency p99 and peak RSS, each as soil / llama-server.
//!
//! soil runs as the payer of a small market on a local chain (the integration tests' plumbing): every
//! completion signs its receipt into the outbox, as in production; settlement is left for after the run.

#[allow(dead_code)] // the integration tests' plumbing: this bench uses the chain, the market and `soil serve`
#[path = "../tests/it/common.rs"]
mod common;

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, anyhow, bail, ensure};
use serde_json::{Value, json};
use soil_bindings::testnet::repo_root;

use common::{Env, Market, PAYER, Running, model_path, path_str};

/// Stories long enough that greedy decoding runs past 128 tokens: subject × telling, one per request.
const SUBJECTS: [&str; 8] = [
    "a robot who learns to grow vegetables in a city garden",
    "a lighthouse keeper who befriends a whale",
    "two children who build a raft to cross a great river",
    "a baker who opens a shop on the moon",
    "an old clockmaker who repairs broken time",
    "a fox who becomes the mayor of a small village",
    "a young astronomer who discovers a new comet",
    "a sailor who maps an island that moves",
];
const TELLINGS: [&str; 4] = [
    "",
    " Tell it as a letter to a friend.",
    " Tell it from the point of view of the moon.",
    " Give every chapter a title.",
];

/// The long system prompt of the shared-prefix scenario (about 300 tokens).
const SYSTEM: &str = "You are the storyteller of the Riverside Community Garden, a cooperative of two hundred \
    families who grow vegetables, herbs and flowers on a former railway yard beside the river. Members ask \
    you for stories to read aloud at the Saturday market, to children at the garden school and to the \
    older members at the winter evenings in the tool shed. Your stories are warm, concrete and full of \
    the garden's life: compost heaps that steam on cold mornings, bees from the three hives by the east \
    fence, the rain barrels, the seed library in the old ticket office, the greenhouse built from \
    salvaged windows, and the long table where everyone eats together after the autumn harvest. Write in \
    plain English that a ten-year-old can follow, with short paragraphs, real names for people and \
    places, and at least one moment of kindness between neighbours. Never include violence, brand names \
    or advertising, and never end a story on a sad note. When a member asks for a story about something \
    far from the garden, begin there but let the garden appear somewhere in it: a seed carried in a \
    pocket, a letter from a gardener, a jar of the cooperative's honey. Always answer with the story \
    alone, without an introduction or a closing remark, and make it long enough to fill a page.";

struct Args {
    rounds: usize,
    clients: Vec<usize>,
    requests: usize,
    shared_clients: usize,
    max_tokens: u32,
    ctx_size: u32,
    threads: u32,
    llama_server: PathBuf,
}

fn args() -> Result<Args> {
    let mut args = Args {
        rounds: 3,
        clients: vec![1, 4, 8],
        requests: 3,
        shared_clients: 4,
        max_tokens: 128,
        ctx_size: 1024,
        threads: 2,
        llama_server: repo_root().join("target/llama-server/llama-server"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| anyhow!("{arg} needs a value"));
        match arg.as_str() {
            "--rounds" => args.rounds = value()?.parse()?,
            "--clients" => {
                args.clients = value()?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?
            }
            "--requests" => args.requests = value()?.parse()?,
            "--shared-clients" => args.shared_clients = value()?.parse()?,
            "--max-tokens" => args.max_tokens = value()?.parse()?,
            "--ctx-size" => args.ctx_size = value()?.parse()?,
            "--threads" => args.threads = value()?.parse()?,
            "--llama-server" => args.llama_server = value()?.into(),
            // `cargo bench` passes `--bench` to every bench binary.
            "--bench" => {}
            other => bail!("unknown argument `{other}`"),
        }
    }
    ensure!(
        args.rounds > 0 && args.requests > 0 && args.clients.iter().all(|&n| n > 0),
        "--rounds, --requests and --clients must be positive"
    );
    Ok(args)
}

#[derive(Clone, Copy, PartialEq)]
enum Server {
    Soil,
    Llama,
}

impl Server {
    fn name(self) -> &'static str {
        match self {
            Self::Soil => "soil",
            Self::Llama => "llama",
        }
    }
}

struct Scenario {
    name: String,
    clients: usize,
    shared_system: bool,
}

/// One request's timings, as its client saw them.
struct Sample {
    first_token: Duration,
    latency: Duration,
    output_tokens: u64,
}

/// One run of a scenario on one server.
struct Run {
    tokens_per_s: f64,
    ttft_p50_ms: f64,
    latency_p99_ms: f64,
    tokens_per_request: f64,
    peak_rss_mib: f64,
}

/// The chat messages of request `index` of a run.
fn messages(index: usize, shared_system: bool) -> Value {
    let user = format!(
        "Write a long story about {}.{}",
        SUBJECTS[index % SUBJECTS.len()],
        TELLINGS[index / SUBJECTS.len() % TELLINGS.len()]
    );
    if shared_system {
        json!([{ "role": "system", "content": SYSTEM }, { "role": "user", "content": user }])
    } else {
        json!([{ "role": "user", "content": user }])
    }
}

/// Sends one streamed chat completion; times its first content piece and its end, and reads the
/// output token count from the usage chunk.
async fn request(
    http: &reqwest::Client,
    base: &str,
    model: &str,
    messages: Value,
    max_tokens: u32,
) -> Result<Sample> {
    let body = json!({ "model": model, "messages": messages, "max_tokens": max_tokens, "temperature": 0,
                       "stream": true, "stream_options": { "include_usage": true } });
    let started = Instant::now();
    let mut response = http
        .post(format!("{base}/v1/chat/completions"))
        .json(&body)
        .send()
        .await?;
    if !response.status().is_success() {
        bail!(
            "{base} answered {}: {}",
            response.status(),
            response.text().await?
        );
    }
    let (mut pending, mut first_token, mut output_tokens) = (Vec::new(), None, None);
    while let Some(chunk) = response.chunk().await? {
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let Some(data) = std::str::from_utf8(&line)?.trim().strip_prefix("data:") else {
                continue;
            };
            let data = data.trim();
            if data == "[DONE]" {
                continue;
            }
            let event: Value =
                serde_json::from_str(data).with_context(|| format!("an SSE event from {base}"))?;
            ensure!(event.get("error").is_none(), "{base} streamed {event}");
            let content = &event["choices"][0]["delta"]["content"];
            if first_token.is_none() && content.as_str().is_some_and(|c| !c.is_empty()) {
                first_token = Some(started.elapsed());
            }
            if let Some(tokens) = event["usage"]["completion_tokens"].as_u64() {
                output_tokens = Some(tokens);
            }
        }
    }
    Ok(Sample {
        first_token: first_token.ok_or_else(|| anyhow!("{base} streamed no content"))?,
        latency: started.elapsed(),
        output_tokens: output_tokens.ok_or_else(|| anyhow!("{base} streamed no usage"))?,
    })
}

/// Runs `scenario` against the server at `base`: its clients concurrently, each request after the
/// previous one of the same client; `pid` is the server's, for its peak RSS.
async fn run(base: &str, pid: u32, scenario: &Scenario, args: &Args) -> Result<Run> {
    // A connection per request: a pooled keep-alive connection that the server has just closed would
    // fail the request that reuses it (llama-server's HTTP library closes idle ones after 5 s).
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .pool_max_idle_per_host(0)
        .build()?;
    let models: Value = http
        .get(format!("{base}/v1/models"))
        .send()
        .await?
        .json()
        .await?;
    let model = models["data"][0]["id"]
        .as_str()
        .ok_or_else(|| anyhow!("{base}/v1/models names no model: {models}"))?
        .to_owned();
    // Warm-up, unrelated to the measured prompts (so that no prefix of theirs is cached by it).
    let hello = json!([{ "role": "user", "content": "Say hello." }]);
    request(&http, base, &model, hello, 8).await?;

    let started = Instant::now();
    let clients = (0..scenario.clients).map(|client| {
        let (http, model) = (&http, &model);
        async move {
            let mut samples = Vec::new();
            for i in 0..args.requests {
                let messages = messages(client * args.requests + i, scenario.shared_system);
                samples.push(request(http, base, model, messages, args.max_tokens).await?);
            }
            anyhow::Ok(samples)
        }
    });
    let samples: Vec<Sample> = futures::future::try_join_all(clients)
        .await?
        .into_iter()
        .flatten()
        .collect();
    let wall = started.elapsed().as_secs_f64();
    let tokens: u64 = samples.iter().map(|s| s.output_tokens).sum();
    let millis = |d: Duration| d.as_secs_f64() * 1e3;
    Ok(Run {
        tokens_per_s: tokens as f64 / wall,
        ttft_p50_ms: percentile(samples.iter().map(|s| millis(s.first_token)).collect(), 0.5),
        latency_p99_ms: percentile(samples.iter().map(|s| millis(s.latency)).collect(), 0.99),
        tokens_per_request: tokens as f64 / samples.len() as f64,
        peak_rss_mib: peak_rss_mib(pid)?,
    })
}

/// Nearest-rank percentile.
fn percentile(mut values: Vec<f64>, p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let rank = (p * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    percentile(values.collect(), 0.5)
}

/// The process's peak resident memory (Linux `VmHWM`), in MiB.
fn peak_rss_mib(pid: u32) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .ok_or_else(|| anyhow!("no VmHWM in /proc/{pid}/status"))?
        .trim()
        .parse()?;
    Ok(kib / 1024.0)
}

/// Starts `llama-server` with `parallel` slots of `--ctx-size` each on a free port; returns it and its
/// base URL once `/health` answers 200 (the model loaded).
async fn start_llama(args: &Args, log: &Path, parallel: usize) -> Result<(Running, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let (threads, context) = (args.threads.to_string(), args.ctx_size as usize * parallel);
    let child = Command::new(&args.llama_server)
        .args(["--model", path_str(&model_path()), "--host", "127.0.0.1"])
        .args(["--port", &port.to_string(), "--threads", &threads])
        .args([
            "--threads-batch",
            &threads,
            "--parallel",
            &parallel.to_string(),
        ])
        .args(["--ctx-size", &context.to_string(), "--batch-size", "512"])
        .args(["--ubatch-size", "512"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log)?)
        .spawn()
        .with_context(|| {
            format!(
                "cannot run {} (scripts/llama-server.sh builds it)",
                args.llama_server.display()
            )
        })?;
    let mut server = Running::new(child);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Some(status) = server.child.try_wait()? {
            bail!(
                "llama-server exited ({status}):\n{}",
                std::fs::read_to_string(log)?
            );
        }
        let health = http.get(format!("{base}/health")).send().await;
        if health.is_ok_and(|r| r.status().is_success()) {
            return Ok((server, base));
        }
        ensure!(
            Instant::now() < deadline,
            "llama-server did not load the model in 180 s:\n{}",
            std::fs::read_to_string(log)?
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Starts `soil serve` for the market's model with `parallel` slots.
fn start_soil(env: &Env, market: &Market, args: &Args, parallel: usize) -> (Running, String) {
    let model = model_path();
    let (model_id, threads) = (market.model.to_string(), args.threads.to_string());
    let (ctx_size, max_tokens) = (args.ctx_size.to_string(), args.max_tokens.to_string());
    let parallel = parallel.to_string();
    let serve_args = vec![
        "--model-id",
        &model_id,
        "--model",
        path_str(&model),
        "--port",
        "0",
        "--interval",
        "3600",
        "--threads",
        &threads,
        "--ctx-size",
        &ctx_size,
        "--temperature",
        "0",
        "--max-tokens",
        &max_tokens,
        "--parallel",
        &parallel,
    ];
    common::serve(env, PAYER, &serve_args)
}

fn main() -> Result<()> {
    let args = args()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let version = Command::new(&args.llama_server)
        .arg("--version")
        .output()
        .with_context(|| {
            format!(
                "cannot run {} (scripts/llama-server.sh builds it)",
                args.llama_server.display()
            )
        })?;
    let version = String::from_utf8_lossy(&version.stderr);
    let version = version
        .lines()
        .find(|l| l.starts_with("version"))
        .unwrap_or("version unknown")
        .to_owned();

    let env = runtime.block_on(Env::start());
    let market = runtime.block_on(common::market(&env));

    let mut scenarios: Vec<Scenario> = args
        .clients
        .iter()
        .map(|&clients| Scenario {
            name: format!("{clients} client{}", if clients == 1 { "" } else { "s" }),
            clients,
            shared_system: false,
        })
        .collect();
    if args.shared_clients > 0 {
        scenarios.push(Scenario {
            name: format!("{} clients, shared system prompt", args.shared_clients),
            clients: args.shared_clients,
            shared_system: true,
        });
    }

    println!(
        "serving: soil ({}) vs llama-server ({version}), {} threads, context {} per sequence, batch 512, \
         greedy, {} output tokens per request, {} requests per client, {} rounds",
        env!("CARGO_BIN_EXE_soil"),
        args.threads,
        args.ctx_size,
        args.max_tokens,
        args.requests,
        args.rounds
    );
    println!("  soil serve --parallel N and llama-server --parallel N, N = the scenario's clients");
    let mut runs: Vec<[Vec<Run>; 2]> = scenarios.iter().map(|_| [vec![], vec![]]).collect();
    for round in 0..args.rounds {
        for (scenario, results) in scenarios.iter().zip(&mut runs) {
            let order = if round % 2 == 0 {
                [Server::Soil, Server::Llama]
            } else {
                [Server::Llama, Server::Soil]
            };
            for server in order {
                let llama_log = env.dir.path().join("llama-server.log");
                let (process, base) = match server {
                    Server::Soil => start_soil(&env, &market, &args, scenario.clients),
                    Server::Llama => {
                        runtime.block_on(start_llama(&args, &llama_log, scenario.clients))?
                    }
                };
                let result = runtime
                    .block_on(run(&base, process.child.id(), scenario, &args))
                    .unwrap_or_else(|err| {
                        // A panic, so that soil's log is printed as the server stops (`Running`).
                        let log = match server {
                            Server::Soil => String::new(),
                            Server::Llama => {
                                std::fs::read_to_string(&llama_log).unwrap_or_default()
                            }
                        };
                        let tail: Vec<&str> = log.lines().rev().take(40).collect();
                        let tail: Vec<&str> = tail.into_iter().rev().collect();
                        panic!(
                            "{}, {}: {err:#}\n{}",
                            server.name(),
                            scenario.name,
                            tail.join("\n")
                        )
                    });
                drop(process);
                // The machine's 1-minute load average after the run: above the servers' own threads, the
                // run shared its cores.
                let load = std::fs::read_to_string("/proc/loadavg")?;
                let load = load.split_whitespace().next().unwrap_or("?");
                println!(
                    "  round {}, {}, {}: {:.1} tokens/s, first token p50 {:.0} ms, latency p99 {:.0} ms, \
                     {:.1} tokens/request, peak RSS {:.0} MiB, load {load}",
                    round + 1,
                    scenario.name,
                    server.name(),
                    result.tokens_per_s,
                    result.ttft_p50_ms,
                    result.latency_p99_ms,
                    result.tokens_per_request,
                    result.peak_rss_mib
                );
                results[(server == Server::Llama) as usize].push(result);
            }
        }
    }

    println!(
        "\nmedians of {} rounds, soil / llama-server (ratio):\n\n\
         | scenario | output tokens/s | first token p50 (ms) | latency p99 (ms) | peak RSS (MiB) | tokens/request |\n\
         |---|---:|---:|---:|---:|---:|",
        args.rounds
    );
    for (scenario, [soil, llama]) in scenarios.iter().zip(&runs) {
        let mut row = format!("| {} |", scenario.name);
        let metrics: [fn(&Run) -> f64; 4] = [
            |r| r.tokens_per_s,
            |r| r.ttft_p50_ms,
            |r| r.latency_p99_ms,
            |r| r.peak_rss_mib,
        ];
        for metric in metrics {
            let (s, l) = (
                median(soil.iter().map(metric)),
                median(llama.iter().map(metric)),
            );
            write!(row, " {s:.1} / {l:.1} ({:.2} ×) |", s / l)?;
        }
        let per_request = |runs: &[Run]| median(runs.iter().map(|r| r.tokens_per_request));
        write!(
            row,
            " {:.1} / {:.1} |",
            per_request(soil),
            per_request(llama)
        )?;
        println!("{row}");
    }
    Ok(())
}
