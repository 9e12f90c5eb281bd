"""The model layer: the GPT-2 model and its checkpoints, loading from the Hub or the zoo, predictions, training, the zoo's manifest and model cards."""
