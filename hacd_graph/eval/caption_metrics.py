"""Captioning metrics from pycocoevalcap, run offline: BLEU-1..4, METEOR, ROUGE-L, CIDEr-D.

The scorers are called one by one after pycocoevalcap's PTB tokenizer, never through
``COCOEvalCap.evaluate()`` (which always runs SPICE, and SPICE downloads Stanford CoreNLP).
Keys of :attr:`CaptionScores.scores`: ``BLEU_1``, ``BLEU_2``, ``BLEU_3``, ``BLEU_4``,
``METEOR``, ``ROUGE_L``, ``CIDEr`` and, only where it can run, ``SPICE`` and ``SPIDEr``
(= (CIDEr + SPICE) / 2). pycocoevalcap's ``Cider`` is **CIDEr-D** (clipped n-gram counts and a
Gaussian length penalty, σ = 6), and its IDF comes from the evaluated references: with a
handful of clips it is degenerate (one clip scores 0), so report it over ≥ 200 clips.

SPICE needs the Stanford CoreNLP 3.6.0 jars (``corenlp=`` a folder holding
:data:`CORENLP_JARS`) and a Java older than 16 (it breaks on newer ones); when either is
missing, ``SPICE`` and ``SPIDEr`` are listed in :attr:`CaptionScores.not_available` with the
reason instead.

The tokenizer and SPICE write temporary files next to their jars, inside site-packages.
When that folder is not writable (a read-only install), the jar folders are staged once in
``$XDG_CACHE_HOME/hacd_graph/pycocoevalcap-<version>`` (jars and data linked, the small
Python wrappers copied) and pycocoevalcap's own wrappers are loaded from there, so that the
same code runs the same jars from a writable place.

Java must be on ``PATH`` (the tokenizer and METEOR are Java programs); without it
:class:`CaptionMetricsUnavailable` says so in one line, and callers that evaluate several
suites can catch it and record the caption metrics as not available.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, TracebackType

import pycocoevalcap.tokenizer.ptbtokenizer as _ptb
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge

from hacd_graph.errors import UserError

METRICS = ("BLEU_1", "BLEU_2", "BLEU_3", "BLEU_4", "METEOR", "ROUGE_L", "CIDEr")
CORENLP_JARS = ("stanford-corenlp-3.6.0.jar", "stanford-corenlp-3.6.0-models.jar")
SPICE_MAX_JAVA = 15  # SPICE 1.0 fails on Java >= 16
PACKAGE_DIR = Path(_ptb.__file__).resolve().parents[1]
_JAR_DIRS = ("tokenizer", "meteor")  # what the tokenizer and METEOR need


class CaptionMetricsUnavailable(UserError):
    """The caption metrics cannot run here (no Java, or a Java scorer failed)."""


@dataclass
class CaptionScores:
    """Corpus scores of one system's captions.

    Attributes:
        scores: metric name -> corpus score (keys in the module docstring).
        not_available: metric name -> one-line reason it was not computed.
        per_clip: metric name -> one score per clip (SPICE excluded).
        num_clips: clips scored.
    """

    scores: dict[str, float]
    not_available: dict[str, str] = field(default_factory=dict)
    per_clip: dict[str, list[float]] = field(default_factory=dict)
    num_clips: int = 0


def _writable(folder: Path) -> bool:
    """Whether a file can be created in ``folder`` (tried, since root ignores permissions)."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def java_major_version(java: str = "java") -> int | None:
    """The major version of ``java`` (8 for ``1.8.0_x``), None when it cannot be run."""
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if m is None:
        return None
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major


def spice_unavailable_reason(corenlp: str | Path | None, java_major: int | None) -> str | None:
    """Why SPICE cannot run (one line), or None when the CoreNLP jars and Java allow it."""
    if corenlp is None:
        return f"needs Stanford CoreNLP jars (corenlp=DIR with {CORENLP_JARS[0]}) and Java < 16"
    folder = Path(corenlp)
    folder = folder.parent if folder.is_file() else folder
    missing = [j for j in CORENLP_JARS if not (folder / j).is_file()]
    if missing:
        return f"corenlp={corenlp}: missing {', '.join(missing)}"
    if java_major is None or java_major > SPICE_MAX_JAVA:
        return f"SPICE breaks on Java >= 16 (java on PATH is {java_major or 'unknown'})"
    return None


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    version = importlib.metadata.version("pycocoevalcap")
    root = Path(base) / "hacd_graph" / f"pycocoevalcap-{version}"
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError:
        return Path(tempfile.mkdtemp(prefix="hacd_pycocoevalcap_"))
    return root if _writable(root) else Path(tempfile.mkdtemp(prefix="hacd_pycocoevalcap_"))


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        dst.symlink_to(src, target_is_directory=src.is_dir())
    except OSError:
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)


