"""The serving signature shared by every export format: named inputs and classifier outputs.

A classifier (one output of shape `[batch, classes]`, `classes >= 2`) is served as
`{"logits", "probabilities", "class_ids"}` (and `"classes"`, the predicted class's name, when a
`Preprocessing` names the classes); any other model keeps its own outputs. A model that ends in
softmax is read before the softmax, so `logits` are always logits. With a `Preprocessing`, the
signature takes the raw inputs and applies the training preprocessing before the model.
"""

import warnings

import keras
import numpy as np
import tensorflow as tf

from keras_distill import teacher as teacher_lib
from keras_distill.export import preprocessing as preprocessing_lib
from keras_distill.export import specs as specs_lib

SIGNATURE_KEY = "serving_default"
LOGITS = "logits"
PROBABILITIES = "probabilities"
CLASS_IDS = "class_ids"
CLASSES = "classes"


def resolve_model(model, verbose=True):
    """Returns the `keras.Model` to export: a `Distiller`'s student, a loaded `.keras` file, or
    `model` itself.

    Args:
        model: A `keras.Model`, a `keras_distill.Distiller`, or the path of a `.keras` file.
        verbose: Whether to say when a `Distiller`'s student is exported. Defaults to `True`.

    Returns:
        A `keras.Model`; never a `Distiller`, so the teacher is never exported.

    Example:

    >>> import keras
    >>> from keras_distill import Distiller
    >>> student = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> teacher = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> resolve_model(Distiller(student=student, teacher=teacher), verbose=False) is student
    True
    """
    from keras_distill.distiller import Distiller

    if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
        path = str(model)
        if not path.endswith(".keras"):
            raise ValueError(
                "Invalid value for argument `model`. Expected a `keras.Model`, a `Distiller` "
                f"or the path of a `.keras` file. Received: model={path!r}"
            )
        model = keras.saving.load_model(path, compile=False)
    if isinstance(model, Distiller):
        if verbose:
            print(
                f"Exporting the distiller's student `{model.student.name}` only; the teacher "
                f"`{model.teacher.name}` is not exported."
            )
        model = model.student
    if not isinstance(model, keras.Model):
        raise TypeError(
            "Invalid value for argument `model`. Expected a `keras.Model`, a `Distiller` or the "
            f"path of a `.keras` file. Received: model={model!r} of type {type(model).__name__}"
        )
    return model


