#!/usr/bin/env python3
"""The demo's summary, read back from the indexer's GraphQL, and its money check.

Prints the top contributors by earnings, every inference with its attributed contributions, and each
model's revenue; then checks, to the wei, that every settled fee is accounted for:
  per inference   fee == owner + base owner + node + treasury + attributed + pool, attributed == Σ its edges
  in total        the sums equal the indexer's running totals
  channels        every settled voucher's log verified, and its receipts' fees sum to what it paid;
                  token.balanceOf(channels) == Σ open channels' deposit − settled fee
  against chain   the payer's on-chain deposit == deposited − Σ fees of receipts settled alone; the
                  escrow's outstanding credits and pool rewards equal what GraphQL says was
                  credited/accrued minus what was claimed; token.balanceOf(escrow) == deposits + credits
                  + pool rewards.
With --no-file-uris, also fails when a URI in the chain data (a datanet's metadata, a contribution's
document, a model's weights, an inference's output) is a file:// URI that only its author can read.
Exits non-zero on any mismatch. `--wait-synced` only checks that the indexer has reached the chain head
and fetched every settled voucher's log.
Standard library only; chain reads go through `cast` (tools/foundry, on the PATH make and demo.sh set).
"""
import argparse
import json
import subprocess
import sys
import urllib.request


