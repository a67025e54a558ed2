"""Stimuli of the sentences-vs-nonwords language localizer (Fedorenko et al. 2010).

The real set is the EvLab's ``langloc_fmri_run{1,2}_stim_set{1..5}.csv`` (as shipped by
Brain-Score language): 10 files of 48 rows, each row 12 words (columns stim2..stim13) and its
condition in stim14 (S: sentence, N: nonword string), 240 of each, lowercased as in AlKhamissi
et al. 2025. Users without those files get a generated set of the same shape: 12-word sentences
from a small grammar, and strings of 12 pronounceable nonwords (English-like syllables).

Beside S and N, the table holds the other two conditions of Fedorenko et al. 2010, derived from
each sentence (landmark_items): W, a word list (the sentence's words in a shuffled order), and
J, Jabberwocky (its content words replaced by pronounceable nonwords, its function words
kept). ``item`` numbers the sentences (and their W and J) and, apart, the nonword strings.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainencode.datasets.stimuli import write_stimuli_table
from brainencode.errors import BrainencodeError

N_WORDS = 12
CONDITIONS = {"S": "sentence", "N": "nonword"}
LANDMARKS = {"S": "sentence", "W": "word-list", "J": "jabberwocky", "N": "nonword"}
# English closed-class words, kept in Jabberwocky (Fedorenko et al. 2010)
FUNCTION_WORDS = set("""a an the this that these those some any no every each all both of to in
on at by for with from into onto over under after before about above below between through
during without within near behind beside across inside past and or but nor so yet if then than
because while when where whether as not very too also just only i you he she it we they me him
her us them my your his its our their mine yours hers ours theirs who whom whose which what is
are was were be been being am has have had do does did will would shall should can could may
might must there here up out off down again once""".split())


def read_fedorenko2010(folder: str | Path) -> pd.DataFrame:
    """The 240 sentences and 240 nonword strings: stimulus_id, modality, text, condition."""
    files = sorted(Path(folder).glob("langloc_fmri_run*_stim_set*.csv"))
    if not files:
        raise BrainencodeError(f"{folder}: alignment.localizer.stimuli: expected the "
                               "langloc_fmri_run*_stim_set*.csv files of Fedorenko et al. 2010")
    rows = []
    for path in files:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        columns = [f"stim{i}" for i in range(2, 2 + N_WORDS)] + [f"stim{N_WORDS + 2}"]
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise BrainencodeError(f"{path}: {missing[0]}: expected columns stim1..stim14 "
                                   "(12 words and the condition S or N)")
        for number, row in enumerate(table[columns].itertuples(index=False), start=1):
            *words, condition = row
            if condition not in CONDITIONS:
                raise BrainencodeError(f"{path}: stim14: expected S or N, got {condition!r} "
                                       f"in row {number}")
            rows.append({"stimulus_id": f"{path.stem}_{number:02d}", "modality": "text",
                         "text": " ".join(w.strip().lower() for w in words),
                         "condition": CONDITIONS[condition]})
    return pd.DataFrame(rows)


# a small grammar for 12-word sentences:
# det adj noun verb det adj noun prep det noun time-phrase (2 words)
_ADJECTIVES = ("old young quiet busy small large famous tired careful bright angry happy "
               "local clever gentle strange").split()
_NOUNS = ("farmer teacher doctor child painter soldier student driver neighbour writer baker "
          "lawyer dancer captain pilot singer").split()
_OBJECTS = ("letter basket window garden horse bridge story song table river market ticket "
            "coat lamp boat picture").split()
_VERBS = ("carried found painted opened visited described noticed repaired borrowed sold "
          "cleaned watched followed moved wrote measured").split()
_PREPOSITIONS = "near behind beside across inside past".split()
_PLACES = "station church harbour school village forest hospital castle".split()
_TIMES = ("last night", "every morning", "this week", "before noon", "after dinner",
          "last summer")
_ONSETS = "b d f g h k l m n p r s t v w z bl br dr fl gr pl pr sl st tr".split()
_VOWELS = "a e i o u ee oo ai ou".split()
_CODAS = [""] * 4 + "n m t s k nd st rk".split()


def _nonword(rng: np.random.Generator, real: set[str]) -> str:
    while True:
        syllables = rng.integers(1, 4)
        word = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS)
                       for _ in range(syllables))
        if word not in real:
            return word


def generate_localizer(n_per_condition: int = 240, seed: int = 0) -> pd.DataFrame:
    """Generated localizer items with the shape of the real set: 12-word sentences and strings
    of 12 pronounceable nonwords (no real word of the grammar among them)."""
    rng = np.random.default_rng(seed)
    real = set(_ADJECTIVES + _NOUNS + _OBJECTS + _VERBS + _PREPOSITIONS + _PLACES)
    rows = []
    for i in range(n_per_condition):
        words = ["the", rng.choice(_ADJECTIVES), rng.choice(_NOUNS), rng.choice(_VERBS), "a",
                 rng.choice(_ADJECTIVES), rng.choice(_OBJECTS), rng.choice(_PREPOSITIONS),
                 "the", rng.choice(_PLACES), rng.choice(_TIMES)]
        sentence = " ".join(words)
        rows.append({"stimulus_id": f"sentence_{i:03d}", "modality": "text", "text": sentence,
                     "condition": "sentence"})
        nonwords = " ".join(_nonword(rng, real) for _ in range(N_WORDS))
        rows.append({"stimulus_id": f"nonword_{i:03d}", "modality": "text", "text": nonwords,
                     "condition": "nonword"})
    return pd.DataFrame(rows)


def landmark_items(table: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The localizer table with ``item`` and, per sentence, its word list (W: the words
    shuffled) and its Jabberwocky (J: content words -> pronounceable nonwords, function words
    kept), seeded."""
    rng = np.random.default_rng(seed)
    table = table.copy()
    table["item"] = table.groupby("condition").cumcount()
    sentences = table[table["condition"] == LANDMARKS["S"]]
    real = {w for text in sentences["text"] for w in text.split()}
    rows = []
    for row in sentences.itertuples(index=False):
        words = row.text.split()
        shuffled = list(rng.permutation(words))
        jabberwocky = [w if w in FUNCTION_WORDS else _nonword(rng, real) for w in words]
        rows += [{"stimulus_id": f"{row.stimulus_id}_W", "modality": "text",
                  "text": " ".join(shuffled), "condition": LANDMARKS["W"], "item": row.item},
                 {"stimulus_id": f"{row.stimulus_id}_J", "modality": "text",
                  "text": " ".join(jabberwocky), "condition": LANDMARKS["J"],
                  "item": row.item}]
    return pd.concat([table, pd.DataFrame(rows)], ignore_index=True)


def write_localizer_stimuli(*, out: Path, source: str, seed: int) -> pd.DataFrame:
    """The localizer's stimuli table: from the Fedorenko 2010 folder, or 'generated'; with the
    derived word lists and Jabberwocky of the landmark conditions."""
    table = generate_localizer(seed=seed) if source == "generated" else read_fedorenko2010(source)
    table = landmark_items(table, seed)
    write_stimuli_table(table, out)
    return table
