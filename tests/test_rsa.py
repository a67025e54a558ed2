"""The one RSA protocol against rsatoolbox: sessions pooled by ranks, the model compared with
each subject's RDM, the inter-subject noise ceiling; on planted and on the real hIT RDMs."""

from __future__ import annotations

import numpy as np
import rsatoolbox

from brainencode.analyses.rsa import (
    compare,
    correlation_rdm,
    noise_ceiling,
    pool_rdms,
    subject_rdm,
    upper,
)
from brainencode.analyses.scores import Metric
from brainencode.datasets.rdms import load_rdms, write_stimuli
from tests.conftest import shared


def _rsatoolbox(rdms: np.ndarray) -> rsatoolbox.rdm.RDMs:
    return rsatoolbox.rdm.RDMs(np.stack([upper(r) for r in rdms]))


def _check_protocol(sessions: list[np.ndarray], model_rdm: np.ndarray) -> None:
    """sessions: per subject [n_sessions, n, n]. Every step equals rsatoolbox's."""
    subjects = np.stack([pool_rdms(s) for s in sessions])
    for mine, theirs in zip(subjects, sessions, strict=True):
        pooled = rsatoolbox.util.inference_util.pool_rdm(_rsatoolbox(theirs), "spearman")
        np.testing.assert_allclose(upper(mine), pooled.get_vectors()[0], rtol=1e-12)
    data = _rsatoolbox(subjects)
    model = _rsatoolbox(model_rdm[None])
    for metric, method in [(Metric.RSA_SPEARMAN, "spearman"), (Metric.RSA_KENDALL_TAU_A, "tau-a")]:
        expected = rsatoolbox.rdm.compare(model, data, method=method)[0]
        mine = [compare(model_rdm, s)[metric] for s in subjects]
        np.testing.assert_allclose(mine, expected, rtol=1e-9, atol=1e-12)
    lower, upper_bound = noise_ceiling(subjects)
    expected_lower, expected_upper = rsatoolbox.inference.boot_noise_ceiling(
        data, method="spearman")
    np.testing.assert_allclose([lower, upper_bound], [expected_lower, expected_upper],
                               rtol=1e-9)
    assert lower < upper_bound


def test_protocol_equals_rsatoolbox_on_planted_rdms():
    """4 subjects x 2 sessions of one true RDM plus noise; a model RDM from noisy features."""
    rng = np.random.default_rng(0)
    n = 25
    patterns = rng.standard_normal((n, 40))
    sessions = [np.stack([correlation_rdm(patterns + rng.standard_normal((n, 40)) * 1.5)
                          for _ in range(2)]) for _ in range(4)]
    model_rdm = correlation_rdm(patterns + rng.standard_normal((n, 40)))
    _check_protocol(sessions, model_rdm)


def test_protocol_equals_rsatoolbox_on_the_real_hit_rdms(tmp_path):
    """Kriegeskorte 2008 hIT, 4 subjects x 2 sessions, read by the rdm loader."""
    folder = shared("kriegeskorte2008_92images_hIT_RDMs")
    config = {"format": "rdm", "path": str(folder / "92_brainRDMs.mat"),
              "images": str(folder / "images_png_derived")}
    stimuli = tmp_path / "stimuli.tsv"
    write_stimuli(config, stimuli)
    per_subject = [load_rdms(config, f"sub-{s}", stimuli) for s in ("BE", "KO", "SN", "TI")]
    assert [len(r.rdms) for r in per_subject] == [2, 2, 2, 2]
    rng = np.random.default_rng(1)
    model_rdm = correlation_rdm(rng.standard_normal((92, 30)))
    _check_protocol([r.rdms for r in per_subject], model_rdm)
    lower, upper_bound = noise_ceiling(np.stack([subject_rdm(r) for r in per_subject]))
    # sessions and subjects pooled by ranks; averaging raw dissimilarities gave 0.379 / 0.661
    np.testing.assert_allclose([lower, upper_bound], [0.378, 0.669], atol=0.0005)
