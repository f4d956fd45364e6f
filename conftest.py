"""Root conftest: the doctests in keras_distill/ share the tests' set-up."""

from tests.conftest import *  # noqa: F401,F403
