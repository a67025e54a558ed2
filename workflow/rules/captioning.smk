# Voxel captioning (LaVCa): bank -> top images per voxel -> captions -> one sentence per voxel
# -> evaluation on held-out stimuli -> gallery. Runs when the config has a captioning section.

CAPTION_DIR = f"{RESULTS}/captioning/{{target}}"  # a subject, or units-<model>-<layer>


# A checkpoint: the bank's image files become inputs of its features job once it is written.
checkpoint captioning_bank:
    input:
        stimuli=STIMULUS_SETS["main"],
    output:
        f"{RESULTS}/captioning/bank/stimuli.tsv",
    params:
        bank=lambda wc: as_json(CAPTIONING["bank"]),
        image_size=config["demo"]["image_size"],
        out_dir=lambda wc, output: os.path.dirname(output[0]),
    log:
        f"{RESULTS}/logs/captioning/bank.log",
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode captioning bank --bank {params.bank} --stimuli {input.stimuli} "
        "--image-size {params.image_size} --out-dir {params.out_dir} > {log} 2>&1"


rule captioning_unit_responses:
    input:
        features=lambda wc: features_dir("main", CAPTIONING_TARGETS[wc.target]["model"]),
    output:
        f"{RESULTS}/responses/units/{{target}}.h5",
    params:
        model=lambda wc: CAPTIONING_TARGETS[wc.target]["model"],
        layer=lambda wc: CAPTIONING_TARGETS[wc.target]["layer"],
    log:
        f"{RESULTS}/logs/captioning/{{target}}/unit_responses.log",
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode captioning unit-responses --features {input.features} "
        "--model {params.model} --layer {params.layer} --out {output} > {log} 2>&1"


rule captioning_select:
    input:
        responses=captioning_responses,
        features=lambda wc: features_dir("main", CAPTIONING["model"]),
        bank_features=lambda wc: features_dir("captioning-bank", CAPTIONING["model"]),
        bank=f"{RESULTS}/captioning/bank/stimuli.tsv",
        stimuli=STIMULUS_SETS["main"],
    output:
        directory(f"{CAPTION_DIR}/selection"),
    params:
        captioning=captioning_settings,
        encoding=as_json(config["encoding"]),
    log:
        f"{RESULTS}/logs/captioning/{{target}}/select.log",
    benchmark:
        f"{RESULTS}/benchmarks/captioning/{{target}}/select.tsv"
    threads: 2
    resources:
        cpus_per_task=2,
    group:
        "captioning"
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode captioning select --responses {input.responses} "
        "--features {input.features} --bank-features {input.bank_features} "
        "--bank {input.bank} --stimuli {input.stimuli} --captioning {params.captioning} "
        "--encoding {params.encoding} --out-dir {output} > {log} 2>&1"


rule captioning_caption_images:
    input:
        selection=f"{CAPTION_DIR}/selection",
        bank=f"{RESULTS}/captioning/bank/stimuli.tsv",
        stimuli=STIMULUS_SETS["main"],
    output:
        f"{CAPTION_DIR}/image_captions.tsv",
    params:
        captioner=lambda wc: as_json(CAPTIONING["captioner"]),
        client=lambda wc: as_json(CAPTIONING["client"]),
        cache=f"{RESULTS}/cache/llm",
        device=config["encoding"]["device"],
    log:
        f"{RESULTS}/logs/captioning/{{target}}/caption_images.log",
    benchmark:
        f"{RESULTS}/benchmarks/captioning/{{target}}/caption_images.tsv"
    group:
        "captioning"
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode captioning caption-images --selection {input.selection} "
        "--stimuli {input.stimuli} --bank {input.bank} --captioner {params.captioner} "
        "--client {params.client} --cache-dir {params.cache} --device {params.device} "
        "--out {output} > {log} 2>&1"


