"""Static, self-contained HTML pages: open from disk, no server, no network, no scripts.

A page is a list of sections of blocks (text, figures, tables, videos, links); files are linked
by paths relative to the page, so a report folder can be zipped, moved or put on a web server.
Figures are PNG images linking to their SVG; with ``embed_images`` the PNGs are put in the page
as data URIs (one file to e-mail). All text is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mocap3d._version import __version__
from mocap3d.io.atomic import write_text_atomic

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;
background:#fafafa;line-height:1.45}
header{background:#23395d;color:#fff;padding:14px 28px}
header h1{margin:0;font-size:1.45em} header nav{font-size:.9em;margin-top:4px}
header a{color:#cfe0ff} main{padding:8px 28px 40px;max-width:1300px}
section{background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:10px 18px;
margin:16px 0} h2{font-size:1.15em;margin:.3em 0 .6em}
figure{display:inline-block;margin:6px 10px 10px 0;vertical-align:top;max-width:100%}
figure img{max-width:100%;height:auto;border:1px solid #ddd;background:#fff}
figcaption{font-size:.85em;color:#555} video{max-width:100%;background:#000}
table{border-collapse:collapse;font-size:.85em;margin:4px 0 10px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right} th{background:#f0f3f8}
td:first-child,th:first-child{text-align:left} .note{color:#8a5a00;background:#fff7e0;
padding:6px 10px;border-radius:4px} .small{font-size:.85em;color:#666}
ul.links li{margin:2px 0} .cards{display:flex;flex-wrap:wrap;gap:12px}
.card{border:1px solid #e3e3e3;border-radius:6px;padding:8px;width:300px;background:#fff}
.card img{width:100%;height:auto} header .small{color:#c8d3e6}
.scroll{overflow-x:auto;max-width:100%}
"""


@dataclass(frozen=True)
class Text:
    """A paragraph (``note=True``: highlighted, e.g. a missing input and how to make it)."""

    text: str
    note: bool = False


@dataclass(frozen=True)
class Figure:
    """A figure: its PNG shown (linking to the SVG when there is one)."""

    png: Path
    caption: str = ""
    svg: Path | None = None


@dataclass(frozen=True)
class Table:
    """A table; ``links`` maps a column's cell text to a target (e.g. trial → its page)."""

    frame: pd.DataFrame
    caption: str = ""
    csv: Path | None = None
    links: dict[str, dict[str, Path]] = field(default_factory=dict)
    float_format: str = "{:.4g}"


@dataclass(frozen=True)
class Video:
    """A video; ``playable``: shown in a player (h264/vp8), else only linked."""

    path: Path
    caption: str = ""
    playable: bool = True


@dataclass(frozen=True)
class Links:
    """A list of links (label, target, note)."""

    items: Sequence[tuple[str, Path, str]]


@dataclass(frozen=True)
class Cards:
    """Tiles linking to sub-pages: (title, target page, thumbnail PNG or None, text)."""

    items: Sequence[tuple[str, Path, Path | None, str]]


Block = Text | Figure | Table | Video | Links | Cards


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Page:
    """An HTML page; ``nav`` holds (label, target page) links shown under the title."""

    title: str
    sections: list[Section] = field(default_factory=list)
    nav: list[tuple[str, Path]] = field(default_factory=list)
    subtitle: str = ""


def _href(target: Path, base: Path) -> str:
    rel = os.path.relpath(Path(target).resolve(), base.resolve())
    return html.escape(Path(rel).as_posix(), quote=True)


def _img_src(png: Path, base: Path, embed: bool) -> str:
    if embed:
        data = base64.b64encode(Path(png).read_bytes()).decode("ascii")
        return f"data:image/png;base64,{data}"
    return _href(png, base)


