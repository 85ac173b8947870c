"""imu: an open wearable spine-motion pipeline."""

__version__ = "0.1.0"
