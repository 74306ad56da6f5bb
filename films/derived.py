"""What is derived from the guides, kept in step on every path that writes them.

Two things are stored rather than worked out on each request:

* the HTML of every Markdown field (``GuideModel.render_text``), and
* each film's ``version``, and the catalogue's (``CatalogueVersion``), which
  page caches carry in their keys (``films/pages.py``), and its
  ``reveal_index``: every reveal point of the guide, which film pages read
  instead of querying for them.

They are kept here by model signals, not in ``save()``, on purpose: the paths
that write guides are not all ``save()``. ``loaddata`` and django-reversion's
revert and recover save rows "raw" (``save_base``), and deletes cascade, yet
each of them must render the text it writes and bump the guide it touches.
``load_guides`` writes in bulk, bypassing signals, and calls
:func:`bump_films` and ``render_text()`` itself.
"""

import contextlib
import functools
import threading
from itertools import batched

from django.db import transaction
from django.db.models import CharField, F, IntegerField, Q, Value
from django.db.models.functions import Concat
from django.db.models.signals import (
    m2m_changed,
    post_delete,
    post_save,
    pre_delete,
    pre_save,
)
from django.utils import timezone

from films import documents, search_index
from films.models import (
    CatalogueVersion,
    Character,
    CharacterBeat,
    Country,
    Credit,
    Film,
    FilmTheme,
    Genre,
    GuideModel,
    Language,
    Person,
    PlotSection,
    Recommendation,
    Scene,
    Theme,
)

# For each model, the films a change to one of its rows touches.
FILMS_OF = {
    Film: lambda obj: Film.objects.filter(pk=obj.pk),
    Character: lambda obj: Film.objects.filter(pk=obj.film_id),
    Scene: lambda obj: Film.objects.filter(pk=obj.film_id),
    PlotSection: lambda obj: Film.objects.filter(pk=obj.film_id),
    FilmTheme: lambda obj: Film.objects.filter(pk=obj.film_id),
    Credit: lambda obj: Film.objects.filter(pk=obj.film_id),
    Recommendation: lambda obj: Film.objects.filter(pk=obj.film_id),
    CharacterBeat: lambda obj: Film.objects.filter(characters=obj.character_id),
    Person: lambda obj: Film.objects.filter(credits__person=obj.pk),
    Theme: lambda obj: Film.objects.filter(
        Q(film_themes__theme=obj.pk) | Q(scenes__themes=obj.pk)
    ),
    Genre: lambda obj: Film.objects.filter(genres=obj.pk),
    Country: lambda obj: Film.objects.filter(countries=obj.pk),
    Language: lambda obj: Film.objects.filter(languages=obj.pk),
}


