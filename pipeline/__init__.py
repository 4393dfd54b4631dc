"""The Ethics & Society newsletter pipeline.

Markdown pieces with YAML front matter go in ``issues/<issue_id>/``; ``build-issue`` turns an
issue into an HTML email, a plain-text email, a web edition, the archive and the feeds.
"""

__version__ = "0.1.0"
#: The software's name (its package), as feeds and pages name their generator.
SOFTWARE = "ethics-society-pipeline"
#: The generator of every page and feed: the software and its version.
GENERATOR = f"{SOFTWARE} {__version__}"
