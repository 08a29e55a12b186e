"""he-tool training toolkit: HE-friendly CNNs with polynomial activations.

Trainable quadratic activations, a smooth ReLU-to-polynomial transition, knowledge
distillation from a ReLU teacher, distribution-aware polynomial fitting, a range-aware
loss, and ONNX export with the metadata he-tool reads. See Examples/training/README.md.
"""

__version__ = "0.1.0"
