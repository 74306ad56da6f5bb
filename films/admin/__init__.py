"""The editors' admin: a whole guide on one screen, validated, with history.

A film's page holds its credits, characters, scenes, plot, themes and
recommendations. One row's rules live in the models' ``clean()``; the rules
about the rows taken together (the timeline, reveal points inside the film)
are checked here by the inline formsets, through ``films.guide_checks``, so a
wrong guide is shown with its message on the row and field at fault and
nothing is saved.

History is django-reversion: every save on the film page records the whole
guide (the film and every row that hangs off it) as one revision, with who
and when, so a revision can be compared with another, reverted to, or used to
recover a deleted film with all its rows.

The package is split by what an editor works on; each module says what it owns:

* ``history`` — reversion registration, a guide as one revision, comparisons;
* ``widgets`` — shared form fields and widgets;
* ``forms`` — shared forms and formsets (the rules about rows taken together);
* ``inlines`` — the inlines on the film's page;
* ``film`` — the film's admin;
* ``parts`` — characters and scenes on pages of their own;
* ``reference`` — people, themes, genres, countries and languages;
* ``signin`` — the locked-out sign-in page (django-axes).

Django autodiscovers ``films.admin``: importing it registers every model.
"""

# history first: it registers the models with django-reversion, which a
# VersionAdmin would otherwise do on its own, without following a guide's rows.
from films.admin import history
from films.admin.film import FilmAdmin, FilmForm
from films.admin.forms import GuideFormSet, RevealPointForm
from films.admin.history import compare_guides, record_film
from films.admin.parts import CharacterAdmin, SceneAdmin
from films.admin.reference import CodeAdmin, GenreAdmin, PersonAdmin, ThemeAdmin
from films.admin.signin import lockout_response
from films.admin.widgets import TimecodeField

__all__ = [
    "CharacterAdmin",
    "CodeAdmin",
    "FilmAdmin",
    "FilmForm",
    "GenreAdmin",
    "GuideFormSet",
    "PersonAdmin",
    "RevealPointForm",
    "SceneAdmin",
    "ThemeAdmin",
    "TimecodeField",
    "compare_guides",
    "history",
    "lockout_response",
    "record_film",
]
