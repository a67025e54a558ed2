"""LLM-assisted voxel captioning (LaVCa, Matsuyama et al. 2025), with its baseline and evaluation.

1. ``selection``: each voxel's ridge encoder on image embeddings predicts its response to every
   image of a bank (``bank``); the top-N images are kept, and the BrainSCUBA-style baseline's
   nearest image.
2. ``captioners``: captions of those images (dataset captions, a local transformers model, or
   an OpenAI-compatible vision endpoint).
3. ``describers``: keywords shared by a voxel's captions and one sentence (an OpenAI-compatible
   chat endpoint, a local transformers model, or the offline extractive fallback, labelled as
   not an LLM). LLM answers are cached on disk (``llm_client``), prompts are versioned files.
4. ``evaluation``: the caption's sentence embedding predicts held-out responses (Spearman),
   against shuffled captions and the BrainSCUBA-style baseline.
"""