def reveal_index(film_ids, using=None):
    """Each film's reveal points, in seconds, in one query:
    ``{film id: {"points": [...], "scenes": [...], "kinds": {...}, "ends": [...]}}``.

    ``points`` are every reveal point of the guide (scenes' starts, the
    characters, beats, plot sections and analyses that have one, and the
    end); ``scenes`` are (screen position, start, story position); ``kinds``
    gives the reveal points of each kind of row ("plot", "character",
    "analysis", and "beats:<character slug>"), for the placeholders of what a
    visitor has not reached, without loading those rows.
    """
    film_ids = list(film_ids)
    zero = Value(0, output_field=IntegerField())

    def labelled(kind):
        return Value(kind, output_field=CharField())

    others = [
        model.objects.using(using)
        .filter(**{f"{lookup}__in": film_ids, "reveals_at__isnull": False})
        .order_by()
        .values_list(lookup, kind, zero, "reveals_at", zero)
        for model, lookup, kind in (
            (Character, "film", labelled("character")),
            (
                CharacterBeat,
                "character__film",
                Concat(labelled("beats:"), "character__slug", output_field=CharField()),
            ),
            (PlotSection, "film", labelled("plot")),
            (FilmTheme, "film", labelled("analysis")),
        )
    ]
    scenes = (
        Scene.objects.using(using)
        .filter(film__in=film_ids)
        .order_by()
        .values_list(
            "film", labelled("scene"), "screen_position", "starts_at", "story_position"
        )
    )
    # Where scenes end: not reveal points, but the watch page's recap places
    # a visitor's "I stepped out at" among them (films/watch.py).
    ends = (
        Scene.objects.using(using)
        .filter(film__in=film_ids)
        .order_by()
        .values_list("film", labelled("end"), zero, "ends_at", zero)
    )
    others.append(ends)
    runtimes = dict(
        Film.objects.using(using).filter(pk__in=film_ids).values_list("pk", "runtime")
    )
    index = {
        film_id: {"points": {runtime * 60}, "scenes": [], "kinds": {}, "ends": []}
        for film_id, runtime in runtimes.items()
    }
    rows = scenes.union(*others, all=True).order_by()
    for film_id, kind, screen, at, story in rows:
        entry = index.get(film_id)
        if entry is None:
            continue
        seconds = at.total_seconds()
        seconds = int(seconds) if seconds.is_integer() else seconds
        if kind == "end":
            entry["ends"].append(seconds)
            continue
        entry["points"].add(seconds)
        if kind == "scene":
            entry["scenes"].append([screen, seconds, story])
        else:
            entry["kinds"].setdefault(kind, []).append(seconds)
    for entry in index.values():
        entry["points"] = sorted(entry["points"])
        entry["scenes"].sort()
        entry["ends"].sort()
        for points in entry["kinds"].values():
            points.sort()
    for film_id in film_ids:
        index.setdefault(film_id, {"points": [], "scenes": [], "kinds": {}, "ends": []})
    return index


def bump_films(film_ids, *, touch=False, using=None, later=False):
    """A new version for each of these films, and for the catalogue.

    A film's new version is the catalogue's new version, so versions only
    grow and no two guides, nor two states of one guide (even one deleted and
    made again), ever share one: a cache key built from an old version is
    never read again. ``touch`` also sets the films' ``updated_at`` (their
    "Last updated" and ``Last-Modified``).

    The documents pages read (``films/documents.py``) are stored at the new
    version in the same transaction — or, with ``later``, once it commits,
    for all the films its writes touched together: for writes of many rows
    one by one (loading a dump, a revert, a cascading delete), which would
    otherwise build a guide's documents once per row. Until then a page
    builds them itself (never showing another version's).
    """
    film_ids = {pk for pk in film_ids if pk is not None}
    deferred = _deferred(using)
    if deferred is not None:
        deferred["films"].update(film_ids)
        deferred["touch"] = deferred["touch"] or touch
        deferred["later"] = deferred["later"] and later
        deferred["any"] = True
        return
    with transaction.atomic(using=using):
        version = bump_catalogue(using=using)
        if not film_ids:
            transaction.on_commit(
                functools.partial(_publish, (), using=using), using=using
            )
            return
        # Every change moves changed_at (Last-Modified), not only those that
        # move updated_at ("Last updated", the editors' date).
        changes = {"version": version, "changed_at": timezone.now()}
        if touch:
            changes["updated_at"] = timezone.now()
        transaction.on_commit(
            functools.partial(_publish, film_ids, using=using), using=using
        )
        for chunk in batched(sorted(film_ids), 500):
            Film.objects.using(using).filter(pk__in=chunk).update(**changes)
            films = [
                Film(pk=pk, reveal_index=index)
                for pk, index in reveal_index(chunk, using).items()
            ]
            Film.objects.using(using).bulk_update(films, ["reveal_index"])
            # The names search finds the film by, in the same transaction.
            search_index.store_search_names(chunk, using=using)
            # What its pages read, at its new version (films/documents.py).
            if later:
                store_documents_later(chunk, using)
            else:
                documents.store(chunk, using=using)


def _deferred(using):
    return getattr(_local, "deferred", {}).get(using or "default")


