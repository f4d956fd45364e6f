"""Where a structure of arrays first holds NaN or inf: the one search behind the host-side
checks of inputs (`checks`) and of cached teacher outputs (`written_checked`)."""

import keras
import numpy as np


def first_non_finite(x):
    """`(where, index, value)` of the first NaN/inf in the float arrays of the structure `x`
    (`where` its path as `"['key']"`, `index` its position in that array), or `None`.

    Example:

    >>> where, index, value = first_non_finite({"a": np.float32([1.0, np.nan])})
    >>> where, index, bool(np.isnan(value))
    ("['a']", (1,), True)
    """
    for path, value in keras.tree.flatten_with_path(x):
        array = np.asarray(value)
        if array.dtype.kind not in "fc":
            continue
        bad = np.argwhere(~np.isfinite(array))
        if len(bad):
            index = tuple(bad[0].tolist())
            return "".join(f"[{p!r}]" for p in path), index, array[index]
    return None
