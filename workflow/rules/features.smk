# Features: every layer of one model for one stimulus set, one .npy per layer + meta.json.
# One rule for every set: the run's stimuli, the captioning bank, the alignment sets.


rule features:
    input:
        stimuli=lambda wc: STIMULUS_SETS[wc.stimset],
        images=stimulus_images,
        llm=lambda wc: llm_inputs(MODEL_SPECS[wc.stimset][wc.model]),
    output:
        directory(f"{RESULTS}/features/{{stimset}}/{{model}}"),
    params:
        spec=lambda wc: as_json(MODEL_SPECS[wc.stimset][wc.model]),
        cache=f"{RESULTS}/cache/features",
        device=config["encoding"]["device"],
    log:
        f"{RESULTS}/logs/features/{{stimset}}/{{model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/features/{{stimset}}/{{model}}.tsv"
    threads: 2
    resources:
        cpus_per_task=2,
        mem_mb=lambda wc, attempt: 2000 * attempt,
        runtime=lambda wc, attempt: 60 * attempt,
        gpu=FEATURE_GPUS,
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode features extract --stimuli {input.stimuli} --spec {params.spec} "
        "--name {wildcards.model} --out-dir {output} --cache-dir {params.cache} "
        "--device {params.device} > {log} 2>&1"


if SMOLLM2:

    rule llm_convert:
        input:
            SMOLLM2[0],
        output:
            directory(SMOLLM2[1]),
        log:
            f"{RESULTS}/logs/llm_convert.log",
        benchmark:
            f"{RESULTS}/benchmarks/llm_convert.tsv"
        threads: 2
        resources:
            cpus_per_task=2,
            mem_mb=4000,
        conda:
            "../envs/brainencode.yaml"
        shell:
            "brainencode llm convert --gguf {input} --out-dir {output} > {log} 2>&1"
