"""The one base of every pydantic model in pointsnet.

A model's validator and serializer are built when it is first used, not when its module is
imported (`defer_build`): a function imports the models of all its routes and handlers, and
a cold start would otherwise build every one of them though a request uses a handful.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(defer_build=True)
