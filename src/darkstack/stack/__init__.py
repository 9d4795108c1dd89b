"""Stacking: naive majority voting and a logistic-regression meta-learner over 3-NN base classifiers,
with explanations and prediction for unlabelled hosts (stacking paper §2.2–2.3, §4)."""

from darkstack.stack.predict import predict
from darkstack.stack.run import StackResult, stack
from darkstack.stack.settings import StackSettings

__all__ = ["StackResult", "StackSettings", "predict", "stack"]
