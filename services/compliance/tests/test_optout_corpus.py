"""Recall and precision of opt-out understanding on a labelled corpus (``data/optout_corpus.tsv``).

The corpus holds English and Spanish texts: carrier keywords, the FCC's revocation words, complaint wording
("wrong number", "who is this? stop", "I never signed up for this"), angry and sarcastic texts, and hard
negatives that merely contain a keyword-like word ("stop by the store at 5", "don't stop the updates",
"cancel my 3pm appointment?"). Its split was fixed by a hash of each text before the rules were written:
the rules were tuned on ``dev`` only; ``held`` is measured, never tuned on, and must reach 95 % recall at
99 % precision. Both parts print their figures (``pytest -s``).

``data/optout_fresh.tsv`` holds batches of phrasings written later by other authors and scored before the rules
learned from them (the honest figure for unseen wordings, recorded in its header and in README.md); they are
development texts now, held to the same bar, and each batch prints its own figures.

The statistical model (``keywords/classifier.py``) is trained on both files (``make optout-model``; a test here fails
when the shipped weights are not what training gives). ``data/optout_holdout.tsv`` was written before the model
existed and is read by neither the rules' author nor the trainer: its figure, printed here, is the honest one
for unseen phrasings."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from services.compliance import keywords
from services.compliance.keywords import classify, train

CORPUS = Path(__file__).parent / "data" / "optout_corpus.tsv"
FRESH = Path(__file__).parent / "data" / "optout_fresh.tsv"
HOLDOUT = Path(__file__).parent / "data" / "optout_holdout.tsv"


def _read(path: Path) -> list[tuple[str, str, str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            label, language, split, text = line.split("\t")
            rows.append((label, language, split, text))
    return rows


def _rows() -> list[tuple[str, str, str, str]]:
    """The corpus (split ``dev`` or ``held``)."""
    return _read(CORPUS)


def _fresh() -> list[tuple[str, str, str, str]]:
    """The fresh batches (third column: the batch's name)."""
    return _read(FRESH)


def _holdout() -> list[tuple[str, str, str, str]]:
    return _read(HOLDOUT)


def _score(split: str) -> tuple[float, float, list[str]]:
    tp = fp = fn = 0
    wrong: list[str] = []
    for label, _, part, text in _rows() + _fresh() + _holdout():
        if part != split:
            continue
        said = classify(text).intent == "opt_out"
        if said and label == "opt_out":
            tp += 1
        elif said:
            fp += 1
            wrong.append(f"false opt-out: {text!r}")
        elif label == "opt_out":
            fn += 1
            wrong.append(f"missed: {text!r}")
    return tp / (tp + fn), tp / max(1, tp + fp), wrong


def test_the_corpus_is_big_enough_and_labelled() -> None:
    rows = _rows()
    assert len(rows) >= 300
    assert {r[0] for r in rows} == {"opt_out", "none"} and {r[1] for r in rows} == {"en", "es"}
    assert {r[2] for r in rows} == {"dev", "held"}
    assert len({r[3] for r in rows}) == len(rows), "duplicate texts"
    held = [r for r in rows if r[2] == "held"]
    assert sum(r[0] == "opt_out" for r in held) >= 50 and sum(r[0] == "none" for r in held) >= 50


def test_the_fresh_batches_are_new_and_labelled() -> None:
    corpus = {r[3] for r in _rows()}
    fresh = _fresh()
    assert {r[0] for r in fresh} == {"opt_out", "none"} and {r[1] for r in fresh} <= {"en", "es"}
    assert all(r[2].startswith("fresh") for r in fresh)
    texts = [r[3] for r in fresh]
    assert len(set(texts)) == len(texts) and not corpus & set(texts), "a fresh text is a duplicate"


@pytest.mark.parametrize("split", ["dev", "held", *sorted({r[2] for r in _fresh()}, key=lambda b: int(b[5:]))])
def test_recall_and_precision(split: str) -> None:
    recall, precision, wrong = _score(split)
    print(f"\nopt-out corpus, {split}: recall {recall:.1%}, precision {precision:.1%}")
    for w in wrong:
        print("  " + w)
    assert recall >= 0.95 and precision >= 0.99, wrong


def test_the_held_out_corpus_is_new_and_meets_the_target() -> None:
    """Never tuned on: printed, and held to the target (it was measured once before the model and once after)."""
    rows = _holdout()
    known = {r[3].lower() for r in _rows() + _fresh()}
    assert sum(r[0] == "opt_out" for r in rows) >= 120 and sum(r[0] == "none" for r in rows) >= 180
    assert not known & {r[3].lower() for r in rows}, "a held-out text is in the development corpora"
    recall, precision, wrong = _score("holdout")
    print(f"\nopt-out corpus, holdout: recall {recall:.1%}, precision {precision:.1%}")
    for w in wrong:
        print("  " + w)
    assert recall >= 0.95 and precision >= 0.99, wrong


def test_the_shipped_model_is_what_training_gives() -> None:
    assert train.main(["--check"]) == 0, "run make optout-model"


def test_spanish_opt_outs_are_answered_in_spanish() -> None:
    for label, language, _, text in _rows() + _fresh() + _holdout():
        if label == "opt_out":
            c = classify(text)
            assert c.language == language, (text, c)


def test_the_rule_index_never_hides_a_match(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rules are pre-selected by the first words they can begin with; reading every clause with every rule
    must give the same answers."""
    texts = [r[3] for r in _rows() + _fresh()]
    indexed = [classify(t) for t in texts]
    monkeypatch.setattr(keywords.plain, "_candidates", lambda clause: list(keywords.RULES))
    assert [classify(t) for t in texts] == indexed


def test_classifying_stays_cheap() -> None:
    """Every inbound text is classified (compliance's screen): ~0.1 ms of CPU each; fails only far above."""
    texts = [r[3] for r in _rows() + _fresh() + _holdout()]
    for t in texts[:50]:
        classify(t)  # warm the caches
    started = time.process_time()
    for t in texts:
        classify(t)
    per_text = (time.process_time() - started) / len(texts)
    print(f"\nclassify: {per_text * 1e6:.0f} µs of CPU per text over {len(texts)} texts")
    assert per_text < 0.0006
