"""Config validation: defaults filled, one clear line for a wrong key or type."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from brainencode.config import load_config, validate_config
from brainencode.errors import BrainencodeError
from tests.conftest import REPO


def _demo_config() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def test_demo_config_is_valid_and_defaults_are_filled():
    config = load_config(REPO / "config" / "config.yaml")
    assert config["models"]["minilm"]["pooling"] == "auto"
    assert config["encoding"]["fdr_q"] == 0.05
    assert config["report"]["title"]


@pytest.mark.parametrize("path", sorted((REPO / "config" / "examples").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_example_configs_are_valid_and_plan_a_job_per_model(path, env):
    config = load_config(path)
    table = config["dataset"].get("stimuli_table")
    if table and not (REPO / table).is_file():
        pytest.skip(f"{path.name} reads the user's {table}")
    dry_run = subprocess.run(["snakemake", "-n", "--forceall", "--configfile", str(path)],
                             cwd=REPO, env=env, capture_output=True, text=True)
    assert dry_run.returncode == 0, dry_run.stderr[-2000:]
    # one features job per model and stimulus set: the run's, the captioning bank's, and the
    # alignment sets' (localizer and language data, or the vision data, per variant)
    from brainencode.plan import alignment_variants

    expected = len(config["models"]) + ("captioning" in config)
    for side, sets in (("language", 2), ("vision", 1)):
        if side in config.get("alignment", {}):
            expected += sets * len(alignment_variants(config["alignment"], side))
    assert re.search(rf"^features\s+{expected}$", dry_run.stdout, re.MULTILINE)


@pytest.mark.parametrize("edit,expected", [
    (lambda c: c.update(modles={}), "unknown key 'modles' at top level"),
    (lambda c: c["encoding"].update(outer_folds="five"),
     "encoding.outer_folds: expected integer, got 'five'"),
    (lambda c: c["models"]["minilm"].update(family="resnet"),
     "models.minilm.family: expected one of"),
    (lambda c: c["models"]["minilm"].update(layers=3), "unknown key 'layers' at models.minilm"),
    (lambda c: c["demo"]["rois"][0]["driver"].update(model="clip"),
     "demo.rois.0.driver.model: expected one of the models"),
    (lambda c: c["captioning"].update(model="clip"),
     "captioning.model: expected one of the models"),
    (lambda c: c["captioning"]["bank"].update(source="table"),
     "captioning.bank.table: expected a value for source 'table'"),
    (lambda c: c["captioning"]["describer"].update(kind="gpt"),
     "captioning.describer.kind: expected one of"),
])
def test_bad_config_is_one_line_naming_the_key(edit, expected):
    config = _demo_config()
    edit(config)
    with pytest.raises(BrainencodeError) as info:
        validate_config(config, "my.yaml")
    message = str(info.value)
    assert message.startswith("my.yaml: ") and expected in message
    assert "\n" not in message


def test_snakemake_stops_with_one_line_on_a_bad_config(tmp_path, env):
    config = _demo_config()
    config["encoding"]["inner_folds"] = 1.5
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run(["snakemake", "-n", "--configfile", str(path)], cwd=REPO, env=env,
                            capture_output=True, text=True)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "inner_folds" in line]
    assert errors == [f"{path}: encoding.inner_folds: expected integer, got 1.5"]
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_cli_validate_config(tmp_path, env):
    ok = subprocess.run(["brainencode", "validate", "config/config.yaml"], cwd=REPO,
                        env=env, capture_output=True, text=True)
    assert ok.returncode == 0 and "ok" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("dataset: {format: demo, subjects: [sub-01]}\nmodels: {x: {family: vit}}\n"
                   "encoding: {alphas: {n: zero}}\n")
    result = subprocess.run(["brainencode", "validate", str(bad)], cwd=REPO, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stdout.strip().splitlines() == [
        f"{bad}: encoding.alphas.n: expected integer, got 'zero'"]


def test_schema_enums_equal_the_registries_in_code():
    """Each registry is declared once in code; the schema's enums must name the same things."""
    from brainencode.analyses.captioning.captioners import CAPTIONER_KINDS
    from brainencode.analyses.captioning.describers import DESCRIBER_KINDS
    from brainencode.config import load_schema
    from brainencode.datasets.formats import FORMATS
    from brainencode.features.pooling import POOLINGS
    from brainencode.features.registry import FAMILIES

    schema = load_schema()["properties"]
    model = schema["models"]["additionalProperties"]["properties"]
    assert set(model["family"]["enum"]) == set(FAMILIES)
    assert set(model["pooling"]["enum"]) == {"auto", *POOLINGS}
    assert set(schema["dataset"]["properties"]["format"]["enum"]) == {"demo", *FORMATS}
    blocks = {b["if"]["properties"]["format"]["const"] for b in schema["dataset"]["allOf"]}
    assert blocks == {"demo", *FORMATS}  # one schema block per format
    captioning = schema["captioning"]["properties"]
    assert set(captioning["captioner"]["properties"]["kind"]["enum"]) == set(CAPTIONER_KINDS)
    assert set(captioning["describer"]["properties"]["kind"]["enum"]) == set(DESCRIBER_KINDS)


def test_format_blocks_hold_their_keys_and_defaults():
    """A dataset section is checked against its own format's block: required keys, keys of
    other formats refused, the format's defaults filled in (the loaders restate none)."""
    from brainencode.config import validate_dataset

    glm = {"format": "bids-glm", "subjects": ["sub-01"], "bids_root": "b", "task": "t",
           "stimuli_table": "s.tsv", "mask": "m.nii.gz"}
    filled = validate_dataset(glm)
    assert filled["space"] == "native" and filled["glm"]["method"] == "lss"
    assert filled["invalid_targets"] == "error" and "space" not in glm  # a copy
    with pytest.raises(BrainencodeError, match=r"dataset\.mask: required for format bids-glm "
                                               r"\(volume data, whose space names no surface"):
        validate_dataset({k: v for k, v in glm.items() if k != "mask"})
    assert "mask" not in validate_dataset({k: v for k, v in glm.items() if k != "mask"}
                                          | {"space": "fsaverage5"})  # surface runs need none
    with pytest.raises(BrainencodeError, match=r"unknown key 'sessions' at dataset \(allowed: "
                                               r"atlas, atlas_labels, bids_root, derivatives, "
                                               r"format, glm"):
        validate_dataset(glm | {"sessions": [1]})
    nsd = validate_dataset({"format": "nsd", "subjects": ["sub-01"], "path": "p", "mask": "m",
                            "expdesign": "e", "stim_info": "i", "images": "x", "captions": []})
    assert nsd["sessions"] == [1] and nsd["betas_scale"] == 300
    assert nsd["space"] == "func1pt8mm"
    with pytest.raises(BrainencodeError, match="dataset.space: required for format bids-betas"):
        validate_dataset({"format": "bids-betas", "subjects": ["sub-01"], "bids_root": "b",
                          "task": "t", "stimuli_table": "s.tsv"})  # no MNI default


def test_native_space_data_is_never_drawn_on_a_template(tmp_path):
    """The bids-glm example (a T1w mask, no space given) resolves to native space, and its
    voxel maps are left out of the MNI template and fsaverage figures with the reason."""
    from brainencode.config import validate_dataset
    from brainencode.reports.figures import template_space

    dataset = validate_dataset(load_config(REPO / "config" / "examples" / "bids_glm.yaml")
                               ["dataset"])
    assert dataset["space"] == "native"
    assert not template_space(dataset["space"])
    assert template_space("MNI152NLin2009cAsym") and not template_space("T1w")
