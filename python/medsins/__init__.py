"""Rebuild the MedS-Ins medical instruction-tuning dataset from its raw corpora.

Each function runs the ``medsins`` command of the same name in this process and returns what
``medsins <command> --format json`` prints, as Python objects. Keyword options are the
command's long options with ``_`` for ``-`` (``shard_rows=5000`` is ``--shard-rows 5000``):
``True`` turns a switch on, ``None`` and ``False`` leave an option out, and a list or tuple
repeats it. ``medsins <command> --help`` documents every option.

A command that fails raises :class:`MedsinsError` with the message ``medsins`` prints after
``error:``; an option the command does not have raises ``TypeError``, a value it refuses
``ValueError``. Logging goes to standard error at the level ``RUST_LOG`` sets (warnings by
default); no progress is shown.

>>> import medsins
>>> report = medsins.build(out="out")            # the bundled demo catalogue
>>> report["tasks"]
122
"""

import json as _json
import os as _os
import signal as _signal
import sys as _sys

from ._medsins import MedsinsError, __version__
from ._medsins import main as _main
from ._medsins import report as _report

__all__ = [
    "MedsinsError",
    "__version__",
    "audit",
    "build",
    "list_catalogue",
    "validate",
    "verify",
]


def _value(v):
    return _os.fspath(v) if isinstance(v, _os.PathLike) else str(v)


def _options(options):
    args = []
    for key, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            args.append(flag)
        elif isinstance(value, (list, tuple)):
            for v in value:
                args += [flag, _value(v)]
        else:
            args += [flag, _value(value)]
    return args


def _run(command, positional=(), **options):
    args = [command] + [_value(p) for p in positional] + _options(options)
    return _json.loads(_report(args))


def build(
    out,
    raw_root=None,
    only=None,
    jobs=None,
    profile=None,
    leakage=None,
    near_dedup=None,
    **options,
):
    """Builds the dataset into the folder ``out`` and returns the build report.

    ``raw_root``: the folder holding one sub-folder per corpus (default: the catalogue's
    fixtures); ``only``: corpus or task ids; ``jobs``: worker threads (the output does not
    depend on it).

    How samples are rendered and cleaned (``None`` leaves the command's default; the lock's
    ``options`` and the dataset card record what was used):

    - ``profile``: ``"clean"`` (default: normalised text; exact duplicates and leaks removed,
      near-duplicates as each manifest says) or ``"upstream"`` (the authors' preparation
      scripts reproduced where the manifests say how: text verbatim, duplicates kept, leakage
      off unless ``leakage``);
    - ``leakage``: training samples whose input equals or near-duplicates a held-out input
      of any task are ``"remove"``-d (ledger ``leak``), kept and ``"flag"``-ged (ledger
      ``leak_flag``) or not looked for (``"off"``); default ``"remove"`` with the clean
      profile, ``"off"`` with the upstream one;
    - ``near_dedup``: ``"off"``, ``"flag"`` or ``"remove"``, the near-duplicate policy of
      every task instead of each manifest's ``near_dedup`` (default: the manifests').

    A value not listed raises ``ValueError`` naming the option and the values allowed.
    Other options as ``medsins build --help`` lists them, e.g. ``instructions``, ``access``,
    ``exclude_licence``, ``seed``, ``shard_rows``, ``manifests``, ``decontaminate``,
    ``tokenizer``, ``max_tokens``, ``skip_checksums``. Missing or failed corpora are reported
    in ``report["corpora"]``, not raised; ``report["removed_by_reason"]`` and
    ``report["flagged_by_reason"]`` count the ledger's entries.
    """
    return _run(
        "build",
        out=out,
        raw_root=raw_root,
        only=only,
        jobs=jobs,
        profile=profile,
        leakage=leakage,
        near_dedup=near_dedup,
        **options,
    )


def validate(*paths, manifests=None, raw_root=None, **options):
    """Validates manifest files or folders (default: the whole catalogue).

    Returns ``{"ok", "manifests", "tasks", "problems", "not_rendered"}``, each problem with
    ``file``, ``line``, ``col`` and ``message`` (``not_rendered``: the corpora with no raw files
    to render templates on); with ``report=True`` or ``compare=FILE``, the
    contribution report or its comparison instead.
    """
    return _run("validate", paths, manifests=manifests, raw_root=raw_root, **options)


def audit(id, out, raw_root=None, **options):
    """Traces the sample ``id`` of the output ``out`` to its raw record, manifest and
    instruction; with ``raw_root``, re-derives it (``report["rederive"]["status"]``)."""
    return _run("audit", (id,), out=out, raw_root=raw_root, **options)


def verify(out, raw_root=None, rebuild=False, **options):
    """Checks the output ``out`` against its checksums and lock; with ``raw_root``, re-hashes
    the raw files; with ``rebuild=True``, rebuilds it and compares every file byte for byte.
    Returns the report (``report["ok"]``, ``report["problems"]``)."""
    return _run("verify", out=out, raw_root=raw_root, rebuild=rebuild, **options)


def list_catalogue(manifests=None, instructions=None):
    """The catalogue's corpora and tasks (``medsins list --format json``)."""
    return _run("list", manifests=manifests, instructions=instructions)


def main():
    """The ``medsins`` command."""
    # the command owns this process: Ctrl-C stops it at once, as it stops the native binary
    _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
    _sys.exit(_main(["medsins"] + _sys.argv[1:]))