class ServingSignature:
    """The function, input specs and output names that every export format serves.

    Args:
        model: A `keras.Model` (already resolved with `resolve_model`).
        input_name: The name of the input (a list of names for several inputs). Defaults to
            `None`: the model's input name(s).
        input_signature: A `tf.TensorSpec`/`keras.InputSpec` (or a list, one per input); needed
            for a model that was never built. Defaults to `None`: read from the model.
        classifier: Whether to serve `logits`, `probabilities` and `class_ids`. Defaults to
            `None`: `True` for one output of shape `[batch, classes]` with `classes >= 2`.
        preprocessing: A `keras_distill.export.Preprocessing`: the signature takes its raw
            inputs (one input only) and applies it before the model; its `class_names` add the
            `classes` output. Defaults to `None`: the model's own inputs, unchanged.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((4,), name="x"), keras.layers.Dense(3)])
    >>> signature = ServingSignature(model)
    >>> signature.input_names, signature.output_names
    (['x'], ['logits', 'probabilities', 'class_ids'])
    >>> raw = ServingSignature(model, preprocessing=preprocessing_lib.Preprocessing(
    ...     input_dtype="uint8", normalization={"scale": 1 / 255}, class_names=list("abc")))
    >>> raw.input_specs[0].dtype.name, raw.output_names[-1]
    ('uint8', 'classes')
    """

    def __init__(self, model, input_name=None, input_signature=None, classifier=None,
                 preprocessing=None):
        specs = None
        if input_signature is not None:
            given = input_signature if isinstance(input_signature, (list, tuple)) else [
                input_signature
            ]
            specs = [(getattr(s, "name", None), s) for s in given]
        elif not model.built:
            raise ValueError(
                f"The model `{model.name}` was never built or called, so its inputs are "
                "unknown. Build it (create it with `keras.Input`, call it on a batch, or call "
                "`model.build(input_shape)`), or pass `input_signature=tf.TensorSpec(shape, "
                "dtype)`."
            )
        else:
            found = specs_lib.model_specs(model)
            if found is None:
                raise ValueError(
                    f"The inputs of the model `{model.name}` cannot be read from it. Pass "
                    "`input_signature=tf.TensorSpec(shape, dtype)` (a list for several inputs)."
                )
            specs = [(name, tf.TensorSpec(shape, dtype)) for name, shape, dtype in found]
        names = [name for name, _ in specs]
        if input_name is not None:
            given_names = [input_name] if isinstance(input_name, str) else list(input_name)
            if len(given_names) != len(specs):
                raise ValueError(
                    f"Invalid value for argument `input_name`. Expected {len(specs)} name(s), "
                    f"one per model input. Received: input_name={input_name!r}"
                )
            names = given_names
        names = [
            name or ("inputs" if len(specs) == 1 else f"inputs_{i}")
            for i, name in enumerate(names)
        ]
        specs_lib.check_names(names, "input_name")
        if len(set(names)) != len(names):
            raise ValueError(
                "Invalid value for argument `input_name`. Expected distinct names. "
                f"Received: input_name={names!r}"
            )
        self.input_names = names
        self.model_specs = [specs_lib.as_spec(spec, name)
                            for name, (_, spec) in zip(names, specs)]
        self.input_specs = self.model_specs
        self.preprocessing = _check_preprocessing(preprocessing, self.model_specs)
        if self.preprocessing is not None:
            self.input_specs = [self.preprocessing.input_spec(self.model_specs[0], names[0])]
        self.model = model
        if not model.built:
            model(self._pack(specs_lib.synthetic(self.model_specs, 1)), training=False)
        self._logits_model = self._classifier_logits(model, classifier)
        self.is_classifier = self._logits_model is not None
        self.output_names = (
            [LOGITS, PROBABILITIES, CLASS_IDS] if self.is_classifier else self._plain_output_names()
        )
        self.class_names = None if self.preprocessing is None else self.preprocessing.class_names
        if self.class_names is not None:
            self._check_class_names()
            self.output_names.append(CLASSES)

    # ----------------------------------------------------------------- set-up
    def _classifier_logits(self, model, classifier):
        if classifier is None:
            outputs = getattr(model, "outputs", None)
            if outputs:
                shapes = [tuple(x.shape) for x in outputs]
            else:  # Subclassed: look at what it returns.
                example = self._pack(specs_lib.synthetic(self.model_specs, 1))
                result = model(example, training=False)
                shapes = [tuple(x.shape) for x in keras.tree.flatten(result)]
                if isinstance(result, (dict, list, tuple)):
                    shapes = shapes * 2  # A structure is not a single classifier output.
            classifier = (
                len(shapes) == 1 and len(shapes[0]) == 2
                and shapes[0][-1] is not None and shapes[0][-1] >= 2
            )
        if not classifier:
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return teacher_lib.logits_model(model, role="model")

    def _plain_output_names(self):
        outputs = self.model(self._pack(specs_lib.synthetic(self.model_specs, 1)), training=False)
        if isinstance(outputs, dict):
            return sorted(outputs)
        flat = keras.tree.flatten(outputs)
        if len(flat) == 1:
            return ["outputs"]
        names = list(getattr(self.model, "output_names", None) or [])
        if len(names) != len(flat) or len(set(names)) != len(names):
            names = [f"output_{i}" for i in range(len(flat))]
        return names

    def _check_class_names(self):
        if not self.is_classifier:
            raise ValueError(
                "Invalid value for argument `preprocessing`. Class names name a classifier's "
                f"classes, but `{self.model.name}` is not served as a classifier. Received: "
                f"class_names={list(self.class_names)!r}"
            )
        example = self._pack(specs_lib.synthetic(self.model_specs, 1))
        logits = self._logits_model(example, training=False)
        if logits.shape[-1] != len(self.class_names):
            raise ValueError(
                "Invalid value for argument `preprocessing`. Expected one class name per "
                f"class: {logits.shape[-1]} names. Received: {len(self.class_names)} "
                f"class_names={list(self.class_names)!r}"
            )

    def _pack(self, flat):
        if len(flat) == 1:
            return flat[0]
        struct = getattr(self.model, "_inputs_struct", None)
        if isinstance(struct, dict):
            return dict(zip(struct.keys(), flat))
        return list(flat)

    # ---------------------------------------------------------------- serving
    def serve(self, *inputs):
        """Runs the model on `inputs` (one tensor per input) and returns the named outputs."""
        inputs = [tf.cast(x, spec.dtype) for x, spec in zip(inputs, self.input_specs)]
        if self.preprocessing is not None:
            inputs = [tf.cast(self.preprocessing(inputs[0]), self.model_specs[0].dtype)]
        if self.is_classifier:
            logits = tf.cast(self._logits_model(self._pack(inputs), training=False), tf.float32)
            outputs = {
                LOGITS: logits,
                PROBABILITIES: tf.nn.softmax(logits, axis=-1),
                CLASS_IDS: tf.argmax(logits, axis=-1),
            }
            if self.class_names is not None:
                outputs[CLASSES] = tf.gather(tf.constant(self.class_names), outputs[CLASS_IDS])
            return outputs
        outputs = self.model(self._pack(inputs), training=False)
        if isinstance(outputs, dict):
            return {k: _float32(outputs[k]) for k in self.output_names}
        return {k: _float32(v) for k, v in zip(self.output_names, keras.tree.flatten(outputs))}

    def archive(self):
        """Returns a `keras.export.ExportArchive` serving `serve` under `serving_default`."""
        archive = keras.export.ExportArchive()
        archive.track(self.model)
        if self._logits_model is not None and self._logits_model is not self.model:
            archive.track(self._logits_model)
        archive.add_endpoint(SIGNATURE_KEY, self.serve, input_signature=self.input_specs)
        return archive

    def example_inputs(self, batch_size=2, seed=0):
        """Synthetic inputs matching the signature (unknown dimensions become `batch_size`/1;
        raw inputs of a `Preprocessing` take its resize size, and pixels in `[0, 255]`)."""
        if self.preprocessing is not None:
            spec = self.input_specs[0]
            return [self.preprocessing.example(spec.shape.as_list()[1:], spec.dtype,
                                               batch_size, seed)]
        return specs_lib.synthetic(self.input_specs, batch_size, seed)

    def describe(self):
        """A JSON-ready description of the inputs and outputs (for the model card)."""
        outputs = self.serve(*[tf.constant(x) for x in self.example_inputs(1)])
        return {
            "inputs": [specs_lib.describe_spec(s.name, s) for s in self.input_specs],
            "model_inputs": [specs_lib.describe_spec(s.name, s) for s in self.model_specs],
            "outputs": [specs_lib.describe_spec(k, outputs[k]) for k in self.output_names],
        }

    def as_arrays(self, data, argument):
        """Reads `data` into `(inputs, labels)`: one NumPy array per input, labels or `None`.

        `data` is an array (one input), a list/tuple of arrays (one per input), a dict by input
        name, an `(x, y)` tuple, or a `tf.data.Dataset` of batches of any of these. Shapes are
        checked against the signature.
        """
        x, y = data, None
        if isinstance(data, tf.data.Dataset):
            batches = [self.as_arrays(batch, argument) for batch in data]
            if not batches:
                raise ValueError(
                    f"Invalid value for argument `{argument}`. Expected a dataset that yields "
                    "at least one batch. Received: an empty dataset."
                )
            x = [np.concatenate([b[0][i] for b in batches]) for i in range(len(self.input_specs))]
            labels = [b[1] for b in batches]
            y = None if labels[0] is None else np.concatenate(labels)
            return x, y
        if isinstance(data, tuple) and len(data) == 2 and not (
            len(self.input_specs) == 2 and _is_input(data[1])
        ):
            x, y = data
        if isinstance(x, dict):
            missing = sorted(set(self.input_names) - set(x))
            if missing:
                raise ValueError(
                    f"Invalid value for argument `{argument}`. Expected the inputs "
                    f"{self.input_names}. Received: a dict with keys {sorted(x)}"
                )
            x = [x[name] for name in self.input_names]
        elif not isinstance(x, (list, tuple)):
            x = [x]
        x = [np.asarray(v) for v in x]
        if len(x) != len(self.input_specs):
            raise ValueError(
                f"Invalid value for argument `{argument}`. Expected {len(self.input_specs)} "
                f"input array(s). Received: {len(x)} array(s)."
            )
        for array, spec in zip(x, self.input_specs):
            if not spec.shape.is_compatible_with(array.shape):
                raise ValueError(
                    f"Invalid value for argument `{argument}`. Expected inputs of shape "
                    f"{tuple(spec.shape.as_list())} (batch first) for input `{spec.name}`. "
                    f"Received: {argument} of shape {array.shape}"
                )
            if array.shape[0] == 0:
                raise ValueError(
                    f"Invalid value for argument `{argument}`. Expected at least one example. "
                    f"Received: {argument} of shape {array.shape}"
                )
        x = [array.astype(spec.dtype.as_numpy_dtype) for array, spec in zip(x, self.input_specs)]
        return x, (None if y is None else np.asarray(y))

    def reference_outputs(self, inputs):
        """The Keras model's outputs, as served, for NumPy `inputs` (batched to bound memory)."""
        outputs = {}
        total = inputs[0].shape[0]
        for start in range(0, total, 256):
            batch = self.serve(*[tf.constant(x[start:start + 256]) for x in inputs])
            for k, v in batch.items():
                outputs.setdefault(k, []).append(np.asarray(v))
        return {k: np.concatenate(v) for k, v in outputs.items()}


def _check_preprocessing(preprocessing, model_specs):
    if preprocessing is None:
        return None
    if not isinstance(preprocessing, preprocessing_lib.Preprocessing):
        raise TypeError(
            "Invalid value for argument `preprocessing`. Expected a "
            "`keras_distill.export.Preprocessing` or `None`. Received: "
            f"preprocessing={preprocessing!r} of type {type(preprocessing).__name__}"
        )
    if len(model_specs) != 1:
        raise ValueError(
            "Invalid value for argument `preprocessing`. Expected a model with one input; "
            f"this one has {len(model_specs)}. Received: preprocessing={preprocessing!r}"
        )
    return preprocessing


def _is_input(value):
    return isinstance(value, np.ndarray) and value.ndim >= 2 or tf.is_tensor(value) and (
        value.shape.rank or 0
    ) >= 2


def _float32(x):
    return tf.cast(x, tf.float32) if x.dtype.is_floating else x
