"""The `keras-distill lm` subcommand's flags: a causal language model distilled on text."""

from keras_distill import config as config_lib
from keras_distill.cli.flags import cache_flag
from keras_distill.cli.flags import flag
from keras_distill.cli.flags import strategy_flags
from keras_distill.cli.flags import subparser
from keras_distill.cli.flags import training_flags


def add_lm_parser(sub):
    """Adds the `lm` subcommand to the subparsers `sub`."""
    parser = subparser(sub, "lm", "distill a causal language model (keras-hub CausalLM) on text",
                       "Distill a causal language model on text: the teacher (a keras-hub "
                       "preset directory or a .keras CausalLM, or a reference GPT-2 trained "
                       "here), the same student trained alone and distilled, compared on "
                       "held-out text (perplexity, next-token accuracy, size, tokens/s); the "
                       "student saved as a keras-hub preset and exported as a scoring "
                       "SavedModel. Needs keras-hub (pip install 'keras-distill[lm]').")
    flag(parser, "--text", "a UTF-8 text file or a directory of them; repeat for several "
         "(default: the source of a few modules of Python's standard library)",
         action="append")
    flag(parser, "--tokenizer", "'bytes', a keras-hub preset directory with a tokenizer.json, "
         "or 'auto': the teacher preset's tokenizer if it has one, else bytes "
         "(default: {default})")
    flag(parser, "--sequence-length", "tokens per sequence (default: {default})", type=int)
    flag(parser, "--validation-split", "fraction of the text before the test text, at its "
         "end, that selects each model's best epoch (default: {default})", type=float)
    flag(parser, "--test-split", "fraction of the text, at its end, held out for the report "
         "(default: {default})", type=float)
    flag(parser, "--output", "output directory: each command writes a new run directory in "
         "it, and OUTPUT/latest points at the newest (default: {default})")
    training_flags(parser)
    flag(parser, "--teacher", "the teacher: a keras-hub preset directory or a .keras CausalLM "
         "(default: train a reference GPT-2 on the training text)")
    flag(parser, "--teacher-epochs", "epochs of the reference teacher (default: {default})",
         type=int)
    flag(parser, "--teacher-layers", "blocks of the reference teacher "
         f"(default: {config_lib.REFERENCE_TEACHER[0]})", type=int)
    flag(parser, "--teacher-width", "hidden size of the reference teacher "
         f"(default: {config_lib.REFERENCE_TEACHER[1]})",
         type=int)
    flag(parser, "--student", "the student to start from: a keras-hub preset directory or a "
         ".keras CausalLM (default: an untrained reference GPT-2)")
    flag(parser, "--student-layers", "blocks of the reference student "
         f"(default: {config_lib.REFERENCE_STUDENT[0]})", type=int)
    flag(parser, "--student-width", "hidden size of the reference student "
         f"(default: {config_lib.REFERENCE_STUDENT[1]})", type=int)
    flag(parser, "--divergence", "forward_kl (Hinton's KD), reverse_kl, or generalized_jsd "
         "(GKD) (default: {default})", choices=config_lib.DIVERGENCES)
    flag(parser, "--beta", "generalized_jsd's mixture weight, in (0, 1) (default: {default})",
         type=float)
    flag(parser, "--alpha", "weight of the next-token cross-entropy, in [0, 1] "
         "(default: {default})", type=float)
    flag(parser, "--temperature", "softmax temperature (default: {default})", type=float)
    cache_flag(parser, "run the teacher once and train on a top-k cache of its logits "
               "(forward_kl only; default: off, the teacher runs online)")
    flag(parser, "--top-k", "teacher logits kept per position with --cache-teacher "
         "(default: {default})", type=int)
    flag(parser, "--no-export", "skip the scoring SavedModel (export/saved_model/1)",
         dest="export", action="store_false")
    strategy_flags(parser)
