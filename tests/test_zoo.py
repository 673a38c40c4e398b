"""The zoo's components do what their papers say, combine per side, and refuse what cannot work."""

from __future__ import annotations

import importlib.metadata
import json
import sys
import types

import pytest
import torch
import torch.nn.functional as F

import cganzoo
from cganzoo import DatasetInfo, create_conditioner, create_discriminator, create_generator, create_loss
from cganzoo.cli import main
from cganzoo.errors import IncompatibleError
from cganzoo.components.randomness import BatchNoise
from cganzoo.training.objective import Objective
from cganzoo.training import build_models
from conftest import TOY_ENTRY_POINT, add_entry_points

MNIST = DatasetInfo("mnist", 10, tuple(f"c{i}" for i in range(10)), (1, 28, 28))


def quiet(_):
    pass


# -- conditioners ---------------------------------------------------------------------------------

def test_projection_adds_the_inner_product_of_the_class_embedding_with_the_features():
    torch.manual_seed(0)
    D = create_discriminator("dcgan", conditioner=create_conditioner("projection", info=MNIST, role="discriminator"),
                             img_shape=(1, 28, 28)).eval()
    assert D.net.cond_dim == 0  # Miyato & Koyama: no input conditioning
    x, y = torch.rand(4, 1, 28, 28) * 2 - 1, torch.tensor([0, 3, 3, 9])
    h = D.net.features(x, torch.zeros(4, 0))
    V = D.conditioner.embedding.weight
    expected = D.net.output(h) + (V[y] * h).sum(dim=1)
    torch.testing.assert_close(D(x, y), expected)


def test_projection_and_auxiliary_classifier_give_the_generator_a_learned_embedding():
    for name in ("projection", "auxiliary-classifier"):
        g = create_conditioner(name, info=MNIST, role="generator")
        assert isinstance(g.embedding, torch.nn.Embedding) and g.cond_dim == 10 and not g.reads_features


def test_auxiliary_classifier_cross_entropy_enters_both_losses():
    torch.manual_seed(0)
    cond = create_conditioner("auxiliary-classifier", {"weight": 0.5}, info=MNIST, role="discriminator")
    D = create_discriminator("mlp", conditioner=cond, img_shape=(1, 28, 28)).eval()
    loss = create_loss("bce")
    objective = Objective(loss, D)
    real, fake = torch.rand(6, 1, 28, 28), torch.rand(6, 1, 28, 28)
    y_real, y_fake = torch.tensor([0, 1, 2, 3, 4, 5]), torch.tensor([9, 8, 7, 6, 5, 4])
    r, f = D(real, y_real, full=True), D(fake, y_fake, full=True)
    assert r.class_logits.shape == (6, 10)
    ce_r, ce_f = F.cross_entropy(r.class_logits, y_real), F.cross_entropy(f.class_logits, y_fake)
    torch.testing.assert_close(objective.generator_loss(D, fake, y_fake), loss.generator_loss(f.logits) + 0.5 * ce_f)
    torch.testing.assert_close(objective.discriminator_loss(D, real, y_real, fake, y_fake),
                               loss.discriminator_loss(r.logits, f.logits) + 0.5 * (ce_r + ce_f) / 2)
    real_only = create_conditioner("auxiliary-classifier", {"fake_class_loss": False}, info=MNIST, role="discriminator")
    real_only.bind_features(4)
    out = real_only.condition_output(torch.randn(3, 4), torch.zeros(3), torch.tensor([1, 2, 3]))
    torch.testing.assert_close(real_only.discriminator_loss(out, torch.tensor([1, 2, 3]), out, torch.tensor([4, 4, 4])),
                               F.cross_entropy(out.class_logits, torch.tensor([1, 2, 3])))


def test_per_side_conditioners(registry):
    config = cganzoo.resolve_config("mlp-cgan", overrides={"generator_conditioner": "one-hot",
                                                           "discriminator_conditioner": "projection"},
                                    registry=registry)
    G, D = build_models(config, MNIST, registry)
    assert type(G.conditioner).__name__ == "OneHotConditioner"
    assert D.conditioner.reads_features and D.net.cond_dim == 0
    both = cganzoo.resolve_config("mlp-cgan", overrides={"conditioner": "projection"}, registry=registry)
    G, D = build_models(both, MNIST, registry)
    assert type(G.conditioner).__name__ == "EmbeddingConditioner" and D.conditioner.reads_features


# -- losses ---------------------------------------------------------------------------------------

def test_hinge_equals_its_formulas():
    loss = create_loss("hinge")
    real, fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([-2.0, 0.3, 1.5])
    expected = torch.clamp(1 - real, min=0).mean() + torch.clamp(1 + fake, min=0).mean()
    torch.testing.assert_close(loss.discriminator_loss(real, fake), expected)
    torch.testing.assert_close(loss.generator_loss(fake), -fake.mean())


def test_minimax_and_non_saturating_are_the_two_bce_generator_losses():
    fake, real = torch.tensor([0.5, -3.0, 2.0]), torch.tensor([1.0, 0.0, -1.0])
    torch.testing.assert_close(create_loss("minimax").generator_loss(fake),
                               torch.log(1 - torch.sigmoid(fake)).mean())
    torch.testing.assert_close(create_loss("non-saturating").generator_loss(fake),
                               -torch.log(torch.sigmoid(fake)).mean())
    for name in ("minimax", "non-saturating"):
        torch.testing.assert_close(create_loss(name).discriminator_loss(real, fake),
                                   create_loss("bce").discriminator_loss(real, fake))


