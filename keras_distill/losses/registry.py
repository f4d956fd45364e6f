"""The names of the distillation losses and terms: the tables behind `get`, `get_term`, `as_term`.

Each class is registered where it is defined (`@registry.register_loss("dkd", "decoupled_kd")`),
so this module imports none of them and every module of the package may read it: nothing
imports in a circle. Importing any module of `keras_distill.losses` first runs the package's
`__init__`, which imports every module that registers, so the tables are full before anything
can look a name up.

Example:

>>> from keras_distill import losses
>>> "dkd" in loss_names(), "rkd" in term_names()
(True, True)
>>> loss_factory("DKD") is losses.DecoupledKD
True
"""

import functools

_LOSSES = {}
_TERMS = {}


def _register(table, names, factory):
    for name in names:
        table[name.lower()] = factory


def register_loss(*names, **defaults):
    """Class decorator: `get(name)` builds the class for each of `names`, with `defaults`.

    Args:
        *names: The names (case-insensitive) of the loss.
        **defaults: Keyword arguments the names build it with, e.g. `standardize=True` for
            `"kd_standardized"`.
    """
    def decorator(cls):
        _register(_LOSSES, names, functools.partial(cls, **defaults) if defaults else cls)
        return cls

    return decorator


def register_term(*names):
    """Class decorator: `get_term(name, **kwargs)` builds the class for each of `names`."""
    def decorator(cls):
        _register(_TERMS, names, cls)
        return cls

    return decorator


def loss_factory(name):
    """The callable that builds the logit loss called `name` (any case), or `None`."""
    return _LOSSES.get(name.lower()) if isinstance(name, str) else None


def term_factory(name):
    """The class of the distillation term called `name` (any case), or `None`."""
    return _TERMS.get(name.lower()) if isinstance(name, str) else None


def loss_names():
    """The registered logit loss names, sorted."""
    return sorted(_LOSSES)


def term_names():
    """The registered term names (terms that read layers or batch relations), sorted."""
    return sorted(_TERMS)
