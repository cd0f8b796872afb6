"""The paper's tables: their definitions, the published numbers, and Markdown reports beside ours."""

from __future__ import annotations

from .definitions import TABLES, TableDef
from .published import load_published
from .render import render_all, render_table, summarise

__all__ = ["TABLES", "TableDef", "load_published", "render_all", "render_table", "summarise"]
