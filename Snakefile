# brainencode: stimuli -> features -> voxel-wise ridge -> figures -> HTML report.
# See ../shared/DESIGN.md ("Flow of data") for the contracts between the rules.
import sys

from snakemake.utils import min_version

min_version("8.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/stimuli.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/encoding.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        report=f"{RESULTS}/report/index.html",
