# Figures per subject and the self-contained HTML report.


rule figures:
    input:
        scores=f"{RESULTS}/encoding/{{subject}}/scores.tsv",
        encoding=expand(f"{RESULTS}/encoding/{{{{subject}}}}/{{model}}", model=MODELS),
        responses=f"{RESULTS}/responses/main/{{subject}}.h5",
    output:
        # Which figures apply depends on the data (voxels or contacts, MNI or native space,
        # repeats or not), so the rule writes a folder; every PNG in it joins --report.
        report(
            directory(f"{RESULTS}/figures/{{subject}}"),
            patterns=["{name}.png"],
            caption="../report/figures.rst",
            category="Figures",
            subcategory="{subject}",
            labels={"figure": "{name}"},
        ),
    params:
        fdr_q=config["encoding"]["fdr_q"],
        captions=SUBJECT_FIGURES,  # read by figures.rst
    log:
        f"{RESULTS}/logs/figures/{{subject}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/figures/{{subject}}.tsv"
    group:
        "subject_summary"
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode figures --scores {input.scores} --encoding {input.encoding} "
        "--responses {input.responses} --fdr-q {params.fdr_q} --out-dir {output} "
        "> {log} 2>&1"


rule report:
    input:
        unpack(report_inputs),
        captioning=captioning_outputs(),
        alignment=alignment_outputs() + list(alignment_figure_paths().values()),
        decoding=decoding_outputs(),
        stimuli=STIMULUS_SETS["main"],
    output:
        f"{RESULTS}/report/index.html",
    params:
        config=lambda wc: as_json(config),  # a lambda: {subject} in paths is not a wildcard
        benchmarks=f"{RESULTS}/benchmarks",
        captioning=" ".join(captioning_dirs()),
        bank=f"--bank {RESULTS}/captioning/bank/stimuli.tsv" if CAPTIONING else "",
        alignment=f"--alignment {RESULTS}/alignment/summary" if ALIGNMENT_SIDES else "",
        decoding=lambda wc: " ".join(filter(None, [
            decoding_folders_option(decoding_tables()),
            f"--shared-space {RESULTS}/shared_space" if SHARED_SPACE else "",
            f"--decoding-figures {RESULTS}/decoding/figures" if decoding_figure_paths() else ""])),
        data=lambda wc, input: " ".join(
            f"--{key} {' '.join(input[key])}" for key in ("figures", "responses", "rdms")
            if key in input.keys()),
    log:
        f"{RESULTS}/logs/report.log",
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode report --config {params.config} --scores {input.scores} {params.data} "
        "--benchmarks {params.benchmarks} --captioning {params.captioning} "
        "--stimuli {input.stimuli} {params.bank} {params.alignment} {params.decoding} "
        "--out {output} "
        "> {log} 2>&1"
