"""The Jinja2 environment of the public pages.

Visitors' pages are Jinja2 templates (``templates/jinja2/``): a film's full
timeline is hundreds of small substitutions, and Jinja2 compiles templates to
Python, rendering them several times faster than Django's engine — the
difference between a page built in a few milliseconds and one built in tens
(see bench/bench_web.py). Autoescaping is on; HTML that is already safe
(stored editor text, Django's ``SafeString``) passes through as it is. The
admin keeps Django's own templates.

Filters only format, as in ``films/templatetags/guide.py``, which they share.
"""

import functools

from django.conf import settings
from django.template import defaultfilters
from django.templatetags.static import static
from django.urls import get_script_prefix, reverse
from django.utils.html import escape
from django.utils.safestring import SafeString
from jinja2 import Environment
from jinja2.compiler import CodeGenerator
from markupsafe import Markup
from markupsafe import escape as markup_escape

from films.templatetags.guide import ordinal, runtime, timecode

# What a film page leaves to each request (films/pages.py): the horizon
# control, and the visitor's own ?seen= in its links. A page is built once
# for every time that reveals the same things; the links keep the visitor's.
# Parts written with the guide (films/documents.py) carry them too.
CONTROL_MARK = "<!--horizon-control-->"
QUERY_MARK = "@@seen-query@@"  # "" or "?seen=…"
AMP_MARK = "@@seen-amp@@"  # "" or "&amp;seen=…", after another parameter


def url(name, *args):
    """``reverse()``: the same names and arguments give the same path under
    one script prefix, so each is reversed once per process."""
    return _reversed(get_script_prefix(), name, args)


@functools.lru_cache(maxsize=4096)
def _reversed(prefix, name, args):
    return reverse(name, args=args)


def select_options(choices, current):
    """A select's ``<option>`` elements, the ``current`` value's selected.

    Written once for each list of choices (the catalogue's lists change only
    with the catalogue), rather than by a loop escaping each value and label
    on every page.
    """
    html = _options_html(tuple(choices))
    mark = f'<option value="{markup_escape("" if current is None else current)}">'
    return Markup(html.replace(mark, f"{mark[:-1]} selected>", 1))  # noqa: S704 — escaped


@functools.lru_cache(maxsize=256)
def _options_html(choices):
    return "".join(
        f'\n  <option value="{markup_escape(value)}">{markup_escape(label)}</option>'
        for value, label in choices
    )


@functools.lru_cache(maxsize=256)
def _static(static_url, path):
    return static(path)


def static_url(path):
    """``static()``: the storage's URL of a file, worked out once per process
    (the manifest of hashed names is read once per process too)."""
    return _static(settings.STATIC_URL, path)


MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def day(value):
    """A date as a person reads it, ``4 December 2026`` (what Django's
    ``date:"j F Y"`` gives in English, without its formatting machinery)."""
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


# Output that needs no escaping: already safe HTML (ours, Django's) and
# numbers, whose text has nothing to escape.
_AS_IS = {Markup: None, SafeString: None, int: str, float: str}


def escape_output(value):
    """What autoescaping writes for a value: markupsafe's ``escape``, with
    no work for a value that is safe already or a number. The output is
    joined into one string, so it need not be wrapped in ``Markup`` again.
    A page writes ~1,400 values; most are one of these."""
    kind = type(value)
    if kind in _AS_IS:
        convert = _AS_IS[kind]
        return value if convert is None else convert(value)
    return markup_escape(value)


class EscapingOutput(CodeGenerator):
    """Jinja2's code generator, escaping output with :func:`escape_output`
    (Environment.code_generator_class is Jinja2's hook for this)."""

    def _output_child_pre(self, node, frame, finalize):
        if frame.eval_ctx.volatile or not frame.eval_ctx.autoescape:
            super()._output_child_pre(node, frame, finalize)
            return
        self.write("environment.escape_output(")
        if finalize.src is not None:
            self.write(finalize.src)


def environment(**options):
    options.pop("autoescape", None)
    env = Environment(autoescape=True, **options)
    env.code_generator_class = EscapingOutput
    env.escape_output = escape_output
    env.globals.update(url=url, static=static_url, select_options=select_options)
    env.filters.update(
        timecode=timecode,
        runtime=runtime,
        ordinal=ordinal,
        date=defaultfilters.date,
        day=day,
        isoformat=lambda value: value.isoformat(),
        truncatechars=defaultfilters.truncatechars,
        truncatewords_html=defaultfilters.truncatewords_html,
        pluralize=defaultfilters.pluralize,
        escape=escape,
    )
    return env
