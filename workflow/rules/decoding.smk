# Decoding (features from responses, sEEG classification) and the shared space across subjects.


rule decode:
    input:
        responses=f"{RESULTS}/responses/main/{{subject}}.h5",
        features=target_features(DECODING) if DECODING else [],
        stimuli=STIMULUS_SETS["main"],
    output:
        f"{RESULTS}/decoding/{{subject}}/decoding.tsv",
        f"{RESULTS}/decoding/{{subject}}/dimensions.tsv",
    params:
        decoding=as_json(DECODING),
        encoding=as_json(config["encoding"]),
        out_dir=lambda wc, output: os.path.dirname(output[0]),
    log:
        f"{RESULTS}/logs/decode/{{subject}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/decode/{{subject}}.tsv"
    resources:
        mem_mb=decoding_mem_mb,
        runtime=decoding_runtime,
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode decode --responses {input.responses} --features {input.features} "
        "--stimuli {input.stimuli} --decoding {params.decoding} --encoding {params.encoding} "
        "--out-dir {params.out_dir} > {log} 2>&1"


rule classify:
    input:
        responses=f"{RESULTS}/responses/main/{{subject}}.h5",
        stimuli=STIMULUS_SETS["main"],
    output:
        f"{RESULTS}/decoding/{{subject}}/classification.tsv",
    params:
        decoding=as_json(DECODING),
        encoding=as_json(config["encoding"]),
        out_dir=lambda wc, output: os.path.dirname(output[0]),
    log:
        f"{RESULTS}/logs/classify/{{subject}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/classify/{{subject}}.tsv"
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode classify --responses {input.responses} --stimuli {input.stimuli} "
        "--decoding {params.decoding} --encoding {params.encoding} --out-dir {params.out_dir} "
        "> {log} 2>&1"


rule shared_space:
    input:
        responses=expand(f"{RESULTS}/responses/main/{{subject}}.h5", subject=SHARED_SUBJECTS),
        features=target_features(SHARED_SPACE) if SHARED_SPACE else [],
        stimuli=STIMULUS_SETS["main"],
    output:
        f"{RESULTS}/shared_space/scores.tsv",
        f"{RESULTS}/shared_space/transfer.tsv",
    params:
        shared_space=as_json(SHARED_SPACE),
        encoding=as_json(config["encoding"]),
        out_dir=lambda wc, output: os.path.dirname(output[0]),
    log:
        f"{RESULTS}/logs/shared_space.log",
    benchmark:
        f"{RESULTS}/benchmarks/shared_space.tsv"
    resources:
        mem_mb=decoding_mem_mb,
        runtime=decoding_runtime,
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode shared-space --responses {input.responses} --features {input.features} "
        "--stimuli {input.stimuli} --shared-space {params.shared_space} "
        "--encoding {params.encoding} --out-dir {params.out_dir} > {log} 2>&1"


rule decoding_figures:
    input:
        tables=decoding_tables(),
        shared=[f"{RESULTS}/shared_space/scores.tsv"] if SHARED_SPACE else [],
    output:
        [report(path, caption=f"../report/{name}.rst", category="Decoding")
         for name, path in decoding_figure_paths().items()],
    params:
        folders=lambda wc, input: decoding_folders_option(input.tables),
        shared=lambda wc, input: (f"--shared-space {os.path.dirname(input.shared[0])}"
                                  if input.shared else ""),
        out_dir=lambda wc, output: os.path.dirname(output[0]),
        captions=DECODING_FIGURES,  # read by the figures' .rst captions
    log:
        f"{RESULTS}/logs/decoding_figures.log",
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode decoding-figures {params.folders} {params.shared} "
        "--out-dir {params.out_dir} > {log} 2>&1"
