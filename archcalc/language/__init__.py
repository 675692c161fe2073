"""The YAML spec language: safe loading with line marks, variables, structural block expansion."""