def graphql(url, query, variables=None):
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(url, body, {"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.load(response)
    if answer.get("errors"):
        raise SystemExit(f"GraphQL error: {answer['errors']}")
    return answer["data"]


def cast(*args):
    return subprocess.run(["cast", *args], check=True, capture_output=True, text=True).stdout.strip()


def chain_uint(rpc, address, signature, *args):
    return int(cast("call", address, signature, *args, "--rpc-url", rpc).split()[0])


def account(url, address, selection):
    """One account's fields, or None if the indexer has not seen it."""
    query = f"query($a: String!) {{ account(address: $a) {{ {selection} }} }}"
    return graphql(url, query, {"a": address})["account"]


def pages(url, field, selection, **filters):
    """Every node of a Relay connection, following cursors."""
    after, nodes = None, []
    args = "".join(f", {k}: {json.dumps(v)}" for k, v in filters.items())
    while True:
        query = f"query($after: String) {{ {field}(first: 100, after: $after{args}) {{ edges {{ node {{ {selection} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
        connection = graphql(url, query, {"after": after})[field]
        nodes += [edge["node"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            return nodes
        after = connection["pageInfo"]["endCursor"]


def eth(wei):
    return f"{int(wei) / 1e18:.6f}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--rpc-url", required=True)
    parser.add_argument("--deployment")
    parser.add_argument("--payer")
    parser.add_argument("--wait-synced", action="store_true")
    parser.add_argument("--no-file-uris", action="store_true")
    opts = parser.parse_args()

    head = int(cast("block-number", "--rpc-url", opts.rpc_url))
    meta = graphql(opts.url, "{ _meta { blockNumber blockHash synced } }")["_meta"]
    if opts.wait_synced:
        if not meta or int(meta["blockNumber"]) < head:  # a U64: a decimal string
            sys.exit(1)
        # Caught up, and every settled voucher's log fetched (verified, or found missing or not matching).
        for ch in pages(opts.url, "channels", "id"):
            query = "query($id: U64!) { channel(id: $id) { settlements(first: 100) { nodes { logStatus } } } }"
            settled = graphql(opts.url, query, {"id": ch["id"]})["channel"]["settlements"]["nodes"]
            if any(v["logStatus"] == "PENDING" for v in settled):
                sys.exit(1)
        sys.exit(0)

    inferences = pages(
        opts.url,
        "inferences",
        "digest fee inputTokens outputTokens outputUri payer { address } channel { id } split { owner base data node treasury attributed unattributed } "
        "attributions { weightPpm amount contribution { id } contributor { address } }",
    )
    contributions = pages(opts.url, "contributions", "id uri contributor { address }")
    datanets = pages(opts.url, "datanets", "id metadataUri")
    models = pages(opts.url, "models", "id uri manifestUri baseModel { id } usage { inferences inputTokens outputTokens } "
                   "revenue { total owner base derivative data node treasury attributed pool }")
    channels = pages(opts.url, "channels", "id state deposit settledFee refund")
    for ch in channels:
        query = ("query($id: U64!) { channel(id: $id) { settlements(first: 100) "
                 "{ nodes { digest period inferences amount logStatus logProblem } } } }")
        ch["settlements"] = graphql(opts.url, query, {"id": ch["id"]})["channel"]["settlements"]
    totals = graphql(opts.url, "{ totals { fees ownerRevenue baseRevenue nodeRevenue treasuryRevenue attributedRevenue poolAccrued poolClaimed credited claimed deposited withdrawn swept } }")["totals"]

    contributors = sorted({c["contributor"]["address"] for c in contributions})
    earnings = []
    for address in contributors:
        seen = account(opts.url, address, "earnings { total attributed pool } reputation { accepted rejected acceptedTokens }")
        earnings.append((int(seen["earnings"]["total"]), address, seen))
    print(f"indexed up to block {meta['blockNumber']} ({meta['blockHash'][:12]}…), chain head {head}")
    print("\ntop contributors by earnings")
    print(f"  {'contributor':44} {'earned':>12} {'attributed':>12} {'pool':>12}  accepted/rejected")
    for total, address, seen in sorted(earnings, reverse=True):
        e, r = seen["earnings"], seen["reputation"]
        print(f"  {address:44} {eth(total):>12} {eth(e['attributed']):>12} {eth(e['pool']):>12}  {r['accepted']}/{r['rejected']}")

    print("\ninferences and their attributed contributions")
    for inf in inferences:
        print(f"  {inf['digest'][:18]}…  fee {eth(inf['fee'])}  tokens {inf['inputTokens']}+{inf['outputTokens']}  output {inf['outputUri'] or '(not published)'}")
        for edge in inf["attributions"] or []:
            print(f"      contribution {edge['contribution']['id']:>3}  {edge['weightPpm'] / 1e4:6.2f}%  {eth(edge['amount'])}  → {edge['contributor']['address']}")
        if not inf["attributions"]:
            print("      (no span of the output found in the release: the data share went to the release pool)")

    print("\nmodel revenue")
    for m in models:
        rev = m["revenue"]
        kind = f"adapter on model {m['baseModel']['id']}" if m["baseModel"] else "whole model"
        print(f"  model {m['id']} ({kind}): {m['usage']['inferences']} inferences, revenue {eth(rev['total'])} "
              f"(owner {eth(rev['owner'])}, base owner {eth(rev['base'])}, data {eth(rev['data'])} of which pool {eth(rev['pool'])}, "
              f"node {eth(rev['node'])}, treasury {eth(rev['treasury'])}); derivative share from its adapters {eth(rev['derivative'])}")

    if channels:
        print("\nusage channels")
    for ch in channels:
        periods = ch["settlements"]["nodes"]
        print(f"  channel {ch['id']} ({ch['state'].lower()}): deposit {eth(ch['deposit'])}, settled {eth(ch['settledFee'])} "
              f"in {len(periods)} voucher(s), refunded {eth(ch['refund'])}")
        for v in periods:
            print(f"      period {v['period']}: {v['inferences']} inferences, {eth(v['amount'])}, log {v['logStatus'].lower()}"
                  + (f" ({v['logProblem']})" if v["logProblem"] else ""))

    # ---- the money check, to the wei ----
    failures = []

    def expect(what, left, right):
        if int(left) != int(right):
            failures.append(f"{what}: {left} != {right}")

    parts = ("owner", "base", "node", "treasury", "attributed", "unattributed")
    sums = dict.fromkeys(("fee",) + parts, 0)
    for inf in inferences:
        s = {k: int(v) for k, v in inf["split"].items()}
        fee = int(inf["fee"])
        expect(f"inference {inf['digest']}: fee vs its parts", fee, sum(s[k] for k in parts))
        expect(f"inference {inf['digest']}: data share", s["data"], s["attributed"] + s["unattributed"])
        expect(f"inference {inf['digest']}: attributed vs Σ edges", s["attributed"], sum(int(e["amount"]) for e in inf["attributions"] or []))
        sums["fee"] += fee
        for k in parts:
            sums[k] += s[k]
    expect("Σ fees vs totals.fees", sums["fee"], totals["fees"])
    expect("Σ owner vs totals.ownerRevenue", sums["owner"], totals["ownerRevenue"])
    expect("Σ base owner vs totals.baseRevenue", sums["base"], totals["baseRevenue"])
    expect("Σ node vs totals.nodeRevenue", sums["node"], totals["nodeRevenue"])
    expect("Σ treasury vs totals.treasuryRevenue", sums["treasury"], totals["treasuryRevenue"])
    expect("Σ attributed vs totals.attributedRevenue", sums["attributed"], totals["attributedRevenue"])
    # A release pool's accumulator rounds down; what it cannot represent goes to the treasury (PROTOCOL.md).
    pool_dust = sums["unattributed"] - int(totals["poolAccrued"])
    if pool_dust < 0:
        failures.append(f"release pools accrued {totals['poolAccrued']}, more than the {sums['unattributed']} sent to them")
    # A sweep credits the treasury with what the escrow held beyond what it owed: no fee's part.
    swept = int(totals["swept"])
    settlement_credits = int(totals["credited"]) - int(totals["poolClaimed"]) - swept
    expect("payer debits vs owners + node + treasury + contributors + pool",
           sums["fee"], settlement_credits + int(totals["poolAccrued"]))
    expect("credits from settlement vs owners + node + treasury + attributed + pool rounding dust",
           settlement_credits, sums["owner"] + sums["base"] + sums["node"] + sums["treasury"] + sums["attributed"] + pool_dust)

    by_channel = {}
    for inf in inferences:
        if inf["channel"]:
            by_channel[inf["channel"]["id"]] = by_channel.get(inf["channel"]["id"], 0) + int(inf["fee"])
    for ch in channels:
        periods = ch["settlements"]["nodes"]
        for v in periods:
            if v["logStatus"] != "VERIFIED":
                failures.append(f"channel {ch['id']} period {v['period']}: log {v['logStatus']} ({v['logProblem']})")
        expect(f"channel {ch['id']}: Σ vouchers paid vs Σ its receipts' fees",
               sum(int(v["amount"]) for v in periods), by_channel.get(ch["id"], 0))
        expect(f"channel {ch['id']}: settled fee vs Σ vouchers paid", ch["settledFee"], sum(int(v["amount"]) for v in periods))
    alone = sum(int(i["fee"]) for i in inferences if not i["channel"])

    if opts.deployment:
        deployment = json.load(open(opts.deployment))
        escrow, token = deployment["usageEscrow"], deployment["token"]
        on_chain_credit = chain_uint(opts.rpc_url, escrow, "totalCredited()(uint256)")
        on_chain_pool = chain_uint(opts.rpc_url, escrow, "unclaimedPoolRewards()(uint256)")
        on_chain_deposits = chain_uint(opts.rpc_url, escrow, "totalDeposits()(uint256)")
        expect("escrow.totalCredited vs credited − claimed", on_chain_credit, int(totals["credited"]) - int(totals["claimed"]))
        expect("escrow.unclaimedPoolRewards vs pool accrued − claimed", on_chain_pool, int(totals["poolAccrued"]) - int(totals["poolClaimed"]))
        expect("escrow.totalDeposits vs deposited − withdrawn − fees of receipts settled alone", on_chain_deposits,
               int(totals["deposited"]) - int(totals["withdrawn"]) - alone)
        open_channels = sum(int(c["deposit"]) - int(c["settledFee"]) for c in channels if c["state"] != "CLOSED")
        expect("token.balanceOf(channels) vs Σ open channels' deposit − settled fee",
               chain_uint(opts.rpc_url, token, "balanceOf(address)(uint256)", deployment["usageChannels"]), open_channels)
        expect("token.balanceOf(escrow) vs deposits + credits + pool", chain_uint(opts.rpc_url, token, "balanceOf(address)(uint256)", escrow),
               on_chain_deposits + on_chain_credit + on_chain_pool)
        treasury = cast("call", escrow, "treasury()(address)", "--rpc-url", opts.rpc_url)
        treasury_account = account(opts.url, treasury, "balances { credited }")
        expect("treasury's credits vs Σ treasury share + pool rounding dust + swept",
               int(treasury_account["balances"]["credited"]) if treasury_account else 0, sums["treasury"] + pool_dust + swept)
        if opts.payer:
            paid = sum(int(i["fee"]) for i in inferences
                       if i["payer"]["address"].lower() == opts.payer.lower() and not i["channel"])
            payer = account(opts.url, opts.payer, "balances { deposited withdrawn }")
            expect("payer's on-chain deposit vs deposited − withdrawn − Σ its fees",
                   chain_uint(opts.rpc_url, escrow, "depositOf(address)(uint256)", opts.payer),
                   int(payer["balances"]["deposited"]) - int(payer["balances"]["withdrawn"]) - paid)

    if opts.no_file_uris:
        uris = [(f"datanet {d['id']} metadata", d["metadataUri"]) for d in datanets]
        uris += [(f"contribution {c['id']}", c["uri"]) for c in contributions]
        uris += [(f"model {m['id']}", m["uri"]) for m in models]
        uris += [(f"model {m['id']} manifest", m["manifestUri"]) for m in models if m["manifestUri"]]
        uris += [(f"inference {i['digest']} output", i["outputUri"]) for i in inferences]
        failures += [f"{what} has a file:// URI: {uri}" for what, uri in uris if uri.lower().startswith("file:")]

    if not inferences:
        failures.append("no inference was settled")
    if failures:
        print("\nMONEY CHECK FAILED:\n  " + "\n  ".join(failures))
        sys.exit(1)
    print(f"\nmoney check: {len(inferences)} settled fees ({len(inferences) - sum(1 for i in inferences if i['channel'])} alone, "
          f"{sum(1 for i in inferences if i['channel'])} through {len(channels)} channel(s)); all ({sums['fee']} wei) accounted for to the wei: payer debits = "
          f"owner {sums['owner']} + base owner {sums['base']} + node {sums['node']} + treasury {sums['treasury']} (+ {pool_dust} pool rounding dust) "
          f"+ contributors {sums['attributed']} + pool {totals['poolAccrued']}; the escrow's books on chain agree")


if __name__ == "__main__":
    main()
