"""The HTML of a report: one self-contained page of sections, figures embedded as data."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import pandas as pd

from twoclocks.core.io import read_bytes

Section = tuple[str, str]  # (title, self-contained html)


def embed(png: Path, caption: str) -> str:
    data = base64.b64encode(read_bytes(png)).decode()
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(png.name)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def table_html(df: pd.DataFrame) -> str:
    return df.to_html(index=False, na_rep="", escape=True, float_format=lambda v: f"{v:.3g}", border=0)


CSS = (
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;font-size:13px}td,th{padding:2px 8px;border-bottom:1px solid #ddd}"
    "th{text-align:left}img{max-width:100%}figcaption{font-size:13px;color:#555}"
)


def page(title: str, sections: list[Section]) -> str:
    body = "".join(f"<h2>{html.escape(t)}</h2>\n{h}\n" for t, h in sections)
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>\n{body}</body></html>\n"
    )
