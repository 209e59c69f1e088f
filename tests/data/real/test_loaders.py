import csv

import pytest

from hacd_graph.data.datasets import ManifestDataset
from hacd_graph.data.real import (
    load_audiocaps,
    load_audioset,
    load_clotho,
    load_esc50,
    load_fsd50k,
    write_manifest,
)


def _closed(ach, labels):
    present = {ach.index(x) for x in labels}
    return all(ach.ancestors(i) <= present for i in present)


def _head(src, dst, lines):
    dst.write_text("".join(src.read_text(encoding="utf-8").splitlines(keepends=True)[:lines]))
    return dst


def test_audioset(tmp_path, meta_dir, ach, tone_writer, audioset_ontology_path):
    seg = _head(meta_dir / "audioset" / "eval_segments.csv", tmp_path / "eval_segments.csv", 7)
    rows = [r for r in csv.reader(seg.open(), skipinitialspace=True) if not r[0].startswith("#")]
    audio = tmp_path / "audio"
    for k, (ytid, start, end, _) in enumerate(rows[:4]):  # several naming styles
        stem = [
            f"Y{ytid}_{float(start):.3f}_{float(end):.3f}",
            f"{ytid}_{start}",
            ytid,
            f"Y{ytid}",
        ][k]
        tone_writer(audio / "sub" / f"{stem}.{['wav', 'flac', 'ogg', 'wav'][k]}")
    with pytest.raises(FileNotFoundError, match=rows[4][0]):
        load_audioset(seg, audio, ach)
    clips, report = load_audioset(seg, audio, ach, audioset_ontology_path, skip_missing=True)
    assert [c.id.split("_")[0] for c in clips] == [r[0] for r in rows[:4]]
    assert report.counts["missing"] == len(rows) - 4
    first = clips[0]  # /m/068hy (Domestic animals), /m/07q6cd_, /m/0bt9lr (Dog), /m/0jbk (Animal)
    assert first.source_labels == rows[0][3].split(",")
    assert (
        "hacd:dog" in first.labels and "hacd:animal" in first.labels and _closed(ach, first.labels)
    )
    ds = ManifestDataset([c.manifest_entry() for c in clips], ach, num_samples=4000)
    item = ds[1]
    assert item["audio"].shape == (4000,) and item["target"].sum() == len(clips[1].labels)


def test_fsd50k(tmp_path, meta_dir, ach, tone_writer):
    gt = meta_dir / "fsd50k" / "dev_sample.csv"
    rows = list(csv.DictReader(gt.open()))
    for r in rows:
        tone_writer(tmp_path / "FSD50K.dev_audio" / f"{r['fname']}.wav")
    clips, report = load_fsd50k(gt, tmp_path / "FSD50K.dev_audio", ach)
    assert len(clips) == len(rows) and report.total == 0
    assert "hacd:electric_guitar" in clips[0].labels and _closed(ach, clips[0].labels)
    only_val, _ = load_fsd50k(gt, tmp_path / "FSD50K.dev_audio", ach, split="val")
    assert {c.split for c in only_val} <= {"val"} and len(only_val) < len(rows)


def test_esc50(tmp_path, meta_dir, ach, tone_writer):
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "esc50.csv").write_text((meta_dir / "esc50" / "esc50.csv").read_text())
    rows = list(csv.DictReader((tmp_path / "meta" / "esc50.csv").open()))
    fold1 = [r for r in rows if r["fold"] == "1"]
    for r in fold1[:5]:
        tone_writer(tmp_path / "audio" / r["filename"])
    clips, report = load_esc50(tmp_path, ach, folds=(1,), skip_missing=True)
    assert [c.id for c in clips] == [r["filename"] for r in fold1[:5]]
    assert report.counts["missing"] == len(fold1) - 5
    dog = next(c for c in clips if c.source_labels == ["dog"])
    assert "hacd:dog" in dog.labels and _closed(ach, dog.labels)
    assert all(c.labels for c in clips)


def test_clotho(tmp_path, meta_dir, ach, tone_writer):
    src = meta_dir / "clotho" / "clotho_captions_development.csv"
    csv_path = _head(src, tmp_path / "captions.csv", 4)
    rows = list(csv.DictReader(csv_path.open()))
    for r in rows[:2]:
        tone_writer(tmp_path / "development" / r["file_name"])
    clips, report = load_clotho(csv_path, tmp_path / "development", skip_missing=True)
    assert len(clips) == 2 and report.counts["missing"] == 1
    assert len(clips[0].captions) == 5 and clips[0].labels == []
    manifest = write_manifest(clips, tmp_path / "manifest.jsonl")
    item = ManifestDataset(manifest, ach, num_samples=100)[0]
    assert item["caption"] == rows[0]["caption_1"] and item["target"].sum() == 0


