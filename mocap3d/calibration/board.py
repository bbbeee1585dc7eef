"""ChArUco board specifications: the TOML a rig builder writes, and the OpenCV board it makes.

A spec file (``calibration/boards/<name>.toml``) has one ``[board]`` table::

    [board]
    type = "charuco"
    squares_x = 8              # squares along the board's x axis
    squares_y = 11
    square_length_mm = 24.0
    marker_length_mm = 18.75
    dictionary = "DICT_4X4_1000"
    legacy_pattern = false     # OpenCV < 4.6 / calib.io layout for even row counts
    inverted = false           # white markers on black
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from mocap3d.errors import InputError, Problem, ProblemsError

if TYPE_CHECKING:
    import cv2


def aruco_dictionary_names() -> list[str]:
    """Names of OpenCV's predefined ArUco dictionaries (``DICT_4X4_50`` …)."""
    import cv2

    return sorted(n for n in dir(cv2.aruco) if n.startswith("DICT_"))


class BoardSpec(BaseModel):
    """A ChArUco board, in millimetres.

    Corner ``i`` of :meth:`corner_points_mm` is the ChArUco corner with id ``i`` as OpenCV
    detects it. The board frame is OpenCV's: origin at the outer corner of the first square,
    x along ``squares_x``, y along ``squares_y``, z = x × y (into the printed side).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["charuco"] = "charuco"
    squares_x: int = Field(ge=2, le=100)
    squares_y: int = Field(ge=2, le=100)
    square_length_mm: float = Field(gt=0)
    marker_length_mm: float = Field(gt=0)
    dictionary: str = "DICT_4X4_1000"
    legacy_pattern: bool = False
    inverted: bool = False
    name: str = ""

    @field_validator("dictionary")
    @classmethod
    def _known_dictionary(cls, value: str) -> str:
        names = aruco_dictionary_names()
        if value not in names:
            raise ValueError(
                f"{value!r} is not an OpenCV ArUco dictionary; use one of {', '.join(names)}"
            )
        return value

    @model_validator(mode="after")
    def _check(self) -> BoardSpec:
        if self.marker_length_mm >= self.square_length_mm:
            raise ValueError(
                f"marker_length_mm ({self.marker_length_mm}) must be smaller than "
                f"square_length_mm ({self.square_length_mm})"
            )
        if self.n_markers > self.dictionary_size:
            raise ValueError(
                f"the board needs {self.n_markers} markers but {self.dictionary} has only "
                f"{self.dictionary_size}; use a larger dictionary"
            )
        return self

    @property
    def n_markers(self) -> int:
        """Number of ArUco markers on the board (half the squares, rounded down)."""
        return (self.squares_x * self.squares_y) // 2

    @property
    def n_corners(self) -> int:
        """Number of inner ChArUco corners."""
        return (self.squares_x - 1) * (self.squares_y - 1)

    @property
    def dictionary_size(self) -> int:
        digits = "".join(c for c in self.dictionary.rsplit("_", 1)[-1] if c.isdigit())
        return int(digits) if digits else 0

    @property
    def size_mm(self) -> tuple[float, float]:
        """Width and height of the chessboard area in mm (without the printed margin)."""
        return (self.squares_x * self.square_length_mm, self.squares_y * self.square_length_mm)

    def corner_points_mm(self) -> np.ndarray:
        """Inner corner positions on the board, ``(n_corners, 3)`` float64 mm, z = 0."""
        nx, ny = self.squares_x - 1, self.squares_y - 1
        ix, iy = np.meshgrid(np.arange(1, nx + 1), np.arange(1, ny + 1))
        xy = np.stack([ix.ravel(), iy.ravel()], axis=-1) * self.square_length_mm
        return np.column_stack([xy, np.zeros(len(xy))]).astype(np.float64)

    def to_cv2(self) -> cv2.aruco.CharucoBoard:
        """The OpenCV board (lengths in mm)."""
        import cv2

        dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, self.dictionary))
        board = cv2.aruco.CharucoBoard(
            (self.squares_x, self.squares_y),
            self.square_length_mm,
            self.marker_length_mm,
            dictionary,
        )
        board.setLegacyPattern(self.legacy_pattern)
        return board

    def to_dict(self) -> dict[str, Any]:
        """The ``[board]`` table (what :func:`board_spec_from_dict` reads back)."""
        return self.model_dump()


def board_image(
    spec: BoardSpec, *, px_per_mm: float, margin_mm: float = 0.0
) -> tuple[np.ndarray, float]:
    """The board as printed: a grayscale raster with exact square edges.

    Parameters
    ----------
    spec : BoardSpec
    px_per_mm : float
        Requested resolution; rounded so that a square is a whole number of pixels.
    margin_mm : float
        White paper around the squares (rounded to whole pixels).

    Returns
    -------
    image : (H, W) uint8 ndarray
        0 black, 255 white; inverted boards (``spec.inverted``) have the squares area
        inverted, the paper margin stays white.
    px_per_mm : float
        The resolution actually used. Board point ``(x_mm, y_mm)`` (the board frame of
        :class:`BoardSpec`) is at pixel ``((x_mm + m) * px_per_mm - 0.5, (y_mm + m) *
        px_per_mm - 0.5)`` in pixel-centre coordinates, with ``m`` the returned image's
        margin ``round(margin_mm * px_per_mm) / px_per_mm``.
    """
    s = max(round(spec.square_length_mm * px_per_mm), 4)
    ppmm = s / spec.square_length_mm
    m = round(margin_mm * ppmm)
    w, h = spec.squares_x * s, spec.squares_y * s
    img = spec.to_cv2().generateImage((w, h), marginSize=0, borderBits=1)
    if spec.inverted:
        img = 255 - img
    out = np.full((h + 2 * m, w + 2 * m), 255, dtype=np.uint8)
    out[m : m + h, m : m + w] = img
    return out, ppmm


def board_spec_from_dict(data: dict[str, Any], *, source: str = "board spec") -> BoardSpec:
    """Validate a ``[board]`` table; every problem is reported at once."""
    try:
        return BoardSpec.model_validate(data)
    except ValidationError as exc:
        problems = [
            Problem(
                "board." + ".".join(str(p) for p in err["loc"]) if err["loc"] else "board",
                err["msg"].removeprefix("Value error, "),
                "see calibration/boards/*.toml for a valid example",
            )
            for err in exc.errors()
        ]
        raise ProblemsError(source, problems) from None


def load_board_spec(path: str | Path) -> BoardSpec:
    """Read a board spec TOML file (a ``[board]`` table)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"board spec {path} does not exist; give the path of a .toml board spec")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"board spec {path} is not valid TOML: {exc}") from None
    if "board" not in data:
        raise InputError(f"board spec {path} has no [board] table; add one (see the README)")
    spec = dict(data["board"])
    spec.setdefault("name", path.stem)
    return board_spec_from_dict(spec, source=str(path))
