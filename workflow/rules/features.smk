# Features: every layer of one model, one .npy per layer + meta.json.


rule features:
    input:
        stimuli=stimuli_table(),
    output:
        directory(f"{RESULTS}/features/{{model}}"),
    params:
        spec=lambda wc: as_json(config["models"][wc.model]),
        cache=f"{RESULTS}/cache/features",
        device=config["encoding"]["device"],
    log:
        f"{RESULTS}/logs/features/{{model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/features/{{model}}.tsv"
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
