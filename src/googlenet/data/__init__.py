"""Data: locating the real datasets, decoding, augmentation and loaders."""
