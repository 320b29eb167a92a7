"""Data handling: splits, datasets and loaders, preprocessing, augmentation, datasets.

Names and semantics follow scikit-learn (splits, scalers, toy datasets) and PyTorch
(``Dataset``, ``DataLoader``). Everything here works with NumPy alone; scikit-learn is only
needed to compare against it.

Examples
--------
>>> import ferrograd as fg
>>> from ferrograd.data import DataLoader, StandardScaler, load_digits, train_test_split
>>> X, y = load_digits()
>>> X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, seed=0,
...                                                     stratify=y)
>>> scaler = StandardScaler().fit(X_train)          # statistics of the training data only
>>> loader = DataLoader((scaler.transform(X_train), y_train), batch_size=64, shuffle=True,
...                     seed=0)
>>> xb, yb = next(iter(loader))
>>> xb.shape, yb.shape, len(loader)
((64, 64), (64,), 23)
"""

from __future__ import annotations

from ..exceptions import ArgumentError, NotFittedError
from .augment import Augmentation, Compose, GaussianNoise, RandomFlip, RandomShift
from .dataset import ArrayDataset, Dataset
from .datasets import load_digits
from .kfold import KFold, StratifiedKFold
from .loader import DataLoader, default_collate
from .scalers import MinMaxScaler, StandardScaler
from .splits import train_test_split, train_val_test_split
from .synthetic import make_blobs, make_moons, make_regression, make_spirals
from .tabular import CSVError, load_csv
from .whitening import PCAWhitening, ZCAWhitening

__all__ = [
    "ArgumentError",
    "ArrayDataset",
    "Augmentation",
    "CSVError",
    "Compose",
    "DataLoader",
    "Dataset",
    "GaussianNoise",
    "KFold",
    "MinMaxScaler",
    "NotFittedError",
    "PCAWhitening",
    "RandomFlip",
    "RandomShift",
    "StandardScaler",
    "StratifiedKFold",
    "ZCAWhitening",
    "default_collate",
    "load_csv",
    "load_digits",
    "make_blobs",
    "make_moons",
    "make_regression",
    "make_spirals",
    "train_test_split",
    "train_val_test_split",
]
