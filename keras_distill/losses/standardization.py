"""Logit standardisation (Sun et al., CVPR 2024): a z-score pre-step for logit losses."""

import tensorflow as tf

# Guards the square root's gradient when every logit of an example is equal (e.g. a freshly
# initialised student with zero weights): the value changes by less than 1e-12.
_MIN_VARIANCE = 1e-24


def standardize_logits(logits, epsilon=1e-7):
    """Z-scores logits over the class axis: `(z - mean(z)) / (std(z) + epsilon)`.

    Follows the official code of "Logit Standardization in Knowledge Distillation" (Sun et al.,
    CVPR 2024, github.com/sunshangquan/logit-standardization-KD, `normalize`): the standard
    deviation is Bessel-corrected (PyTorch's `Tensor.std`, `N - 1` in the denominator) and
    `epsilon` is added to it, not to the variance. Each example's logits then have mean 0 and
    (sample) standard deviation 1, so teacher and student are compared on their logit
    *relations*, not magnitudes. The temperature applied afterwards is the paper's "base
    temperature" (their CIFAR-100 runs use 2 or 3, with the KD weight raised to 9).

    Args:
        logits: Tensor `[batch, ..., classes]`; computed in float32.
        epsilon: Small positive number added to the standard deviation. Defaults to `1e-7`.

    Returns:
        Float32 tensor of the same shape.

    Example:

    >>> [round(float(v), 4) for v in standardize_logits([[1.0, 2.0, 3.0]])[0]]
    [-1.0, 0.0, 1.0]
    """
    logits = tf.cast(logits, tf.float32)
    classes = tf.cast(tf.shape(logits)[-1], tf.float32)
    centered = logits - tf.reduce_mean(logits, axis=-1, keepdims=True)
    variance = tf.reduce_sum(tf.square(centered), axis=-1, keepdims=True) / tf.maximum(
        classes - 1.0, 1.0
    )
    std = tf.sqrt(tf.maximum(variance, _MIN_VARIANCE))
    return centered / (std + epsilon)
