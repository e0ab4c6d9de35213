#!/usr/bin/env bash
# `make demo`: the whole of Soil end to end on embedded defaults — a local chain (anvil), the indexer on
# SQLite, the default model (SmolLM2-135M) — with every role played by its own wallet. The datanet's
# documents, its metadata, the model file and every output are served over local HTTP (a static server on
# DOCS_PORT, a free one by default), as they would be from a real host: no file:// URI reaches the chain.
# DEMO_EXIT=1 stops after the summary; otherwise the services stay up until Ctrl-C. DEMO_FINETUNE_STEPS (30)
# sets the adapter's training steps.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PATH="$ROOT/tools/foundry:$ROOT/node_modules/.bin:$PATH"  # tools/foundry: Foundry with its exit status

ANVIL_PORT=${ANVIL_PORT:-8545}
INDEXER_PORT=${INDEXER_PORT:-8000}
DOCS_PORT=${DOCS_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
MODEL=${SOIL_MODEL:-$ROOT/models/SmolLM2-135M-Instruct.Q4_1.gguf}
STATE=${DEMO_STATE:-$ROOT/.soil/demo}
TEXT=/usr/share/games/fortunes/literature   # Debian package fortunes-min: real quotations, not demo text
BIN_DIR=${SOIL_BIN_DIR:-$ROOT/target/release}   # make test runs the demo on its debug build
SOIL=$BIN_DIR/soil
INDEXER=$BIN_DIR/soil-indexer
RPC=http://127.0.0.1:$ANVIL_PORT
GRAPHQL=http://127.0.0.1:$INDEXER_PORT/graphql
WWW=http://127.0.0.1:$DOCS_PORT   # the static server: $STATE/www
ETHER=000000000000000000   # 18 decimals

step=0
say() { step=$((step + 1)); printf '\n\033[1m==> [%d] %s\033[0m\n' "$step" "$*"; }
die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
trap 'printf "demo: error: step %d failed at line %d: %s\n" "$step" "$LINENO" "$BASH_COMMAND" >&2' ERR
trap 'echo; echo "demo: stopping"; exit 0' INT TERM

# SO_REUSEADDR: a port left in TIME_WAIT by the previous run is free; one with a listener is not.
port_free() { python3 -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null; }
for spec in "ANVIL_PORT=$ANVIL_PORT" "INDEXER_PORT=$INDEXER_PORT" "DOCS_PORT=$DOCS_PORT"; do
  port_free "${spec#*=}" || die "port ${spec#*=} is taken; free it or choose another with ${spec%=*}=<port> make demo"
done
[ -f "$MODEL" ] || die "model file $MODEL is missing: run 'make setup-model'"
[ -f "$TEXT" ] || die "$TEXT is missing: run 'make setup-apt' (Debian package fortunes-min)"
[ -x "$SOIL" ] && [ -x "$INDEXER" ] || die "binaries missing: run 'make build'"

wait_for() { # wait_for <what> <command...>
  local what=$1; shift
  for _ in $(seq 1 150); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  die "$what did not come up (logs in $STATE)"
}

rm -rf "$STATE"; mkdir -p "$STATE/www/docs" "$STATE/www/outputs" "$STATE/www/models" "$STATE/www/adapters"

# anvil's dev accounts come from its public test mnemonic: they hold play money on a local chain only.
MNEMONIC="test test test test test test test test test test test junk"
key() { cast wallet private-key --mnemonic "$MNEMONIC" --mnemonic-index "$1"; }
addr() { cast wallet address --private-key "$(key "$1")"; }
as() { local who=$1; shift; SOIL_PRIVATE_KEY=$(key "$who") "$SOIL" --rpc-url "$RPC" --outbox "$STATE/outbox-$who.sqlite" --cache-dir "$STATE/index" "$@"; }
DEPLOYER=0 CURATOR=5 OWNER=6 PAYER=7 NODE=8 TUNER=9
CONTRIBUTORS=(1 2 3 4)

say "starting anvil (the local L2) on $RPC and deploying the contracts"
anvil --port "$ANVIL_PORT" --mnemonic "$MNEMONIC" >"$STATE/anvil.log" 2>&1 & pids+=($!)
wait_for anvil cast block-number --rpc-url "$RPC"
PRIVATE_KEY=$(key $DEPLOYER) forge script contracts/script/Deploy.s.sol --rpc-url "$RPC" --broadcast >"$STATE/deploy.log" 2>&1 \
  || { cat "$STATE/deploy.log"; die "deployment failed"; }
DEPLOYMENT=$ROOT/deployments/31337.json
cat "$DEPLOYMENT"; echo
TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$DEPLOYMENT")

say "starting the indexer on SQLite ($STATE/indexer.db) with GraphQL on http://127.0.0.1:$INDEXER_PORT"
"$INDEXER" run --rpc-url "$RPC" --deployment "$DEPLOYMENT" --database-url "sqlite://$STATE/indexer.db" \
  --listen "127.0.0.1:$INDEXER_PORT" --poll-interval-ms 200 >"$STATE/indexer.log" 2>&1 & pids+=($!)
wait_for "the indexer" curl -sf "http://127.0.0.1:$INDEXER_PORT/health"

say "serving the datanet's documents, the model file and the outputs over HTTP on $WWW ($STATE/www)"
python3 -m http.server --bind 127.0.0.1 --directory "$STATE/www" "$DOCS_PORT" >"$STATE/www.log" 2>&1 & pids+=($!)
wait_for "the static HTTP server" curl -sf "$WWW/"

say "creating a datanet of real quotations ($TEXT) with four contributors and a curator"
python3 - "$TEXT" "$STATE/www/docs" <<'PY'
import pathlib, sys
quotes = [q.strip() for q in open(sys.argv[1], encoding="utf-8", errors="replace").read().split("\n%\n") if q.strip()]
out = pathlib.Path(sys.argv[2])
per_doc = len(quotes) // 8
for i in range(8):
    (out / f"literature-{i + 1}.txt").write_text("\n\n".join(quotes[i * per_doc:(i + 1) * per_doc]) + "\n", encoding="utf-8")
PY
for who in "${CONTRIBUTORS[@]}" $PAYER; do
  cast send "$TOKEN" "mint(address,uint256)" "$(addr "$who")" "1000$ETHER" --rpc-url "$RPC" --private-key "$(key $DEPLOYER)" >/dev/null
done
python3 -c 'import json, sys; json.dump({"name": "literature", "description": "quotations from literature, eight documents", "source": "Debian package fortunes-min, " + sys.argv[1]}, open(sys.argv[2], "w"), indent=2)' "$TEXT" "$STATE/www/datanet-1.json"
as $CURATOR datanet create --metadata-uri "$WWW/datanet-1.json" --min-stake "10$ETHER" --curator "$(addr $CURATOR)"
doc=0
for who in "${CONTRIBUTORS[@]}"; do
  for _ in 1 2; do
    doc=$((doc + 1))
    as "$who" datanet contribute --datanet 1 --file "$STATE/www/docs/literature-$doc.txt" --uri "$WWW/docs/literature-$doc.txt" \
      --stake "10$ETHER"
  done
done
for id in 1 2 3 4 5 6 7; do as $CURATOR datanet review --contribution "$id" --accept; done
echo "rejecting contribution 8: its 10-token stake is slashed to the treasury"
as $CURATOR datanet review --contribution 8 --reject
as $CURATOR datanet release --datanet 1

say "registering the default model (SmolLM2-135M) against release 1: 0.001 token per 1,000 tokens"
ln -sf "$MODEL" "$STATE/www/models/$(basename "$MODEL")"
as $OWNER model register --file "$MODEL" --uri "$WWW/models/$(basename "$MODEL")" --release 1 --price "1000000000000000" --split 4000,4000,1500,500
echo "the owner declares a 10 % derivative share: every adapter registered on model 1 pays it 10 % of its fees"
as $OWNER model share 1 1000

say "the payer deposits and runs prompts through 'soil infer' (outputs published, receipts attributed, signed, batched, settled)"
as $PAYER deposit "100$ETHER"
# A quotation of 9-16 words (its author line left out): short enough for the small model to repeat, long
# enough to hold a 7-word span, the shortest that attribution credits.
QUOTE=$(awk 'BEGIN { RS = "" } { n = split($0, lines, "\n"); q = ""
  for (i = 1; i <= n; i++) { if (lines[i] ~ /^[ \t]*--/) break; q = q (q == "" ? "" : " ") lines[i] }
  w = split(q, words, /[ \t]+/); if (w >= 9 && w <= 16) { print q; exit } }' "$STATE/www/docs/literature-3.txt")
PROMPTS=(
  "Repeat this quotation exactly, word for word: $QUOTE"
  "Write one sentence about why good data matters for small language models."
  "Quote a famous line from a classic novel."
)
for prompt in "${PROMPTS[@]}"; do
  echo; echo "prompt: $prompt"
  as $PAYER infer --model-id 1 --model "$MODEL" --node "$(addr $NODE)" --seed 7 --temperature 0 --max-tokens 64 \
    --publish-dir "$STATE/www/outputs" --output-base "$WWW/outputs" "$prompt"
done

say "a fine-tuner trains a LoRA adapter of the model on release 1 (base frozen, CPU) and registers it on model 1"
as $TUNER model finetune --base 1 --base-file "$MODEL" --release 1 --steps "${DEMO_FINETUNE_STEPS:-30}" \
  --seq-len 128 --seed 1 --out "$STATE/www/adapters/literature"
as $TUNER model register-adapter --base 1 --file "$STATE/www/adapters/literature/adapter.gguf" \
  --uri "$WWW/adapters/literature/adapter.gguf" --manifest "$STATE/www/adapters/literature/manifest.json" \
  --manifest-uri "$WWW/adapters/literature/manifest.json" --price "1000000000000000" --split 4000,4000,1500,500
as $OWNER model list

say "the payer opens a usage channel to the node for model 1: each answer signs a cumulative voucher instead of a receipt"
CHANNEL=$(as $PAYER --json channel open --node "$(addr $NODE)" --model-id 1 --deposit "5$ETHER" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["channelId"])')
echo "channel $CHANNEL: 5 SOIL locked for node $(addr $NODE), model 1"

say "'soil serve' loads the model once with the adapter over it; the payer asks both the same question over HTTP"
SERVE_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SERVE=http://127.0.0.1:$SERVE_PORT
as $PAYER serve --model-id 1 --model "$MODEL" --adapter "2=$STATE/www/adapters/literature/adapter.gguf" \
  --node "$(addr $NODE)" --channel "$CHANNEL" --port "$SERVE_PORT" --interval 3600 --publish-dir "$STATE/www/outputs" \
  --output-base "$WWW/outputs" >"$STATE/serve.log" 2>&1 & pids+=($!)
wait_for "soil serve" curl -sf "http://127.0.0.1:$SERVE_PORT/health"
curl -s "http://127.0.0.1:$SERVE_PORT/v1/models" | python3 -c 'import json,sys; [print("serving", m["id"], "(adapter on model %s)" % m["soil_base_model_id"] if m["soil_base_model_id"] else "(base)") for m in json.load(sys.stdin)["data"]]'
chat() { # chat <model> <prompt>: one answer, with what paid for it (a channel's voucher, or a receipt)
  curl -sf "$SERVE/v1/chat/completions" -H 'content-type: application/json' -d "$(python3 -c '
import json, sys
print(json.dumps({"model": sys.argv[1], "temperature": 0, "max_tokens": 48, "seed": 7,
                  "messages": [{"role": "user", "content": sys.argv[2]}]}))' "$1" "$2")" \
  | python3 -c 'import json,sys
a=json.load(sys.stdin); s=a["soil"]; c=s.get("channel")
paid = ("channel %s voucher %s (%s in total)" % (c["id"], c["nonce"], c["cumulative_fee"])) if c else "receipt %s" % s["receipt"]
print("%s: %s\n  %s, fee %s, %d attributed contribution(s)" % (a["model"], a["choices"][0]["message"]["content"].strip(), paid, s["fee"], len(s["attribution"])))'
}
for name in soil-1 soil-2; do chat "$name" "${PROMPTS[0]}"; done

say "the node asks the payer's server to end the channel's period, checks the voucher and its published log, and settles it; twice"
for round in 1 2; do
  for prompt in "${PROMPTS[@]:1}"; do chat soil-1 "$prompt"; done
  as $NODE --json channel settle "$CHANNEL" --from "$SERVE" | tee "$STATE/channel-settle-$round.json"
done
as $PAYER channel status "$CHANNEL"
as $PAYER status
as $PAYER settle | tee "$STATE/settle.txt"

echo "the node closes the channel: the payer gets back what it did not spend"
as $NODE channel close "$CHANNEL"

say "contributors, the model owner (with its derivative share), the fine-tuner and the node claim what they earned"
for who in "${CONTRIBUTORS[@]}" $OWNER $TUNER $NODE; do as "$who" claim; done

say "summary, read back from the indexer's GraphQL ($GRAPHQL)"
wait_for "the indexer to catch up" python3 "$ROOT/scripts/graphql_summary.py" --rpc-url "$RPC" --wait-synced "$GRAPHQL"
python3 "$ROOT/scripts/graphql_summary.py" --rpc-url "$RPC" --deployment "$DEPLOYMENT" --payer "$(addr $PAYER)" --no-file-uris "$GRAPHQL"

say "anyone audits the settled receipts: each output fetched from its signed URI, its hash checked, its attribution recomputed"
# No wallet, and an index cache of its own: the auditor rebuilds the release from the documents' URIs.
txs=$(awk '$1 == "transactions" { for (i = 2; i <= NF; i++) print $i }' "$STATE/settle.txt")
[ -n "$txs" ] || die "the settlement sent no transaction to audit"
for tx in $txs; do
  "$SOIL" --rpc-url "$RPC" --cache-dir "$STATE/auditor-index" audit "$tx"
done
echo "and the channel's periods: each log checked against its voucher, two receipts of each proved into it and recomputed"
for tx in $(python3 -c 'import json,sys
for f in sys.argv[1:]: print(*[p["tx"] for p in json.load(open(f))["settled"]])' "$STATE"/channel-settle-*.json); do
  "$SOIL" --rpc-url "$RPC" --cache-dir "$STATE/auditor-index" audit "$tx" --sample 2
done

say "anyone re-runs the adapter's training from its registered manifest and the release, and compares hashes"
"$SOIL" --rpc-url "$RPC" --cache-dir "$STATE/auditor-index" model verify-training 2 --base-file "$MODEL"
echo
echo "explorer:  http://127.0.0.1:$INDEXER_PORT/"
echo "GraphiQL:  http://127.0.0.1:$INDEXER_PORT/graphiql"
echo "documents and outputs: $WWW/"
echo "logs:      $STATE"

if [ "${DEMO_EXIT:-0}" = 1 ]; then exit 0; fi
echo; echo "services are up; Ctrl-C to stop"
wait
