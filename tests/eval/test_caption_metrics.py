"""Caption metrics: offline pycocoevalcap scores order captions sensibly, a read-only install
scores the same from staged jar folders, METEOR's JVM is stopped, SPICE says why it is off."""

from __future__ import annotations

import os
import sys

import pytest

from hacd_graph.errors import UserError
from hacd_graph.eval import caption_metrics as cm
from hacd_graph.eval.caption_metrics import (
    METRICS,
    CaptionMetricsUnavailable,
    CaptionScorer,
    caption_scores,
    spice_unavailable_reason,
)

REFS = [
    ["a dog barks twice in a park", "a dog is barking outside near a road"],
    ["an orchestra plays classical music in a hall", "classical music from strings and horns"],
    ["a man speaks quietly in an office", "a man is talking indoors while typing"],
    ["heavy rain falls on a metal roof", "rain pours down on a roof"],
    ["a jazz band plays with brushes on the snare", "jazz with a walking bass line"],
    ["birds chirp in the morning wilderness", "several birds sing outdoors"],
    ["a car horn honks on a busy street", "traffic passes and a horn sounds"],
    ["glasses clink in a noisy cafe", "people chat and glasses clink in a cafe"],
]
EXACT = [r[0] for r in REFS]
CLOSE = [
    "a dog barks in a park",
    "an orchestra plays music in a hall",
    "a man speaks in an office",
    "rain falls on a roof",
    "a jazz band plays with brushes",
    "birds chirp in the wilderness",
    "a car horn honks on a street",
    "glasses clink in a cafe",
]
FAR = [
    "a woman sings",
    "an engine idles",
    "the wind blows",
    "a child laughs",
    "a cat meows",
    "a door slams",
    "a phone rings",
    "water drips",
]


@pytest.fixture(scope="module")
def scorer():
    with CaptionScorer() as s:
        yield s
    assert s._meteor.meteor_p.poll() is not None  # the JVM is gone after the with block


@pytest.fixture(scope="module")
def exact(scorer):
    return scorer.score(REFS, EXACT)


def test_identical_candidates_score_high(exact):
    assert set(exact.scores) == set(METRICS)
    assert exact.scores["BLEU_1"] == pytest.approx(1.0, abs=1e-6)
    assert exact.scores["BLEU_4"] == pytest.approx(1.0, abs=1e-6)
    assert exact.scores["METEOR"] > 0.9
    assert exact.scores["ROUGE_L"] == pytest.approx(1.0)
    assert exact.scores["CIDEr"] > 2.0
    assert exact.num_clips == len(REFS)
    assert all(len(v) == len(REFS) for v in exact.per_clip.values())


def test_unrelated_candidates_score_low(scorer):
    far = scorer.score(REFS, FAR).scores
    assert far["BLEU_4"] < 0.05 and far["CIDEr"] < 0.2 and far["METEOR"] < 0.2
    assert far["ROUGE_L"] < 0.3 and far["BLEU_1"] < 0.3


def test_better_candidates_score_higher_on_every_metric(scorer, exact):
    close = scorer.score(REFS, CLOSE).scores
    far = scorer.score(REFS, FAR).scores
    for name in METRICS:
        assert exact.scores[name] >= close[name] > far[name], name


def test_empty_candidate_scores_zero_for_its_clip(scorer):
    out = scorer.score(REFS, ["", *EXACT[1:]])
    for name in ("BLEU_1", "METEOR", "ROUGE_L", "CIDEr"):
        assert out.per_clip[name][0] == 0.0, name
        assert out.per_clip[name][1] > 0.5, name


