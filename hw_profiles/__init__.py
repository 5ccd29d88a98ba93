"""Built-in hardware profiles (YAML files), installed as package data."""