def stage_jar_dir(sub: str, root: Path, extra: Sequence[Path] = ()) -> Path:
    """A writable copy of ``pycocoevalcap/<sub>`` under ``root`` (built once, then reused).

    Python files are copied (so that ``__file__`` points into the copy), everything else is
    linked; ``extra`` files are linked into ``lib/`` (SPICE's CoreNLP jars).
    """
    target = root / sub
    if target.is_dir():
        names = [p.name for p in (PACKAGE_DIR / sub).iterdir() if p.name != "__pycache__"]
        if all((target / name).exists() for name in names):  # links still resolve
            return target
        shutil.rmtree(target, ignore_errors=True)  # stale (the install moved): build again
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{sub}-", dir=root))
    for item in (PACKAGE_DIR / sub).iterdir():
        if item.name == "__pycache__":
            continue
        if item.suffix == ".py":
            shutil.copy2(item, tmp / item.name)
        elif item.name == "lib" and extra:  # a real folder, to add the extra jars to
            (tmp / "lib").mkdir()
            for jar in [*item.iterdir(), *extra]:
                _link_or_copy(jar, tmp / "lib" / jar.name)
        else:
            _link_or_copy(item, tmp / item.name)
    (tmp / "__init__.py").touch()
    try:
        tmp.rename(target)
    except OSError:  # another process staged it first
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def load_wrapper(jar_dir: Path, module: str) -> ModuleType:
    """pycocoevalcap's wrapper ``module`` loaded from ``jar_dir`` (its jars run there)."""
    if jar_dir.resolve() == (PACKAGE_DIR / jar_dir.name).resolve():
        return importlib.import_module(f"pycocoevalcap.{jar_dir.name}.{module}")
    digest = hashlib.sha1(str(jar_dir.resolve()).encode()).hexdigest()[:12]
    package = f"_hacd_pycocoevalcap_{jar_dir.name}_{digest}"
    if package not in sys.modules:  # a package, so that relative imports in it resolve
        spec = importlib.util.spec_from_file_location(
            package, jar_dir / "__init__.py", submodule_search_locations=[str(jar_dir)]
        )
        assert spec is not None and spec.loader is not None
        pkg = importlib.util.module_from_spec(spec)
        sys.modules[package] = pkg
        spec.loader.exec_module(pkg)
    return importlib.import_module(f"{package}.{module}")


