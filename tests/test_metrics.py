import numpy as np
import pytest

from spoofscan.errors import SpoofscanError
from spoofscan.metrics import (bootstrap_eer, classification_report, eer, eer_sorted, error_rates, min_dcf,
                               per_system_eer, roc_auc, seed_aeer)


def test_perfect_separation():
    labels = np.array([0, 0, 0, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    rate, threshold = eer(labels, scores)
    assert rate == 0.0 and 0.3 < threshold <= 0.8
    assert error_rates(labels, scores, threshold) == (0.0, 0.0)
    assert eer_sorted(labels, scores)[0] == 0.0
    assert roc_auc(labels, scores) == 1.0 and min_dcf(labels, scores) == 0.0


def test_hand_computed_eer():
    # reals 0.1 0.4 0.6 0.2; fakes 0.3 0.7 0.8 0.9. For a threshold in (0.4, 0.6]: one real flagged (0.6),
    # one fake missed (0.3): FPR = FNR = 1/4. AUC: 14 of the 16 (fake, real) pairs are ordered right.
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    scores = np.array([0.1, 0.4, 0.6, 0.2, 0.3, 0.7, 0.8, 0.9])
    rate, threshold = eer(labels, scores)
    assert rate == pytest.approx(0.25)
    fpr, fnr = error_rates(labels, scores, threshold)
    assert fpr == pytest.approx(0.25) and fnr == pytest.approx(0.25)
    assert eer_sorted(labels, scores)[0] == pytest.approx(0.25)
    assert roc_auc(labels, scores) == pytest.approx(14 / 16)


def test_all_scores_tied_is_chance():
    labels = np.array([0, 0, 1, 1])
    assert eer(labels, np.full(4, 0.5))[0] == pytest.approx(0.5)
    assert eer_sorted(labels, np.full(4, 0.5))[0] == pytest.approx(0.5)
    assert roc_auc(labels, np.full(4, 0.5)) == 0.5


def test_inverted_scores_give_eer_one():
    labels = np.array([0, 0, 1, 1])
    assert eer(labels, np.array([0.9, 0.8, 0.2, 0.1]))[0] == pytest.approx(1.0)


@pytest.mark.parametrize("n_real,n_fake", [(200, 200), (300, 40), (25, 400)])
def test_eer_agrees_with_asvspoof_sorted_within_half_a_step(n_real, n_fake):
    rng = np.random.default_rng(n_real + n_fake)
    labels = np.r_[np.zeros(n_real, int), np.ones(n_fake, int)]
    scores = np.r_[rng.normal(0, 1, n_real), rng.normal(1.2, 1, n_fake)]
    assert abs(eer(labels, scores)[0] - eer_sorted(labels, scores)[0]) <= 1 / (2 * min(n_real, n_fake)) + 1e-12


def test_min_dcf_unbalanced_by_hand():
    # 3 reals, 1 fake, fake scored lowest: either flag the fake and 3 reals (cost 0.95) or accept it (cost 0.5)
    labels = np.array([0, 0, 0, 1])
    scores = np.array([0.5, 0.6, 0.7, 0.1])
    assert min_dcf(labels, scores) == pytest.approx(0.5 / 0.5)


def test_classification_report_by_hand():
    report = classification_report([0, 0, 0, 1, 1], [0, 1, 0, 1, 1])
    assert report["accuracy"] == pytest.approx(0.8)
    assert report["confusion_matrix"] == [[2, 1], [0, 2]]
    assert report["per_class"]["fake"]["precision"] == pytest.approx(2 / 3)
    assert report["per_class"]["real"]["recall"] == pytest.approx(2 / 3)
    assert report["per_class"]["fake"]["f1"] == pytest.approx(0.8)


def test_bootstrap_resamples_groups():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(50), 2)
    labels = np.tile([0, 1], 50)
    scores = labels + rng.normal(0, 0.8, 100)
    boot = bootstrap_eer(labels, scores, groups, n=200, seed=1)
    point = eer(labels, scores)[0]
    assert boot["resamples"] == 200 and boot["ci95_low"] <= point <= boot["ci95_high"] and boot["std"] > 0
    assert bootstrap_eer(labels, scores, groups, n=200, seed=1) == boot  # seeded
    assert seed_aeer(labels, scores)["resamples"] == 5


def test_per_system_eer_and_errors():
    labels = np.array([0, 0, 1, 1, 1, 1])
    scores = np.array([0.1, 0.2, 0.9, 0.8, 0.05, 0.02])
    systems = np.array(["ground_truth"] * 2 + ["easy"] * 2 + ["hard"] * 2)
    result = per_system_eer(labels, scores, systems)
    assert result["easy"]["eer"] == 0.0 and result["hard"]["eer"] == pytest.approx(1.0)
    with pytest.raises(SpoofscanError, match="both real"):
        eer([1, 1], [0.2, 0.3])
    with pytest.raises(SpoofscanError, match="NaN"):
        eer([0, 1], [0.2, np.nan])
