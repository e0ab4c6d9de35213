#!/usr/bin/env bash
# `make bench`: every benchmark whose figures are in docs/BENCHMARKS.md, each against its reference (measured
# in the same run where one exists) or its target (see each section there). Long: run it on an idle machine.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PATH="$ROOT/tools/foundry:$ROOT/node_modules/.bin:$PATH"  # tools/foundry: Foundry with its exit status
export SOIL_MODEL=${SOIL_MODEL:-$ROOT/models/SmolLM2-135M-Instruct.Q4_1.gguf}

echo "==> gas: settle batches and channel vouchers, claim, contribute, review vs an ERC-20 transfer (contracts/snapshots)"
forge test --match-path 'contracts/test/gas/*' -vv
echo "==> settlement cost per inference: channel vouchers of 1 to 10,000 inferences vs receipt batches vs an ERC-20 transfer (L2 gas, calldata, OP-stack L1 data fee)"
cargo bench -p soil-bindings --bench settlement_cost
echo "==> client: attribution index build vs bare libsais, attribution latency"
cargo bench -p soil-client --bench attribution
echo "==> client: attribution quality on planted sources (precision, recall, ppm on wrong documents, false credit)"
cargo bench -p soil-client --bench attribution_quality
echo "==> client: generation tokens/s vs a bare llama-cpp-2 decode loop"
cargo bench -p soil-client --bench generation
echo "==> client: soil serve vs llama.cpp's llama-server (scripts/llama-server.sh) at 1, 4 and 8 clients and with a shared system prompt: tokens/s, first token, latency, RSS"
cargo bench -p soil-client --bench serving
echo "==> client: fine-tuning tokens/s (LoRA rank 8, sequence 128) vs llama.cpp prompt evaluation, peak RSS, adapter size; the adapter served: swap cost, tokens/s vs the base"
cargo bench -p soil-client --bench finetune
echo "==> indexer: fetch, decode + write, end to end (SQLite, PostgreSQL) over ≥ 1M events"
cargo bench -p soil-indexer --bench pipeline -- --contributions 4000 --rounds 125
echo "==> indexer: block-to-queryable latency following anvil with 1 s blocks"
cargo bench -p soil-indexer --bench latency -- --blocks 120
echo "==> indexer: GraphQL under load (wrk, 200 clients) over 1M attribution edges, 1 s blocks"
db="$ROOT/target/graphql-bench.db"
rm -f "$db" "$db-wal" "$db-shm"
cargo bench -p soil-indexer --bench graphql -- --db "sqlite://$db" --clients 200 --seconds 20
for event in deposit settlement; do
  echo "==> the same, each block carrying a $event (the figures it changes retired from the response cache)"
  cargo bench -p soil-indexer --bench graphql -- --db "sqlite://$db" --clients 200 --seconds 20 --block-events "$event"
done
echo "==> figures go to docs/BENCHMARKS.md with these commands"
