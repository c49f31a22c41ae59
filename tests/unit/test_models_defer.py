"""Every pydantic model of pointsnet builds its validator on first use, not at import."""

from __future__ import annotations

import importlib
import pkgutil

from pydantic import BaseModel

import pointsnet
from pointsnet.model import Model
from tests.helpers import subclasses_of

# The local runtime, CLI and SDK are not in the functions' layer; their models may build
# eagerly, yet they derive from Model all the same.
PACKAGE_MODULES = [
    info.name
    for info in pkgutil.walk_packages(pointsnet.__path__, prefix="pointsnet.")
    if not info.name.endswith(".__main__")
]


def all_models() -> list[type[BaseModel]]:
    for name in PACKAGE_MODULES:
        importlib.import_module(name)
    return [
        model for model in subclasses_of(BaseModel) if model.__module__.startswith("pointsnet.")
    ]


def test_every_model_derives_from_the_deferring_base() -> None:
    # Given every module of pointsnet imported
    # When its pydantic models are listed
    models = all_models()
    # Then there are the ones the network defines, each derives from Model and defers its build
    assert len(models) > 100
    eager = [
        f"{model.__module__}.{model.__qualname__}"
        for model in models
        if not issubclass(model, Model) or not model.model_config.get("defer_build")
    ]
    assert not eager


def test_a_deferred_model_builds_its_validator_when_first_used() -> None:
    # Given a model defined on the base, not yet used
    class Stay(Model):
        nights: int

    assert not Stay.__pydantic_complete__
    # When it validates its first input
    stay = Stay.model_validate({"nights": "3"})
    # Then it is built and validates as any pydantic model does
    assert Stay.__pydantic_complete__
    assert stay.nights == 3
