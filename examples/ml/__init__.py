"""A model-backed agent: brightness pre-labelling with a real ONNX model, loaded once per instance."""
