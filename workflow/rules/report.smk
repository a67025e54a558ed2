# Figures per subject and the self-contained HTML report.


rule figures:
    input:
        scores=f"{RESULTS}/encoding/{{subject}}/scores.tsv",
        encoding=expand(f"{RESULTS}/encoding/{{{{subject}}}}/{{model}}", model=MODELS),
        responses=f"{RESULTS}/responses/{{subject}}.h5",
    output:
        layer_curves=report(
            f"{RESULTS}/figures/{{subject}}/layer_curves.png",
            caption="../report/layer_curves.rst",
            category="Figures",
            subcategory="{subject}",
        ),
        heatmap=report(
            f"{RESULTS}/figures/{{subject}}/model_roi_heatmap.png",
            caption="../report/model_roi_heatmap.rst",
            category="Figures",
            subcategory="{subject}",
        ),
        brain=report(
            f"{RESULTS}/figures/{{subject}}/brain_best_r.png",
            caption="../report/brain_best_r.rst",
            category="Figures",
            subcategory="{subject}",
        ),
    params:
        out_dir=lambda wc, output: os.path.dirname(output.brain),
        fdr_q=config["encoding"]["fdr_q"],
    log:
        f"{RESULTS}/logs/figures/{{subject}}.log",
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode figures --scores {input.scores} --encoding {input.encoding} "
        "--responses {input.responses} --fdr-q {params.fdr_q} --out-dir {params.out_dir} "
        "> {log} 2>&1"


rule report:
    input:
        scores=expand(f"{RESULTS}/encoding/{{subject}}/scores.tsv", subject=SUBJECTS),
        figures=expand(f"{RESULTS}/figures/{{subject}}/brain_best_r.png", subject=SUBJECTS),
        captioning=captioning_outputs(),
        stimuli=stimuli_table(),
    output:
        f"{RESULTS}/report/index.html",
    params:
        config=lambda wc: as_json(config),  # a lambda: {subject} in paths is not a wildcard
        figure_dirs=" ".join(f"{RESULTS}/figures/{s}" for s in SUBJECTS),
        benchmarks=f"{RESULTS}/benchmarks",
        captioning=" ".join(captioning_dirs()),
        bank=f"--bank {RESULTS}/captioning/bank/stimuli.tsv" if CAPTIONING else "",
    log:
        f"{RESULTS}/logs/report.log",
    conda:
        "../envs/brainencode.yaml"
    shell:
        "brainencode report --config {params.config} --scores {input.scores} "
        "--figures {params.figure_dirs} --benchmarks {params.benchmarks} "
        "--captioning {params.captioning} --stimuli {input.stimuli} {params.bank} --out {output} "
        "> {log} 2>&1"
