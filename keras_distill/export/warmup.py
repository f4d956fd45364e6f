"""TF Serving warm-up requests: `assets.extra/tf_serving_warmup_requests` in a SavedModel.

TF Serving replays these `PredictionLog` records (a TFRecord file) when it loads a version, so the
first user request does not pay for graph initialisation. See
https://www.tensorflow.org/tfx/serving/saved_model_warmup.
"""

import os

import numpy as np
import tensorflow as tf

WARMUP_DIR = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"
MAX_RECORDS = 1000  # TF Serving reads at most this many warm-up records.


def _apis():
    try:
        from tensorflow_serving.apis import model_pb2
        from tensorflow_serving.apis import predict_pb2
        from tensorflow_serving.apis import prediction_log_pb2
    except ImportError as error:  # pragma: no cover - declared in setup.py
        raise ImportError(
            "Writing TF Serving warm-up requests needs `tensorflow-serving-api`. "
            "Install it with `pip install tensorflow-serving-api`."
        ) from error
    return model_pb2, predict_pb2, prediction_log_pb2


def write_warmup_requests(
    export_dir, inputs, model_name="model", signature_name="serving_default", max_records=100
):
    """Writes one `PredictRequest` per example (batch of 1) as TF Serving warm-up records.

    Args:
        export_dir: A SavedModel directory (a version directory).
        inputs: A dict `{input_name: array}`, arrays batch first.
        model_name: The `model_spec.name` of the requests. Defaults to `"model"`.
        signature_name: The signature the requests call. Defaults to `"serving_default"`.
        max_records: At most this many records are written (TF Serving reads at most 1000).
            Defaults to `100`.

    Returns:
        The path of the warm-up file.

    Example:

    >>> import numpy as np, tempfile
    >>> path = write_warmup_requests(tempfile.mkdtemp(), {"x": np.zeros((3, 4), "float32")})
    >>> [log.predict_log.request.inputs["x"].tensor_shape.dim[1].size
    ...  for log in read_warmup_requests(path)]
    [4, 4, 4]
    """
    if not isinstance(max_records, int) or not 1 <= max_records <= MAX_RECORDS:
        raise ValueError(
            "Invalid value for argument `max_records`. Expected an integer in "
            f"[1, {MAX_RECORDS}]. Received: max_records={max_records!r}"
        )
    model_pb2, predict_pb2, prediction_log_pb2 = _apis()
    arrays = {name: np.asarray(value) for name, value in inputs.items()}
    count = min(len(next(iter(arrays.values()))), max_records)
    directory = os.path.join(export_dir, WARMUP_DIR)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, WARMUP_FILE)
    with tf.io.TFRecordWriter(path) as writer:
        for i in range(count):
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature_name)
            )
            for name, array in arrays.items():
                request.inputs[name].CopyFrom(tf.make_tensor_proto(array[i:i + 1]))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
            writer.write(log.SerializeToString())
    return path


def read_warmup_requests(path):
    """Reads a warm-up file back into a list of `PredictionLog` protos.

    Args:
        path: The warm-up file, or the SavedModel directory that holds it.

    Returns:
        A list of `tensorflow_serving.apis.prediction_log_pb2.PredictionLog`.
    """
    if os.path.isdir(path):
        path = os.path.join(path, WARMUP_DIR, WARMUP_FILE)
    _, _, prediction_log_pb2 = _apis()
    logs = []
    for record in tf.data.TFRecordDataset(path):
        logs.append(prediction_log_pb2.PredictionLog.FromString(record.numpy()))
    return logs
