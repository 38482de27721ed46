"""greenhouse: a developer's real activity, grown into a living portfolio garden.

The package follows the pipeline: ``sources`` → ``store`` → ``garden`` (the pure
simulation) → ``site`` (render, publish); the live ``sidecar`` stands apart.
"""

__version__ = "0.1.0"
