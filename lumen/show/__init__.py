"""Show layer: show files and presets (strict schema, YAML loading with line numbers)."""
