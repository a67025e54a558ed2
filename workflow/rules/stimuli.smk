# Stimuli and responses: the demo's generated data, and any dataset -> responses HDF5.


rule demo_stimuli:
    output:
        table=f"{RESULTS}/demo/stimuli/stimuli.tsv",
        images=directory(f"{RESULTS}/demo/stimuli/images"),
    params:
        out_dir=lambda wc, output: os.path.dirname(output.table),
        n=config["demo"]["n_stimuli"],
        size=config["demo"]["image_size"],
        seed=config["demo"]["seed"],
    log:
        f"{RESULTS}/logs/demo_stimuli.log",
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode demo-stimuli --out-dir {params.out_dir} --n-stimuli {params.n} "
        "--image-size {params.size} --seed {params.seed} > {log} 2>&1"


rule demo_subject:
    input:
        stimuli=f"{RESULTS}/demo/stimuli/stimuli.tsv",
        features=[features_dir("main", m) for m in driver_models()],
    output:
        subject=directory(f"{RESULTS}/demo/{{kind}}/{{subject}}"),
    params:
        demo=as_json(config["demo"]),
        index=lambda wc: SUBJECTS.index(wc.subject) + 1,
        bids_root=lambda wc, output: os.path.dirname(output.subject),
    log:
        f"{RESULTS}/logs/demo_subject/{{kind}}/{{subject}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/demo_subject/{{kind}}/{{subject}}.tsv"
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode demo-subject --stimuli {input.stimuli} --features {input.features} "
        "--demo {params.demo} --subject {wildcards.subject} --subject-index {params.index} "
        "--bids-root {params.bids_root} > {log} 2>&1"


# Formats that define their own stimuli (pereira, bold5000, nsd, table, rdm) write the table;
# a checkpoint, so that the image files it names become inputs of the features jobs.
checkpoint stimuli:
    input:
        lambda wc: plan.stimuli_sources(dataset_section(wc.dataset)),
    output:
        f"{RESULTS}/stimuli/{{dataset}}/stimuli.tsv",
    params:
        dataset=lambda wc: as_json(dataset_section(wc.dataset)),
    log:
        f"{RESULTS}/logs/stimuli/{{dataset}}.log",
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode stimuli --dataset {params.dataset} --out {output} > {log} 2>&1"


# A checkpoint: the number of targets it writes decides how many encode_chunk jobs follow.
checkpoint responses:
    input:
        stimuli=lambda wc: dataset_stimuli(wc.dataset),
        data=lambda wc: plan.subject_inputs(DATASETS[wc.dataset][wc.subject], wc.subject),
    output:
        f"{RESULTS}/responses/{{dataset}}/{{subject}}.h5",
    params:
        dataset=lambda wc: as_json(DATASETS[wc.dataset][wc.subject]),
    log:
        f"{RESULTS}/logs/responses/{{dataset}}/{{subject}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/responses/{{dataset}}/{{subject}}.tsv"
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode responses --dataset {params.dataset} --subject {wildcards.subject} "
        "--stimuli {input.stimuli} --out {output} > {log} 2>&1"


rule rdms:
    input:
        stimuli=lambda wc: dataset_stimuli(wc.dataset),
    output:
        f"{RESULTS}/rdms/{{dataset}}/{{subject}}.h5",
    params:
        dataset=lambda wc: as_json(DATASETS[wc.dataset][wc.subject]),
    log:
        f"{RESULTS}/logs/rdms/{{dataset}}/{{subject}}.log",
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode rdms --dataset {params.dataset} --subject {wildcards.subject} "
        "--stimuli {input.stimuli} --out {output} > {log} 2>&1"
