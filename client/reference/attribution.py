#!/usr/bin/env python3
"""Reference implementation of Soil's attribution, protocol version 1.

A second, independent implementation of the section "Attribution, protocol version 1 (normative)" of
docs/PROTOCOL.md, written from that section alone (without reading the Rust client), to check that the
specification is enough to recompute an attribution exactly. Standard library only; keccak-256 is
implemented below (hashlib's sha3_256 uses the SHA-3 padding, not Keccak's).

Run:

    python3 client/reference/attribution.py --check client/tests/vectors/attribution-v1.json
        recompute every section of the golden vectors (parameters, log2, words, attribution cases),
        one line per case, exit status 1 on any mismatch;

    python3 client/reference/attribution.py --releases RELEASES.json --output OUTPUT_FILE
        print the attribution of OUTPUT_FILE's bytes against the releases as JSON. RELEASES.json is a
        list of releases, each a list of documents {"contributionId": int, "text": str}
        ({"hex": str} in place of "text" gives raw bytes).

Unicode classification is that of the interpreter's unicodedata (14.0 in Python 3.11).
"""

import argparse
import json
import sys
import time
import unicodedata

# ---------------------------------------------------------------------------------------------------
# Parameters (fixed by the version)

VERSION = 1
MIN_SPAN = 7
MAX_OCCURRENCES = 64
TOP_K = 16
PPM = 1_000_000

# ---------------------------------------------------------------------------------------------------
# keccak-256 (the original Keccak padding 0x01 ... 0x80, as Ethereum uses; not SHA3-256's 0x06)

_MASK = (1 << 64) - 1
_ROUND_CONSTANTS = [
    0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
    0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
    0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
    0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
    0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
]
# rotation offsets r[x][y] of the lane at (x, y)
_ROTATIONS = [
    [0, 36, 3, 41, 18],
    [1, 44, 10, 45, 2],
    [62, 6, 43, 15, 61],
    [28, 55, 25, 21, 56],
    [27, 20, 39, 8, 14],
]


def _rol(v, n):
    return ((v << n) | (v >> (64 - n))) & _MASK if n else v