class CaptionScorer:
    """The caption metrics with one METEOR process kept open across systems.

    Use it as a context manager (or call :meth:`close`) so the METEOR JVM is stopped::

        with CaptionScorer() as scorer:
            ours = scorer.score(references, our_captions)
            baseline = scorer.score(references, baseline_captions)

    Args:
        corenlp: folder with the CoreNLP 3.6.0 jars, to enable SPICE (see module docstring).
        stage_root: where writable copies of the jar folders go when site-packages is read
            only (default ``$XDG_CACHE_HOME/hacd_graph/pycocoevalcap-<version>``).

    Raises:
        CaptionMetricsUnavailable: no ``java`` on ``PATH``.
    """

    def __init__(self, corenlp: str | Path | None = None, stage_root: Path | None = None):
        if shutil.which("java") is None:
            raise CaptionMetricsUnavailable(
                "caption metrics need Java on PATH (pycocoevalcap's tokenizer and METEOR are "
                "Java programs): install a JRE, e.g. openjdk-17-jre-headless"
            )
        self.jar_root = PACKAGE_DIR
        if not all(_writable(PACKAGE_DIR / d) for d in _JAR_DIRS):
            self.jar_root = stage_root or _cache_root()
            for d in _JAR_DIRS:
                stage_jar_dir(d, self.jar_root)
        self._tokenizer = load_wrapper(self.jar_root / "tokenizer", "ptbtokenizer").PTBTokenizer
        self.spice_reason = spice_unavailable_reason(
            corenlp, java_major_version() if corenlp is not None else None
        )
        self._spice = None
        if self.spice_reason is None:
            assert corenlp is not None
            folder = Path(corenlp) if Path(corenlp).is_dir() else Path(corenlp).parent
            spice_root = (stage_root or _cache_root()) / (
                "spice-" + hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:12]
            )
            jars = [folder.resolve() / j for j in CORENLP_JARS]
            self._spice = load_wrapper(stage_jar_dir("spice", spice_root, jars), "spice").Spice()
        self._meteor = load_wrapper(self.jar_root / "meteor", "meteor").Meteor()

    def close(self) -> None:
        """Stop the METEOR process (idempotent; pycocoevalcap's ``__del__`` does the same)."""
        meteor = getattr(self, "_meteor", None)
        if meteor is None:
            return
        if meteor.lock.locked():  # a failed compute_score left it held; __del__ would hang
            meteor.lock.release()
        proc = meteor.meteor_p
        if proc.poll() is None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
            proc.kill()
            proc.wait()

    def __enter__(self) -> CaptionScorer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def score(self, references: Sequence[Sequence[str]], candidates: Sequence[str]
              ) -> CaptionScores:
        """Score ``candidates[i]`` against ``references[i]`` (see :func:`caption_scores`)."""
        validate_captions(references, candidates)
        n = len(candidates)
        tokens = self._tokenizer().tokenize(
            {("ref", i): [{"caption": r} for r in refs] for i, refs in enumerate(references)}
            | {("cand", i): [{"caption": c}] for i, c in enumerate(candidates)}
        )
        if len(tokens) != 2 * n:
            raise CaptionMetricsUnavailable(
                f"pycocoevalcap's PTB tokenizer returned {len(tokens)} of {2 * n} entries "
                "(did java fail to start?)"
            )
        gts = {i: tokens[("ref", i)] for i in range(n)}
        res = {i: tokens[("cand", i)] for i in range(n)}
        out = CaptionScores(scores={}, num_clips=n)
        bleu, bleu_clips = Bleu(4).compute_score(gts, res, verbose=0)
        for k in range(4):
            out.scores[f"BLEU_{k + 1}"] = float(bleu[k])
            out.per_clip[f"BLEU_{k + 1}"] = [float(x) for x in bleu_clips[k]]
        if self._meteor.meteor_p.poll() is not None:
            raise CaptionMetricsUnavailable(
                f"METEOR's Java process exited with status {self._meteor.meteor_p.returncode}"
            )
        for name, scorer in (("METEOR", self._meteor), ("ROUGE_L", Rouge()), ("CIDEr", Cider())):
            total, clips = scorer.compute_score(gts, res)
            out.scores[name] = float(total)
            out.per_clip[name] = [float(x) for x in clips]
        if self._spice is not None:
            spice, _ = self._spice.compute_score(gts, res)
            out.scores["SPICE"] = float(spice)
            out.scores["SPIDEr"] = (out.scores["CIDEr"] + float(spice)) / 2
        else:
            out.not_available = {"SPICE": str(self.spice_reason), "SPIDEr": "needs SPICE"}
        return out


def validate_captions(references: Sequence[Sequence[str]], candidates: Sequence[str]) -> None:
    """Raise :class:`UserError` unless there is one candidate string per clip and every clip
    has at least one non-blank reference string (empty candidates are allowed: they score 0).
    """
    if isinstance(candidates, str) or isinstance(references, str):
        raise UserError("caption metrics take a list of candidates and a list of reference "
                        "lists, not a single string")
    if len(references) != len(candidates):
        raise UserError(f"caption metrics: {len(candidates)} candidates but "
                        f"{len(references)} reference lists (one list per clip)")
    if not candidates:
        raise UserError("caption metrics: no clips to score")
    for i, (refs, cand) in enumerate(zip(references, candidates, strict=True)):
        if not isinstance(cand, str):
            raise UserError(f"caption metrics: candidate {i} is {type(cand).__name__}, not str")
        if isinstance(refs, str):
            raise UserError(f"caption metrics: references of clip {i} is a string; "
                            "pass a list of reference captions")
        if not all(isinstance(r, str) for r in refs):
            raise UserError(f"caption metrics: clip {i} has a reference that is not a string")
        if not any(r.strip() for r in refs):
            raise UserError(f"caption metrics: clip {i} has no (non-empty) reference caption")


def caption_scores(references: Sequence[Sequence[str]], candidates: Sequence[str],
                   corenlp: str | Path | None = None) -> CaptionScores:
    """BLEU-1..4, METEOR, ROUGE-L and CIDEr-D of one caption per clip against its references.

    Opens a :class:`CaptionScorer` (one METEOR JVM, a few seconds to start) and closes it;
    to score several systems, keep one ``CaptionScorer`` open instead.

    Args:
        references: ``[num_clips]`` lists of reference captions, at least one per clip.
        candidates: ``[num_clips]`` generated captions (empty strings score 0).
        corenlp: folder with the CoreNLP 3.6.0 jars, to add SPICE and SPIDEr (Java < 16 too).

    Returns:
        :class:`CaptionScores`; metrics that could not run are in ``not_available``. CIDEr-D
        uses the IDF of these references: meaningful from about 200 clips.

    Raises:
        UserError: mismatched or empty inputs.
        CaptionMetricsUnavailable: no Java, or a Java scorer failed.
    """
    validate_captions(references, candidates)
    with CaptionScorer(corenlp=corenlp) as scorer:
        return scorer.score(references, candidates)
