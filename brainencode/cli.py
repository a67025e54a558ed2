"""`brainencode <verb>`: the only entry point the Snakemake rules call (one verb per rule)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from brainencode.errors import BrainencodeError


def _json(text: str) -> dict:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"expected JSON ({exc})") from None


def cmd_demo_stimuli(args: argparse.Namespace) -> None:
    from brainencode.datasets.demo_stimuli import make_demo_stimuli

    make_demo_stimuli(args.out_dir, args.n_stimuli, args.image_size, args.seed)


def cmd_demo_subject(args: argparse.Namespace) -> None:
    from brainencode.datasets.demo_subjects import simulate_subject, write_dataset_description

    feature_dirs = dict(item.split("=", 1) for item in args.features)
    if args.subject in args.demo["seeg"]["subjects"]:
        from brainencode.datasets.demo_seeg import simulate_seeg_subject

        simulate_seeg_subject(args.stimuli, feature_dirs, args.demo, args.subject,
                              args.subject_index, args.bids_root, args.task)
        return
    write_dataset_description(args.bids_root)
    simulate_subject(args.stimuli, feature_dirs, args.demo, args.subject, args.subject_index,
                     args.bids_root, args.task, args.space)


def cmd_stimuli(args: argparse.Namespace) -> None:
    from brainencode.datasets.formats import write_stimuli

    write_stimuli(args.dataset, args.out)


def cmd_responses(args: argparse.Namespace) -> None:
    from brainencode.datasets.formats import load_responses
    from brainencode.datasets.responses import write_responses

    write_responses(args.out, load_responses(args.dataset, args.subject, args.stimuli))


def cmd_rdms(args: argparse.Namespace) -> None:
    from brainencode.datasets.rdms import load_rdms, write_rdms

    write_rdms(args.out, load_rdms(args.dataset, args.subject, args.stimuli))


def cmd_rsa(args: argparse.Namespace) -> None:
    from brainencode.analyses.rsa import rsa_scores

    rsa_scores(args.rdms, args.features, args.roi, args.out)


def cmd_validate(args: argparse.Namespace) -> int:
    from brainencode.datasets.checks import check_file

    problems = [p for path in args.paths for p in check_file(path)]
    for problem in problems:
        print(problem)
    if problems:
        return 2
    print(f"{', '.join(args.paths)}: ok")
    return 0


def cmd_features_extract(args: argparse.Namespace) -> None:
    from brainencode.features.extract import extract_features

    extract_features(args.stimuli, args.spec, args.out_dir, name=args.name,
                     cache_dir=args.cache_dir, device=args.device)


def cmd_features_list(args: argparse.Namespace) -> None:
    from brainencode.features.registry import zoo_table

    print(zoo_table())


def cmd_encode(args: argparse.Namespace) -> None:
    from brainencode.analyses.layer_scores import encode_model

    encode_model(args.responses, args.features, args.model, args.out_dir, args.settings,
                 args.stimuli, args.chunk, args.n_chunks)


def cmd_gather_encoding(args: argparse.Namespace) -> None:
    from brainencode.analyses.layer_scores import gather_encoding

    gather_encoding(args.chunks, args.out_dir, args.fdr_q)


def cmd_gather_scores(args: argparse.Namespace) -> None:
    from brainencode.analyses.layer_scores import gather_scores

    gather_scores(args.scores, args.out)


def cmd_figures(args: argparse.Namespace) -> None:
    from brainencode.reports.figures import subject_figures

    subject_figures(Path(args.scores), [Path(p) for p in args.encoding],
                    Path(args.responses), Path(args.out_dir), args.fdr_q)


def cmd_report(args: argparse.Namespace) -> None:
    from brainencode.reports.html import write_report

    write_report(args.config, [Path(p) for p in args.scores],
                 [Path(p) for p in args.figures], [Path(p) for p in args.responses],
                 Path(args.benchmarks), Path(args.out), [Path(p) for p in args.captioning],
                 args.stimuli and Path(args.stimuli), args.bank and Path(args.bank),
                 args.alignment and Path(args.alignment))


def cmd_alignment_localizer_stimuli(args: argparse.Namespace) -> None:
    from brainencode.analyses.alignment.localizer_stimuli import write_localizer_stimuli

    write_localizer_stimuli(args.source, args.out, args.seed)


def cmd_alignment_language(args: argparse.Namespace) -> None:
    from brainencode.analyses.alignment.comparisons import language_variant

    language_variant(args.model, args.spec, args.localizer_stimuli, args.stimuli,
                     args.responses, args.encoding, args.alignment, args.out_dir, args.cache_dir)


def cmd_alignment_vision(args: argparse.Namespace) -> None:
    from brainencode.analyses.alignment.comparisons import vision_variant

    vision_variant(args.model, args.spec, args.stimuli, args.rdms, args.encoding, args.out_dir,
                   args.cache_dir)


def cmd_alignment_summary(args: argparse.Namespace) -> None:
    from brainencode.analyses.alignment.summary import write_summary

    write_summary(args.language, args.vision, args.rdms, args.n_boot, args.seed, args.out_dir)


def add_alignment_verbs(verbs) -> None:
    """`brainencode alignment ...`: the trained-versus-untrained stage (SUMA)."""
    alignment = verbs.add_parser("alignment", help="trained vs untrained brain alignment: "
                                 "language localizer, encoding of localized units, RSA"
                                 ).add_subparsers(dest="action", required=True)
    p = alignment.add_parser("localizer-stimuli", help="the sentences-vs-nonwords localizer "
                             "table (Fedorenko 2010 folder, or 'generated')")
    p.add_argument("--source", default="generated")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_alignment_localizer_stimuli)
    for side, func in (("language", cmd_alignment_language), ("vision", cmd_alignment_vision)):
        p = alignment.add_parser(side, help=f"one model variant on the {side} data")
        p.add_argument("--model", required=True, help="the model's name in the config")
        p.add_argument("--spec", type=_json, required=True, help="the variant's model entry")
        p.add_argument("--stimuli", required=True)
        p.add_argument("--encoding", type=_json, required=True,
                       help="the config's encoding section (JSON)")
        p.add_argument("--out-dir", required=True)
        p.add_argument("--cache-dir")
        if side == "language":
            p.add_argument("--localizer-stimuli", required=True)
            p.add_argument("--responses", nargs="+", required=True)
            p.add_argument("--alignment", type=_json, required=True,
                           help="the config's alignment section (JSON)")
        else:
            p.add_argument("--rdms", nargs="+", required=True)
        p.set_defaults(func=func)
    p = alignment.add_parser("summary", help="bootstrap CIs over stimuli and seeds, figures")
    p.add_argument("--language", nargs="*", default=[], help="language variant folders")
    p.add_argument("--vision", nargs="*", default=[], help="vision variant folders")
    p.add_argument("--rdms", nargs="*", default=[], help="the subjects' RDM files (vision)")
    p.add_argument("--n-boot", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_alignment_summary)


def cmd_captioning_bank(args: argparse.Namespace) -> None:
    from brainencode.analyses.captioning.bank import write_bank

    write_bank(args.captioning["bank"], args.stimuli, args.out_dir, args.image_size)


def cmd_captioning_select(args: argparse.Namespace) -> None:
    from brainencode.analyses.captioning.selection import select_images

    select_images(args.responses, args.features, args.bank_features, args.bank, args.stimuli,
                  args.captioning, args.encoding, args.out_dir)


def cmd_captioning_caption_images(args: argparse.Namespace) -> None:
    from brainencode.analyses.captioning.captioners import caption_images

    caption_images(args.selection, args.stimuli, args.bank, args.captioning["captioner"],
                   args.captioning["client"], args.cache_dir, args.device, args.out)


def cmd_captioning_describe(args: argparse.Namespace) -> None:
    from brainencode.analyses.captioning.describers import describe_voxels

    describe_voxels(args.selection, args.image_captions, args.responses, args.captioning,
                    args.embedder_spec, args.encoding, args.captioning["client"],
                    args.cache_dir, args.out)


def cmd_captioning_evaluate(args: argparse.Namespace) -> None:
    from brainencode.analyses.captioning.evaluation import evaluate_captions

    evaluate_captions(args.selection, args.image_captions, args.voxel_captions, args.responses,
                      args.captioning, args.embedder_spec, args.out_dir)


def cmd_captioning_gallery(args: argparse.Namespace) -> None:
    from brainencode.reports.caption_gallery import gallery_figure

    gallery_figure(args.selection, args.image_captions, args.voxel_captions, args.evaluation,
                   args.stimuli, args.bank, args.out)


def add_captioning_verbs(verbs) -> None:
    """`brainencode captioning ...`: LLM-assisted voxel captioning (LaVCa), one verb per rule."""
    captioning = verbs.add_parser("captioning", help="LLM-assisted voxel captioning (LaVCa): "
                                  "top images, captions, voxel sentences, evaluation"
                                  ).add_subparsers(dest="action", required=True)

    def section(p, *names):
        if "captioning" in names:
            p.add_argument("--captioning", type=_json, required=True,
                           help="the config's captioning section (JSON)")
        if "encoding" in names:
            p.add_argument("--encoding", type=_json, required=True,
                           help="the config's encoding section (JSON)")
        if "embedder" in names:
            p.add_argument("--embedder-spec", type=_json, required=True,
                           help="the models entry of captioning.embedder (JSON)")
        if "cache" in names:
            p.add_argument("--cache-dir", help="LLM and captioning-model answers, by request")

    p = captioning.add_parser("bank", help="the image bank's stimuli table")
    section(p, "captioning")
    p.add_argument("--stimuli", required=True, help="the dataset's stimuli table")
    p.add_argument("--image-size", type=int, default=224, help="demo bank image size")
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_captioning_bank)

    p = captioning.add_parser("select", help="fit encoders, pick voxels, top and baseline "
                              "images in the bank")
    section(p, "captioning", "encoding")
    for name in ("responses", "features", "bank-features", "bank", "stimuli", "out-dir"):
        p.add_argument(f"--{name}", required=True)
    p.set_defaults(func=cmd_captioning_select)

    p = captioning.add_parser("caption-images", help="caption the images the voxels need")
    section(p, "captioning", "cache")
    for name in ("selection", "stimuli", "bank", "out"):
        p.add_argument(f"--{name}", required=True)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.set_defaults(func=cmd_captioning_caption_images)

    p = captioning.add_parser("describe", help="keywords and one sentence per voxel")
    section(p, "captioning", "encoding", "embedder", "cache")
    for name in ("selection", "image-captions", "responses", "out"):
        p.add_argument(f"--{name}", required=True)
    p.set_defaults(func=cmd_captioning_describe)

    p = captioning.add_parser("evaluate", help="Spearman of caption-predicted held-out "
                              "responses vs shuffled captions and the BrainSCUBA-style baseline")
    section(p, "captioning", "embedder")
    for name in ("selection", "image-captions", "voxel-captions", "responses", "out-dir"):
        p.add_argument(f"--{name}", required=True)
    p.set_defaults(func=cmd_captioning_evaluate)

    p = captioning.add_parser("gallery", help="per ROI: top images, their captions, the voxel "
                              "caption and its score (PNG)")
    for name in ("selection", "image-captions", "voxel-captions", "evaluation", "stimuli",
                 "bank", "out"):
        p.add_argument(f"--{name}", required=True)
    p.set_defaults(func=cmd_captioning_gallery)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="brainencode",
        description="Brain encoding: deep-network features -> voxel-wise ridge -> report. "
                    "Each verb is one step of the Snakemake pipeline.")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    p = verbs.add_parser("demo-stimuli", help="draw the demo's captioned images + stimuli.tsv")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--n-stimuli", type=int, default=200)
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_demo_stimuli)

    p = verbs.add_parser("demo-subject", help="simulate one subject: fMRI as BIDS beta maps, "
                         "sEEG (demo.seeg.subjects) as BIDS iEEG")
    p.add_argument("--stimuli", required=True)
    p.add_argument("--features", nargs="+", required=True, metavar="MODEL=DIR",
                   help="feature folders of the models that drive the ROIs")
    p.add_argument("--demo", type=_json, required=True, help="the config's demo section (JSON)")
    p.add_argument("--subject", required=True)
    p.add_argument("--subject-index", type=int, required=True)
    p.add_argument("--bids-root", required=True)
    p.add_argument("--task", default="demo")
    p.add_argument("--space", default="MNI152NLin2009cAsym")
    p.set_defaults(func=cmd_demo_subject)

    p = verbs.add_parser("stimuli", help="write the stimuli table of a dataset that defines "
                         "its own stimuli (pereira, bold5000, nsd, table, rdm)")
    p.add_argument("--dataset", type=_json, required=True, help="the config's dataset section")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_stimuli)

    for verb, func, text in [
            ("responses", cmd_responses, "one subject's data, any dataset.format -> responses "
             "HDF5"),
            ("rdms", cmd_rdms, "one subject's RDM targets (format rdm) -> HDF5")]:
        p = verbs.add_parser(verb, help=text)
        p.add_argument("--dataset", type=_json, required=True,
                       help="the config's dataset section")
        p.add_argument("--subject", required=True)
        p.add_argument("--stimuli", required=True)
        p.add_argument("--out", required=True)
        p.set_defaults(func=func)

    p = verbs.add_parser("rsa", help="every layer of every model against one subject's RDMs")
    p.add_argument("--rdms", required=True)
    p.add_argument("--features", nargs="+", required=True, help="feature folders")
    p.add_argument("--roi", default="rdm", help="name of the region the RDMs come from")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_rsa)

    p = verbs.add_parser("validate", help="check data files (NIfTI, EDF/BrainVision, HDF5, "
                         ".mat, TSV) or a config with its dataset, without running anything")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.set_defaults(func=cmd_validate)

    features = verbs.add_parser("features", help="the model zoo: list it, or extract every layer "
                                "of one model").add_subparsers(dest="action", required=True)
    p = features.add_parser("list", help="print the families that can be named in the config")
    p.set_defaults(func=cmd_features_list)
    p = features.add_parser("extract", help="extract every layer of one model")
    p.add_argument("--stimuli", required=True)
    p.add_argument("--spec", type=_json, required=True, help="the model's config entry (JSON)")
    p.add_argument("--name", required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--cache-dir", help="reuse features computed before for the same model, "
                   "weights, stimuli and preprocessing")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.set_defaults(func=cmd_features_extract)

    add_alignment_verbs(verbs)
    add_captioning_verbs(verbs)

    p = verbs.add_parser("encode", help="voxel-wise ridge for every layer of one model, on one "
                         "chunk of the targets")
    p.add_argument("--responses", required=True)
    p.add_argument("--features", required=True)
    p.add_argument("--stimuli", help="stimuli table; its 'group' column groups the outer CV")
    p.add_argument("--model", required=True)
    p.add_argument("--settings", type=_json, required=True,
                   help="the config's encoding section (JSON)")
    p.add_argument("--chunk", type=int, default=0, help="which chunk of the targets (from 0)")
    p.add_argument("--n-chunks", type=int, default=1, help="into how many chunks to split them")
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_encode)

    p = verbs.add_parser("gather-encoding", help="join the target chunks of one subject and "
                         "model: per-layer results with FDR over all targets, scores.tsv")
    p.add_argument("--chunks", nargs="+", required=True, help="chunk folders, in order")
    p.add_argument("--fdr-q", type=float, default=0.05)
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_gather_encoding)

    p = verbs.add_parser("gather-scores", help="concatenate per-model scores.tsv files")
    p.add_argument("--out", required=True)
    p.add_argument("scores", nargs="+")
    p.set_defaults(func=cmd_gather_scores)

    p = verbs.add_parser("figures", help="per-subject figures (layer curves, heatmaps, brain maps)")
    p.add_argument("--scores", required=True)
    p.add_argument("--encoding", nargs="+", required=True, help="encoding folders, one per model")
    p.add_argument("--responses", required=True)
    p.add_argument("--fdr-q", type=float, default=0.05, help="significance level of the map")
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_figures)

    p = verbs.add_parser("report", help="write the self-contained HTML report")
    p.add_argument("--config", type=_json, required=True,
                   help="the validated run configuration (JSON)")
    p.add_argument("--scores", nargs="+", required=True)
    p.add_argument("--figures", nargs="+", required=True, help="per-subject figure folders")
    p.add_argument("--responses", nargs="+", required=True,
                   help="per-subject responses files (their metadata: the data summary)")
    p.add_argument("--benchmarks", required=True, help="folder of Snakemake benchmark TSVs")
    p.add_argument("--captioning", nargs="*", default=[],
                   help="per-subject captioning folders (caption galleries)")
    p.add_argument("--stimuli", help="the dataset's stimuli table (images of the galleries)")
    p.add_argument("--bank", help="the captioning bank's stimuli table")
    p.add_argument("--alignment", help="the alignment stage's summary folder, when it ran")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except BrainencodeError as exc:
        print(f"brainencode {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"brainencode {args.verb}: error: {exc.filename}: no such file or folder",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
