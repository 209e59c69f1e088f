"""AQA metrics: normalisation, EM, token F1, choices read from questions, the MMAU rule,
and the aggregate keys by named level, concept level and type, all on hand-made cases."""

from __future__ import annotations

import pytest

from hacd_graph.errors import UserError
from hacd_graph.eval.aqa_metrics import (
    add_concept_levels,
    aqa_scores,
    choices_from_question,
    exact_match,
    is_correct,
    normalize_answer,
    string_match,
    token_f1,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The Owl!", "owl"),
        ("  a   concert hall. ", "concert hall"),
        ("birds, owl", "birds owl"),
        ("Two", "2"),
        ("twice", "2"),
        ("An apple and THE pear", "apple and pear"),
        ("", ""),
    ],
)
def test_normalize_answer(text, expected):
    assert normalize_answer(text) == expected


def test_exact_match_after_normalisation():
    assert exact_match("Two.", "2") == 1.0
    assert exact_match("a cafe", "the cafe") == 1.0
    assert exact_match("a busy cafe", "a cafe") == 0.0


def test_token_f1_squad_style():
    # pred {concert, hall, big}, gold {concert, hall}: P = 2/3, R = 1, F1 = 0.8
    assert token_f1("a big concert hall", "a concert hall") == pytest.approx(0.8)
    assert token_f1("dog", "cat") == 0.0
    assert token_f1("", "") == 1.0
    assert token_f1("", "cat") == 0.0
    # repeated tokens count once each side (bag intersection): P = 1/3, R = 1/2, F1 = 0.4
    assert token_f1("dog dog cat", "dog bird") == pytest.approx(0.4)


@pytest.mark.parametrize(
    ("question", "kind", "expected"),
    [
        ("Is the recording high, medium or low fidelity?", None, ["high", "medium", "low"]),
        ("Is this recorded indoors or outdoors?", None, ["indoors", "outdoors"]),
        ("What genre is the music: electronic dance, jazz or rock?", "choice",
         ["electronic dance", "jazz", "rock"]),
        ("Is there a dog, a cat or a cow?", None, ["dog", "cat", "cow"]),
        ("Is there music?", None, ["yes", "no"]),
        ("Does it sound like a telephone call?", None, ["yes", "no"]),
        ("Is the signal clipped or distorted?", "yes_no", ["yes", "no"]),
        ("Is the signal clipped or distorted?", None, ["clipped", "distorted"]),
        ("What is the tempo of the music?", None, []),
        ("How many times does the owl hoot?", "counting", []),
    ],
)
def test_choices_from_question(question, kind, expected):
    assert choices_from_question(question, kind) == expected


def test_string_match_mmau_rule():
    choices = ["high", "medium", "low"]
    assert string_match("It is low fidelity.", "low", choices)
    assert not string_match("medium", "low", choices)
    # the answer's tokens are all there, but so is a token of a wrong choice only
    assert not string_match("low or medium", "low", choices)
    # a token shared by the answer and a wrong choice does not count against it
    shared = ["electronic dance", "jazz", "dance pop"]
    assert string_match("electronic dance music", "electronic dance", shared)
    assert not string_match("dance pop", "electronic dance", shared)  # 'electronic' missing
    assert not string_match("electronic dance or pop", "electronic dance", shared)
    assert string_match("No, there is none.", "no", ["yes", "no"])
    assert not string_match("", "no", ["yes", "no"])
    assert string_match("owl and birds", "birds, owl", [])  # no choices: answer tokens only


def test_is_correct_rule_by_item():
    count = {"question": "How many times does the owl hoot?", "answer": "2", "type": "counting"}
    assert is_correct(count, "It hoots twice")
    assert not is_correct(count, "2 or 3 times")  # another count is a wrong choice
    yes_no = {"question": "Is the signal clipped or distorted?", "answer": "no", "type": "yes_no"}
    assert is_correct(yes_no, "No")
    assert not is_correct(yes_no, "yes, and no")
    long = {"question": "What is the piano playing?", "answer": "a walking bass line in swing",
            "type": "attribute"}  # 5 tokens, no choices: exact match
    assert is_correct(long, "A walking bass line in swing.")
    assert not is_correct(long, "a walking bass line in swing with brushes")


ITEMS = [
    {"question": "Is there music?", "answer": "no", "level": "general", "type": "yes_no",
     "concept_level": 1},
    {"question": "Is the recording high, medium or low fidelity?", "answer": "medium",
     "level": "category", "type": "choice", "concept_level": 2},
    {"question": "What kind of place does this sound like?", "answer": "a cafe",
     "level": "category", "type": "attribute", "concept_level": 2},
    {"question": "How many times does someone cough?", "answer": "3", "level": "specific",
     "type": "counting", "concept_level": 5},
    {"question": "Is there a person coughing?", "answer": "yes", "level": "specific",
     "type": "yes_no"},
]
PREDS = ["No.", "low", "the cafe", "three", "yes, someone coughs"]


def test_aqa_scores_aggregates_by_level_and_type():
    s = aqa_scores(ITEMS, PREDS)
    assert s["aqa/num_questions"] == 5
    assert s["aqa/accuracy"] == pytest.approx(4 / 5)  # only "low" is wrong
    # EM: "no", "cafe", "3" match; "low" and "yes someone coughs" do not
    assert s["aqa/exact_match"] == pytest.approx(3 / 5)
    assert s["aqa/token_f1"] == pytest.approx((1 + 0 + 1 + 1 + 0.5) / 5)
    assert s["aqa/level/general/accuracy"] == 1.0 and s["aqa/level/general/n"] == 1
    assert s["aqa/level/category/accuracy"] == 0.5 and s["aqa/level/category/n"] == 2
    assert s["aqa/level/specific/accuracy"] == 1.0 and s["aqa/level/specific/n"] == 2
    assert s["aqa/level1/accuracy"] == 1.0
    assert s["aqa/level2/accuracy"] == 0.5 and s["aqa/level2/n"] == 2
    assert s["aqa/level5/accuracy"] == 1.0 and s["aqa/level5/n"] == 1  # item 5 has no level
    assert s["aqa/type/yes_no/accuracy"] == 1.0 and s["aqa/type/yes_no/n"] == 2
    assert s["aqa/type/choice/accuracy"] == 0.0
    assert s["aqa/type/counting/accuracy"] == 1.0
    assert "aqa/level3/accuracy" not in s


def test_add_concept_levels_from_the_hierarchy(tiny_ach):
    items = [{"question": "q", "answer": "a", "concept": "hacd:dog"},
             {"question": "q", "answer": "a", "concept": "hacd:nope"},
             {"question": "q", "answer": "a"}]
    out = add_concept_levels(items, tiny_ach)
    assert out[0]["concept_level"] == 2
    assert "concept_level" not in out[1] and "concept_level" not in out[2]
    assert "concept_level" not in items[0]  # copies, the input is untouched


@pytest.mark.parametrize(
    ("items", "preds", "match"),
    [
        (ITEMS, PREDS[:2], "5 questions but 2 predictions"),
        ([], [], "no questions"),
        ([{"question": "q"}], ["a"], "lacks"),
        (ITEMS[:1], "no", "not one string"),
    ],
)
def test_bad_inputs_raise_user_error(items, preds, match):
    with pytest.raises(UserError, match=match):
        aqa_scores(items, preds)
