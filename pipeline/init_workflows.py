"""The GitHub Actions workflows ``newsletter init`` writes: on every pull request, a check of
the coming issue (annotations on the pieces' lines) and a preview of it as an artifact; every
hour, ``newsletter publish`` of the issue whose moment has come. Both install the pipeline by
its package name and version.
"""

from __future__ import annotations

from . import SOFTWARE, __version__

WORKFLOWS = ".github/workflows"


def workflows() -> dict[str, str]:
    """The workflow files, by path relative to the root."""
    return {f"{WORKFLOWS}/check.yml": _workflow(CHECK_WORKFLOW),
            f"{WORKFLOWS}/publish.yml": _workflow(PUBLISH_WORKFLOW)}


def _workflow(template: str) -> str:
    return template.replace("@SETUP@\n", SETUP_STEPS).replace("@PIPELINE@", _pipeline())


def _pipeline() -> str:
    return f"{SOFTWARE}=={__version__}"


#: The first steps of both workflows: the repository, Python and the pipeline.
SETUP_STEPS = """\
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - name: Install the pipeline
        run: python -m pip install "$PIPELINE"
"""

CHECK_WORKFLOW = """\
# On every pull request: check the coming issue (annotations on the pieces' lines) and
# build a preview of it, drafts included, as an artifact to download.
name: Check the coming issue

on:
  pull_request:

permissions:
  contents: read

env:
  # The pipeline, pinned. Install it from wherever your organisation keeps it (a package
  # index, or a git URL such as git+https://example.org/you/pipeline.git@v@VERSION@).
  PIPELINE: "@PIPELINE@"

jobs:
  check:
    runs-on: ubuntu-latest
    steps:
@SETUP@
      - name: Find the coming issue
        id: coming
        run: |
          newsletter calendar --count 1 --json > coming.json
          python - >> "$GITHUB_OUTPUT" <<'PY'
          import json, os
          issue = json.load(open("coming.json"))[0]["issue_id"]
          print("issue=" + issue)
          print("exists=" + str(os.path.isdir("issues/" + issue)).lower())
          PY
      # Until someone writes the first piece of the coming issue, there is nothing to check.
      - name: Check it
        if: steps.coming.outputs.exists == 'true'
        run: newsletter check ${{ steps.coming.outputs.issue }} --format github
      - name: Build a preview, drafts included
        if: ${{ !cancelled() && steps.coming.outputs.exists == 'true' }}
        run: build-issue ${{ steps.coming.outputs.issue }} --drafts --out preview-site
      - name: Upload the preview
        if: ${{ !cancelled() && steps.coming.outputs.exists == 'true' }}
        uses: actions/upload-artifact@v4
        with:
          name: preview-${{ steps.coming.outputs.issue }}
          path: preview-site/
          if-no-files-found: ignore
""".replace("@VERSION@", __version__)

PUBLISH_WORKFLOW = """\
# Every hour: once the coming issue's moment (its equinox or solstice) has come, publish it:
# 'newsletter publish' checks it strictly, builds the site, the archive and the feeds, records
# the publication time and sends the email (resumably: a run after a failed one sends only
# what is missing). Keep the site as an artifact (add your deploy step), and give the job the
# secrets your newsletter.toml names (SMTP password, token key, database password).
name: Publish at the moment

on:
  schedule:
    - cron: "7 * * * *"
  workflow_dispatch:

permissions:
  contents: write  # to commit published.toml (the publication time) and the feeds

env:
  PIPELINE: "@PIPELINE@"

jobs:
  publish:
    runs-on: ubuntu-latest
    steps:
@SETUP@
      - name: Is an issue due?
        id: coming
        run: |
          python - >> "$GITHUB_OUTPUT" <<'PY'
          # The newest issue folder whose moment has come: published late if need be (a
          # folder merged days after the moment), and again harmlessly (publish is
          # idempotent: it sends only what is missing).
          import json, os, re, subprocess
          from datetime import datetime, timezone
          epoch = os.environ.get("SOURCE_DATE_EPOCH")  # "now", as the pipeline reads it
          now = (datetime.fromtimestamp(int(epoch), timezone.utc) if epoch
                 else datetime.now(timezone.utc))
          names = sorted((n for n in os.listdir("issues")
                          if re.fullmatch(r"[0-9]{4}-[0-9]{2}-(equinox|solstice)", n)),
                         reverse=True) if os.path.isdir("issues") else []
          due = None
          for name in names:
              listed = subprocess.run(["newsletter", "calendar", "--from", name[:7] + "-01",
                                       "--count", "1", "--json"],
                                      check=True, capture_output=True, text=True).stdout
              moment = datetime.fromisoformat(
                  json.loads(listed)[0]["moment_utc"].replace("Z", "+00:00"))
              if moment <= now:
                  due = name
                  break
          print("issue=" + (due or (names[0] if names else "")))
          print("due=" + str(due is not None).lower())
          PY
      - name: Publish the issue (site, archive, feeds, email)
        if: steps.coming.outputs.due == 'true'
        env:
          NEWSLETTER_SMTP_USERNAME: ${{ secrets.NEWSLETTER_SMTP_USERNAME }}
          NEWSLETTER_SMTP_PASSWORD: ${{ secrets.NEWSLETTER_SMTP_PASSWORD }}
          NEWSLETTER_TOKEN_SECRET: ${{ secrets.NEWSLETTER_TOKEN_SECRET }}
          NEWSLETTER_DB_PASSWORD: ${{ secrets.NEWSLETTER_DB_PASSWORD }}
        run: newsletter publish ${{ steps.coming.outputs.issue }} --yes
      - name: Keep the record and the feeds in the repository
        if: steps.coming.outputs.due == 'true'
        run: |
          git config user.name "newsletter publish"
          git config user.email "newsletter-publish@users.noreply.github.com"
          git add published.toml feeds/
          if ! git diff --cached --quiet; then
            git commit -m "Publish ${{ steps.coming.outputs.issue }}"
            git push
          fi
      - name: Keep the site
        if: steps.coming.outputs.due == 'true'
        uses: actions/upload-artifact@v4
        with:
          name: site-${{ steps.coming.outputs.issue }}
          path: |
            public/
            feeds/
"""