def test_wasserstein_gp_equals_its_formulas():
    loss = create_loss("wasserstein-gp", {"gp_weight": 3.0})
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-1.0, 0.25])
    torch.testing.assert_close(loss.discriminator_loss(real, fake), fake.mean() - real.mean())
    torch.testing.assert_close(loss.generator_loss(fake), -fake.mean())
    # A linear critic w.x has gradient w everywhere: the penalty is lambda * (||w|| - 1)^2 exactly.
    w = torch.tensor([3.0, 4.0, 0.0, 0.0])
    critic = lambda x: x.flatten(1) @ w
    penalty = loss.discriminator_penalty(critic, torch.randn(5, 1, 2, 2), torch.randn(5, 1, 2, 2),
                                         BatchNoise(torch.Generator().manual_seed(1)))
    torch.testing.assert_close(penalty, torch.tensor(3.0 * (5.0 - 1.0) ** 2))
    assert loss.per_sample_discriminator


def test_the_gradient_penalty_reaches_the_discriminator_through_the_objective():
    torch.manual_seed(0)
    D = create_discriminator("dcgan", {"norm": "layer"}, conditioner=create_conditioner("one-hot", info=MNIST,
                             role="discriminator"), img_shape=(1, 28, 28))
    with_gp = Objective(create_loss("wasserstein-gp"), D, BatchNoise(torch.Generator().manual_seed(0)))
    real, fake, y = torch.rand(4, 1, 28, 28), torch.rand(4, 1, 28, 28), torch.tensor([1, 2, 3, 4])
    total = with_gp.discriminator_loss(D, real, y, fake, y)
    plain = create_loss("wasserstein-gp").discriminator_loss(D(real, y), D(fake, y))
    assert total > plain  # the penalty is positive at initialisation (||grad|| far from 1)


# -- combinations that cannot work ------------------------------------------------------------------

@pytest.mark.parametrize("argv, message", [
    (["run", "cdcgan", "--loss", "wasserstein-gp"],
     "cganzoo: error: loss 'wasserstein-gp' penalises each sample's gradient, which BatchNorm in discriminator "
     "'dcgan' invalidates"),
    (["run", "mlp-cgan", "--batch-size", "1"],
     "cganzoo: error: generator 'mlp' needs batches of at least 2 to train (BatchNorm over the batch), but batch_size is 1"),
    (["run", "cdcgan", "--img-size", "48"],
     "cganzoo: error: dcgan generator handles 28x28, 32x32 or 64x64 images, not 48x48; use --img-size 28, 32 or 64"),
])
def test_incompatible_combinations_fail_before_training_in_one_line(argv, message, toy_plugin, tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*argv, "--dataset", "toy-digits", "--device", "cpu", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and len(err.strip().splitlines()) == 1
    assert not out.exists()  # nothing left behind: the same --out works once fixed


def test_an_output_conditioner_needs_a_discriminator_with_features(monkeypatch, tmp_path, capsys):
    module = types.ModuleType("featureless_plugin")

    class Featureless(cganzoo.DiscriminatorNetwork):
        def __init__(self, cond_dim, img_shape):
            super().__init__()
            self.cond_dim, self.img_shape = cond_dim, img_shape
            self.linear = torch.nn.Linear(28 * 28 + cond_dim, 1)

        def forward(self, x, c):
            return self.linear(torch.cat((x.flatten(1), c), 1)).squeeze(-1)

    @cganzoo.hookimpl
    def register_networks(register):
        register("featureless", Featureless, kind="discriminator", description="no features")

    module.register_networks = register_networks
    monkeypatch.setitem(sys.modules, "featureless_plugin", module)
    add_entry_points(monkeypatch, TOY_ENTRY_POINT, importlib.metadata.EntryPoint(
        name="featureless", value="featureless_plugin", group="cganzoo"))
    code = main(["run", "mlp-cgan", "--conditioner", "projection", "--discriminator", "featureless",
                 "--dataset", "toy-digits", "--img-size", "28", "--device", "cpu", "--out", str(tmp_path / "r"),
                 "--max-steps", "1"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cganzoo: error: conditioner 'projection' conditions the discriminator's features, "
                          "but discriminator 'featureless' exposes none")
    with pytest.raises(IncompatibleError):
        create_discriminator("featureless", conditioner=create_conditioner("auxiliary-classifier", info=MNIST,
                             role="discriminator"), img_shape=(1, 28, 28))


# -- training and resuming the new models ---------------------------------------------------------

@pytest.mark.parametrize("model", ["wgan-gp", "projection-gan"])
def test_resume_is_bit_identical_for_the_convolutional_models(model, tmp_path, registry):
    """Every random draw (WGAN-GP's interpolation weights, spectral norm's vectors) is checkpointed."""
    def config(name, steps):
        return cganzoo.resolve_config(model, overrides={
            "dataset": "toy-digits", "max_steps": steps, "device": "cpu", "batch_size": 16, "log_interval": 3,
            "sample_interval": 100, "checkpoint_interval": 3, "out": str(tmp_path / name),
            "generator": {"name": "dcgan", "params": {"width": 8}},
            "discriminator": {"name": "dcgan", "params": {"width": 8}}}, registry=registry)

    straight = cganzoo.train(config("straight", 6), progress=False, log=quiet, registry=registry)
    split = cganzoo.train(config("split", 3), progress=False, log=quiet, registry=registry)
    cganzoo.train(config("split", 6), run_dir=split, resume=True, progress=False, log=quiet, registry=registry)
    metrics = lambda d: [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]
    a, b = metrics(straight), metrics(split)
    assert [(m["d_loss"], m["g_loss"]) for m in a] == [(m["d_loss"], m["g_loss"]) for m in b]
    ga, gb = cganzoo.load(straight, registry=registry), cganzoo.load(split, registry=registry)
    for (key, p), q in zip(ga.generator.state_dict().items(), gb.generator.state_dict().values()):
        assert torch.equal(p, q), key
