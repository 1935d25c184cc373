"""Trains the opt-out model (``classifier.py``) from the labelled corpora and writes ``weights.json``.

    python -m services.compliance.keywords.train          # (make optout-model) rewrite weights.json
    python -m services.compliance.keywords.train --check  # fail when weights.json is not what training gives

Training data: ``services/compliance/tests/data/optout_corpus.tsv`` and ``optout_fresh.tsv`` (every row). The
held-out file ``optout_holdout.tsv`` is never read here. Logistic regression with AdaGrad and a little L2,
deterministic (a fixed shuffle), features seen at least twice; weights rounded to 5 decimals so the file is
stable and small."""

from __future__ import annotations

import json
import math
import random
import sys
from pathlib import Path

from services.compliance.keywords.classifier import WEIGHTS, features, sigmoid
from services.compliance.keywords.normalize import clauses

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
CORPORA = ("optout_corpus.tsv", "optout_fresh.tsv")
EPOCHS = 12
RATE = 0.3
L2 = 1e-5
MIN_COUNT = 2
SEED = 7

Example = tuple[tuple[str, ...], float]


def labelled(names: tuple[str, ...] = CORPORA) -> list[tuple[str, str]]:
    """(label, text) of every row of the named corpora."""
    rows = []
    for name in names:
        for line in (DATA / name).read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                label, _, _, text = line.split("\t")
                rows.append((label, text))
    return rows


def examples(rows: list[tuple[str, str]]) -> list[Example]:
    """Each text's features (those seen at least ``MIN_COUNT`` times) and its label as 1.0 / 0.0."""
    raw = [(features(text, clauses(text)), 1.0 if label == "opt_out" else 0.0) for label, text in rows]
    seen: dict[str, int] = {}
    for feats, _ in raw:
        for f in feats:
            seen[f] = seen.get(f, 0) + 1
    return [(tuple(sorted(f for f in feats if seen[f] >= MIN_COUNT)), y) for feats, y in raw]


def fit(data: list[Example]) -> tuple[dict[str, float], float]:
    """Logistic regression by AdaGrad over ``EPOCHS`` shuffled passes."""
    weights: dict[str, float] = {}
    squares: dict[str, float] = {}
    bias, bias_square = 0.0, 1e-8
    order = list(range(len(data)))
    shuffle = random.Random(SEED)
    for _ in range(EPOCHS):
        shuffle.shuffle(order)
        for k in order:
            feats, y = data[k]
            g = sigmoid(bias + sum(weights.get(f, 0.0) for f in feats)) - y  # in a fixed order: reproducible
            for f in feats:
                w = weights.get(f, 0.0)
                step = g + L2 * w
                squares[f] = squares.get(f, 1e-8) + step * step
                weights[f] = w - RATE * step / math.sqrt(squares[f])
            bias_square += g * g
            bias -= RATE * g / math.sqrt(bias_square)
    return weights, bias


def serialised(weights: dict[str, float], bias: float) -> str:
    kept = {f: round(w, 5) for f, w in sorted(weights.items()) if abs(w) >= 5e-5}
    return json.dumps({"bias": round(bias, 5), "weights": kept}, ensure_ascii=False, indent=0,
                      sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    text = serialised(*fit(examples(labelled())))
    if "--check" in argv:
        if WEIGHTS.read_text(encoding="utf-8") != text:
            print(f"{WEIGHTS} is not what training gives: run make optout-model", file=sys.stderr)
            return 1
        return 0
    WEIGHTS.write_text(text, encoding="utf-8")
    print(f"wrote {WEIGHTS} ({text.count(chr(10)) - 3} weights)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