rule captioning_describe:
    input:
        selection=f"{CAPTION_DIR}/selection",
        image_captions=f"{CAPTION_DIR}/image_captions.tsv",
        responses=captioning_responses,
        llm=lambda wc: llm_inputs(CAPTIONING["describer"]),
    output:
        f"{CAPTION_DIR}/voxel_captions.tsv",
    params:
        describer=lambda wc: as_json(CAPTIONING["describer"]),
        client=lambda wc: as_json(CAPTIONING["client"]),
        embedder=lambda wc: CAPTIONING["embedder"],
        embedder_spec=lambda wc: as_json(config["models"][CAPTIONING["embedder"]]),
        encoding=as_json(config["encoding"]),
        cache=f"{RESULTS}/cache/llm",
    log:
        f"{RESULTS}/logs/captioning/{{target}}/describe.log",
    benchmark:
        f"{RESULTS}/benchmarks/captioning/{{target}}/describe.tsv"
    # the local LLM's prefill is GEMM-bound: two threads answer in 0.67x the time of one
    threads: 2
    resources:
        cpus_per_task=2,
    group:
        "captioning"
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode captioning describe --selection {input.selection} "
        "--image-captions {input.image_captions} --responses {input.responses} "
        "--describer {params.describer} --client {params.client} --embedder {params.embedder} "
        "--embedder-spec {params.embedder_spec} --encoding {params.encoding} "
        "--cache-dir {params.cache} --out {output} > {log} 2>&1"


rule captioning_evaluate:
    input:
        selection=f"{CAPTION_DIR}/selection",
        image_captions=f"{CAPTION_DIR}/image_captions.tsv",
        voxel_captions=f"{CAPTION_DIR}/voxel_captions.tsv",
        responses=captioning_responses,
    output:
        evaluation=f"{CAPTION_DIR}/evaluation.tsv",
        naming=f"{CAPTION_DIR}/naming.tsv",
        summary=report(
            f"{CAPTION_DIR}/summary.tsv",
            caption="../report/caption_summary.rst",
            category="Captioning",
            subcategory="{target}",
        ),
    params:
        embedder=lambda wc: CAPTIONING["embedder"],
        embedder_spec=lambda wc: as_json(config["models"][CAPTIONING["embedder"]]),
        n_shuffles=lambda wc: CAPTIONING["n_shuffles"],
        seed=lambda wc: CAPTIONING["seed"],
        concepts=as_json(plan.planted_concepts(config)),
        out_dir=lambda wc, output: os.path.dirname(output.summary),
    log:
        f"{RESULTS}/logs/captioning/{{target}}/evaluate.log",
    benchmark:
        f"{RESULTS}/benchmarks/captioning/{{target}}/evaluate.tsv"
    group:
        "captioning"
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode captioning evaluate --selection {input.selection} "
        "--image-captions {input.image_captions} --voxel-captions {input.voxel_captions} "
        "--responses {input.responses} --embedder {params.embedder} "
        "--embedder-spec {params.embedder_spec} --n-shuffles {params.n_shuffles} "
        "--seed {params.seed} --concepts {params.concepts} --out-dir {params.out_dir} "
        "> {log} 2>&1"


rule captioning_gallery:
    input:
        selection=f"{CAPTION_DIR}/selection",
        image_captions=f"{CAPTION_DIR}/image_captions.tsv",
        voxel_captions=f"{CAPTION_DIR}/voxel_captions.tsv",
        evaluation=f"{CAPTION_DIR}/evaluation.tsv",
        bank=f"{RESULTS}/captioning/bank/stimuli.tsv",
        stimuli=STIMULUS_SETS["main"],
    output:
        report(
            f"{CAPTION_DIR}/gallery.png",
            caption="../report/caption_gallery.rst",
            category="Captioning",
            subcategory="{target}",
        ),
    log:
        f"{RESULTS}/logs/captioning/{{target}}/gallery.log",
    group:
        "captioning"
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode captioning gallery --selection {input.selection} "
        "--image-captions {input.image_captions} --voxel-captions {input.voxel_captions} "
        "--evaluation {input.evaluation} --stimuli {input.stimuli} --bank {input.bank} "
        "--out {output} > {log} 2>&1"
