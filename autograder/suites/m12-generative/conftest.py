"""Trusted-side fixtures for the m12 hidden suite: MNIST is loaded here, never in the student's process."""
import numpy as np
import pytest

from coursekit.data import load_dataset


@pytest.fixture(scope="session")
def mnist() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{"train": (uint8 (60000, 28, 28), labels), "test": (uint8 (10000, 28, 28), labels)}."""
    return load_dataset("mnist")

