"""The scoring layer: the method API, running an extraction, scoring a program against the model, the results file and its checks, sharded runs."""
