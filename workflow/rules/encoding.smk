# Encoding: voxel-wise ridge per subject and model (all layers), then one score table per subject.


rule encode_chunk:
    input:
        responses=f"{RESULTS}/responses/main/{{subject}}.h5",
        features=features_dir("main", "{model}"),
        stimuli=STIMULUS_SETS["main"],
    output:
        temp(directory(f"{RESULTS}/encoding_chunks/{{subject}}/{{model}}/{{chunk}}")),
    params:
        encoding=as_json(config["encoding"]),
        n_chunks=lambda wc: len(encoding_chunks(wc)),
    log:
        f"{RESULTS}/logs/encode/{{subject}}/{{model}}/{{chunk}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/encode/{{subject}}/{{model}}/{{chunk}}.tsv"
    threads: 2
    resources:
        cpus_per_task=2,
        mem_mb=encode_mem_mb,
        runtime=encode_runtime,
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode encode --responses {input.responses} --features {input.features} "
        "--stimuli {input.stimuli} --model {wildcards.model} --encoding {params.encoding} "
        "--chunk {wildcards.chunk} --n-chunks {params.n_chunks} --out-dir {output} "
        "> {log} 2>&1"


rule encode:
    input:
        lambda wc: expand(
            f"{RESULTS}/encoding_chunks/{{subject}}/{{model}}/{{chunk}}",
            subject=wc.subject,
            model=wc.model,
            chunk=encoding_chunks(wc),
        ),
    output:
        out_dir=directory(f"{RESULTS}/encoding/{{subject}}/{{model}}"),
    params:
        fdr_q=config["encoding"]["fdr_q"],
    log:
        f"{RESULTS}/logs/encode/{{subject}}/{{model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/gather_encoding/{{subject}}/{{model}}.tsv"
    group:
        "subject_summary"
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode gather-encoding --chunks {input} --fdr-q {params.fdr_q} "
        "--out-dir {output.out_dir} > {log} 2>&1"


rule gather_scores:
    input:
        expand(f"{RESULTS}/encoding/{{{{subject}}}}/{{model}}", model=MODELS),
    output:
        report(
            f"{RESULTS}/encoding/{{subject}}/scores.tsv",
            caption="../report/scores.rst",
            category="Scores",
            subcategory="{subject}",
        ),
    params:
        scores=lambda wc, input: " ".join(f"{d}/scores.tsv" for d in input),
    log:
        f"{RESULTS}/logs/gather_scores/{{subject}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/gather_scores/{{subject}}.tsv"
    group:
        "subject_summary"
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode gather-scores --scores {params.scores} --out {output} > {log} 2>&1"


rule rsa:
    input:
        rdms=f"{RESULTS}/rdms/main/{{subject}}.h5",
        features=[features_dir("main", m) for m in MODELS],
    output:
        report(
            f"{RESULTS}/rsa/{{subject}}.tsv",
            caption="../report/scores.rst",
            category="Scores",
            subcategory="{subject}",
        ),
    params:
        roi=lambda wc: DATASET["roi"],
    log:
        f"{RESULTS}/logs/rsa/{{subject}}.log",
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode rsa --rdms {input.rdms} --features {input.features} --roi {params.roi} "
        "--out {output} > {log} 2>&1"
