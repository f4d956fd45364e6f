"""The distiller's distillation terms: the default, unique names, temperatures, built shapes."""

from keras_distill.distiller import features
from keras_distill.distiller.loss import DEFAULT_TEMPERATURE
from keras_distill.losses import terms as terms_lib


def as_terms(losses):
    """Returns `losses` as a tuple of `DistillationTerm`s.

    Args:
        losses: A term, a loss, a list of them, or `None` (Hinton's KD on logits).

    Returns:
        A non-empty tuple of `DistillationTerm`s.

    Raises:
        ValueError: If `losses` is an empty list.

    Example:

    >>> [type(term).__name__ for term in as_terms(None)]
    ['LogitsDistillation']
    """
    if losses is None:
        losses = [terms_lib.LogitsDistillation()]
    if not isinstance(losses, (list, tuple)):
        losses = [losses]
    if not losses:
        raise ValueError(
            "Invalid value for argument `distillation_losses`. Expected at least one term. "
            "Received: distillation_losses=[]"
        )
    return tuple(terms_lib.as_term(loss) for loss in losses)


def unique_names(terms):
    """The terms' names, suffixed with their position where two terms share a name.

    Example:

    >>> unique_names([terms_lib.LogitsDistillation(), terms_lib.LogitsDistillation(), terms_lib.LogitsDistillation(name="kd")])
    ('logits_distillation_0', 'logits_distillation_1', 'kd')
    """
    names = [term.name for term in terms]
    return tuple(
        name if names.count(name) == 1 else f"{name}_{i}" for i, name in enumerate(names)
    )


def has_temperature(term):
    """Whether the term keeps a temperature a distiller can mirror (`bind_temperature`)."""
    return callable(getattr(term, "bind_temperature", None))


def common_temperature(terms):
    """The temperature the terms agree on: `DEFAULT_TEMPERATURE` if none has one, `None` if
    they differ (each term then keeps its own).

    Example:

    >>> common_temperature([terms_lib.LogitsDistillation(temperature=4.0)])
    4.0
    >>> common_temperature([terms_lib.LogitsDistillation(2.0), terms_lib.LogitsDistillation(3.0)])
    """
    temperatures = {t.temperature for t in terms if has_temperature(t)}
    if len(temperatures) > 1:
        return None
    return temperatures.pop() if temperatures else DEFAULT_TEMPERATURE


def build(terms, models):
    """Builds each term on the shapes of the outputs it reads, where they are known.

    Args:
        terms: The `DistillationTerm`s.
        models: `{"teacher": (model, feature_model), "student": (model, feature_model)}`, a
            feature model being `None` when no term reads that model's features.
    """
    for term in terms:
        shapes = [
            features.output_shape(*models[role], getattr(term, f"{role}_layer_name"))
            for role in ("teacher", "student")
        ]
        if None not in shapes:
            term.build(*shapes)
