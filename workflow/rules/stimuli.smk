# Stimuli and responses: the demo's generated data, and BIDS beta maps -> responses HDF5.


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
        features=[f"{RESULTS}/features/{m}" for m in driver_models()],
    output:
        subject=directory(f"{RESULTS}/demo/{{kind}}/{{subject}}"),
    params:
        features=lambda wc, input: " ".join(
            f"{os.path.basename(d)}={d}" for d in input.features
        ),
        demo=as_json(config["demo"]),
        index=lambda wc: SUBJECTS.index(wc.subject) + 1,
        bids_root=lambda wc, output: os.path.dirname(output.subject),
        task=config["dataset"]["task"],
        space=config["dataset"]["space"],
    log:
        f"{RESULTS}/logs/demo_subject/{{kind}}/{{subject}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/demo_subject/{{kind}}/{{subject}}.tsv"
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode demo-subject --stimuli {input.stimuli} --features {params.features} "
        "--demo {params.demo} --subject {wildcards.subject} --subject-index {params.index} "
        "--bids-root {params.bids_root} --task {params.task} --space {params.space} "
        "> {log} 2>&1"


rule dataset_stimuli:
    output:
        f"{RESULTS}/stimuli/stimuli.tsv",
    params:
        dataset=lambda wc: as_json(DATASET),  # a lambda: {label} etc. are not wildcards
    log:
        f"{RESULTS}/logs/dataset_stimuli.log",
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode stimuli --dataset {params.dataset} --out {output} > {log} 2>&1"


# A checkpoint: the number of targets it writes decides how many encode_chunk jobs follow.
checkpoint responses:
    input:
        stimuli=stimuli_table(),
        subject=subject_inputs,
    output:
        f"{RESULTS}/responses/{{subject}}.h5",
    params:
        dataset=lambda wc: as_json(subject_dataset(wc.subject)),
    log:
        f"{RESULTS}/logs/responses/{{subject}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/responses/{{subject}}.tsv"
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode responses --dataset {params.dataset} --subject {wildcards.subject} "
        "--stimuli {input.stimuli} --out {output} > {log} 2>&1"


rule rdms:
    input:
        stimuli=stimuli_table(),
    output:
        f"{RESULTS}/rdms/{{subject}}.h5",
    params:
        dataset=lambda wc: as_json(DATASET),  # a lambda: {label} etc. are not wildcards
    log:
        f"{RESULTS}/logs/rdms/{{subject}}.log",
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode rdms --dataset {params.dataset} --subject {wildcards.subject} "
        "--stimuli {input.stimuli} --out {output} > {log} 2>&1"
