"""Torchvision data sets biaslab loads: class name and the folder torchvision expects.

Kept free of heavy imports so config validation can check folders before torch loads.
"""

DATASETS: dict[str, tuple[str, str]] = {
    "mnist": ("MNIST", "MNIST/raw"),
    "fashion_mnist": ("FashionMNIST", "FashionMNIST/raw"),
    "cifar10": ("CIFAR10", "cifar-10-batches-py"),
    "cifar100": ("CIFAR100", "cifar-100-python"),
}
