"""Export a layer graph to ONNX (``export_onnx``, ``save``); imported lazily."""
