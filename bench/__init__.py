"""rasp-bench: score programs extracted from transformers for faithfulness, size and length generalization."""

__version__ = "0.1.0"
