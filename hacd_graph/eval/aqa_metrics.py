"""Audio question answering metrics: exact match, token F1 and MMAU-style accuracy, by level.

Answers are compared after :func:`normalize_answer` (lower case, punctuation and the
articles a/an/the dropped, number words as digits, so "Two." == "2"). Per question:

- **exact match**: the normalised prediction equals the normalised answer;
- **token F1**: SQuAD's F1 over the normalised tokens (bags of words);
- **accuracy** (the headline): the MMAU/MMAR string-match rule (:func:`string_match`) where
  the question has choices or the answer is short (≤ 3 tokens), else exact match. Choices
  come from :func:`choices_from_question` (yes/no questions: yes, no); a counting question's
  choices are the counts 0–20, so a prediction naming another count ("2 or 3") is wrong.

:func:`aqa_scores` returns a flat dict (keys absent for groups with no question):

- ``aqa/accuracy``, ``aqa/exact_match``, ``aqa/token_f1``, ``aqa/num_questions``;
- ``aqa/level/{general,category,specific}/accuracy`` and ``.../n``: by the item's named
  level of abstraction (``level``);
- ``aqa/level{L}/accuracy`` and ``aqa/level{L}/n`` (L an int): by the hierarchy level of the
  concept the question is about, for items with a ``concept_level`` field (see
  :func:`add_concept_levels`);
- ``aqa/type/{T}/accuracy`` and ``aqa/type/{T}/n`` for T in yes_no, choice, counting,
  attribute (the item's ``type``).
"""

from __future__ import annotations

import contextlib
import re
import string
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hacd_graph.errors import UserError

if TYPE_CHECKING:
    from hacd_graph.ach import ConceptHierarchy

SHORT_ANSWER_TOKENS = 3
MAX_COUNT = 20
_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate((
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
        "eighteen", "nineteen", "twenty",
    ))
} | {"once": "1", "twice": "2", "thrice": "3"}
_ARTICLES = {"a", "an", "the"}
_PUNCT = str.maketrans({c: " " for c in string.punctuation})
_YES_NO_START = re.compile(
    r"^(is|are|was|were|does|do|did|can|could|has|have|had|will|would|should)\b", re.I
)
_COUNTS = [str(i) for i in range(MAX_COUNT + 1)]


def normalize_answer(text: str) -> str:
    """Lower case, punctuation replaced by spaces, articles dropped, number words as digits
    ("Twice!" -> "2", "The Owl" -> "owl"), whitespace collapsed."""
    words = str(text).lower().translate(_PUNCT).split()
    return " ".join(_NUMBER_WORDS.get(w, w) for w in words if w not in _ARTICLES)


