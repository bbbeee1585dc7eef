"""A trained network: which snapshot, for which bodyparts and image size, trained on what.

Training writes ``mocap3d-model.toml`` beside DeepLabCut's ``pytorch_config.yaml`` (in
``dlc-models-pytorch/iteration-<i>/<task><date>-trainset<pct>shuffle<n>/train/``)::

    [model]
    snapshot = "snapshot-best-045.pt"   # chosen on the test split
    model_id = "3f2a…"                  # sha256 of the snapshot (first 16 hex digits)
    net_type = "cspnext_s"
    bodyparts = [...]
    image_sizes = [[320, 256]]          # (width, height) of the labelled images
    [training] …                        # epochs, crop, weights, metrics
    [images] train = [...], test = [...], generalisation = [...]

Models trained by DeepLabCut itself (no ``mocap3d-model.toml``) are read too: the best
snapshot, else the last one.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from mocap3d.errors import InputError
from mocap3d.io.atomic import write_text_atomic

MODEL_FILE = "mocap3d-model.toml"
POSE_CONFIG = "pytorch_config.yaml"
_SNAPSHOT = re.compile(r"^snapshot-(best-)?(\d+)\.pt$")


@dataclass(frozen=True)
class TrainedModel:
    """A trained DeepLabCut (PyTorch) pose network.

    Attributes
    ----------
    train_dir : Path
        The shuffle's ``train/`` folder (``pytorch_config.yaml``, snapshots).
    snapshot : Path
        The weights used for inference.
    model_id : str
        First 16 hex digits of the snapshot's sha256: analyses record it, so a trial is
        analysed again only when the model changed.
    bodyparts : list of str
    net_type : str
    image_sizes : list of (int, int)
        (width, height) of the images it was trained on; empty when unknown.
    images : dict of str → list of str
        Labelled images per split (``train``, ``test``, ``generalisation``), as
        ``labeled-data/<video>/<image>.png``.
    training : dict
        Training settings and metrics, as recorded.
    """

    train_dir: Path
    snapshot: Path
    model_id: str
    bodyparts: list[str]
    net_type: str
    image_sizes: list[tuple[int, int]] = field(default_factory=list)
    images: dict[str, list[str]] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)

    @property
    def pose_config(self) -> Path:
        return self.train_dir / POSE_CONFIG

    @property
    def project_root(self) -> Path:
        """The DeepLabCut project folder (four levels above ``train/``)."""
        return self.train_dir.parents[3]

    @property
    def scorer(self) -> str:
        """The scorer name written into track files made with this model."""
        return f"DLC_{self.net_type}_mocap3d_{self.model_id}"

    def check_bodyparts(self, expected: Sequence[str], *, what: str) -> None:
        """Raise if the model was trained on other bodyparts than ``expected``."""
        if list(expected) != self.bodyparts:
            raise InputError(
                f"model {self.train_dir} was trained on bodyparts {self.bodyparts}, but "
                f"{what} has {list(expected)}; train a model on these bodyparts"
            )

    def check_size(self, size: tuple[int, int], *, what: str) -> None:
        """Raise if ``size`` (width, height) is not one the model was trained on."""
        if self.image_sizes and tuple(size) not in {tuple(s) for s in self.image_sizes}:
            raise InputError(
                f"{what} is {size[0]}×{size[1]} px, but model {self.train_dir} was trained on "
                f"{' / '.join(f'{w}×{h}' for w, h in self.image_sizes)} px images; label "
                "frames of this resolution and train, or resize the video"
            )


def file_id(path: Path) -> str:
    """First 16 hex digits of a file's sha256."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def snapshots(train_dir: Path) -> list[Path]:
    """Snapshots of a shuffle, by epoch; the best one (if any) last."""
    found = []
    for p in train_dir.glob("snapshot-*.pt"):
        m = _SNAPSHOT.match(p.name)
        if m:
            found.append((bool(m.group(1)), int(m.group(2)), p))
    return [p for _, _, p in sorted(found)]


