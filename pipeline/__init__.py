"""The Ethics & Society newsletter pipeline.

Markdown pieces with YAML front matter go in ``issues/<issue_id>/``; ``build-issue`` turns an
issue into an HTML email, a plain-text email, a web edition, the archive and the feeds.
"""

__version__ = "0.1.0"
