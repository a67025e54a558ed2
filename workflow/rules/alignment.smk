# Trained versus untrained brain alignment (SUMA): runs when the config has an alignment section.
# Each model becomes variants: its trained weights (when trained: true) and one untrained
# variant per seed. Their features come from the features rule (stimulus sets
# alignment-localizer, alignment-language, alignment-vision) and their data from the responses
# and rdms rules (datasets alignment-language, alignment-vision); every variant is one job per
# side, a summary bootstraps them together, and the figures are drawn from the summary.


rule alignment_localizer_stimuli:
    output:
        f"{RESULTS}/alignment/localizer_stimuli.tsv",
    params:
        source=lambda wc: ALIGNMENT["localizer"]["stimuli"],
        seed=lambda wc: ALIGNMENT["localizer"]["seed"],
    log:
        f"{RESULTS}/logs/alignment/localizer_stimuli.log",
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode alignment localizer-stimuli --source {params.source} --seed {params.seed} "
        "--out {output} > {log} 2>&1"


rule alignment_language:
    input:
        localizer=f"{RESULTS}/alignment/localizer_stimuli.tsv",
        localizer_features=features_dir("alignment-localizer", "{variant}"),
        stimuli=lambda wc: STIMULUS_SETS["alignment-language"],
        features=features_dir("alignment-language", "{variant}"),
        targets=lambda wc: alignment_targets("language"),
    output:
        directory(f"{RESULTS}/alignment/language/variants/{{variant}}"),
    params:
        model=lambda wc: alignment_variants("language")[wc.variant][0],
        spec=lambda wc: as_json(alignment_variants("language")[wc.variant][1]),
        encoding=as_json(config["encoding"]),
        k=lambda wc: ALIGNMENT["localizer"]["k"],
        fraction=lambda wc: (f"--fraction {ALIGNMENT['localizer']['fraction']}"
                             if "fraction" in ALIGNMENT["localizer"] else ""),
        seed=lambda wc: ALIGNMENT["bootstrap"]["seed"],
        brain_score=lambda wc: (f"--brain-score {as_json(BRAIN_SCORE)}" if BRAIN_SCORE else ""),
    log:
        f"{RESULTS}/logs/alignment/language/{{variant}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/alignment/language/{{variant}}.tsv"
    threads: 2
    resources:
        cpus_per_task=2,
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=lambda wc, attempt: 120 * attempt,
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode alignment language --model {params.model} --spec {params.spec} "
        "--localizer-stimuli {input.localizer} --localizer-features {input.localizer_features} "
        "--stimuli {input.stimuli} --features {input.features} --responses {input.targets} "
        "--encoding {params.encoding} --k {params.k} {params.fraction} {params.brain_score} "
        "--seed {params.seed} --out-dir {output} > {log} 2>&1"


rule alignment_brain_score_ceiling:
    input:
        stimuli=lambda wc: STIMULUS_SETS["alignment-language"],
        targets=lambda wc: alignment_targets("language"),
    output:
        BRAIN_SCORE_CEILING,
    params:
        settings=lambda wc: as_json(BRAIN_SCORE),
    log:
        f"{RESULTS}/logs/alignment/brain_score_ceiling.log",
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode alignment brain-score-ceiling --stimuli {input.stimuli} "
        "--responses {input.targets} --settings {params.settings} --out {output} > {log} 2>&1"


rule alignment_vision:
    input:
        features=features_dir("alignment-vision", "{variant}"),
        targets=lambda wc: alignment_targets("vision"),
    output:
        directory(f"{RESULTS}/alignment/vision/variants/{{variant}}"),
    params:
        model=lambda wc: alignment_variants("vision")[wc.variant][0],
        spec=lambda wc: as_json(alignment_variants("vision")[wc.variant][1]),
    log:
        f"{RESULTS}/logs/alignment/vision/{{variant}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/alignment/vision/{{variant}}.tsv"
    resources:
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=lambda wc, attempt: 120 * attempt,
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode alignment vision --model {params.model} --spec {params.spec} "
        "--features {input.features} --rdms {input.targets} --out-dir {output} > {log} 2>&1"


rule alignment_summary:
    input:
        language=lambda wc: expand(f"{RESULTS}/alignment/language/variants/{{variant}}",
                                   variant=alignment_variants("language"))
        if "language" in ALIGNMENT else [],
        vision=lambda wc: expand(f"{RESULTS}/alignment/vision/variants/{{variant}}",
                                 variant=alignment_variants("vision"))
        if "vision" in ALIGNMENT else [],
        rdms=lambda wc: alignment_targets("vision") if "vision" in ALIGNMENT else [],
        ceilings=lambda wc: [BRAIN_SCORE_CEILING] if BRAIN_SCORE else [],
    output:
        summary=report(
            f"{RESULTS}/alignment/summary/summary.tsv",
            caption="../report/alignment.rst",
            category="Alignment",
        ),
        layers=f"{RESULTS}/alignment/summary/layers.tsv",
    params:
        n_boot=lambda wc: ALIGNMENT["bootstrap"]["n"],
        seed=lambda wc: ALIGNMENT["bootstrap"]["seed"],
        out_dir=lambda wc, output: os.path.dirname(output.summary),
        ceilings=lambda wc, input: (f"--brain-score-ceilings {input.ceilings}"
                                    if BRAIN_SCORE else ""),
    log:
        f"{RESULTS}/logs/alignment/summary.log",
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode alignment summary --language {input.language} --vision {input.vision} "
        "--rdms {input.rdms} --n-boot {params.n_boot} --seed {params.seed} {params.ceilings} "
        "--out-dir {params.out_dir} > {log} 2>&1"


rule alignment_figures:
    input:
        summary=f"{RESULTS}/alignment/summary/summary.tsv",
        layers=f"{RESULTS}/alignment/summary/layers.tsv",
    output:
        alignment_figures(),
    params:
        folder=lambda wc, input: os.path.dirname(input.summary),
        captions=ALIGNMENT_FIGURES,  # read by the figures' .rst captions
    log:
        f"{RESULTS}/logs/alignment/figures.log",
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode alignment figures --summary-dir {params.folder} --out-dir {params.folder} "
        "> {log} 2>&1"
