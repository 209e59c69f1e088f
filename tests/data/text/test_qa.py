import numpy as np

from hacd_graph.data.synth.sources import SOURCES
from hacd_graph.data.text.qa import LEVELS, QA_TYPES, all_questions, qa_pairs


def test_levels_and_types(scenes, jazz_cafe):
    seen_types = set()
    for _, r in [*scenes, jazz_cafe]:
        qa = qa_pairs(r, np.random.default_rng(0), 8)
        assert {q["level"] for q in qa} == set(LEVELS)
        seen_types |= {q["type"] for q in qa}
        for q in qa:
            assert q["question"].endswith("?") and q["answer"]
    assert seen_types == set(QA_TYPES)


def test_jazz_cafe_answers(jazz_cafe):
    qa = {q["question"]: q["answer"] for q in all_questions(jazz_cafe[1], np.random.default_rng(0))}
    assert qa["Is there music?"] == "yes"
    assert qa["Is the bass line walking?"] == "yes"
    assert qa["Which instrument family carries the melody?"] == "keyboards"
    assert qa["Are brushes used on the snare?"] == "yes"
    assert qa["How many instruments are playing?"] == "3"
    assert qa["Is this recorded indoors or outdoors?"] == "indoors"  # one of the choices


def test_counting_answers_match_events_and_negatives_are_absent(scenes):
    from hacd_graph.data.text import phrases as ph

    for _, r in scenes:
        kinds = {s.kind for s in r.sources()} | set(r.background.elements)
        for q in all_questions(r, np.random.default_rng(1)):
            if q["question"].startswith("How many times"):
                assert any(str(s.events) == q["answer"] for s in r.sources())
            if (
                q["question"].startswith("Is there ")
                and q["answer"] == "no"
                and q["level"] == "specific"
            ):
                k = next(
                    k for k in SOURCES if q["question"] == f"Is there {ph.SOURCE_PHRASES[k][0][2]}?"
                )
                assert k not in kinds


def test_every_question_names_a_concept_of_the_hierarchy(scenes, jazz_cafe, ach):
    for _, r in [*scenes, jazz_cafe]:
        for q in all_questions(r, np.random.default_rng(2)):
            assert q["concept"] in ach, q
    levels = {q["level"]: [] for q in all_questions(jazz_cafe[1], np.random.default_rng(0))}
    for q in all_questions(jazz_cafe[1], np.random.default_rng(0)):
        levels[q["level"]].append(int(ach.level[ach.index(q["concept"])]))
    # named levels go from general to specific in the hierarchy too (on average)
    means = [sum(v) / len(v) for v in (levels["general"], levels["category"], levels["specific"])]
    assert means == sorted(means)
