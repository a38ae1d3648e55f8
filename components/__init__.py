"""ragrun's built-in components, one package per family and one module per backend.

The engine finds them by short name through the `ragrun.components` entry-point group declared
in pyproject.toml, the same way it finds third-party components; it never imports this package.
"""
