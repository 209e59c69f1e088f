from hacd_graph.data.text.description import describe, general_category, main_components

SEED_EXAMPLE = (
    "General category: environmental audio. Main components: music, human activity. "
    "Music details: genre jazz; instruments piano (prominent), double bass, drums; "
    "tempo moderate, swinging; style bebop-influenced. "
    "Human activity: conversation; indoor, likely a cafe; moderate crowd noise. "
    "Acoustic properties: moderate reverberation, medium-sized room; high fidelity. "
    "Specific elements: piano solo with fast arpeggios; walking bass line; brushes on snare, "
    "occasional cymbal accents; indistinct chatter, occasional laughter, clinking glasses."
)


def test_jazz_cafe_description_is_the_seed_example(jazz_cafe):
    assert describe(jazz_cafe[1]) == SEED_EXAMPLE
    from hacd_graph.data.synth.scene import SceneConfig, generate

    for i in (1, 2, 3):  # every take of the preset reads the same at this level of detail
        assert (
            describe(generate(0, i, SceneConfig(preset="jazz_cafe", duration_s=4.0))[1])
            == SEED_EXAMPLE
        )


def test_sections_run_from_general_to_specific(scenes):
    order = ["General category:", "Main components:", "Acoustic properties:", "Specific elements:"]
    for _, r in scenes:
        text = describe(r)
        positions = [text.index(h) for h in order]
        assert positions == sorted(positions)
        assert ("Music details:" in text) == bool(r.music())
        assert general_category(r) in ("music", "speech", "environmental audio")
        assert main_components(r)
