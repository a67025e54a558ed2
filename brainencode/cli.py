"""`brainencode <verb>`: the one entry point of the Snakemake rules, a thin dispatcher.

Each verb is a library function with keyword-only, typed options; its signature is the verb's
command line (``out_dir: Path`` becomes ``--out-dir PATH``, ``list[Path]`` takes several values,
``dict`` a JSON object, ``Literal[...]`` a choice, a default makes it optional) and the first
line of its docstring is the verb's help. Only the module of the verb that runs is imported.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import glob
import importlib
import inspect
import json
import os
import shutil
import sys
import types
import typing
from collections.abc import Callable, Iterator
from pathlib import Path

from brainencode.errors import BrainencodeError

# verb -> "module:function"; the function declares the options (see the module docstring)
VERBS = {
    "demo-stimuli": "brainencode.demo.stimuli:make_demo_stimuli",
    "demo-subject": "brainencode.demo.layout:simulate_subject",
    "stimuli": "brainencode.datasets.formats:write_stimuli",
    "responses": "brainencode.datasets.formats:write_subject_responses",
    "rdms": "brainencode.datasets.rdms:write_subject_rdms",
    "validate": "brainencode.datasets.validate:validate",
    "features list": "brainencode.features.registry:print_zoo",
    "features extract": "brainencode.features.extract:extract_features",
    "llm convert": "brainencode.features.gguf:convert_gguf",
    "encode": "brainencode.analyses.layer_scores:encode_model",
    "gather-encoding": "brainencode.analyses.gathering:gather_encoding",
    "gather-scores": "brainencode.analyses.gathering:gather_scores",
    "rsa": "brainencode.analyses.rsa:rsa_scores",
    "alignment localizer-stimuli":
        "brainencode.analyses.alignment.localizer_stimuli:write_localizer_stimuli",
    "alignment language": "brainencode.analyses.alignment.comparisons:language_variant",
    "alignment vision": "brainencode.analyses.alignment.comparisons:vision_variant",
    "alignment brain-score-ceiling": "brainencode.analyses.alignment.brain_score:write_ceilings",
    "alignment summary": "brainencode.analyses.alignment.summary:write_summary",
    "alignment figures": "brainencode.reports.alignment_figures:alignment_figures",
    "captioning bank": "brainencode.analyses.captioning.bank:write_bank",
    "captioning select": "brainencode.analyses.captioning.selection:select_images",
    "captioning unit-responses": "brainencode.analyses.captioning.units:write_unit_responses",
    "captioning caption-images": "brainencode.analyses.captioning.captioners:caption_images",
    "captioning describe": "brainencode.analyses.captioning.describers:describe_voxels",
    "captioning evaluate": "brainencode.analyses.captioning.evaluation:evaluate_captions",
    "captioning gallery": "brainencode.reports.caption_gallery:gallery_figure",
    "decode": "brainencode.analyses.decoding:decode_subject",
    "classify": "brainencode.analyses.classification:classify_subject",
    "shared-space": "brainencode.analyses.shared_space:fit_shared_space",
    "decoding-figures": "brainencode.reports.decoding_figures:decoding_figures",
    "figures": "brainencode.reports.figures:subject_figures",
    "report": "brainencode.reports.html:write_report",
}


def _json(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"expected JSON ({exc})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


def resolve(verb: str) -> Callable:
    module, _, name = VERBS[verb].partition(":")
    return getattr(importlib.import_module(module), name)


def _option(parser: argparse.ArgumentParser, parameter: inspect.Parameter, hint) -> None:
    """One argparse argument from one parameter of a verb function."""
    if parameter.kind is parameter.VAR_POSITIONAL:  # *paths: Path -> one or more PATHS
        parser.add_argument(parameter.name, metavar=parameter.name.upper(), nargs="+",
                            type=hint)
        return
    members = typing.get_args(hint)
    optional = (typing.get_origin(hint) in (typing.Union, types.UnionType)
                and type(None) in members)
    if optional:  # X | None
        hint = next(h for h in members if h is not type(None))
    has_default = optional or parameter.default is not parameter.empty
    kwargs: dict = ({"default": None if parameter.default is parameter.empty
                     else parameter.default} if has_default else {"required": True})
    origin = typing.get_origin(hint)
    if origin in (list, tuple):
        kwargs |= {"nargs": "*" if has_default else "+", "type": typing.get_args(hint)[0]}
    elif origin is typing.Literal:
        kwargs["choices"] = typing.get_args(hint)
    elif hint is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
    elif hint is dict or origin is dict:
        kwargs |= {"type": _json, "metavar": "JSON"}
    else:
        kwargs["type"] = hint
    parser.add_argument("--" + parameter.name.replace("_", "-"), dest=parameter.name,
                        **kwargs)


def verb_parser(verb: str, function: Callable) -> argparse.ArgumentParser:
    """The command line of one verb, read off the function's signature."""
    doc = inspect.getdoc(function) or ""
    parser = argparse.ArgumentParser(prog=f"brainencode {verb}", description=doc)
    hints = typing.get_type_hints(function)
    for parameter in inspect.signature(function).parameters.values():
        _option(parser, parameter, hints[parameter.name])
    return parser


