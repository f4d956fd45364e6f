"""Models that return a network's logits and intermediate features in one forward pass."""

import keras

from keras_distill.distiller.inputs import LOGITS


class Untracked:
    """Holds helper models out of Keras's tracking, so they are neither saved nor exported."""

    def __init__(self):
        self.models = {}


def feature_model(model, layer_names, role):
    """A functional model over `model.inputs` returning logits and the named layers' outputs."""
    if not getattr(model, "inputs", None):
        raise ValueError(
            f"Reading intermediate features of the {role} needs a Functional or Sequential model, "
            f"but `{model.name}` is subclassed. Rebuild it functionally, or return the feature "
            "from its `call` and distill on that output."
        )
    available = [layer.name for layer in model.layers]
    outputs = {LOGITS: model.outputs[0]}
    for name in layer_names:
        if name not in available:
            raise ValueError(
                f"Invalid layer name for the {role}: {name!r}. Available layers: {available}"
            )
        outputs[name] = model.get_layer(name).output
    return keras.Model(model.inputs, outputs, name=f"{model.name}_features")
