"""Inception FID/KID/IS and density/coverage: plumbing, checked against the libraries' own code.

No pretrained weights are available offline, so the plumbing runs torch-fidelity's own Inception-v3 with
randomly initialised weights saved to a file, and every value is compared with what torch-fidelity's own
pipeline (``torch_fidelity.calculate_metrics``) gives on the same images and the same weights file.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from cganzoo import DatasetInfo, LabelledImages, MetricSkipped
from cganzoo.errors import EvaluationError
from cganzoo.evaluation import density_coverage, evaluate_samples, frechet_distance_of, inception
from judges import quiet, toy_data, toy_judge, toy_judge_dir  # noqa: F401  (fixtures)

torch_fidelity = pytest.importorskip("torch_fidelity")


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    """torch-fidelity's Inception-v3 with PyTorch's default random initialisation, saved as a weights file."""
    from unittest import mock

    from torch_fidelity import feature_extractor_inceptionv3 as fe

    with torch.random.fork_rng():
        torch.manual_seed(0)
        with mock.patch.object(fe, "load_state_dict_from_url", return_value={}), \
                mock.patch.object(fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, *a, **k: None):
            net = fe.FeatureExtractorInceptionV3("random", ["2048"])
    path = tmp_path_factory.mktemp("inception") / "random-inception.pth"
    torch.save(net.state_dict(), path)
    return path


def _data(n_train=30, n_test=24, classes=3, size=28, seed=0):
    g = torch.Generator().manual_seed(seed)
    info = DatasetInfo(name="toy", num_classes=classes, class_names=tuple(str(k) for k in range(classes)),
                       shape=(1, size, size))
    return LabelledImages(
        images=torch.randint(0, 256, (n_train, 1, size, size), generator=g, dtype=torch.uint8),
        labels=torch.arange(n_train) % classes, info=info,
        test_images=torch.randint(0, 256, (n_test, 1, size, size), generator=g, dtype=torch.uint8),
        test_labels=torch.arange(n_test) % classes)


class _Uint8(Dataset):
    def __init__(self, images):
        self.images = images

    def __len__(self):
        return self.images.shape[0]

    def __getitem__(self, i):
        return self.images[i]


def test_inception_input_is_uint8_rgb():
    x = torch.tensor([-1.0, -0.5, 0.0, 1.0]).view(1, 1, 2, 2)
    out = inception.to_inception_input(x)
    assert out.dtype == torch.uint8 and out.shape == (1, 3, 2, 2)
    assert out[0, 0].flatten().tolist() == [0, 64, 128, 255]  # round((x + 1) * 127.5), halves to even
    assert torch.equal(out[:, 0], out[:, 2])
    real = torch.randint(0, 256, (2, 3, 5, 5), dtype=torch.uint8)
    assert torch.equal(inception.to_inception_input(real), real)
    with pytest.raises(EvaluationError, match=r"\[-1, 1\]"):
        inception.to_inception_input(torch.full((1, 1, 2, 2), 2.0))
    with pytest.raises(EvaluationError, match="1 or 3"):
        inception.to_inception_input(torch.zeros(1, 2, 2, 2))


def test_balanced_subset_round_robin():
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 2, 2, 2])
    index = inception.balanced_subset(labels, 5)
    assert index.tolist() == [0, 4, 6, 1, 5]
    assert inception.balanced_subset(labels, None).tolist() == list(range(9))
    assert inception.balanced_subset(labels, 100).tolist() == list(range(9))
    many = torch.arange(1000) % 10
    counts = torch.bincount(many[inception.balanced_subset(many, 95)], minlength=10)
    assert counts.max() - counts.min() <= 1 and int(counts.sum()) == 95


def test_weights_absent_skip_with_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv(inception.WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    with pytest.raises(MetricSkipped) as info:
        inception.find_weights()
    message = str(info.value)
    assert "\n" not in message and inception.WEIGHTS_URL in message and inception.WEIGHTS_ENV in message
    assert str(tmp_path / "torch-home" / "hub" / "checkpoints") in message
    placed = tmp_path / "torch-home" / "hub" / "checkpoints" / inception.WEIGHTS_FILE
    placed.parent.mkdir(parents=True)
    placed.write_bytes(b"x")
    assert inception.find_weights() == placed
    other = tmp_path / "mine.pth"
    other.write_bytes(b"y")
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(other))
    assert inception.find_weights() == other
    with pytest.raises(MetricSkipped, match="missing.pth"):
        inception.find_weights(tmp_path / "missing.pth")


def test_eval_without_weights_skips_only_the_inception_metrics(tmp_path, monkeypatch):
    monkeypatch.delenv(inception.WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    data = _data()
    samples = torch.rand(12, 1, 28, 28) * 2 - 1
    lines = []
    report = evaluate_samples(samples, torch.arange(12) % 3, data, cache_root=tmp_path, log=lines.append,
                              metrics=["inception-fid", "inception-kid", "inception-score", "parzen-log-likelihood"])
    skipped = report.protocol["skipped_metrics"]
    assert sorted(skipped) == ["inception-fid", "inception-kid", "inception-score"]
    assert report.results["parzen-log-likelihood"].values["log_likelihood"] is not None
    assert report.results["inception-fid"].values == {}
    assert "skipped" in report.results["inception-fid"].to_json()["notes"][0]
    said = [line for line in lines if "skipped" in line]
    assert len(said) == 1 and "inception-fid, inception-kid, inception-score" in said[0]
    assert "inception-fid" in report.format_table()


def test_a_file_that_is_not_the_network_is_an_error(tmp_path):
    bad = tmp_path / "bad.pth"
    torch.save({"w": torch.zeros(2)}, bad)
    with pytest.raises(EvaluationError, match="not torch-fidelity's Inception-v3"):
        inception.InceptionExtractor(bad)


def test_metrics_match_torch_fidelity_on_the_same_images(random_weights, tmp_path):
    """FID, KID, IS from the registered metrics equal torch-fidelity's own pipeline, images and weights alike."""
    data = _data(n_test=12)
    g = torch.Generator().manual_seed(1)
    samples = torch.rand(12, 1, 32, 32, generator=g) * 2 - 1  # another size than the real 28x28: the library resizes
    labels = torch.arange(12) % 3
    common = {"weights": str(random_weights)}
    lines = []
    report = evaluate_samples(
        samples, labels, data, cache_root=tmp_path, log=lines.append,
        metrics=[{"name": "inception-fid", "params": common},
                 {"name": "inception-kid", "params": {**common, "subset_size": 10, "subsets": 7}},
                 {"name": "inception-score", "params": {**common, "splits": 3}},
                 {"name": "density-coverage", "params": {**common, "features": "inception", "k": 3}}])
    assert "skipped_metrics" not in report.protocol
    # Four metrics, one pass of Inception over the real images (and it is cached on disk for the next evaluation).
    assert len([line for line in lines if "computing features of 12 real test images" in line]) == 1
    fid = report.results["inception-fid"].values["fid"]
    kid = report.results["inception-kid"].values
    isc = report.results["inception-score"].values

    generated_u8 = ((samples + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).repeat(1, 3, 1, 1)
    real_u8 = data.test_images.repeat(1, 3, 1, 1)  # torch-fidelity's advice for grayscale
    ref = torch_fidelity.calculate_metrics(
        input1=_Uint8(generated_u8), input2=_Uint8(real_u8), cuda=False, fid=True, kid=True, isc=True,
        kid_subset_size=10, kid_subsets=7, isc_splits=3, feature_extractor_weights_path=str(random_weights),
        cache=False, verbose=False, save_cpu_ram=True)
    assert fid == pytest.approx(ref["frechet_inception_distance"], rel=1e-6, abs=1e-9)
    assert kid["kid"] == pytest.approx(ref["kernel_inception_distance_mean"], rel=1e-6, abs=1e-12)
    assert kid["kid_std"] == pytest.approx(ref["kernel_inception_distance_std"], rel=1e-6, abs=1e-12)
    assert isc["inception_score"] == pytest.approx(ref["inception_score_mean"], rel=1e-6)
    assert isc["inception_score_std"] == pytest.approx(ref["inception_score_std"], rel=1e-6, abs=1e-12)

    # Same features, an independent Frechet formula (symmetric eigh instead of numpy's eigvals): the singular
    # 2048-d covariances of 12 images leave rounding noise in the trace of the square root, hence the tolerance.
    extractor = inception.InceptionExtractor(random_weights)
    fake_pool, _ = extractor(samples)
    real_pool = inception.reference_features(extractor, data, "test", None, tmp_path, log=lines.append).pool
    assert len(lines) == 1  # read back from the cache
    assert fid == pytest.approx(frechet_distance_of(fake_pool, real_pool), rel=1e-2)
    assert fid > 0

    # Values carry the caveats: random weights are not the official ones; 12 images bias FID.
    notes = " ".join(report.results["inception-fid"].notes)
    assert "not comparable with published" in notes and "biased upward" in notes
    protocol = report.results["inception-fid"].protocol
    assert protocol["inception"]["standard_weights"] is False and protocol["real"]["num_images"] == 12

    dc = report.results["density-coverage"].values
    assert (dc["density"], dc["coverage"]) == pytest.approx(density_coverage(real_pool, fake_pool, 3), abs=1e-12)
    assert report.results["density-coverage"].protocol["features"] == "inception"


def test_reference_features_are_cached_by_checksum(random_weights, tmp_path):
    data = _data(n_test=12)
    extractor = inception.InceptionExtractor(random_weights)
    lines = []
    first = inception.reference_features(extractor, data, "test", 6, tmp_path, log=lines.append)
    assert first.pool.shape == (6, 2048) and first.logits.shape == (6, 1008)
    assert torch.bincount(data.test_labels[inception.balanced_subset(data.test_labels, 6)]).tolist() == [2, 2, 2]
    directory = inception.reference_cache_dir(tmp_path, "toy", first.record["data_sha256"],
                                              extractor.weights_sha256, "test", 6)
    assert (directory / "features.safetensors").is_file() and (directory / "reference.json").is_file()
    assert not [p for p in directory.parent.iterdir() if p.name.startswith(".")]  # no temporary left
    again = inception.reference_features(extractor, data, "test", 6, tmp_path, log=lines.append)
    assert len(lines) == 1  # the second call computed nothing
    assert torch.equal(again.pool, first.pool) and torch.equal(again.sigma, first.sigma)
    mu, sigma = inception.fid_statistics(first.pool)
    assert torch.equal(again.mu, mu) and torch.equal(again.sigma, sigma)
    # Other data: another key, computed anew.
    changed = _data(n_test=12, seed=5)
    inception.reference_features(extractor, changed, "test", 6, tmp_path, log=lines.append)
    assert len(lines) == 2
    # A damaged cache entry is recomputed, not trusted.
    blob = (directory / "features.safetensors").read_bytes()
    (directory / "features.safetensors").write_bytes(blob[:-8] + b"\0" * 8)
    inception.reference_features(extractor, data, "test", 6, tmp_path, log=lines.append)
    assert len(lines) == 3


def test_density_coverage_matches_the_authors_code():
    prdc = pytest.importorskip("prdc")
    g = torch.Generator().manual_seed(0)
    real = torch.randn(300, 16, generator=g, dtype=torch.float64)
    fake = torch.randn(250, 16, generator=g, dtype=torch.float64) * 1.3 + 0.2
    ours = density_coverage(real, fake, k=5)
    theirs = prdc.compute_prdc(real_features=real.numpy(), fake_features=fake.numpy(), nearest_k=5)
    assert ours == pytest.approx((theirs["density"], theirs["coverage"]), abs=1e-12)


def test_density_coverage_by_hand():
    real = torch.tensor([[0.0], [1.0], [3.0], [6.0]])
    # k=1 radii: 1, 1, 2, 3. Fake 0.5 lies in balls 0, 1; fake 3 in 2 (r=2 reaches 1..5) and 3 (r=3 reaches 3..9).
    density, coverage = density_coverage(real, torch.tensor([[0.5], [3.0]]), k=1)
    assert density == pytest.approx(4 / 2) and coverage == 1.0
    # A point exactly on the boundary counts (Eq. 3's ball is closed here).
    density, coverage = density_coverage(real, torch.tensor([[9.0]]), k=1)
    assert density == 1.0 and coverage == 0.25
    with pytest.raises(ValueError):
        density_coverage(real[:1], real, k=1)


def test_density_coverage_in_judge_features_by_default(toy_data, toy_judge):
    x = toy_data.test_images.float() / 127.5 - 1
    report = evaluate_samples(x, toy_data.test_labels, toy_data, judge=toy_judge, log=quiet,
                              metrics=["density-coverage"])
    result = report.results["density-coverage"]
    # The test set against itself: every real ball holds its centre (coverage 1), and each holds k + 1
    # points, the centre and its k neighbours, so density is (k + 1) / k.
    assert result.values["coverage"] == 1.0
    assert result.values["density"] == pytest.approx(6 / 5)
    assert result.protocol["features"] == "judge" and result.protocol["judge"]["weights_sha256"] == toy_judge.checksum
    assert "L2-normalised" in result.protocol["distance"]
    noise = torch.rand_like(x) * 2 - 1
    bad = evaluate_samples(noise, toy_data.test_labels, toy_data, judge=toy_judge, log=quiet,
                           metrics=["density-coverage"]).results["density-coverage"].values
    assert bad["coverage"] < 0.2 and bad["density"] < 0.2


def test_without_torch_fidelity_the_inception_metrics_are_skipped(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "torch_fidelity", None)  # import torch_fidelity now raises ImportError
    monkeypatch.setitem(sys.modules, "torch_fidelity.feature_extractor_inceptionv3", None)
    report = evaluate_samples(torch.zeros(6, 1, 28, 28), torch.arange(6) % 3, _data(), cache_root=tmp_path,
                              log=quiet, metrics=["inception-score", "parzen-log-likelihood"])
    assert report.protocol["skipped_metrics"] == {
        "inception-score": "the Inception metrics need torch-fidelity: pip install 'cganzoo[inception]'"}
    assert report.results["parzen-log-likelihood"].values["log_likelihood"] is not None
