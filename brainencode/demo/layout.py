"""Where the demo writes its data, and the ordinary dataset sections that read it back.

The demo's fMRI subjects are a BIDS derivative of single-trial betas (read by ``bids-betas``):
volumes in MNI space, and the surface subjects (demo.surface.subjects) on fsaverage5; its sEEG
subjects BIDS iEEG (read by ``bids-ieeg``); nothing downstream knows they were drawn.
"""

from __future__ import annotations

from pathlib import Path

TASK = "demo"
SPACE = "MNI152NLin2009cAsym"  # the demo's voxels and contacts are placed in MNI space
SURFACE_SPACE = "fsaverage5"  # and its surface subjects' vertices on this mesh


def stimuli_table(results: str) -> str:
    return f"{results}/demo/stimuli/stimuli.tsv"


def bids_root(results: str, seeg: bool) -> str:
    return f"{results}/demo/{'ieeg' if seeg else 'bids'}"


def subject_datasets(config: dict) -> dict[str, dict]:
    """Per demo subject, the dataset section of the ordinary loader that reads its files."""
    results, dataset = config["results"], config["dataset"]
    seeg = config["demo"]["seeg"]["subjects"]
    common = {"stimuli_table": stimuli_table(results), "task": TASK,
              "invalid_targets": dataset["invalid_targets"]}
    fmri = common | {"format": "bids-betas", "subjects": dataset["subjects"], "space": SPACE,
                     "bids_root": bids_root(results, seeg=False)}
    surface_subjects = config["demo"]["surface"]["subjects"]
    surface = fmri | {"subjects": surface_subjects, "space": SURFACE_SPACE}
    ieeg = common | {"format": "bids-ieeg", "subjects": seeg, "ieeg": dataset["ieeg"],
                     "bids_root": bids_root(results, seeg=True)}
    return ({s: fmri for s in dataset["subjects"]} | {s: surface for s in surface_subjects}
            | {s: ieeg for s in seeg})


def simulate_subject(*, stimuli: Path, features: list[Path], demo: dict, subject: str,
                     subject_index: int, bids_root: Path) -> None:
    """Simulate one demo subject: fMRI as BIDS beta maps, sEEG (demo.seeg.subjects) as BIDS
    iEEG; ``features`` are the folders of the models that drive the ROIs (named by model)."""
    # imported here: the workflow reads this module when it parses the rules
    from brainencode.demo.fmri import simulate_fmri_subject, write_dataset_description
    from brainencode.demo.seeg import simulate_seeg_subject
    from brainencode.demo.surface import simulate_surface_subject

    feature_dirs = {Path(folder).name: Path(folder) for folder in features}
    if subject in demo["seeg"]["subjects"]:
        simulate_seeg_subject(stimuli, feature_dirs, demo, subject, subject_index, bids_root,
                              TASK)
        return
    write_dataset_description(bids_root)
    if subject in demo["surface"]["subjects"]:
        simulate_surface_subject(stimuli, feature_dirs, demo, subject, subject_index, bids_root,
                                 TASK, SURFACE_SPACE)
        return
    simulate_fmri_subject(stimuli, feature_dirs, demo, subject, subject_index, bids_root, TASK,
                          SPACE)