def test_audiocaps_with_audioset_labels(tmp_path, meta_dir, ach, tone_writer):
    src = meta_dir / "audiocaps" / "val.csv"
    csv_path = _head(src, tmp_path / "val.csv", 16)
    rows = list(csv.DictReader(csv_path.open()))
    clips_keys = list(dict.fromkeys((r["youtube_id"], r["start_time"]) for r in rows))
    for ytid, start in clips_keys:
        tone_writer(tmp_path / "audio" / f"Y{ytid}_{float(start):.3f}_{float(start) + 10:.3f}.wav")
    # AudioCaps clips are AudioSet segments; a segments file (AudioSet format) gives their labels.
    seg = tmp_path / "segments.csv"
    seg.write_text(
        "# YTID, start_seconds, end_seconds, positive_labels\n"
        + "".join(f'{y},{s},{float(s) + 10:g},"/m/09x0r,/m/not_a_mid"\n'
                  for y, s in clips_keys[:-1])
        + 'elsewhere,0,10,"/m/also_not_a_mid"\n'  # a segment of no loaded clip
    )
    clips, report = load_audiocaps(csv_path, tmp_path / "audio", ach, (seg,))
    assert len(clips) == len(clips_keys)
    assert sum(len(c.captions) for c in clips) == len(rows)
    assert "hacd:speech" in clips[0].labels and _closed(ach, clips[0].labels)
    assert clips[-1].labels == [] and report.counts["no_labels"] == 1
    assert report.counts["unmapped_label"] == len(clips_keys) - 1  # the loaded clips' only


def test_bad_audio_files_are_checked_and_counted_by_reason(tmp_path, meta_dir, ach,
                                                           bad_files_writer):
    from hacd_graph.data.audio_io import AudioReadError

    (tmp_path / "meta").mkdir()
    meta = tmp_path / "meta" / "esc50.csv"
    meta.write_text((meta_dir / "esc50" / "esc50.csv").read_text())
    rows = [r for r in csv.DictReader(meta.open()) if r["fold"] == "1"]
    bad_files_writer(tmp_path / "audio", [r["filename"] for r in rows[:5]])
    clips, report = load_esc50(tmp_path, ach, folds=(1,), skip_missing=True)
    assert [c.id for c in clips] == [rows[0]["filename"]]
    assert {k: report.counts[k] for k in ("truncated", "empty", "not_audio", "non_finite")} == {
        "truncated": 1, "empty": 1, "not_audio": 1, "non_finite": 1}
    assert report.counts["missing"] == len(rows) - 5 and report.total == len(rows) - 1
    # header-only checking cannot see NaN samples; no checking indexes everything found
    _, header = load_esc50(tmp_path, ach, folds=(1,), skip_missing=True, check_audio="header")
    assert header.counts["non_finite"] == 0 and header.total == len(rows) - 2
    unchecked, _ = load_esc50(tmp_path, ach, folds=(1,), skip_missing=True, check_audio="none")
    assert len(unchecked) == 5
    with pytest.raises(AudioReadError, match=rf"{rows[1]['filename']}: truncated .*esc50.csv:"):
        load_esc50(tmp_path, ach, folds=(1,))


def test_missing_columns_name_the_file(tmp_path, meta_dir, ach):
    (tmp_path / "meta").mkdir()
    meta = tmp_path / "meta" / "esc50.csv"
    lines = (meta_dir / "esc50" / "esc50.csv").read_text().splitlines()
    header = lines[0].split(",")
    drop = header.index("category")
    meta.write_text("\n".join(",".join(c for k, c in enumerate(line.split(",")) if k != drop)
                              for line in lines[:4]) + "\n")
    with pytest.raises(ValueError, match=rf"{meta}: no column 'category'"):
        load_esc50(tmp_path, ach)
    gt = tmp_path / "dev.csv"
    gt.write_text("fname,labels\n1,Dog\n")
    with pytest.raises(ValueError, match=rf"{gt}: no column 'mids'"):
        load_fsd50k(gt, tmp_path, ach)
