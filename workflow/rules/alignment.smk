# Trained versus untrained brain alignment (SUMA): runs when the config has an alignment section.
# Each model becomes variants: its trained weights (when trained: true) and one untrained
# variant per seed; every variant is one job per side, and a summary bootstraps them together.

rule alignment_localizer_stimuli:
    output:
        f"{RESULTS}/alignment/localizer_stimuli.tsv",
    params:
        source=ALIGNMENT.get("localizer", {}).get("stimuli", "generated"),
        seed=ALIGNMENT.get("localizer", {}).get("seed", 0),
    log:
        f"{RESULTS}/logs/alignment/localizer_stimuli.log",
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode alignment localizer-stimuli --source {params.source} --seed {params.seed} "
        "--out {output} > {log} 2>&1"


rule alignment_dataset_stimuli:
    output:
        f"{RESULTS}/alignment/{{side}}/stimuli.tsv",
    params:
        dataset=lambda wc: as_json(ALIGNMENT[wc.side]["dataset"]),
    log:
        f"{RESULTS}/logs/alignment/{{side}}/stimuli.log",
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode stimuli --dataset {params.dataset} --out {output} > {log} 2>&1"


rule alignment_responses:
    input:
        stimuli=lambda wc: alignment_stimuli("language"),
    output:
        f"{RESULTS}/alignment/language/targets/{{subject}}.h5",
    params:
        dataset=lambda wc: as_json(ALIGNMENT["language"]["dataset"]),
    log:
        f"{RESULTS}/logs/alignment/language/targets/{{subject}}.log",
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode responses --dataset {params.dataset} --subject {wildcards.subject} "
        "--stimuli {input.stimuli} --out {output} > {log} 2>&1"


rule alignment_rdms:
    input:
        stimuli=lambda wc: alignment_stimuli("vision"),
    output:
        f"{RESULTS}/alignment/vision/targets/{{subject}}.h5",
    params:
        dataset=lambda wc: as_json(ALIGNMENT["vision"]["dataset"]),
    log:
        f"{RESULTS}/logs/alignment/vision/targets/{{subject}}.log",
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode rdms --dataset {params.dataset} --subject {wildcards.subject} "
        "--stimuli {input.stimuli} --out {output} > {log} 2>&1"


rule alignment_language:
    input:
        localizer=f"{RESULTS}/alignment/localizer_stimuli.tsv",
        stimuli=lambda wc: alignment_stimuli("language"),
        targets=lambda wc: alignment_targets("language"),
    output:
        directory(f"{RESULTS}/alignment/language/variants/{{variant}}"),
    params:
        model=lambda wc: alignment_variants("language")[wc.variant][0],
        spec=lambda wc: as_json(alignment_variants("language")[wc.variant][1]),
        encoding=as_json(config["encoding"]),
        alignment=as_json(ALIGNMENT),
        cache=f"{RESULTS}/cache/features",
    log:
        f"{RESULTS}/logs/alignment/language/{{variant}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/alignment/language/{{variant}}.tsv"
    threads: 2
    resources:
        cpus_per_task=2,
        mem_mb=lambda wc, attempt: 4000 * attempt,  # features of every layer, then encoding
        runtime=lambda wc, attempt: 120 * attempt,
        gpu=FEATURE_GPUS,
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode alignment language --model {params.model} --spec {params.spec} "
        "--localizer-stimuli {input.localizer} --stimuli {input.stimuli} "
        "--responses {input.targets} --encoding {params.encoding} "
        "--alignment {params.alignment} --cache-dir {params.cache} --out-dir {output} "
        "> {log} 2>&1"


rule alignment_vision:
    input:
        stimuli=lambda wc: alignment_stimuli("vision"),
        targets=lambda wc: alignment_targets("vision"),
    output:
        directory(f"{RESULTS}/alignment/vision/variants/{{variant}}"),
    params:
        model=lambda wc: alignment_variants("vision")[wc.variant][0],
        spec=lambda wc: as_json(alignment_variants("vision")[wc.variant][1]),
        encoding=as_json(config["encoding"]),
        cache=f"{RESULTS}/cache/features",
    log:
        f"{RESULTS}/logs/alignment/vision/{{variant}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/alignment/vision/{{variant}}.tsv"
    threads: 2
    resources:
        cpus_per_task=2,
        mem_mb=lambda wc, attempt: 4000 * attempt,  # features of every layer, then encoding
        runtime=lambda wc, attempt: 120 * attempt,
        gpu=FEATURE_GPUS,
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode alignment vision --model {params.model} --spec {params.spec} "
        "--stimuli {input.stimuli} --rdms {input.targets} --encoding {params.encoding} "
        "--cache-dir {params.cache} --out-dir {output} > {log} 2>&1"


rule alignment_summary:
    input:
        language=lambda wc: expand(f"{RESULTS}/alignment/language/variants/{{variant}}",
                                   variant=alignment_variants("language"))
        if "language" in ALIGNMENT else [],
        vision=lambda wc: expand(f"{RESULTS}/alignment/vision/variants/{{variant}}",
                                 variant=alignment_variants("vision"))
        if "vision" in ALIGNMENT else [],
        rdms=lambda wc: alignment_targets("vision") if "vision" in ALIGNMENT else [],
    output:
        *alignment_figures(),
        summary=report(
            f"{RESULTS}/alignment/summary/summary.tsv",
            caption="../report/alignment.rst",
            category="Alignment",
        ),
        layers=f"{RESULTS}/alignment/summary/layers.tsv",
    params:
        n_boot=ALIGNMENT.get("bootstrap", {}).get("n", 1000),
        seed=ALIGNMENT.get("bootstrap", {}).get("seed", 0),
        out_dir=lambda wc, output: os.path.dirname(output.summary),
        captions=ALIGNMENT_FIGURES,  # read by the figures' .rst captions
    log:
        f"{RESULTS}/logs/alignment/summary.log",
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode alignment summary --language {input.language} --vision {input.vision} "
        "--rdms {input.rdms} --n-boot {params.n_boot} --seed {params.seed} "
        "--out-dir {params.out_dir} > {log} 2>&1"
