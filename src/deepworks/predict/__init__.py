"""Use a finished run: ``load`` it, then predict, evaluate, explain, embed, generate or
recommend."""

from deepworks.predict.run import Inputs, Run, load

__all__ = ["Inputs", "Run", "load"]
