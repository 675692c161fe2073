"""ONNX import: any ONNX CNN -> the same layer graph (and report) as a spec.

Imported lazily: ``archcalc report`` on a YAML spec never loads onnx.
"""