def _table(t: Table, base: Path) -> str:
    e = html.escape
    df = t.frame
    head = "".join(f"<th>{e(str(c))}</th>" for c in [df.index.name or "", *df.columns])
    rows = []
    for idx, row in df.iterrows():
        cells = []
        for col, value in [(df.index.name or "", idx), *row.items()]:
            if isinstance(value, float):
                text = "" if value != value else t.float_format.format(value)
            else:
                text = str(value)
            target = t.links.get(str(col), {}).get(str(value))
            cell = e(text) if target is None else f'<a href="{_href(target, base)}">{e(text)}</a>'
            cells.append(f"<td>{cell}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    caption = f"<caption>{e(t.caption)}</caption>" if t.caption else ""
    out = (
        f'<div class="scroll"><table>{caption}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )
    if t.csv is not None:
        out += f'<p class="small"><a href="{_href(t.csv, base)}">{e(t.csv.name)}</a> (CSV)</p>'
    return out


def _block(b: Block, base: Path, embed: bool) -> str:
    e = html.escape
    if isinstance(b, Text):
        return f'<p class="note">{e(b.text)}</p>' if b.note else f"<p>{e(b.text)}</p>"
    if isinstance(b, Figure):
        img = f'<img src="{_img_src(b.png, base, embed)}" alt="{e(b.caption or b.png.stem)}">'
        if b.svg is not None:
            img = f'<a href="{_href(b.svg, base)}">{img}</a>'
        cap = f"<figcaption>{e(b.caption)}</figcaption>" if b.caption else ""
        return f"<figure>{img}{cap}</figure>"
    if isinstance(b, Table):
        return _table(b, base)
    if isinstance(b, Video):
        link = f'<a href="{_href(b.path, base)}">{e(b.path.name)}</a>'
        if not b.playable:
            return f"<p>{e(b.caption)}: {link} (open in a video player)</p>"
        return (
            f'<figure><video controls muted preload="metadata" src="{_href(b.path, base)}">'
            f"</video><figcaption>{e(b.caption)} — {link}</figcaption></figure>"
        )
    if isinstance(b, Links):
        items = "".join(
            f'<li><a href="{_href(p, base)}">{e(label)}</a>'
            + (f' <span class="small">{e(note)}</span>' if note else "")
            + "</li>"
            for label, p, note in b.items
        )
        return f'<ul class="links">{items}</ul>'
    cards = []
    for title, target, thumb, text in b.items:
        img = (
            f'<img src="{_img_src(thumb, base, embed)}" alt="{e(title)}">'
            if thumb is not None
            else ""
        )
        cards.append(
            f'<div class="card"><a href="{_href(target, base)}"><b>{e(title)}</b><br>{img}</a>'
            f'<div class="small">{e(text)}</div></div>'
        )
    return f'<div class="cards">{"".join(cards)}</div>'


def render_page(page: Page, *, base: Path, embed_images: bool = False) -> str:
    """The page as an HTML document whose links are relative to the folder ``base``."""
    e = html.escape
    nav = " · ".join(f'<a href="{_href(p, base)}">{e(label)}</a>' for label, p in page.nav)
    body = []
    for s in page.sections:
        inner = "\n".join(_block(b, base, embed_images) for b in s.blocks)
        body.append(f"<section><h2>{e(s.title)}</h2>\n{inner}\n</section>")
    sub = f'<div class="small">{e(page.subtitle)}</div>' if page.subtitle else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="mocap3d {e(__version__)}">'
        f"<title>{e(page.title)}</title><style>{CSS}</style></head>\n<body><header>"
        f"<h1>{e(page.title)}</h1>{sub}<nav>{nav}</nav></header>\n<main>\n"
        + "\n".join(body)
        + f'\n<p class="small">Made by mocap3d {e(__version__)}.</p></main></body></html>\n'
    )


def write_page(page: Page, path: str | Path, *, embed_images: bool = False) -> Path:
    """Write ``page`` to ``path`` (atomically); links are made relative to its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, render_page(page, base=path.parent, embed_images=embed_images))
    return path