@contextlib.contextmanager
def bumps_deferred(using=None):
    """Within it, the writes of one thread to this database note the films
    they touch, and leave them be; at its end they are bumped once, together
    (:func:`bump_films`), as if by the last write.

    For code that writes a guide row by row and reads nothing derived from it
    in between (the test suite's factories): one bump per row would build the
    guide's documents once per row. Nested, it joins the outer one. Nothing
    is bumped when it ends with an error.
    """
    alias = using or "default"
    blocks = getattr(_local, "deferred", None)
    if blocks is None:
        blocks = _local.deferred = {}
    if alias in blocks:
        yield
        return
    noted = blocks[alias] = {
        "films": set(),
        "touch": False,
        "later": True,
        "any": False,
    }
    try:
        yield
    finally:
        del blocks[alias]
    if noted["any"]:
        bump_films(
            noted["films"], touch=noted["touch"], using=using, later=noted["later"]
        )


# Films whose documents wait for their transaction to commit, by database —
# per thread, as connections and their transactions are.
_local = threading.local()


def _waiting_for(alias):
    waiting = getattr(_local, "waiting", None)
    if waiting is None:
        waiting = _local.waiting = {}
    return waiting.setdefault(alias, set())


def store_documents_later(film_ids, using):
    alias = using or "default"
    _waiting_for(alias).update(film_ids)
    # robust: a failure is logged, never raised at the writer whose commit
    # has succeeded; until the next write, pages build those documents.
    transaction.on_commit(
        functools.partial(_store_waiting, alias), using=using, robust=True
    )


def waiting(film_id, using):
    """Whether this film's documents already wait for a commit."""
    return film_id in _waiting_for(using or "default")


def _store_waiting(alias):
    # Registered once per write; the first to run stores them all. Films of a
    # transaction that rolled back are stored too: harmlessly, at their
    # versions (and a deleted film has none).
    waiting = _waiting_for(alias)
    film_ids = set(waiting)
    waiting.clear()
    if film_ids:
        with transaction.atomic(using=alias):
            documents.store(film_ids, using=alias)


def _publish(film_ids, gone_slugs=(), using=None):
    from films.pages import publish_heads

    publish_heads(film_ids, gone_slugs, using=using)


def bump_catalogue(using=None):
    """The catalogue's next version (its row is made when missing), and its
    filter choices as they are now."""
    versions = CatalogueVersion.objects.using(using)
    changes = {"version": F("version") + 1, "choices": filter_choices(using)}
    if not versions.filter(pk=1).update(**changes):
        versions.get_or_create(pk=1)
        versions.filter(pk=1).update(**changes)
    return versions.values_list("version", flat=True).get(pk=1)


# The catalogue's filters that choose among rows, and each row's key.
CHOICES = {
    "language": (Language, "code"),
    "country": (Country, "code"),
    "genre": (Genre, "slug"),
    "theme": (Theme, "slug"),
}


def filter_choices(using=None):
    """``{filter: [[key, name], …]}`` by name, for every filter of
    :data:`CHOICES`, in one query."""
    queries = [
        model.objects.using(using)
        .order_by()
        .values_list(Value(name, output_field=CharField()), key, "name")
        for name, (model, key) in CHOICES.items()
    ]
    choices = {name: [] for name in CHOICES}
    for name, key, label in queries[0].union(*queries[1:], all=True):
        choices[name].append([key, label])
    for rows in choices.values():
        rows.sort(key=lambda row: (row[1], row[0]))
    return choices


def films_of(obj, using=None):
    """The ids of the films whose guides show ``obj``."""
    films = FILMS_OF[type(obj)](obj).using(using)
    return list(films.values_list("pk", flat=True).distinct())


def render_before_save(sender, instance, raw, using, **kwargs):
    if sender is CatalogueVersion and raw:
        # Loading a dump must not set the count back: versions never repeat.
        current = CatalogueVersion.objects.using(using).filter(pk=instance.pk)
        instance.version = max(
            instance.version, current.values_list("version", flat=True).first() or 0
        )
        return
    if not isinstance(instance, GuideModel):
        return
    instance.render_text()
    if sender is Film and instance.pk is not None:
        # A new slug: guides that recommended the old one must stop linking it.
        old = Film.objects.using(using).filter(pk=instance.pk).values_list("slug")
        old_slug = next(iter(old), (None,))[0]
        if old_slug is not None and old_slug != instance.slug:
            instance._old_slug = old_slug
    if raw and sender is Film and instance.pk is not None:
        # A raw save (loaddata, a revert) carries no version: keep the stored
        # one, so that the bump after the save moves it forward, never back.
        current = (
            Film.objects.using(using)
            .filter(pk=instance.pk)
            .values_list("version", flat=True)
            .first()
        )
        if current is not None:
            instance.version = current


