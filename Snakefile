# brainencode: stimuli -> features -> voxel-wise ridge -> figures -> HTML report.
# See ../shared/DESIGN.md ("Flow of data") for the contracts between the rules.

from snakemake.utils import min_version

min_version("9.27")  # as pinned in pyproject.toml


# The demo config is the default; a --configfile replaces it rather than being merged into it.
if not workflow.config_settings.configfiles:

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"


wildcard_constraints:
    subject=r"sub-[A-Za-z0-9]+",
    kind=r"bids|ieeg",
    model=r"[A-Za-z0-9_-]+",
    variant=r"[A-Za-z0-9_-]+",
    side=r"language|vision",


include: "workflow/rules/stimuli.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/encoding.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/alignment.smk"
include: "workflow/rules/captioning.smk"


rule all:
    input:
        # RDM datasets end in RSA scores (the report reads encoding results only, for now)
        expand(f"{RESULTS}/rsa/{{subject}}.tsv", subject=SUBJECTS)
        if RSA
        else f"{RESULTS}/report/index.html",
        alignment_outputs(),
        # listed so that a dry run plans them: encoding waits for the responses checkpoint
        expand(f"{RESULTS}/features/{{model}}", model=MODELS),
