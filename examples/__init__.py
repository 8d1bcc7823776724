"""Examples of bringing a model to the library (run from the repository root)."""