def exact_match(prediction: str, answer: str) -> float:
    """1.0 when the normalised prediction equals the normalised answer, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(answer))


def token_f1(prediction: str, answer: str) -> float:
    """SQuAD's F1 between the bags of normalised tokens (1.0 when both are empty)."""
    pred, gold = normalize_answer(prediction).split(), normalize_answer(answer).split()
    if not pred or not gold:
        return float(pred == gold)
    same = sum((Counter(pred) & Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def choices_from_question(question: str, kind: str | None = None) -> list[str]:
    """The options a question lists, normalised; ``[]`` when it lists none.

    ``"A, B or C"`` lists are read after a colon when there is one ("What genre is it:
    electronic dance, jazz or rock?" -> every item whole); otherwise each option has as many
    words as the middle items (one when there are none), taken from the end of the text
    before the first comma and from the start of the text after "or" ("Is the recording
    high, medium or low fidelity?" -> high, medium, low). A question starting with an
    auxiliary verb and listing nothing ("Is there music?"), or ``kind == "yes_no"``, has
    the choices yes and no; pass ``kind`` (the item's ``type``) where the wording is ambiguous
    ("Is the signal clipped or distorted?" is a yes/no question).
    """
    if kind == "yes_no":
        return ["yes", "no"]
    text = question.strip().rstrip("?.! ")
    head, sep, tail = text.rpartition(" or ")
    if not sep:
        return ["yes", "no"] if _YES_NO_START.match(text) and kind != "choice" else []
    if ":" in head:
        items = [*head.rsplit(":", 1)[1].split(","), tail]
        return [c for c in (normalize_answer(i) for i in items) if c]
    first, *middle = [normalize_answer(i) for i in head.split(",")]
    middle = [m for m in middle if m]
    k = max((len(m.split()) for m in middle), default=1)
    last = normalize_answer(tail).split()[:k]
    options = [" ".join(first.split()[-k:]), *middle, " ".join(last)]
    return [o for o in options if o]


def string_match(prediction: str, answer: str, choices: Sequence[str]) -> bool:
    """The MMAU/MMAR rule: every answer token is in the prediction, and no token that occurs
    only in wrong choices is (tokens as :func:`normalize_answer` gives them, as sets).

    ``string_match("It is low fidelity", "low", ["high", "medium", "low"])`` is True;
    ``"low or medium"`` is False (``medium`` belongs to a wrong choice only).
    """
    pred = set(normalize_answer(prediction).split())
    gold = set(normalize_answer(answer).split())
    if not pred or not gold:
        return False
    wrong: set[str] = set()
    for choice in choices:
        tokens = set(normalize_answer(choice).split())
        if tokens != gold:
            wrong |= tokens - gold
    return gold <= pred and not (pred & wrong)


def question_choices(item: Mapping[str, Any]) -> list[str]:
    """The choices :func:`aqa_scores` uses for one item (counting: the counts 0–20)."""
    if item.get("type") == "counting":
        return _COUNTS
    return choices_from_question(str(item["question"]), item.get("type"))


def is_correct(item: Mapping[str, Any], prediction: str) -> bool:
    """Accuracy of one prediction: string match with choices or a short answer, else EM."""
    answer = str(item["answer"])
    choices = question_choices(item)
    if choices or len(normalize_answer(answer).split()) <= SHORT_ANSWER_TOKENS:
        return string_match(prediction, answer, choices)
    return bool(exact_match(prediction, answer))


def add_concept_levels(items: Sequence[Mapping[str, Any]], ach: ConceptHierarchy
                       ) -> list[dict[str, Any]]:
    """Copies of ``items`` with ``concept_level``: the hierarchy level of ``concept`` (items
    whose concept is missing or not in ``ach`` are copied unchanged)."""
    out = []
    for item in items:
        new = dict(item)
        concept = item.get("concept")
        if isinstance(concept, str):
            with contextlib.suppress(KeyError):
                new["concept_level"] = int(ach.level[ach.index(concept)])
        out.append(new)
    return out


def aqa_scores(items: Sequence[Mapping[str, Any]], predictions: Sequence[str]
               ) -> dict[str, float]:
    """Accuracy, exact match and token F1 overall and by level and type (keys in the module
    docstring).

    Args:
        items: QA dicts with ``question`` and ``answer``; optional ``level``, ``type``,
            ``concept_level``.
        predictions: one answer string per item.

    Raises:
        UserError: mismatched lengths, no items, or an item without question/answer.
    """
    if isinstance(predictions, str):
        raise UserError("aqa metrics: predictions must be a list of strings, not one string")
    if len(items) != len(predictions):
        raise UserError(f"aqa metrics: {len(items)} questions but {len(predictions)} predictions")
    if not items:
        raise UserError("aqa metrics: no questions to score")
    groups: dict[str, list[float]] = defaultdict(list)
    em_total = f1_total = 0.0
    for i, (item, pred) in enumerate(zip(items, predictions, strict=True)):
        if "question" not in item or "answer" not in item:
            raise UserError(f"aqa metrics: item {i} lacks 'question' or 'answer'")
        pred = "" if pred is None else str(pred)
        ok = float(is_correct(item, pred))
        em_total += exact_match(pred, str(item["answer"]))
        f1_total += token_f1(pred, str(item["answer"]))
        groups["aqa"].append(ok)
        if item.get("level") is not None:
            groups[f"aqa/level/{item['level']}"].append(ok)
        if item.get("concept_level") is not None:
            groups[f"aqa/level{int(item['concept_level'])}"].append(ok)
        if item.get("type") is not None:
            groups[f"aqa/type/{item['type']}"].append(ok)
    n = len(items)
    out = {"aqa/accuracy": sum(groups.pop("aqa")) / n, "aqa/exact_match": em_total / n,
           "aqa/token_f1": f1_total / n, "aqa/num_questions": float(n)}
    for key in sorted(groups):
        out[f"{key}/accuracy"] = sum(groups[key]) / len(groups[key])
        out[f"{key}/n"] = float(len(groups[key]))
    return out
