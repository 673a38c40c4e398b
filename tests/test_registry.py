from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from cganzoo.errors import ConfigError, DuplicateComponentError, UnknownComponentError
from cganzoo.components.registry import KINDS, Registry, make_register


class P(BaseModel):
    model_config = ConfigDict(extra="forbid")
    width: int = 3


def test_create_validates_params_with_the_components_own_model():
    reg = Registry()
    reg.register("loss", "sq", lambda width, scale: (width, scale), params=P)
    assert reg.create("loss", "sq", {"width": 5}, scale=2) == (5, 2)
    assert reg.create("loss", "sq", None, scale=1) == (3, 1)
    with pytest.raises(ConfigError, match=r"loss 'sq': widht: Extra inputs are not permitted"):
        reg.create("loss", "sq", {"widht": 5}, scale=1)
    with pytest.raises(ConfigError, match=r"width: .*integer.*\(got 'many'\)"):
        reg.create("loss", "sq", {"width": "many"}, scale=1)


def test_duplicate_names_are_rejected_and_name_both_plugins():
    reg = Registry()
    reg.register("conditioner", "emb", object, plugin="a")
    with pytest.raises(DuplicateComponentError, match="registered twice: by plugin 'a' and by 'b'"):
        reg.register("conditioner", "emb", object, plugin="b")
    reg.register("loss", "emb", object, plugin="b")  # same name, other kind: fine


def test_unknown_name_lists_the_choices():
    reg = Registry()
    reg.register("loss", "mse", object)
    reg.register("loss", "bce", object)
    with pytest.raises(UnknownComponentError) as info:
        reg.get("loss", "hinge")
    assert str(info.value) == "unknown loss 'hinge'; choose one of: bce, mse"


def test_glob_filter_and_kind_order():
    reg = Registry()
    for kind, name in [("loss", "mse"), ("model", "mlp-cgan"), ("model", "mlp-cgan-bce"), ("model", "dcgan")]:
        reg.register(kind, name, object)
    assert reg.names("model", "mlp*") == ["mlp-cgan", "mlp-cgan-bce"]
    assert reg.names("model", "dcgan, mlp-cgan") == ["dcgan", "mlp-cgan"]  # comma-separated globs: any
    assert reg.names("model", "mlp-cgan*,nothing") == ["mlp-cgan", "mlp-cgan-bce"]
    assert [c.kind for c in reg.components()] == ["model", "model", "model", "loss"]
    with pytest.raises(ValueError, match="unknown component kind"):
        reg.register("widget", "adam", object)
    assert "metric" in KINDS


def test_network_registration_must_name_generator_or_discriminator():
    reg = Registry()
    register = make_register(reg, None, "p")
    register("mlp", object, kind="generator")
    with pytest.raises(ValueError, match="kind='generator' or kind='discriminator'"):
        register("mlp", object)
    with pytest.raises(ValueError, match="kind='generator' or kind='discriminator'"):
        register("mse", object, kind="loss")
    assert reg.get("generator", "mlp").plugin == "p"


def test_a_near_miss_is_suggested():
    reg = Registry()
    reg.register("model", "mlp-cgan", object)
    reg.register("model", "acgan", object)
    with pytest.raises(UnknownComponentError) as info:
        reg.get("model", "mlp-gan")
    assert str(info.value) == "unknown model 'mlp-gan'; choose one of: acgan, mlp-cgan (did you mean 'mlp-cgan'?)"