def _keccak_f1600(a):
    """The permutation on 25 lanes, a[x + 5*y]."""
    for rc in _ROUND_CONSTANTS:
        # theta
        c = [a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20] for x in range(5)]
        d = [c[(x - 1) % 5] ^ _rol(c[(x + 1) % 5], 1) for x in range(5)]
        a = [a[i] ^ d[i % 5] for i in range(25)]
        # rho and pi: B[y, 2x + 3y] = rot(A[x, y], r[x, y])
        b = [0] * 25
        for x in range(5):
            for y in range(5):
                b[y + 5 * ((2 * x + 3 * y) % 5)] = _rol(a[x + 5 * y], _ROTATIONS[x][y])
        # chi
        a = [b[i] ^ (~b[(i % 5 + 1) % 5 + 5 * (i // 5)] & b[(i % 5 + 2) % 5 + 5 * (i // 5)])
             for i in range(25)]
        # iota
        a[0] ^= rc
    return a


def keccak256(data: bytes) -> bytes:
    rate = 136  # bytes: 1088 bits
    padded = bytearray(data) + b"\x01" + b"\x00" * (-(len(data) + 1) % rate)
    padded[-1] |= 0x80  # the same byte as the 0x01 when only one byte is left
    state = [0] * 25
    for off in range(0, len(padded), rate):
        block = padded[off:off + rate]
        for i in range(rate // 8):
            state[i] ^= int.from_bytes(block[8 * i:8 * i + 8], "little")
        state = _keccak_f1600(state)
    return b"".join(lane.to_bytes(8, "little") for lane in state[:4])


assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
assert keccak256(b"abc").hex() == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"

# ---------------------------------------------------------------------------------------------------
# Words

_STANDALONE = [
    (0x0E00, 0x0EFF), (0x1000, 0x109F), (0x1780, 0x17FF), (0x3040, 0x30FF), (0x31F0, 0x31FF),
    (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3FFFF),
]


def _is_word_char(ch):
    return unicodedata.category(ch)[0] in "LMN"


def _is_standalone(ch):
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _STANDALONE)


def words(data: bytes):
    text = data.decode("utf-8", "replace")
    out, run = [], []

    def flush():
        if run:
            out.append("".join(run))
            run.clear()

    for ch in text:
        if not _is_word_char(ch):
            flush()
        elif _is_standalone(ch):
            flush()
            out.append(ch.lower())
        else:
            run.append(ch.lower())  # one code point at a time: no final-sigma rule
    flush()
    return out


# ---------------------------------------------------------------------------------------------------
# Integer log2


def log2fix(x: int) -> int:
    """log2(x) in 16-bit fixed point, truncated; x a 64-bit unsigned integer, 0 treated as 1."""
    if not 0 <= x < 1 << 64:
        raise ValueError("x must be a 64-bit unsigned integer")
    x = max(x, 1)
    e = x.bit_length() - 1
    m = x << (62 - e) if e <= 62 else x >> (e - 62)
    f = 0
    for bit in range(15, -1, -1):
        m = (m * m) >> 62
        if m >= 1 << 63:
            f |= 1 << bit
            m >>= 1
    return (e << 16) | f


# ---------------------------------------------------------------------------------------------------
# Attribution


def merge(releases):
    """The union of the releases' documents, each contribution id once: {id: words}."""
    docs = {}
    for release in releases:
        for doc in release:
            cid = int(doc["contributionId"])
            if cid in docs:
                continue
            data = bytes.fromhex(doc["hex"]) if "hex" in doc else doc["text"].encode("utf-8")
            docs[cid] = words(data)
    return docs


def _common_prefix(a, i, b, p):
    n = 0
    while i + n < len(a) and p + n < len(b) and a[i + n] == b[p + n]:
        n += 1
    return n


def attribute(releases, output: bytes):
    docs = merge(releases)
    out = words(output)
    n = len(out)
    big_n = sum(len(d) for d in docs.values())

    # For each output position: the common prefix with every document position, by brute force.
    lcp = [[(cid, _common_prefix(out, i, d, p)) for cid, d in docs.items() for p in range(len(d))]
           for i in range(n)]
    lengths = [max((l for _, l in row), default=0) for row in lcp]

    spans, credit = [], {}
    for i in range(n):
        length = lengths[i]
        if length < MIN_SPAN or (i > 0 and length < lengths[i - 1]):
            continue
        holders = {}
        for cid, l in lcp[i]:
            if l >= length:
                holders[cid] = holders.get(cid, 0) + 1
        c = sum(holders.values())
        if c > MAX_OCCURRENCES:
            continue
        w = length * max(0, log2fix(big_n) - log2fix(c))
        if w == 0:
            continue
        for cid, h in holders.items():
            credit[cid] = credit.get(cid, 0) + w * h // c
        spans.append({"start": i, "len": length, "occurrences": c, "weight": w,
                      "contributions": sorted(holders)})

    ranked = sorted((cid for cid, cr in credit.items() if cr > 0), key=lambda k: (-credit[k], k))
    kept = ranked[:TOP_K]
    kept_set = set(kept)

    covered_positions = set()
    for s in spans:
        if kept_set.intersection(s["contributions"]):
            covered_positions.update(range(s["start"], s["start"] + s["len"]))
    covered = len(covered_positions)
    budget = PPM * covered // n if n else 0

    weights = []
    if kept:
        total = sum(credit[k] for k in kept)
        base = [budget * credit[k] // total for k in kept]
        rem = [budget * credit[k] % total for k in kept]
        leftover = budget - sum(base)
        for r in sorted(range(len(kept)), key=lambda r: (-rem[r], r))[:leftover]:
            base[r] += 1
        weights = sorted(([k, p] for k, p in zip(kept, base) if p > 0), key=lambda e: (-e[1], e[0]))

    return {
        "releaseWords": big_n,
        "outputWords": out,
        "spans": spans,
        "coveredWords": covered,
        "weights": weights,
        "hash": "0x" + attribution_hash(weights).hex(),
    }


def _abi_array(values):
    return len(values).to_bytes(32, "big") + b"".join(v.to_bytes(32, "big") for v in values)


def attribution_hash(weights) -> bytes:
    """keccak256(abi.encode(uint64[] contributionIds, uint32[] weightsPpm))."""
    ids = [k for k, _ in weights]
    ppm = [p for _, p in weights]
    assert all(0 <= k < 1 << 64 for k in ids) and all(0 <= p < 1 << 32 for p in ppm)
    first, second = _abi_array(ids), _abi_array(ppm)
    head = (64).to_bytes(32, "big") + (64 + len(first)).to_bytes(32, "big")
    return keccak256(head + first + second)


# ---------------------------------------------------------------------------------------------------
# Command line


def _case_bytes(case, text_key, hex_key):
    return bytes.fromhex(case[hex_key]) if hex_key in case else case[text_key].encode("utf-8")


def check(path) -> bool:
    with open(path, encoding="utf-8") as f:
        vectors = json.load(f)
    results = []  # (name, list of differences)

    params = {"minSpan": MIN_SPAN, "maxOccurrences": MAX_OCCURRENCES, "topK": TOP_K}
    diffs = [f"version: expected {vectors.get('version')}, computed {VERSION}"] \
        if vectors.get("version") != VERSION else []
    for key, value in params.items():
        if vectors["parameters"].get(key) != value:
            diffs.append(f"{key}: expected {vectors['parameters'].get(key)}, computed {value}")
    for key in vectors["parameters"].keys() - params.keys():
        diffs.append(f"{key}: unknown parameter")
    results.append(("parameters", diffs))

    for v in vectors["log2"]:
        got = log2fix(int(v["x"]))
        results.append((f"log2({v['x']})",
                        [] if str(got) == v["expected"] else [f"expected {v['expected']}, computed {got}"]))

    for idx, v in enumerate(vectors["words"]):
        got = words(_case_bytes(v, "text", "hex"))
        results.append((f"words[{idx}]", [] if got == v["expected"]
                        else [f"expected {v['expected']!r}, computed {got!r}"]))

    for case in vectors["attribution"]:
        got = attribute(case["releases"], _case_bytes(case, "output", "outputHex"))
        diffs = []
        for key, want in case["expected"].items():
            if key not in got:
                diffs.append(f"{key}: not computed")
            elif got[key] != want:
                diffs.append(f"{key}: expected {json.dumps(want, ensure_ascii=False)}, "
                             f"computed {json.dumps(got[key], ensure_ascii=False)}")
        for key in got.keys() - case["expected"].keys():
            diffs.append(f"{key}: computed but not in the vectors")
        results.append((f"attribution {case['name']}", diffs))

    for name, diffs in results:
        print(f"{name}: " + ("ok" if not diffs else "MISMATCH: " + "; ".join(diffs)))
    bad = sum(1 for _, d in results if d)
    print(f"{len(results) - bad} of {len(results)} ok" + (f", {bad} MISMATCH" if bad else ""))
    return bad == 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", metavar="VECTORS.json", help="recompute the golden vectors")
    parser.add_argument("--releases", metavar="RELEASES.json", help="a JSON list of releases")
    parser.add_argument("--output", metavar="FILE", help="the output's bytes")
    args = parser.parse_args()
    if args.check:
        start = time.monotonic()
        ok = check(args.check)
        print(f"({time.monotonic() - start:.2f} s)")
        sys.exit(0 if ok else 1)
    if args.releases and args.output:
        with open(args.releases, encoding="utf-8") as f:
            releases = json.load(f)
        with open(args.output, "rb") as f:
            output = f.read()
        print(json.dumps(attribute(releases, output), ensure_ascii=False, indent=2))
        return
    parser.error("give --check VECTORS.json, or --releases RELEASES.json and --output FILE")


if __name__ == "__main__":
    main()
