"""Small display helpers for the report notebook's cells (IPython rich outputs)."""
from __future__ import annotations

import io

import pandas as pd


def show(fig, dpi: int = 110) -> None:
    """Display a matplotlib Figure as an embedded PNG (the HTML export keeps it as base64)."""
    from IPython.display import Image, display

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    display(Image(data=buf.getvalue(), format="png"))


def table(df: pd.DataFrame, caption: str = "", index: bool = False) -> None:
    """Display a DataFrame as an HTML table with an optional caption."""
    from IPython.display import HTML, display

    if df is None or len(df) == 0:
        display(HTML(f"<p><i>{caption + ': ' if caption else ''}nothing to show.</i></p>"))
        return
    body = df.to_html(index=index, na_rep="-", border=0, classes="dataframe evalsuite", escape=True)
    cap = f"<p><b>{caption}</b></p>" if caption else ""
    display(HTML(cap + body))


def md(text: str) -> None:
    from IPython.display import Markdown, display

    display(Markdown(text))


def html(text: str) -> None:
    from IPython.display import HTML, display

    display(HTML(text))
