"""Editor text: Markdown in, sanitised HTML out — rendered when text is written.

Editors write Markdown; pages show HTML. Rendering happens once, when a row is
saved (the admin, ``load_guides``, ``loaddata``, a revert or recovery), into an
``*_html`` field stored beside its source, so that a request never renders
Markdown. ``manage.py render_text`` renders every stored text again, for when
this renderer or its sanitiser changes.
"""

import html

import markdown as markdown_lib
import nh3
from django.utils.html import strip_tags

ALLOWED_TAGS = {"p", "em", "strong", "a", "ul", "ol", "li", "blockquote", "br", "code"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}


def render_markdown(text):
    """Editor Markdown → HTML that carries no raw HTML, script or style."""
    html = markdown_lib.markdown(text or "", output_format="html")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def plain_text(stored_html):
    """Stored HTML as one line of plain text (meta descriptions, JSON-LD)."""
    return " ".join(html.unescape(strip_tags(stored_html)).split())


def html_field_name(name):
    """Where the HTML of the Markdown field ``name`` is stored."""
    return f"{name}_html"


def render_stored(model, fields, *, using="default", batch_size=500):
    """Render the Markdown ``fields`` of every row of ``model`` again.

    Writes only the rows whose stored HTML differs from a fresh render and
    returns how many. Works on the models a migration is given too, so the
    data migration and ``manage.py render_text`` share it. It writes with
    ``bulk_update``, which sends no signals: callers bump guide versions.
    """
    targets = [html_field_name(name) for name in fields]
    rows = model._base_manager.using(using).only("pk", *fields, *targets)
    changed = []
    written = 0
    for row in rows.iterator(chunk_size=batch_size):
        fresh = {
            t: render_markdown(getattr(row, n))
            for n, t in zip(fields, targets, strict=True)
        }
        if any(getattr(row, t) != html for t, html in fresh.items()):
            for target, html in fresh.items():
                setattr(row, target, html)
            changed.append(row)
        if len(changed) >= batch_size:
            model._base_manager.using(using).bulk_update(changed, targets)
            written += len(changed)
            changed = []
    if changed:
        model._base_manager.using(using).bulk_update(changed, targets)
        written += len(changed)
    return written
