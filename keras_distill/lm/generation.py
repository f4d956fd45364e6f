"""Training text written by a model: sequence-level KD and on-policy distillation.

- **Sequence-level KD** (Kim & Rush 2016): the teacher continues each prompt
  (`teacher_generations`), and the student learns the teacher's text with the ordinary loss.
- **On-policy KD** (GKD, Agarwal et al. 2024): each round the student continues the prompts
  of a fraction `student_fraction` (GKD's lambda) of the sequences, and trains for one epoch on
  them beside the rest of the text as it is; the teacher scores every position of both
  (`fit_on_policy`). The student's samples carry no labels (`y = -1`): only the divergence
  trains on them, so with `student_fraction=1` (every sequence sampled) `alpha` must be 0.

Generation is keras-hub's `CausalLM.generate` on `{"token_ids", "padding_mask"}` (no
preprocessor needed), with the model's own sampler (`model.compile(sampler=...)`; keras-hub's
default samples from the top 5 tokens). A continuation runs to the prompts' full width.
"""

import numpy as np

from keras_distill import validation
from keras_distill.distiller.distiller import PADDING_MASK
from keras_distill.lm import sequences


def prompts(inputs, prompt_length):
    """The first `prompt_length` tokens of each sequence of `inputs`, the rest masked out.

    Example:

    >>> p = prompts(sequences.byte_sequences("abcdef", 6), 2)
    >>> p["token_ids"].tolist(), p["padding_mask"].tolist()
    ([[98, 99, 0, 0, 0, 0]], [[True, True, False, False, False, False]])
    """
    sequences.check_inputs(inputs)
    token_ids = np.array(inputs[sequences.TOKEN_IDS])
    width = token_ids.shape[1]
    prompt_length = validation.check_positive_int(prompt_length, "prompt_length")
    if prompt_length >= width:
        raise validation.invalid("prompt_length", f"fewer tokens than the sequences' {width}",
                                 prompt_length)
    mask = np.array(inputs[PADDING_MASK], bool)
    mask[:, prompt_length:] = False
    token_ids[~mask] = 0
    return {sequences.TOKEN_IDS: token_ids, PADDING_MASK: mask}


def _continue(model, inputs, prompt_length):
    generated = model.generate(prompts(inputs, prompt_length), stop_token_ids=None)
    return {key: np.asarray(value) for key, value in generated.items()}


def teacher_generations(teacher, inputs, prompt_length):
    """Sequence-level KD's training text: `teacher`'s continuation of each prompt.

    Args:
        teacher: A keras-hub `CausalLM` (anything with `generate` on token-id dicts).
        inputs: `{"token_ids", "padding_mask"}` sequences no longer than the teacher takes;
            their first `prompt_length` tokens are the prompts.
        prompt_length: Tokens of each sequence kept as its prompt.

    Returns:
        `{"token_ids", "padding_mask"}` of the same shape: prompt, then the teacher's tokens.
        Pass them through `next_token_examples` to train the student on them.
    """
    return _continue(teacher, inputs, prompt_length)


def fit_on_policy(distiller, inputs, prompt_length, rounds, *, student_fraction=1.0,
                  seed=None, **fit_kwargs):
    """On-policy distillation (GKD): `rounds` times, the student continues the prompts of a
    random `student_fraction` of the sequences, then trains one epoch on those samples and the
    other sequences as they are, the teacher scoring every position.

    Args:
        distiller: A compiled `Distiller` of causal LMs (`alpha == 0` when
            `student_fraction == 1`: then nothing carries a label).
        inputs: `{"token_ids", "padding_mask"}` sequences no longer than the student takes
            (the student continues them to their full width; it then trains on one fewer).
        prompt_length: Tokens of each sequence kept as its prompt.
        rounds: Rounds of sampling and training.
        student_fraction: GKD's lambda, in (0, 1]: the share of sequences replaced each
            round by the student's own continuations (their labels `-1`). Defaults to `1.0`.
        seed: Seed of which sequences are sampled each round. Defaults to `None`.
        **fit_kwargs: Passed to `distiller.fit` (`batch_size`, `callbacks`, ...).

    Returns:
        A dict of the logged values, one list entry per round.

    Raises:
        ValueError: If `student_fraction` is not in (0, 1], `alpha` is not 0 with every
            sequence sampled, or `rounds < 1`.
    """
    rounds = validation.check_positive_int(rounds, "rounds")
    fraction = validation.check_fraction(student_fraction, "student_fraction")
    if fraction == 0.0:
        raise validation.invalid("student_fraction", "a share in (0, 1]: 0 samples nothing "
                                 "(train with `fit` instead)", student_fraction)
    sequences.check_inputs(inputs)
    rows = len(inputs[sequences.TOKEN_IDS])
    sampled = max(1, int(round(fraction * rows)))
    if sampled == rows and float(distiller.alpha) != 0.0:
        raise validation.invalid(
            "alpha", "0 for on-policy distillation on the student's samples alone: they carry "
            f"no labels (`student_fraction={student_fraction}` samples all {rows} sequences; "
            "sample fewer)", float(distiller.alpha))
    rng = np.random.default_rng(seed)
    history = {}
    for _ in range(rounds):
        # Copies: `x` is written into below, and the caller's arrays must stay as they are.
        x, y = sequences.next_token_examples({k: np.array(v) for k, v in inputs.items()})
        chosen = rng.permutation(rows)[:sampled]
        samples = _continue(distiller.student, {k: np.asarray(v)[chosen]
                                                for k, v in inputs.items()}, prompt_length)
        sample_x, _ = sequences.next_token_examples(samples)
        for key in x:
            x[key][chosen] = sample_x[key]
        y[chosen] = -1
        logs = distiller.fit(x, y, epochs=1, **fit_kwargs).history
        for name, values in logs.items():
            history.setdefault(name, []).extend(values)
    return history