def test_spice_reported_not_available_with_reasons(exact, tmp_path):
    assert set(exact.not_available) == {"SPICE", "SPIDEr"}
    assert "CoreNLP" in exact.not_available["SPICE"]
    assert "SPICE" in exact.not_available["SPIDEr"]
    assert "missing stanford-corenlp-3.6.0.jar" in spice_unavailable_reason(tmp_path, 8)
    for jar in cm.CORENLP_JARS:
        (tmp_path / jar).write_bytes(b"")
    assert "Java >= 16" in spice_unavailable_reason(tmp_path, 17)
    assert "Java >= 16" in spice_unavailable_reason(tmp_path, None)
    assert spice_unavailable_reason(tmp_path, 11) is None
    assert spice_unavailable_reason(tmp_path / cm.CORENLP_JARS[0], 8) is None


def test_java_major_version_reads_the_installed_java():
    major = cm.java_major_version()
    assert major is not None and major >= 8
    assert cm.java_major_version("/nonexistent/java") is None


def test_read_only_install_scores_identically_from_staged_copy(monkeypatch, tmp_path, exact):
    monkeypatch.setattr(cm, "_writable", lambda folder: False)
    with CaptionScorer(stage_root=tmp_path) as staged:
        assert staged.jar_root == tmp_path
        assert staged._tokenizer.__module__.startswith("_hacd_pycocoevalcap_tokenizer_")
        meteor_file = sys.modules[type(staged._meteor).__module__].__file__
        assert os.path.dirname(meteor_file) == str(tmp_path / "meteor")
        out = staged.score(REFS, EXACT)
        proc = staged._meteor.meteor_p
    assert proc.poll() is not None  # closed
    assert out.scores == exact.scores
    leftovers = {p.name for p in (tmp_path / "tokenizer").iterdir()} - {
        p.name for p in (cm.PACKAGE_DIR / "tokenizer").iterdir()
    }
    assert leftovers == {"__init__.py"}  # the tokenizer's temp file was removed again


def test_missing_java_is_one_clear_catchable_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CaptionMetricsUnavailable, match="Java on PATH") as err:
        caption_scores(REFS[:1], EXACT[:1])
    assert isinstance(err.value, UserError) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("refs", "cands", "match"),
    [
        (REFS, EXACT[:3], "8 reference lists"),
        ([], [], "no clips"),
        (["a dog barks"], ["a dog"], "is a string"),
        ([[]], ["a dog"], "no \\(non-empty\\) reference"),
        ([["", " "]], ["a dog"], "no \\(non-empty\\) reference"),
        ([["a dog"]], [None], "not str"),
        ([["a dog"]], "a dog", "not a single string"),
    ],
)
def test_bad_inputs_raise_user_error(refs, cands, match):
    with pytest.raises(UserError, match=match):
        caption_scores(refs, cands)


def test_stale_staged_folder_is_rebuilt(tmp_path):
    staged = cm.stage_jar_dir("tokenizer", tmp_path)
    assert (staged / "stanford-corenlp-3.4.1.jar").exists()
    assert cm.stage_jar_dir("tokenizer", tmp_path) == staged  # reused
    (staged / "stanford-corenlp-3.4.1.jar").unlink()  # as if the install had moved
    assert (cm.stage_jar_dir("tokenizer", tmp_path) / "stanford-corenlp-3.4.1.jar").exists()


def test_spice_wrapper_loads_from_a_staged_folder_with_the_corenlp_jars(tmp_path):
    corenlp = tmp_path / "corenlp"
    corenlp.mkdir()
    for jar in cm.CORENLP_JARS:
        (corenlp / jar).write_bytes(b"")
    staged = cm.stage_jar_dir("spice", tmp_path / "stage", [corenlp / j for j in cm.CORENLP_JARS])
    module = cm.load_wrapper(staged, "spice")
    assert os.path.dirname(module.__file__) == str(staged)
    assert all((staged / "lib" / j).exists() for j in cm.CORENLP_JARS)
    assert (staged / "lib" / "Meteor-1.5.jar").exists()  # SPICE's own jars are there too
    module.Spice()  # finds the CoreNLP jar in the staged lib/, so it downloads nothing
    assert not (cm.PACKAGE_DIR / "spice" / "lib" / cm.CORENLP_JARS[0]).exists()
