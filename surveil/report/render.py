"""The page: a Jinja2 template (autoescaped: explanations, account ids and symbols come from
data) with every script, style and font inlined, so the file opens with no network."""

from __future__ import annotations

import base64
import datetime as dt
import re
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from surveil.validate.checks import CHECKS

STATIC = Path(__file__).parent / "static"
TEMPLATES = Path(__file__).parent / "templates"
# Licence banners (`/*! ... */`) name the projects' web sites; the page carries the
# copyright lines and licence text instead (see NOTICES), and no web address at all.
BANNER = re.compile(r"/\*!.*?\*/", re.S)
VENDORED_SCRIPTS = ("chart.umd.min.js", "chartjs-plugin-zoom.min.js")
FONTS = {400: "inter-latin-400-normal.woff2", 600: "inter-latin-600-normal.woff2"}
NOTICES = (
    "Chart.js 4.6.1: Copyright (c) 2014-2024 Chart.js Contributors. MIT License.",
    "@kurkle/color 0.3.2 (inside Chart.js): Copyright (c) 2023 Jukka Kurkela. MIT License.",
    "chartjs-plugin-zoom 2.2.0: Copyright (c) 2013-2021 chartjs-plugin-zoom contributors. "
    "MIT License.",
    "Inter 5.3.0 (latin, 400 and 600): Copyright 2016 The Inter Project Authors. "
    "SIL Open Font License, Version 1.1.",
)


@lru_cache(maxsize=1)
def mit_licence() -> str:
    """The MIT permission text, which must travel with copies of the charting library."""
    text = (STATIC / "LICENSE.chart.js.md").read_text(encoding="utf-8")
    return text.split("\n\n", 2)[2].strip()


@lru_cache(maxsize=4)
def script(name: str) -> str:
    return BANNER.sub("", (STATIC / name).read_text(encoding="utf-8")).strip()


@lru_cache(maxsize=1)
def styles() -> str:
    faces = []
    for weight, name in FONTS.items():
        encoded = base64.b64encode((STATIC / name).read_bytes()).decode("ascii")
        faces.append(
            "@font-face{font-family:'Inter';font-style:normal;font-display:swap;"
            f"font-weight:{weight};src:url(data:font/woff2;base64,{encoded}) format('woff2')}}"
        )
    return "\n".join([*faces, (STATIC / "report.css").read_text(encoding="utf-8")])


def thousands(value: int | float | Decimal | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def money(value: Decimal | float | None) -> str:
    if value is None:
        return "–"
    value = float(value)
    for limit, suffix in ((1e9, "bn"), (1e6, "m")):
        if abs(value) >= limit:
            return f"${value / limit:,.2f} {suffix}"
    return f"${value:,.0f}"


def ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def age(value: dt.timedelta | None) -> str:
    if value is None:
        return "–"
    hours = int(value.total_seconds() // 3600)
    return f"{hours // 24} d {hours % 24} h" if hours >= 24 else f"{hours} h"


def utc(value: dt.datetime | None) -> str:
    return "–" if value is None else value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def utc_minute(value: dt.datetime | None) -> str:
    return "–" if value is None else value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def params(value: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(value.items()))


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.policies["json.dumps_kwargs"] = {"separators": (",", ":"), "allow_nan": False}
    env.filters.update(
        thousands=thousands,
        money=money,
        ratio=ratio,
        age=age,
        utc=utc,
        utc_minute=utc_minute,
        params=params,
    )
    env.globals.update(
        vendored_scripts=lambda: [script(n) for n in VENDORED_SCRIPTS],
        report_script=lambda: (STATIC / "report.js").read_text(encoding="utf-8"),
        styles=styles,
        notices=NOTICES,
        mit_licence=mit_licence,
        check_descriptions={c.name: c.description for c in CHECKS},
    )
    return env


def render_page(context: dict[str, Any]) -> str:
    return environment().get_template("report.html.j2").render(**context)
