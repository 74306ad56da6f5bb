"""Guide files: the fixture format, read with validation, loaded, and written.

A guide file is a Django fixture with natural keys: a list of
``{"model": "films.scene", "fields": {…}}`` objects that name other rows by
slug (``"film": ["stalker-1979"]``) and carry no ``pk``, so ``loaddata`` reads
it too. A ``.json`` file holds one JSON list; a ``.jsonl`` file (JSON Lines)
holds one object per line and is streamed.

Loading (:class:`Loader`) adds what ``loaddata`` lacks:

* validation before writing: each object's ``full_clean()``, the many-to-many
  rules (``Scene.clean_characters``) and each film's timeline as a whole
  (``films.guide_checks``), reported with the file, the line or object, the
  model, the natural key and the field;
* matching by natural key: an object names its row, which is created, updated
  or left alone when nothing changed, so loading twice changes nothing;
* speed and constant memory: objects are checked and written in batches, with
  a query per table and batch rather than several per object.

Writing (:func:`export_rows`, :func:`dump_object`, :class:`GuideWriter`) gives
the same format in a fixed order and layout, so exports diff cleanly and
export → load → export is byte-identical.

The package is split along those seams; each module says what it owns:

* ``reading`` — JSON and JSON Lines, size limits, encoding, the object shape;
* ``schema`` — the guide models as the loader sees them: fields, natural keys;
* ``validation`` — each field's value, each object's rules, each timeline;
* ``rows`` — natural keys to stored rows, in bulk; ids for new rows;
* ``writing`` — bulk inserts and updates, and new guide versions;
* ``loading`` — the ``Loader``, which runs the batches through the above;
* ``report`` — how problems are told (``GuideError``, ``LoadFailed``);
* ``pruning`` — what ``load_guides --prune`` removes;
* ``export`` — guide files written from the database.

The names other modules use are imported here, so ``from films.guide_files
import Loader`` keeps working.
"""

from films.guide_files.export import GuideWriter, dump_object, export_rows
from films.guide_files.loading import BATCH_SIZE, Loader, Staged
from films.guide_files.pruning import film_of, prune_rows, stale_rows
from films.guide_files.reading import (
    FILE_FORMAT,
    MAX_DEPTH,
    MAX_LINE_BYTES,
    JsonLines,
    Record,
    read_json,
)
from films.guide_files.report import (
    ERRORS_SHOWN,
    GuideError,
    LoadFailed,
    Problems,
    show_key,
    show_value,
)
from films.guide_files.rows import CACHE_SIZE, Rows
from films.guide_files.schema import (
    CREATED,
    GUIDE_MODELS,
    IN_LIST_SIZE,
    KEY_EXAMPLES,
    KEY_FIELDS,
    MODELS_BY_LABEL,
    PARKED_FIELDS,
    PRUNED,
    REFERENCED,
    REPEATED,
    UNCHANGED,
    UPDATED,
)
from films.guide_files.validation import Checker, check_holds
from films.guide_files.writing import INSERT_BATCH_SIZE, Writer, insert_rows

__all__ = [
    "BATCH_SIZE",
    "CACHE_SIZE",
    "CREATED",
    "ERRORS_SHOWN",
    "FILE_FORMAT",
    "GUIDE_MODELS",
    "INSERT_BATCH_SIZE",
    "IN_LIST_SIZE",
    "KEY_EXAMPLES",
    "KEY_FIELDS",
    "MAX_DEPTH",
    "MAX_LINE_BYTES",
    "MODELS_BY_LABEL",
    "PARKED_FIELDS",
    "PRUNED",
    "REFERENCED",
    "REPEATED",
    "UNCHANGED",
    "UPDATED",
    "Checker",
    "GuideError",
    "GuideWriter",
    "JsonLines",
    "LoadFailed",
    "Loader",
    "Problems",
    "Record",
    "Rows",
    "Staged",
    "Writer",
    "check_holds",
    "dump_object",
    "export_rows",
    "film_of",
    "insert_rows",
    "prune_rows",
    "read_json",
    "show_key",
    "show_value",
    "stale_rows",
]
