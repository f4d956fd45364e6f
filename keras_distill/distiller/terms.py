"""The distiller's distillation terms: the default, unique names, one temperature, built shapes."""

from keras_distill.distiller import features
from keras_distill.losses import terms as terms_lib

DEFAULT_TEMPERATURE = 3.0


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


def common_temperature(terms):
    """The one temperature the terms agree on, or `DEFAULT_TEMPERATURE` if none has one.

    Raises:
        ValueError: If two terms have different temperatures.

    Example:

    >>> common_temperature([terms_lib.LogitsDistillation(temperature=4.0)])
    4.0
    """
    temperatures = {t.temperature for t in terms if hasattr(t, "temperature")}
    if len(temperatures) > 1:
        raise ValueError(
            "The distillation terms use different temperatures "
            f"{sorted(temperatures)}; a Distiller has one temperature. Give the terms the "
            "same temperature or pass `temperature=` to the Distiller."
        )
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