def bump_after_write(sender, instance, using, created, raw=False, **kwargs):
    """A saved row: a new version for the guides that show it.

    Only versions move here; ``updated_at`` ("Last updated") is the film's
    own, set when the film is saved — the admin saves it with every edit of
    its guide — and kept as given by raw saves, so that loading a fixture
    again changes nothing.
    """
    if sender not in FILMS_OF:
        return
    if sender is Film:
        # Guides that recommend this film link it only while it is published
        # (and only at its slug: a renamed film is gone from its old address).
        old_slug = instance.__dict__.pop("_old_slug", None)
        slugs = [instance.slug, *([old_slug] if old_slug else [])]
        bump_films([instance.pk, *recommending(slugs, using)], using=using, later=raw)
        if old_slug:
            transaction.on_commit(
                functools.partial(_publish, (), [old_slug], using=using),
                using=using,
            )
    elif created and sender in (Person, Theme, Genre, Country, Language):
        bump_films([], using=using)  # no guide shows a new one yet: the catalogue
    else:
        bump_films(films_of(instance, using), using=using, later=raw)


def recommending(slugs, using=None):
    """The films whose "what to watch next" names one of these films."""
    return list(
        Film.objects.using(using)
        .filter(recommendations__target_slug__in=list(slugs))
        .values_list("pk", flat=True)
        .distinct()
    )


def note_before_delete(sender, instance, using, **kwargs):
    """Which guides show a row about to be deleted: after the delete (whose
    link rows go first, without m2m signals) nothing says any more."""
    if sender in FILMS_OF and sender is not Film:
        instance._films_before_delete = films_of(instance, using)


def bump_after_delete(sender, instance, using, **kwargs):
    if sender not in FILMS_OF:
        return
    if sender is Film:
        bump_films(recommending([instance.slug], using), using=using, later=True)
        transaction.on_commit(
            functools.partial(_publish, (), [instance.slug], using=using),
            using=using,
        )
        return
    noted = instance.__dict__.pop("_films_before_delete", None)
    films = films_of(instance, using) if noted is None else noted
    bump_films(films, using=using, later=True)


def bump_after_m2m(sender, instance, action, reverse, model, pk_set, using, **kwargs):
    """Languages, countries and genres of a film; characters and themes of a scene."""
    if action == "pre_clear" and reverse:
        # After the clear nothing says which guides lost this row: note them now.
        instance._films_before_clear = films_of(instance, using)
        return
    if not action.startswith("post_"):
        return
    if not reverse:
        owner = instance.pk if isinstance(instance, Film) else instance.film_id
        # A dump's many-to-many rows follow its raw saves: with them, later.
        bump_films([owner], using=using, later=waiting(owner, using))
    elif action == "post_clear":
        bump_films(getattr(instance, "_films_before_clear", []), using=using)
    elif model is Film:
        bump_films(pk_set, using=using)
    else:
        scenes = Scene.objects.using(using).filter(pk__in=pk_set)
        bump_films(set(scenes.values_list("film_id", flat=True)), using=using)


def connect():
    pre_save.connect(render_before_save, dispatch_uid="films.render_before_save")
    post_save.connect(bump_after_write, dispatch_uid="films.bump_after_write")
    pre_delete.connect(note_before_delete, dispatch_uid="films.note_before_delete")
    post_delete.connect(bump_after_delete, dispatch_uid="films.bump_after_delete")
    relations = (
        Film.languages,
        Film.countries,
        Film.genres,
        Scene.characters,
        Scene.themes,
    )
    for field in relations:
        m2m_changed.connect(
            bump_after_m2m,
            sender=field.through,
            dispatch_uid=f"films.bump_after_m2m.{field.through.__name__}",
        )
