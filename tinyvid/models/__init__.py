"""Models: layers put together, and the Keras methods that train and use them.

    model.py         Model: a graph of layers from Input(...) to outputs (the functional API)
    sequential.py    Sequential: a stack of layers, the simplest Model
    (training/trainer.py holds compile, fit, evaluate and predict, shared by both)

`load_model` opens a Keras 3 `.keras` file (written by tinyvid or by Keras) as a tinyvid model;
`model_from_json` rebuilds a model (fresh weights) from `model.to_json()`.
"""

from tinyvid.models.model import Model
from tinyvid.models.sequential import Sequential
from tinyvid.training.keras_format import load_model
from tinyvid.training.serialization import model_from_json

__all__ = ["Model", "Sequential", "load_model", "model_from_json"]