def _usage() -> str:
    lines = ["usage: brainencode VERB [OPTIONS]  (brainencode VERB --help for its options)",
             "", "Brain encoding: deep-network features -> voxel-wise ridge -> report. "
             "Each verb is one step of the Snakemake pipeline.", "", "verbs:"]
    for verb in VERBS:
        doc = (inspect.getdoc(resolve(verb)) or "").split("\n\n")[0].replace("\n", " ")
        lines.append(f"  {verb:28} {doc}")
    return "\n".join(lines)


def _split(argv: list[str]) -> tuple[str | None, list[str]]:
    """The verb (one or two words) and the rest of the command line."""
    for words in (2, 1):
        verb = " ".join(argv[:words])
        if verb in VERBS:
            return verb, argv[words:]
    return None, argv


STAGE = ".partial"  # hidden folder beside an output, where a running verb writes it


@contextlib.contextmanager
def staged(args: dict) -> Iterator[Callable[[str], str]]:
    """Point ``out``/``out_dir`` into a hidden folder beside them and move what the verb wrote
    into place when it returns, so a job killed at any point leaves no output that looks
    complete (Snakemake then reruns it); on an error the staged files are removed. Yields
    what puts the real paths back into a message."""
    stages, created = [], []
    for key in ("out", "out_dir"):
        if args.get(key) is None:
            continue
        target = Path(args[key])
        created += [p for p in (target.parent, *target.parent.parents) if not p.exists()]
        stage = target.parent / STAGE / f"{target.name}.{os.getpid()}"
        for stale in (target.parent / STAGE).glob(f"{glob.escape(target.name)}.*"):
            if stale.suffix[1:].isdigit():  # left by a killed run of the same job
                shutil.rmtree(stale, ignore_errors=True)
        stage.mkdir(parents=True)
        args[key] = stage / target.name
        stages.append((stage, target.parent))

    def real(text: str) -> str:
        for stage, parent in stages:
            text = text.replace(str(stage), str(parent))
        return text

    try:
        yield real
    except BaseException:
        for stage, _ in stages:
            _drop(stage)
        for folder in created:  # deepest first; a failed step leaves no empty folders either
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    for stage, parent in stages:
        for entry in stage.iterdir():
            _move(entry, parent / entry.name)
        _drop(stage)


def _drop(stage: Path) -> None:
    """Remove a stage, and the hidden folder when no other job is writing there."""
    shutil.rmtree(stage, ignore_errors=True)
    with contextlib.suppress(OSError):
        stage.parent.rmdir()


def _move(source: Path, dest: Path) -> None:
    """Rename ``source`` onto ``dest``; a folder into an existing folder entry by entry (other
    jobs' files there, e.g. another rule's outputs in a shared folder, stay)."""
    if source.is_dir() and dest.is_dir():
        for entry in source.iterdir():
            _move(entry, dest / entry.name)
    else:
        os.replace(source, dest)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    verb, rest = _split(argv)
    if verb is None:
        if argv and argv[0] not in ("-h", "--help"):
            print(f"brainencode: error: unknown verb {' '.join(argv[:2])!r} (expected one of "
                  f"{', '.join(VERBS)})", file=sys.stderr)
            return 2
        print(_usage())
        return 0
    function = resolve(verb)
    args = vars(verb_parser(verb, function).parse_args(rest))
    signature = inspect.signature(function)
    positional = [args.pop(p.name) for p in signature.parameters.values()
                  if p.kind is p.VAR_POSITIONAL]
    real = str
    try:
        with staged(args) as real:
            result = function(*(positional[0] if positional else ()), **args)
    except BrainencodeError as exc:
        problem = str(exc)
    except FileNotFoundError as exc:
        problem = f"{exc.filename}: no such file or folder"
    except OSError as exc:  # a full disk, a read-only folder, a lost mount: errno and path
        global WRITE_FAILED
        WRITE_FAILED = True
        code = errno.errorcode.get(exc.errno, "OSError") if exc.errno else "OSError"
        where = exc.filename if exc.filename is not None else "(no path given)"
        problem = f"{where}: {code}: {exc.strerror or exc}"
    else:
        return result if isinstance(result, int) and not isinstance(result, bool) else 0
    print(f"brainencode {verb}: error: {real(problem)}", file=sys.stderr)
    return 2


WRITE_FAILED = False  # an OSError stopped the verb (see run)


def run() -> None:
    """The console command: main's exit code. After a failed write it exits at once, skipping
    interpreter shutdown: HDF5's exit handler would try again to flush a file it could not
    write and crash (SIGSEGV) after the error was reported."""
    code = main()
    if WRITE_FAILED:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()