def save_model(model: TrainedModel) -> Path:
    """Write ``mocap3d-model.toml`` (atomically) into the model's ``train/`` folder."""
    doc = {
        "model": {
            "snapshot": model.snapshot.name,
            "model_id": model.model_id,
            "net_type": model.net_type,
            "bodyparts": model.bodyparts,
            "image_sizes": [list(s) for s in model.image_sizes],
        },
        "training": _toml_safe(model.training),
        "images": {k: list(v) for k, v in model.images.items()},
    }
    path = model.train_dir / MODEL_FILE
    write_text_atomic(path, tomli_w.dumps(doc))
    return path


def _toml_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _toml_safe(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_toml_safe(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):
        return value.item()
    return value


def _train_dirs(root: Path) -> list[Path]:
    return sorted(
        (p.parent for p in root.glob(f"dlc-models-pytorch/iteration-*/*/train/{POSE_CONFIG}")),
        key=lambda p: p.stat().st_mtime,
    )


def _purpose(train_dir: Path) -> str:
    meta = train_dir / MODEL_FILE
    if not meta.is_file():
        return "model"
    try:
        doc = tomllib.loads(meta.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return "model"
    return str(doc.get("training", {}).get("purpose", "model"))


def load_model(path: str | Path) -> TrainedModel:
    """Load a trained model.

    Parameters
    ----------
    path : path-like
        A shuffle's ``train/`` folder, a snapshot ``.pt`` in one, or a DeepLabCut project
        (folder or ``config.yaml``: its most recently trained shuffle, learning-curve runs
        aside).

    Raises
    ------
    InputError
        If nothing trained is found there.
    """
    path = Path(path)
    snapshot: Path | None = None
    if path.suffix == ".pt":
        snapshot, path = path, path.parent
    elif path.name == "config.yaml":
        path = path.parent
    if not path.exists():
        raise InputError(f"model path {path} does not exist")
    if (path / POSE_CONFIG).is_file():
        train_dir = path
    else:
        dirs = [d for d in _train_dirs(path) if snapshots(d)]
        main = [d for d in dirs if _purpose(d) == "model"]
        dirs = main or dirs
        if not dirs:
            raise InputError(
                f"no trained model in {path}: no dlc-models-pytorch/…/train/ folder with a "
                "snapshot; train one with `mocap3d track train`"
            )
        train_dir = dirs[-1]
    meta_path = train_dir / MODEL_FILE
    if meta_path.is_file():
        return _from_meta(train_dir, meta_path, snapshot)
    return _from_dlc(train_dir, snapshot)


def _from_meta(train_dir: Path, meta_path: Path, snapshot: Path | None) -> TrainedModel:
    try:
        doc = tomllib.loads(meta_path.read_text(encoding="utf-8"))
        meta = doc["model"]
        snap = snapshot or train_dir / str(meta["snapshot"])
        if not snap.is_file():
            raise InputError(f"{meta_path} names snapshot {snap.name}, which is missing")
        model_id = str(meta["model_id"]) if snapshot is None else file_id(snap)
        return TrainedModel(
            train_dir=train_dir,
            snapshot=snap,
            model_id=model_id,
            bodyparts=[str(b) for b in meta["bodyparts"]],
            net_type=str(meta["net_type"]),
            image_sizes=[(int(w), int(h)) for w, h in meta.get("image_sizes", [])],
            images={k: [str(i) for i in v] for k, v in doc.get("images", {}).items()},
            training=dict(doc.get("training", {})),
        )
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{meta_path} is not a valid model record: {exc!r}") from None


def _from_dlc(train_dir: Path, snapshot: Path | None) -> TrainedModel:
    import yaml

    cfg = yaml.safe_load((train_dir / POSE_CONFIG).read_text(encoding="utf-8"))
    snaps = snapshots(train_dir)
    snap = snapshot or (snaps[-1] if snaps else None)
    if snap is None or not snap.is_file():
        raise InputError(f"{train_dir} has no snapshot-*.pt; train the network first")
    bodyparts = [str(b) for b in cfg.get("metadata", {}).get("bodyparts", [])]
    return TrainedModel(
        train_dir=train_dir,
        snapshot=snap,
        model_id=file_id(snap),
        bodyparts=bodyparts,
        net_type=str(cfg.get("net_type", "unknown")),
    )
